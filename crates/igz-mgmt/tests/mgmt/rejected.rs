//! Rejected credentials are never read as an answer: with a revoked or expired key, every call
//! fails with `Unauthorized`, never "not found", "empty" or a success, and nothing changes on
//! the platform.

use std::time::Duration;

use igz_emulator::IssueAccessKey;
use igz_mgmt::{ErrorKind, HealthProblem, MgmtClient, MgmtError, NewUserGroup, ProjectRole};

use crate::support::{ACCESS_KEY, Env, PROJECT, access_key, key, start, start_with};

fn refused<T: std::fmt::Debug>(call: &str, outcome: Result<T, MgmtError>) {
    match outcome {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Unauthorized, "{call}: {e}");
            assert_eq!(e.health(), HealthProblem::CredentialsInvalid, "{call}: {e}");
            assert!(!e.outcome_unknown(), "{call}: a 401 changed nothing: {e}");
        }
        Ok(answer) => panic!("{call}: a refused request read as an answer: {answer:?}"),
    }
}

/// Every call the client offers, with `client` whose credentials the platform refuses.
async fn every_call_is_refused(env: &Env, client: &MgmtClient, group_id: &str, alice: &str) {
    let state = env.admin.state().await;
    let writes = env.admin.stats().await.writes_total;

    refused("verify", client.verify().await);
    refused("probe", client.probe().await);
    refused("get_group", client.get_group(group_id).await);
    refused(
        "get_group (missing)",
        client
            .get_group("5a0b2c1e-8d3f-4c6a-9b7e-1f2d3c4b5a69")
            .await,
    );
    refused("find_group_by_name", client.find_group_by_name("g").await);
    refused("list_groups", client.list_groups().await);
    refused("find_user", client.find_user("alice").await);
    refused("list_users", client.list_users().await);
    refused("find_project", client.find_project(PROJECT).await);
    refused("list_projects", client.list_projects().await);
    refused(
        "create_group",
        client
            .create_group(&NewUserGroup {
                name: "new".into(),
                assigned_policies: vec!["Data".into()],
                ..Default::default()
            })
            .await,
    );
    refused(
        "update_group",
        client
            .update_group(
                group_id,
                &igz_mgmt::UserGroupPatch {
                    description: Some("changed".into()),
                    ..Default::default()
                },
            )
            .await,
    );
    refused("delete_group", client.delete_group(group_id).await);
    refused(
        "delete_group (missing)",
        client
            .delete_group("5a0b2c1e-8d3f-4c6a-9b7e-1f2d3c4b5a69")
            .await,
    );
    refused(
        "add_user_to_group",
        client.add_user_to_group(alice, group_id).await,
    );
    refused(
        "remove_user_from_group",
        client.remove_user_from_group(alice, group_id).await,
    );
    refused(
        "set_group_project_role",
        client
            .set_group_project_role(PROJECT, group_id, Some(ProjectRole::Admin))
            .await,
    );
    refused(
        "set_group_project_role (remove)",
        client.set_group_project_role(PROJECT, group_id, None).await,
    );

    assert_eq!(env.admin.state().await, state, "the platform is unchanged");
    let stats = env.admin.stats().await;
    assert_eq!(stats.writes_total, writes, "no write was accepted");
    assert!(
        stats.unauthorized_writes > 0,
        "the writes were tried and refused"
    );
}

/// A group with a member and a role in the project, made while the key was good.
async fn setup(env: &Env) -> (String, String) {
    let client = env.client();
    let alice = client.find_user("alice").await.unwrap().unwrap().id;
    let group = client
        .create_group(&NewUserGroup {
            name: "g".into(),
            assigned_policies: vec!["Data".into()],
            member_ids: vec![alice.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .set_group_project_role(PROJECT, &group.id, Some(ProjectRole::Viewer))
        .await
        .unwrap();
    (group.id, alice)
}

#[tokio::test]
async fn a_revoked_key_gets_unauthorized_from_every_call() {
    let env = start().await;
    let (group, alice) = setup(&env).await;
    let client = env.client();
    env.admin.revoke_access_key(ACCESS_KEY).await;
    every_call_is_refused(&env, &client, &group, &alice).await;
}

#[tokio::test]
async fn an_expired_key_gets_unauthorized_from_every_call() {
    let env = start().await;
    let (group, alice) = setup(&env).await;
    let expired = env
        .admin
        .issue_access_key(&IssueAccessKey {
            expires_at: Some(jiff::Timestamp::now().as_second() - 60),
            ..Default::default()
        })
        .await;
    let client = MgmtClient::new(env.config(key(&expired.key))).unwrap();
    every_call_is_refused(&env, &client, &group, &alice).await;
}

/// A role change whose transaction the platform accepted, then its key revoked while the job
/// runs: the refused job poll is not a definite failure (the change may land), and certainly
/// not a success.
#[tokio::test]
async fn a_key_revoked_while_a_job_runs_leaves_the_outcome_unknown() {
    let env = start_with(Duration::from_secs(3600)).await;
    let client = env.client();
    let group = client
        .create_group(&NewUserGroup {
            name: "slow".into(),
            assigned_policies: vec!["Data".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let writes = env.admin.stats().await.writes_total;
    let call = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .set_group_project_role(PROJECT, &group.id, Some(ProjectRole::Editor))
                .await
        }
    });
    crate::support::eventually("the transaction is accepted", || async {
        env.admin.stats().await.writes_total > writes
    })
    .await;
    env.admin.revoke_access_key(ACCESS_KEY).await;
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(
        err.outcome_unknown(),
        "the transaction may still land: {err}"
    );
}

/// The same calls succeed once the key is good again: the refusals left nothing behind.
#[tokio::test]
async fn after_the_fix_every_call_works_again() {
    let env = start().await;
    let (group, alice) = setup(&env).await;
    let client = env.client();
    env.admin.revoke_access_key(ACCESS_KEY).await;
    refused("list_groups", client.list_groups().await);
    let new = env.admin.issue_access_key(&IssueAccessKey::default()).await;
    client.replace_credentials(key(&new.key)).unwrap();
    assert_eq!(client.list_groups().await.unwrap().len(), 2);
    assert!(client.remove_user_from_group(&alice, &group).await.unwrap());
    client
        .set_group_project_role(PROJECT, &group, None)
        .await
        .unwrap();
    client.delete_group(&group).await.unwrap();
    assert!(client.get_group(&group).await.unwrap().is_none());
    // And the start-up key, revoked, stays refused.
    let old = MgmtClient::new(env.config(access_key())).unwrap();
    refused("verify", old.verify().await);
}
