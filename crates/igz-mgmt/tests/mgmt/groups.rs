//! Group and user operations against the in-process emulator, without faults.

use crate::support::{ids, start};
use igz_mgmt::{ErrorKind, MgmtClient, NewUserGroup, UserGroupPatch};

async fn user_id(client: &MgmtClient, name: &str) -> String {
    client
        .find_user(name)
        .await
        .unwrap()
        .expect("seeded user")
        .id
}

fn new_group(name: &str, members: Vec<String>) -> NewUserGroup {
    NewUserGroup {
        name: name.to_owned(),
        description: Some("made by a test".to_owned()),
        gid: None,
        assigned_policies: vec!["Data".to_owned()],
        member_ids: members,
    }
}

#[tokio::test]
async fn verify_reports_the_session() {
    let env = start().await;
    let info = env.client().verify().await.unwrap();
    assert!(!info.username.is_empty());
    assert!(!info.tenant_id.is_empty());
}

#[tokio::test]
async fn group_lifecycle_round_trips() {
    let env = start().await;
    let client = env.client();
    let (alice, bob, carol) = (
        user_id(&client, "alice").await,
        user_id(&client, "bob").await,
        user_id(&client, "carol").await,
    );

    let created = client
        .create_group(&new_group("team-a", vec![alice.clone(), bob.clone()]))
        .await
        .unwrap();
    assert_eq!(created.name, "team-a");
    assert_eq!(created.description, "made by a test");
    assert!(created.gid > 0, "gid auto-assigned");
    assert_eq!(created.assigned_policies, vec!["Data"]);
    assert_eq!(ids(&created.member_ids), ids(&[alice.clone(), bob.clone()]));

    assert_eq!(
        client.get_group(&created.id).await.unwrap().as_ref(),
        Some(&created)
    );
    assert_eq!(
        client.find_group_by_name("team-a").await.unwrap().as_ref(),
        Some(&created)
    );
    assert_eq!(client.find_group_by_name("team").await.unwrap(), None);

    let patch = UserGroupPatch {
        description: Some("renamed purpose".to_owned()),
        ..Default::default()
    };
    let updated = client.update_group(&created.id, &patch).await.unwrap();
    assert_eq!(updated.description, "renamed purpose");
    assert_eq!(updated.gid, created.gid);
    assert_eq!(
        ids(&updated.member_ids),
        ids(&created.member_ids),
        "membership kept"
    );

    assert!(client.add_user_to_group(&carol, &created.id).await.unwrap());
    let puts = env.route_count("PUT /api/users/{id}").await;
    assert!(
        !client.add_user_to_group(&carol, &created.id).await.unwrap(),
        "already a member: nothing changed"
    );
    assert_eq!(
        env.route_count("PUT /api/users/{id}").await,
        puts,
        "no write when already a member"
    );
    client
        .remove_user_from_group(&bob, &created.id)
        .await
        .unwrap();
    let group = client.get_group(&created.id).await.unwrap().unwrap();
    assert_eq!(ids(&group.member_ids), ids(&[alice.clone(), carol.clone()]));

    let carol_user = client.find_user("carol").await.unwrap().unwrap();
    assert!(carol_user.group_ids.contains(&created.id));
    assert!(
        carol_user.group_ids.len() >= 2,
        "built-in all_users membership stays"
    );
    let bob_user = client.find_user("bob").await.unwrap().unwrap();
    assert!(!bob_user.group_ids.contains(&created.id));

    client.delete_group(&created.id).await.unwrap();
    assert_eq!(client.get_group(&created.id).await.unwrap(), None);
    client
        .delete_group(&created.id)
        .await
        .expect("deleting a missing group is fine");
}

#[tokio::test]
async fn a_taken_name_is_a_conflict_not_an_adoption() {
    let env = start().await;
    let client = env.client();
    client
        .create_group(&new_group("taken", vec![]))
        .await
        .unwrap();
    let err = client
        .create_group(&new_group("taken", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(env.route_count("POST /api/user_groups").await, 2);
}

#[tokio::test]
async fn unknown_members_are_reported() {
    let env = start().await;
    let client = env.client();
    let missing = uuid::Uuid::new_v4().to_string();
    let err = client
        .create_group(&new_group("ghosts", vec![missing]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(client.find_group_by_name("ghosts").await.unwrap(), None);
}

#[tokio::test]
async fn lists_page_through_everything() {
    let env = start().await;
    let client = env.client();
    let alice = user_id(&client, "alice").await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(
            client
                .create_group(&new_group(&format!("paged-{i}"), vec![alice.clone()]))
                .await
                .unwrap(),
        );
    }
    let before = env.route_count("GET /api/user_groups").await;
    let listed = client.list_groups().await.unwrap();
    // page size 2: at least three pages for five groups (plus the built-in ones)
    assert!(env.route_count("GET /api/user_groups").await - before >= 3);
    for group in &made {
        let found: Vec<_> = listed.iter().filter(|g| g.id == group.id).collect();
        assert_eq!(
            found,
            vec![group],
            "each group listed once, with its members"
        );
    }

    let users = client.list_users().await.unwrap();
    for name in crate::support::USERS {
        assert_eq!(
            users.iter().filter(|u| u.username == name).count(),
            1,
            "{name}"
        );
    }
    let alice_user = users.iter().find(|u| u.username == "alice").unwrap();
    for group in &made {
        assert!(alice_user.group_ids.contains(&group.id));
    }

    let projects = client.list_projects().await.unwrap();
    let project = projects
        .iter()
        .find(|p| p.name == crate::support::PROJECT)
        .expect("seeded project");
    assert_eq!(project.roles.len(), 3);
}

#[tokio::test]
async fn unknown_access_key_is_unauthorized_without_retries() {
    let env = start().await;
    let cfg = env.config(igz_mgmt::Credentials::AccessKey {
        username: Some("admin".to_owned()),
        key: secrecy::SecretString::from("not-a-key"),
    });
    let client = MgmtClient::new(cfg).unwrap();
    let err = client.verify().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        env.route_count("POST /api/sessions/verifications/planes/{plane}/internal")
            .await,
        1
    );
}
