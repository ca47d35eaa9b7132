//! A Group that is not being deleted: permitted or not, created, recovered, refused, observed.

use kube::ResourceExt;
use serde_json::json;

use super::world::{NS, World, condition, everything};
use crate::crd::{FINALIZER, GroupOrigin};
use crate::create_record::{self, ANNOTATION};

#[tokio::test]
async fn not_granted_touches_nothing_and_says_why_once() {
    let mut grant = everything();
    grant.group_name_pattern = Some("^a-.*$".into());
    let w = World::new(grant).await;
    w.apply("team", json!({"members": ["alice"]}));
    w.reconcile("team").await.unwrap();
    w.reconcile("team").await.unwrap();

    let g = w.group("team").unwrap();
    let (ready, reason, message) = condition(&g, "Ready").unwrap();
    assert_eq!((ready.as_str(), reason.as_str()), ("False", "NotGranted"));
    assert!(
        message.contains("\"team\"") && message.contains("^a-.*$"),
        "{message}"
    );
    assert_eq!(condition(&g, "Stalled").unwrap().0, "True");
    assert!(g.finalizers().contains(&FINALIZER.to_owned()));
    assert_eq!(w.platform_writes().await, 0);
    w.wait_event("NotGranted", "not granted").await;
    let warnings = w
        .kube
        .events()
        .iter()
        .filter(|e| e.1 == "NotGranted")
        .count();
    assert_eq!(warnings, 1, "the same refusal is not announced again");
}

#[tokio::test]
async fn a_new_group_is_created_after_its_record_and_finalizer_in_one_write() {
    let w = World::new(everything()).await;
    w.apply(
        "team",
        json!({"members": ["alice"], "projectRoles": [{"project": "default", "role": "Editor"}]}),
    );
    w.reconcile("team").await.unwrap();

    let writes = w.kube.writes();
    let (first, body) = &writes[0];
    assert_eq!(first, "PATCH team");
    assert_eq!(body["metadata"]["finalizers"], json!([FINALIZER]));
    assert!(
        body["metadata"]["annotations"][ANNOTATION].is_string(),
        "{body}"
    );
    assert_eq!(
        writes.len(),
        2,
        "record with finalizer, then status: {writes:?}"
    );

    let g = w.group("team").unwrap();
    let status = g.status.clone().unwrap();
    let made = w
        .platform
        .find_group_by_name("team")
        .await
        .unwrap()
        .expect("created");
    assert_eq!(status.group_id.as_deref(), Some(made.id.as_str()));
    assert_eq!(status.origin, Some(GroupOrigin::Created));
    assert_eq!(condition(&g, "Ready").unwrap().1, "Available");
    // Status names the group: the record is settled, so it proves nothing any more.
    assert_eq!(create_record::standing(&g, &w.ctx.record_keys), None);
    w.wait_event("Created", "team").await;
    w.wait_event("RoleSet", "default").await;

    // Half a resync interval on, a resync clears the settled record, and writes nothing else.
    tokio::time::sleep(w.ctx.timing.resync_interval / 2).await;
    w.reconcile("team").await.unwrap();
    let g = w.group("team").unwrap();
    assert!(!g.annotations().contains_key(ANNOTATION));
    assert_eq!(w.kube.writes().len(), 3, "{:?}", w.kube.writes());
}

/// The operator was stopped after sending a create and before learning its answer: the group
/// is on the platform, and the Group carries the record it sealed, but no id.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_recovered_by_its_record() {
    let w = World::new(everything()).await;
    let alice = w.platform.find_user("alice").await.unwrap().unwrap().id;
    let made = w
        .platform
        .create_group(&igz_mgmt::NewUserGroup {
            name: "team".into(),
            member_ids: vec![alice.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut group = w.apply("team", json!({"members": ["alice"]}));
    let sent = create_record::Sent::of(&crate::plan::Action::CreateGroup {
        name: "team".into(),
        description: None,
        gid: None,
        assigned_policies: Default::default(),
        members: [("alice".to_owned(), alice)].into(),
    })
    .unwrap();
    let record = create_record::seal(&w.ctx.record_keys, &group, &sent, jiff::Timestamp::now());
    group.metadata.annotations = Some([(ANNOTATION.to_owned(), record)].into());
    w.kube.put(&group);
    w.reconcile("team").await.unwrap();
    let g = w.group("team").unwrap();
    assert_eq!(g.status.clone().unwrap().group_id, Some(made.id.clone()));
    assert_eq!(condition(&g, "Ready").unwrap().1, "Available");
    assert_eq!(
        w.admin.stats().await.route("POST /api/user_groups"),
        1,
        "no second create"
    );
    w.wait_event("Recovered", "answer was lost").await;
    // The same record copied onto another Group (another uid) proves nothing there.
    let mut copied = w.apply("copy", json!({"groupName": "team", "members": ["alice"]}));
    copied.metadata.annotations = group.metadata.annotations.clone();
    w.kube.put(&copied);

    w.reconcile("copy").await.unwrap();
    assert_eq!(
        condition(&w.group("copy").unwrap(), "Ready").unwrap().1,
        "NameConflict"
    );
}

/// Someone made a group with the name by hand, holding exactly what this Group's create would
/// send. Without a record the operator sealed, it is someone else's.
#[tokio::test]
async fn a_group_someone_else_made_is_a_conflict_even_with_a_hand_written_record() {
    let w = World::new(everything()).await;
    let alice = w.platform.find_user("alice").await.unwrap().unwrap().id;
    let theirs = w
        .platform
        .create_group(&igz_mgmt::NewUserGroup {
            name: "team".into(),
            member_ids: vec![alice],
            ..Default::default()
        })
        .await
        .unwrap();
    w.apply("plain", json!({"groupName": "team", "members": ["alice"]}));
    let writes_before = w.platform_writes().await;
    w.reconcile("plain").await.unwrap();
    let g = w.group("plain").unwrap();
    let (_, reason, message) = condition(&g, "Ready").unwrap();
    assert_eq!(reason, "AlreadyExists");
    assert!(message.contains("spec.adoptExisting: true"), "{message}");

    // A record written by hand: still a conflict, now with the create's outcome unknown.
    let mut group = w.kube.get(NS, "plain").unwrap();
    group.metadata.name = Some("forged".into());
    group.metadata.annotations = Some(
        [(
            ANNOTATION.to_owned(),
            r#"{"since":"x","sha256":"00","mac":"00"}"#.to_owned(),
        )]
        .into(),
    );
    group.status = None;
    w.kube.create(group);
    w.reconcile("forged").await.unwrap();
    let g = w.group("forged").unwrap();
    let (_, reason, message) = condition(&g, "Ready").unwrap();
    assert_eq!(reason, "AlreadyExists");
    assert!(
        message.contains("outcome of this resource's earlier create request is unknown"),
        "{message}"
    );
    assert_eq!(
        w.platform_writes().await,
        writes_before,
        "nothing written to the platform"
    );
    let after = w.platform.get_group(&theirs.id).await.unwrap().unwrap();
    assert_eq!(after.member_ids, theirs.member_ids);
}

#[tokio::test]
async fn a_newer_group_naming_the_same_platform_group_is_a_name_conflict() {
    let w = World::new(everything()).await;
    // Created in the same second: the tie goes to the first by namespace/name.
    w.apply("first", json!({"groupName": "team"}));
    w.apply("second", json!({"groupName": "team"}));
    w.reconcile("second").await.unwrap();
    let (_, reason, message) = condition(&w.group("second").unwrap(), "Ready").unwrap();
    assert_eq!(reason, "NameConflict");
    assert!(message.contains("team-a/first"), "{message}");
    assert_eq!(w.platform_writes().await, 0);
}

#[tokio::test]
async fn adopting_a_group_that_holds_more_than_the_grant_allows_is_refused() {
    let mut grant = everything();
    grant.tenant_policies = vec![crate::crd::TenantPolicy::Data];
    let w = World::new(grant).await;
    w.platform
        .create_group(&igz_mgmt::NewUserGroup {
            name: "admins".into(),
            assigned_policies: vec!["IT Admin".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    w.apply("admins", json!({"adoptExisting": true}));
    let writes_before = w.platform_writes().await;
    w.reconcile("admins").await.unwrap();
    let g = w.group("admins").unwrap();
    let (_, reason, message) = condition(&g, "Ready").unwrap();
    assert_eq!(reason, "NotGranted");
    assert!(
        message.contains("IT Admin") && message.contains("not adopted"),
        "{message}"
    );
    assert_eq!(g.status.unwrap().group_id, None);
    assert_eq!(w.platform_writes().await, writes_before);
}

#[tokio::test]
async fn observe_only_lists_what_it_would_change_and_writes_nothing() {
    let w = World::new(everything()).await;
    let bob = w.platform.find_user("bob").await.unwrap().unwrap().id;
    w.platform
        .create_group(&igz_mgmt::NewUserGroup {
            name: "seen".into(),
            member_ids: vec![bob],
            ..Default::default()
        })
        .await
        .unwrap();
    w.apply(
        "seen",
        json!({"members": ["alice"], "adoptExisting": true, "managementPolicy": "ObserveOnly"}),
    );
    let writes_before = w.platform_writes().await;
    w.reconcile("seen").await.unwrap();
    let g = w.group("seen").unwrap();
    let status = g.status.clone().unwrap();
    assert_eq!(condition(&g, "Ready").unwrap().1, "Observed");
    assert!(
        status.planned_changes.iter().any(|c| c.contains("alice")),
        "{:?}",
        status.planned_changes
    );
    assert!(
        status.planned_changes.iter().any(|c| c.contains("bob")),
        "{:?}",
        status.planned_changes
    );
    assert_eq!(status.origin, Some(GroupOrigin::Adopted));
    assert!(g.finalizers().contains(&FINALIZER.to_owned()));
    assert_eq!(w.platform_writes().await, writes_before);
    w.wait_event("ChangesPlanned", "alice").await;
}
