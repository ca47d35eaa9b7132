//! Project roles against the in-process emulator: single-group changes leave everyone else
//! alone, and concurrent changes to one project never lose each other.

use std::time::Duration;

use crate::support::{PROJECT, start, start_custom, start_with};
use igz_emulator::{Fault, FaultsPatch, ScriptedFault};
use igz_mgmt::{ErrorKind, MgmtClient, NewUserGroup, Project, ProjectRole};

async fn group(client: &MgmtClient, name: &str) -> String {
    client
        .create_group(&NewUserGroup {
            name: name.to_owned(),
            assigned_policies: vec!["Data".to_owned()],
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

async fn project(client: &MgmtClient) -> Project {
    named(client, PROJECT).await
}

async fn named(client: &MgmtClient, name: &str) -> Project {
    client
        .find_project(name)
        .await
        .unwrap()
        .expect("seeded project")
}

const MORE: [&str; 2] = ["proj-b", "proj-c"];

/// Every principal except `group_id`, per role: what a change for `group_id` must not touch.
fn others(p: &Project, group_id: &str) -> Vec<(ProjectRole, Vec<String>, Vec<String>)> {
    p.roles
        .iter()
        .map(|b| {
            let groups = b
                .group_ids
                .iter()
                .filter(|g| *g != group_id)
                .cloned()
                .collect();
            (b.role, b.user_ids.clone(), groups)
        })
        .collect()
}

#[tokio::test]
async fn role_changes_touch_only_the_group() {
    let env = start().await;
    let client = env.client();
    let bystander = group(&client, "bystander").await;
    client
        .set_group_project_role(PROJECT, &bystander, Some(ProjectRole::Viewer))
        .await
        .unwrap();
    let g = group(&client, "movers").await;
    let before = project(&client).await;
    assert_eq!(before.roles.len(), 3);
    assert_eq!(before.group_role(&g), None);

    for role in [ProjectRole::Editor, ProjectRole::Admin, ProjectRole::Viewer] {
        client
            .set_group_project_role(PROJECT, &g, Some(role))
            .await
            .unwrap();
        let now = project(&client).await;
        assert_eq!(now.group_role(&g), Some(role));
        let holding = now
            .roles
            .iter()
            .filter(|b| b.group_ids.contains(&g))
            .count();
        assert_eq!(holding, 1, "in exactly one role");
        assert_eq!(
            others(&now, &g),
            others(&before, &g),
            "other principals untouched"
        );
    }

    let transactions = env.route_count("POST /api/async_transactions").await;
    client
        .set_group_project_role(PROJECT, &g, Some(ProjectRole::Viewer))
        .await
        .unwrap();
    assert_eq!(
        env.route_count("POST /api/async_transactions").await,
        transactions,
        "no-op sends nothing"
    );

    client
        .set_group_project_role(PROJECT, &g, None)
        .await
        .unwrap();
    let after = project(&client).await;
    assert_eq!(after.group_role(&g), None);
    assert_eq!(after.group_role(&bystander), Some(ProjectRole::Viewer));
    assert_eq!(others(&after, &g), others(&before, &g));
}

#[tokio::test]
async fn a_missing_project_is_not_found() {
    let env = start().await;
    let client = env.client();
    let g = group(&client, "lonely").await;
    assert_eq!(client.find_project("no-such-project").await.unwrap(), None);
    let err = client
        .set_group_project_role("no-such-project", &g, Some(ProjectRole::Viewer))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_role_writes_to_one_project_are_not_lost() {
    // Slow jobs widen the window in which an unserialized read-modify-write would lose updates,
    // and keep the first transaction in flight long after the other writes have queued.
    let env = start_with(Duration::from_millis(300)).await;
    let client = env.client();
    let mut groups = Vec::new();
    for i in 0..9 {
        groups.push((
            group(&client, &format!("crowd-{i}")).await,
            ProjectRole::ALL[i % 3],
        ));
    }
    let before = project(&client).await;
    let transactions_before = env.route_count("POST /api/async_transactions").await;

    let writes = groups.iter().cloned().map(|(id, role)| {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .set_group_project_role(PROJECT, &id, Some(role))
                .await
        })
    });
    for result in futures::future::join_all(writes).await {
        result.unwrap().unwrap();
    }
    let after = project(&client).await;
    for (id, role) in &groups {
        assert_eq!(after.group_role(id), Some(*role), "group {id}");
    }
    // Changes queued behind an in-flight transaction share the next one.
    let transactions = env.route_count("POST /api/async_transactions").await - transactions_before;
    assert!(
        transactions < groups.len() as u64,
        "{transactions} transactions for {} concurrent role changes",
        groups.len()
    );
    let owner_users = |p: &Project| {
        p.roles
            .iter()
            .map(|b| b.user_ids.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        owner_users(&after),
        owner_users(&before),
        "user principals untouched"
    );

    let removals = groups.iter().take(6).cloned().map(|(id, _)| {
        let client = client.clone();
        tokio::spawn(async move { client.set_group_project_role(PROJECT, &id, None).await })
    });
    for result in futures::future::join_all(removals).await {
        result.unwrap().unwrap();
    }
    let end = project(&client).await;
    for (i, (id, role)) in groups.iter().enumerate() {
        let expected = (i >= 6).then_some(*role);
        assert_eq!(end.group_role(id), expected, "group {id}");
    }
}

/// Every change queued before the round starts (a current-thread runtime runs no other task
/// until the test yields, so all of them are queued first, whatever the timing): one read of
/// the projects, one transaction for all three projects, one job poll; every group in its role
/// and every other principal untouched.
#[tokio::test]
async fn changes_for_many_projects_share_one_transaction_and_one_poll() {
    let env = start_custom(Duration::ZERO, &MORE, |_| {}).await;
    let client = env.client();
    let bystander = group(&client, "bystander").await;
    for name in [PROJECT, MORE[0], MORE[1]] {
        client
            .set_group_project_role(name, &bystander, Some(ProjectRole::Admin))
            .await
            .unwrap();
    }
    let mut groups = Vec::new();
    for i in 0..6 {
        groups.push(group(&client, &format!("batch-{i}")).await);
    }
    let before = [
        named(&client, PROJECT).await,
        named(&client, MORE[0]).await,
        named(&client, MORE[1]).await,
    ];
    let stats = env.admin.stats().await;

    let wanted: Vec<(&str, &String, ProjectRole)> = groups
        .iter()
        .enumerate()
        .flat_map(|(i, g)| {
            [
                (
                    [PROJECT, MORE[0], MORE[1]][i % 3],
                    g,
                    ProjectRole::ALL[i % 3],
                ),
                (
                    [PROJECT, MORE[0], MORE[1]][(i + 1) % 3],
                    g,
                    ProjectRole::Viewer,
                ),
            ]
        })
        .collect();
    let outcomes = futures::future::join_all(
        wanted
            .iter()
            .map(|(p, g, r)| client.set_group_project_role(p, g, Some(*r))),
    )
    .await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");

    let after = env.admin.stats().await;
    let sent = |route: &str| after.route(route) - stats.route(route);
    assert_eq!(sent("POST /api/async_transactions"), 1, "one transaction");
    assert_eq!(sent("GET /api/jobs/{id}"), 1, "its job polled once");
    // One fresh read of the three projects (one GET each: the client has not listed them yet).
    assert_eq!(sent("GET /api/projects"), 3, "{:?}", after.routes);
    for (p, g, r) in &wanted {
        assert_eq!(
            named(&client, p).await.group_role(g),
            Some(*r),
            "{g} in {p}"
        );
    }
    for old in &before {
        let now = named(&client, &old.name).await;
        assert_eq!(now.group_role(&bystander), Some(ProjectRole::Admin));
        for (a, b) in now.roles.iter().zip(&old.roles) {
            assert_eq!(a.user_ids, b.user_ids, "user principals of {}", old.name);
        }
    }
}

/// One change in the round is refused by the platform (its group was deleted meanwhile): it
/// fails alone, with the platform's reason; every other change still lands.
#[tokio::test]
async fn each_caller_learns_its_own_outcome() {
    let env = start_custom(Duration::ZERO, &MORE, |_| {}).await;
    let client = env.client();
    let keep = group(&client, "keep").await;
    let keep_too = group(&client, "keep-too").await;
    let gone = group(&client, "gone").await;
    client.delete_group(&gone).await.unwrap();

    let (a, b, c, d) = futures::future::join4(
        client.set_group_project_role(PROJECT, &keep, Some(ProjectRole::Editor)),
        client.set_group_project_role(PROJECT, &gone, Some(ProjectRole::Editor)),
        client.set_group_project_role(MORE[0], &keep_too, Some(ProjectRole::Admin)),
        client.set_group_project_role("no-such-project", &keep, Some(ProjectRole::Admin)),
    )
    .await;
    a.unwrap();
    c.unwrap();
    assert_eq!(b.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(d.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        project(&client).await.group_role(&keep),
        Some(ProjectRole::Editor)
    );
    assert_eq!(project(&client).await.group_role(&gone), None);
    assert_eq!(
        named(&client, MORE[0]).await.group_role(&keep_too),
        Some(ProjectRole::Admin)
    );
}

/// The transaction's answer is lost after the platform applied it: the client reads the
/// project again, finds the change made, and sends no second transaction.
#[tokio::test]
async fn a_lost_transaction_answer_is_not_resent_blindly() {
    let env = start().await;
    let client = env.client();
    let g = group(&client, "lost").await;
    let bystander = group(&client, "bystander").await;
    client
        .set_group_project_role(PROJECT, &bystander, Some(ProjectRole::Viewer))
        .await
        .unwrap();
    env.set_faults(FaultsPatch {
        script: Some(vec![ScriptedFault {
            route: Some("POST /api/async_transactions".into()),
            fault: Fault::Drop,
        }]),
        ..Default::default()
    })
    .await;
    let before = env.route_count("POST /api/async_transactions").await;
    client
        .set_group_project_role(PROJECT, &g, Some(ProjectRole::Editor))
        .await
        .unwrap();
    assert_eq!(
        env.admin.stats().await.faults.dropped,
        1,
        "the answer was lost"
    );
    assert_eq!(
        env.route_count("POST /api/async_transactions").await - before,
        1,
        "applied once, never resent"
    );
    let now = project(&client).await;
    assert_eq!(now.group_role(&g), Some(ProjectRole::Editor));
    assert_eq!(now.group_role(&bystander), Some(ProjectRole::Viewer));
}

/// A platform that takes one project per transaction refuses the first batched one; the
/// client splits it by project (every change still lands, each caller gets Ok) and from then on
/// sends one transaction per project.
#[tokio::test]
async fn a_platform_refusing_multi_project_transactions_gets_one_per_project() {
    let env = start_custom(Duration::ZERO, &MORE, |c| {
        c.single_project_transactions = true;
    })
    .await;
    let client = env.client();
    let g1 = group(&client, "one").await;
    let g2 = group(&client, "two").await;
    let sent = || env.route_count("POST /api/async_transactions");

    let before = sent().await;
    let (a, b) = futures::future::join(
        client.set_group_project_role(PROJECT, &g1, Some(ProjectRole::Editor)),
        client.set_group_project_role(MORE[0], &g2, Some(ProjectRole::Viewer)),
    )
    .await;
    a.unwrap();
    b.unwrap();
    assert_eq!(
        sent().await - before,
        3,
        "refused once, then one per project"
    );

    let before = sent().await;
    let (a, b) = futures::future::join(
        client.set_group_project_role(PROJECT, &g2, Some(ProjectRole::Admin)),
        client.set_group_project_role(MORE[1], &g1, Some(ProjectRole::Admin)),
    )
    .await;
    a.unwrap();
    b.unwrap();
    assert_eq!(sent().await - before, 2, "no more refusals");
    assert_eq!(
        project(&client).await.group_role(&g1),
        Some(ProjectRole::Editor)
    );
    assert_eq!(
        project(&client).await.group_role(&g2),
        Some(ProjectRole::Admin)
    );
    assert_eq!(
        named(&client, MORE[0]).await.group_role(&g2),
        Some(ProjectRole::Viewer)
    );
    assert_eq!(
        named(&client, MORE[1]).await.group_role(&g1),
        Some(ProjectRole::Admin)
    );
}
