//! End to end: Group resources on a real kube-apiserver, the controller, and the emulator.
//! Each test has its own namespace, emulator and controller, so they run in parallel.

use igz_emulator::{Fault, FaultsPatch, ScriptedFault};
use kube::ResourceExt;
use serde_json::json;

use crate::support::{Harness, condition, errors};

#[tokio::test]
async fn create_update_and_delete_a_group() {
    let h = Harness::start(
        "e2e-crud",
        &["alice", "bob", "carol", "dave"],
        &["default", "analytics"],
    )
    .await;
    h.apply(
        "team",
        json!({
            "description": "The team",
            "members": ["alice", "bob"],
            "assignedPolicies": ["Data"],
            "projectRoles": [{"project": "default", "role": "Editor"}],
        }),
    )
    .await
    .expect("apply");
    let ready = h.wait_ready("team").await;
    let status = ready.status.clone().unwrap();
    let platform = h
        .platform_group("team")
        .await
        .expect("group created on the platform");
    assert_eq!(status.group_id.as_deref(), Some(platform.id.as_str()));
    assert_eq!(status.members, Some(2));
    assert_eq!(status.gid, Some(platform.gid));
    assert_eq!(platform.description, "The team");
    assert_eq!(platform.assigned_policies, ["Data"]);
    assert_eq!(h.member_names(&platform).await, ["alice", "bob"]);
    assert_eq!(h.roles_of(&platform.id).await, ["default=Editor"]);
    assert!(
        ready
            .finalizers()
            .contains(&"igz-operator.io/cleanup".to_string())
    );
    h.wait_event("team", "Created").await;

    // Update: a member out, one in, a role changed, a project added, policies changed.
    h.apply(
        "team",
        json!({
            "description": "The team",
            "members": ["bob", "carol", "dave"],
            "assignedPolicies": ["Data", "Developer"],
            "projectRoles": [
                {"project": "default", "role": "Viewer"},
                {"project": "analytics", "role": "Admin"},
            ],
        }),
    )
    .await
    .expect("apply update");
    let generation = h.groups.get("team").await.unwrap().metadata.generation;
    h.wait_for("team", "updated and Ready", |g| {
        g.status.as_ref().and_then(|s| s.observed_generation) == generation
            && condition(g, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    let platform = h.platform_group("team").await.unwrap();
    assert_eq!(h.member_names(&platform).await, ["bob", "carol", "dave"]);
    assert_eq!(
        h.roles_of(&platform.id).await,
        ["analytics=Admin", "default=Viewer"]
    );
    let mut policies = platform.assigned_policies.clone();
    policies.sort();
    assert_eq!(policies, ["Data", "Developer"]);
    for reason in ["MemberAdded", "MemberRemoved", "RoleSet", "Updated"] {
        h.wait_event("team", reason).await;
    }
    // Each change is its own Event, even with the same reason.
    let added = h.event_notes("team", "MemberAdded").await;
    assert!(
        added.contains(&"Added member carol.".to_string())
            && added.contains(&"Added member dave.".to_string()),
        "{added:?}"
    );

    // Delete: roles removed, group deleted, finalizer released.
    h.delete("team").await;
    h.wait_gone("team").await;
    assert!(
        h.platform_group("team").await.is_none(),
        "platform group deleted"
    );
    assert!(h.roles_of(&platform.id).await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn nothing_changed_means_no_platform_writes() {
    let h = Harness::start("e2e-idle", &["alice"], &["default"]).await;
    h.apply(
        "idle",
        json!({"members": ["alice"], "projectRoles": [{"project": "default", "role": "Admin"}]}),
    )
    .await
    .unwrap();
    let ready = h
        .wait_for("idle", "Ready, the create's record cleared", |g| {
            !g.annotations()
                .contains_key(igz_operator::create_record::ANNOTATION)
                && condition(g, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await;
    let before = h.admin.stats().await;
    // Several resyncs (2 s each in tests) pass with the platform already matching the spec.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let g = h.wait_ready("idle").await;
    let after = h.admin.stats().await;
    assert_eq!(
        before.writes_total, after.writes_total,
        "resyncs of an unchanged group must not write to the platform"
    );
    assert!(
        after.requests_total > before.requests_total,
        "the resyncs re-read the platform"
    );
    // Nor to the API server: status changes only in lastSyncTime, which waits for its hour.
    assert_eq!(
        g.resource_version(),
        ready.resource_version(),
        "resyncs that change nothing must not rewrite the status: {:#?} then {:#?}",
        ready.status,
        g.status
    );
    assert!(g.status.unwrap().last_sync_time.is_some());
    h.stop().await;
}

/// Every version of a new Group the API server stores until its record is cleared: the
/// finalizer comes with the create record (one write, before the platform create), then
/// the status naming the group; the record is cleared later, by a resync at least half a resync
/// interval after it was written (not amid the writes of many new Groups). A finalizer someone
/// removes comes back.
#[tokio::test]
async fn a_new_group_costs_two_writes_then_one_at_its_first_resync_and_keeps_its_finalizer() {
    use futures::StreamExt as _;
    use igz_operator::crd::FINALIZER;
    use igz_operator::create_record::{self, ANNOTATION as CREATE_RECORD};
    use kube::runtime::watcher;

    let h = Harness::start("e2e-writes", &["alice"], &["default"]).await;
    let mut versions = watcher(
        h.groups.clone(),
        watcher::Config::default().fields("metadata.name=fresh"),
    )
    .boxed();
    // The watch has listed (nothing) before the Group exists.
    while !matches!(versions.next().await, Some(Ok(watcher::Event::InitDone))) {}
    h.apply(
        "fresh",
        json!({"members": ["alice"], "projectRoles": [{"project": "default", "role": "Editor"}]}),
    )
    .await
    .unwrap();
    let ready_and_settled = |g: &igz_operator::crd::Group| {
        !g.annotations().contains_key(CREATE_RECORD)
            && condition(g, "Ready").is_some_and(|c| c.0 == "True")
    };
    let settled = h
        .wait_for("fresh", "Ready, record cleared", ready_and_settled)
        .await;
    let mut seen = Vec::new();
    let mut record_written = None;
    let mut cleared_seen = None;
    while let Some(event) = versions.next().await {
        if let Ok(watcher::Event::Apply(g) | watcher::Event::InitApply(g)) = event {
            if g.annotations().contains_key(CREATE_RECORD) {
                record_written = create_record::written_at(&g);
            }
            let done = g.resource_version() == settled.resource_version();
            seen.push(g);
            if done {
                cleared_seen = Some(jiff::Timestamp::now());
                break;
            }
        }
    }
    // Half the tests' 2 s resync interval: the clearing waited for it (the record says when it
    // was written, on this machine's clock).
    let waited = cleared_seen
        .unwrap()
        .duration_since(record_written.expect("a record with its time"));
    assert!(
        waited >= jiff::SignedDuration::from_secs(1),
        "the record was cleared {waited:?} after it was written"
    );
    let describe = |g: &igz_operator::crd::Group| {
        (
            g.finalizers().to_vec(),
            g.annotations().contains_key(CREATE_RECORD),
            g.status.as_ref().and_then(|s| s.group_id.clone()).is_some(),
        )
    };
    let steps: Vec<_> = seen.iter().map(describe).collect();
    let ours = vec![FINALIZER.to_owned()];
    assert_eq!(
        steps,
        [
            (vec![], false, false),
            (ours.clone(), true, false),
            (ours.clone(), true, true),
            (ours.clone(), false, true),
        ],
        "created by kubectl, the operator's two writes, the record cleared at a resync"
    );
    assert_eq!(h.platform_groups_named("fresh").await, 1);

    // Someone strips the finalizer: the next resync (2 s in tests) puts it back.
    h.groups
        .patch(
            "fresh",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    h.wait_for("fresh", "the finalizer back", |g| {
        g.finalizers().iter().any(|f| f == FINALIZER)
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn missing_users_and_projects_are_reported_then_picked_up() {
    let h = Harness::start("e2e-missing", &["alice"], &["default"]).await;
    h.apply(
        "partial",
        json!({
            "members": ["alice", "zoe"],
            "projectRoles": [
                {"project": "default", "role": "Editor"},
                {"project": "later", "role": "Viewer"},
            ],
        }),
    )
    .await
    .unwrap();
    let g = h.wait_reason("partial", "UserNotFound").await;
    let status = g.status.clone().unwrap();
    assert_eq!(status.missing_users, ["zoe"]);
    let (_, _, message) = condition(&g, "Ready").unwrap();
    assert!(
        message.contains("zoe") && message.contains("later"),
        "{message}"
    );
    let states: Vec<_> = status
        .project_roles
        .iter()
        .map(|p| (p.project.as_str(), format!("{:?}", p.state)))
        .collect();
    assert_eq!(
        states,
        [
            ("default", "Applied".into()),
            ("later", "ProjectNotFound".into())
        ]
    );
    // What exists is applied anyway.
    let platform = h.platform_group("partial").await.unwrap();
    assert_eq!(h.member_names(&platform).await, ["alice"]);
    assert_eq!(h.roles_of(&platform.id).await, ["default=Editor"]);
    h.wait_event("partial", "UserNotFound").await;

    // The user and the project appear on the platform: no spec change needed.
    h.create_user("zoe").await;
    h.create_project("later").await;
    let g = h.wait_ready("partial").await;
    assert!(g.status.unwrap().missing_users.is_empty());
    let platform = h.platform_group("partial").await.unwrap();
    assert_eq!(h.member_names(&platform).await, ["alice", "zoe"]);
    assert_eq!(
        h.roles_of(&platform.id).await,
        ["default=Editor", "later=Viewer"]
    );
    h.stop().await;
}

#[tokio::test]
async fn drift_is_reverted_and_a_deleted_group_recreated() {
    let h = Harness::start(
        "e2e-drift",
        &["alice", "bob", "mallory"],
        &["default", "other"],
    )
    .await;
    h.apply(
        "drifty",
        json!({
            "description": "kept",
            "members": ["alice", "bob"],
            "projectRoles": [{"project": "default", "role": "Editor"}],
        }),
    )
    .await
    .unwrap();
    let g = h.wait_ready("drifty").await;
    let id = g.status.unwrap().group_id.unwrap();
    let users = h.platform.list_users().await.unwrap();
    let user = |name: &str| {
        users
            .iter()
            .find(|u| u.username == name)
            .unwrap()
            .id
            .clone()
    };

    // Out-of-band: a member removed, an intruder added, the role changed, another role given,
    // the description edited.
    h.platform
        .remove_user_from_group(&user("bob"), &id)
        .await
        .unwrap();
    h.platform
        .add_user_to_group(&user("mallory"), &id)
        .await
        .unwrap();
    h.platform
        .set_group_project_role("default", &id, Some(igz_mgmt::ProjectRole::Admin))
        .await
        .unwrap();
    h.platform
        .set_group_project_role("other", &id, Some(igz_mgmt::ProjectRole::Viewer))
        .await
        .unwrap();
    h.platform
        .update_group(
            &id,
            &igz_mgmt::UserGroupPatch {
                description: Some("edited".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    h.wait_event("drifty", "DriftCorrected").await;
    igz_testkit::wait::until(
        "out-of-band changes reverted",
        igz_testkit::wait::DEFAULT_DEADLINE,
        || async {
            let platform = h.platform_group("drifty").await.unwrap();
            let seen = (
                h.member_names(&platform).await,
                h.roles_of(&id).await,
                platform.description.clone(),
            );
            if seen.0 == ["alice", "bob"] && seen.1 == ["default=Editor"] && seen.2 == "kept" {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        },
    )
    .await;

    // Deleted out of band: recreated, and status follows the new group.
    h.platform.delete_group(&id).await.unwrap();
    let g = h
        .wait_for("drifty", "pointing at a recreated group", |g| {
            g.status
                .as_ref()
                .and_then(|s| s.group_id.as_deref())
                .is_some_and(|new| new != id)
                && condition(g, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await;
    let new_id = g.status.unwrap().group_id.unwrap();
    let platform = h.platform_group("drifty").await.unwrap();
    assert_eq!(platform.id, new_id);
    assert_eq!(h.member_names(&platform).await, ["alice", "bob"]);
    assert_eq!(h.roles_of(&new_id).await, ["default=Editor"]);
    assert_eq!(h.platform_groups_named("drifty").await, 1);
    h.stop().await;
}

#[tokio::test]
async fn existing_group_is_adopted_only_when_asked() {
    let h = Harness::start("e2e-adopt", &["alice", "bob"], &[]).await;
    let existing = h
        .platform
        .create_group(&igz_mgmt::NewUserGroup {
            name: "legacy".into(),
            member_ids: vec![h.platform.find_user("bob").await.unwrap().unwrap().id],
            ..Default::default()
        })
        .await
        .unwrap();

    h.apply(
        "legacy",
        json!({"members": ["alice"], "membersPolicy": "Additive"}),
    )
    .await
    .unwrap();
    let g = h.wait_reason("legacy", "AlreadyExists").await;
    let (status, _, message) = condition(&g, "Ready").unwrap();
    assert_eq!(status, "False");
    assert!(message.contains("adoptExisting"), "{message}");
    assert_eq!(g.status.unwrap().group_id, None);
    let untouched = h.platform_group("legacy").await.unwrap();
    assert_eq!(
        h.member_names(&untouched).await,
        ["bob"],
        "a group not adopted is left alone"
    );

    h.apply(
        "legacy",
        json!({"members": ["alice"], "membersPolicy": "Additive", "adoptExisting": true}),
    )
    .await
    .unwrap();
    let g = h.wait_ready("legacy").await;
    assert_eq!(
        g.status.unwrap().group_id.as_deref(),
        Some(existing.id.as_str())
    );
    let adopted = h.platform_group("legacy").await.unwrap();
    assert_eq!(h.member_names(&adopted).await, ["alice", "bob"]);
    h.wait_event("legacy", "Adopted").await;
    assert_eq!(h.platform_groups_named("legacy").await, 1);
    h.stop().await;
}

#[tokio::test]
async fn newer_resource_naming_the_same_group_gets_name_conflict() {
    let h = Harness::start("e2e-conflict", &["alice", "bob"], &[]).await;
    h.apply(
        "first",
        json!({"groupName": "shared", "members": ["alice"]}),
    )
    .await
    .unwrap();
    let first = h.wait_ready("first").await;
    h.apply("second", json!({"groupName": "shared", "members": ["bob"]}))
        .await
        .unwrap();
    let second = h.wait_reason("second", "NameConflict").await;
    let (_, _, message) = condition(&second, "Ready").unwrap();
    assert!(message.contains(&format!("{}/first", h.ns)), "{message}");
    assert_eq!(second.status.unwrap().group_id, None);

    // Deleting the loser never touches the winner's group.
    h.delete("second").await;
    h.wait_gone("second").await;
    let platform = h
        .platform_group("shared")
        .await
        .expect("winner's group still exists");
    assert_eq!(Some(platform.id.clone()), first.status.unwrap().group_id);
    assert_eq!(h.member_names(&platform).await, ["alice"]);
    h.stop().await;
}

#[tokio::test]
async fn orphan_deletion_leaves_the_platform_untouched() {
    let h = Harness::start("e2e-orphan", &["alice"], &["default"]).await;
    h.apply(
        "keep",
        json!({"members": ["alice"], "deletionPolicy": "Orphan", "projectRoles": [{"project": "default", "role": "Viewer"}]}),
    )
    .await
    .unwrap();
    let g = h.wait_ready("keep").await;
    let id = g.status.unwrap().group_id.unwrap();
    h.delete("keep").await;
    h.wait_gone("keep").await;
    let platform = h
        .platform_group("keep")
        .await
        .expect("orphaned group still exists");
    assert_eq!(platform.id, id);
    assert_eq!(h.member_names(&platform).await, ["alice"]);
    assert_eq!(h.roles_of(&id).await, ["default=Viewer"]);
    h.stop().await;
}

#[tokio::test]
async fn wrong_credentials_are_reported_then_recovered_with_the_right_key() {
    let mut h = Harness::without_operator("e2e-creds", &["alice"], &[]).await;
    let wrong =
        crate::support::Operator::start(&h.client, &h.ns, &h.emulator.base_url(), "not-the-key");
    h.apply("creds", json!({"members": ["alice"]}))
        .await
        .unwrap();
    let g = h.wait_reason("creds", "CredentialsInvalid").await;
    let (_, _, message) = condition(&g, "Ready").unwrap();
    assert!(message.contains("access key"), "{message}");
    assert!(
        !message.contains("not-the-key"),
        "the key must never appear in status: {message}"
    );
    h.wait_event("creds", "CredentialsInvalid").await;
    assert!(h.platform_group("creds").await.is_none());
    wrong.stop().await;

    h.operator = Some(crate::support::Operator::start(
        &h.client,
        &h.ns,
        &h.emulator.base_url(),
        crate::support::ACCESS_KEY,
    ));
    h.wait_ready("creds").await;
    assert!(h.platform_group("creds").await.is_some());
    h.stop().await;
}

#[tokio::test]
async fn outage_during_create_is_reported_and_recovered_without_duplicates() {
    let h = Harness::start("e2e-outage-create", &["alice"], &[]).await;
    h.faults(errors(1.0)).await;
    h.apply("down", json!({"members": ["alice"]}))
        .await
        .unwrap();
    let g = h.wait_reason("down", "ApiUnavailable").await;
    assert_eq!(condition(&g, "Synced").unwrap().0, "False");
    h.wait_event("down", "ApiUnavailable").await;

    // Back up, but the answer to the create is lost: recovered by name, not duplicated.
    h.faults(FaultsPatch {
        error_rate: Some(0.0),
        script: Some(vec![ScriptedFault {
            route: Some("POST /api/user_groups".into()),
            fault: Fault::Drop,
        }]),
        ..Default::default()
    })
    .await;
    h.wait_ready("down").await;
    let stats = h.admin.stats().await;
    assert_eq!(stats.faults.dropped, 1, "the create's answer was lost");
    assert_eq!(
        h.platform_groups_named("down").await,
        1,
        "exactly one platform group"
    );
    h.stop().await;
}

#[tokio::test]
async fn outage_during_delete_keeps_the_finalizer_until_the_platform_is_back() {
    let h = Harness::start("e2e-outage-delete", &["alice"], &["default"]).await;
    h.apply(
        "bye",
        json!({"members": ["alice"], "projectRoles": [{"project": "default", "role": "Admin"}]}),
    )
    .await
    .unwrap();
    h.wait_ready("bye").await;
    h.faults(errors(1.0)).await;
    h.delete("bye").await;
    let g = h.wait_reason("bye", "ApiUnavailable").await;
    assert!(g.metadata.deletion_timestamp.is_some());
    let (_, _, message) = condition(&g, "Ready").unwrap();
    assert!(
        message.contains("deletionPolicy: Orphan"),
        "the escape is named: {message}"
    );
    h.faults(errors(0.0)).await;
    h.wait_gone("bye").await;
    assert!(h.platform_group("bye").await.is_none());
    h.stop().await;
}

#[tokio::test]
async fn orphan_is_the_escape_for_a_resource_stuck_in_deletion() {
    let h = Harness::start("e2e-escape", &["alice"], &[]).await;
    h.apply("stuck", json!({"members": ["alice"]}))
        .await
        .unwrap();
    h.wait_ready("stuck").await;
    h.faults(errors(1.0)).await;
    h.delete("stuck").await;
    h.wait_reason("stuck", "ApiUnavailable").await;
    h.apply(
        "stuck",
        json!({"members": ["alice"], "deletionPolicy": "Orphan"}),
    )
    .await
    .unwrap();
    h.wait_gone("stuck").await;
    h.faults(errors(0.0)).await;
    assert!(
        h.platform_group("stuck").await.is_some(),
        "Orphan released it without touching the platform"
    );
    h.stop().await;
}
