//! Project roles against the in-process emulator: single-group changes leave everyone else
//! alone, and concurrent changes to one project never lose each other.

use std::time::Duration;

use crate::support::{PROJECT, start, start_with};
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
    client
        .find_project(PROJECT)
        .await
        .unwrap()
        .expect("seeded project")
}

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
