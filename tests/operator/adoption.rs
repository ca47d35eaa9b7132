//! A Group never takes over a platform group it did not create unless it says `adoptExisting`:
//! not when its picture of the platform is older than a hand-made group (the create's 409 is a
//! definite answer), not when that 409 is lost on the way back, and not when it is deleted while
//! the outcome of its create is unknown. A create of its own whose answer was lost is still
//! recognised, because the group carries exactly what was sent.
//!
//! The stale picture is forced, not hoped for: the operator keeps its picture for an hour, the
//! picture is read (by reconciling another, ObserveOnly, Group) before the hand-made group
//! appears.

use std::time::Duration;

use std::collections::{BTreeMap, BTreeSet};

use igz_emulator::{Fault, FaultsPatch, ScriptedFault};
use igz_mgmt::{NewUserGroup, UserGroup};
use igz_operator::create_record::{self, ANNOTATION, RecordKeys, Sent};
use igz_operator::plan::Action;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::support::{ACCESS_KEY, Harness, Operator, condition};

/// A harness whose operator reads the platform once and then keeps that picture for an hour
/// (short of a write that proves it wrong).
async fn with_lasting_picture(prefix: &str) -> Harness {
    let mut h = Harness::without_operator(prefix, &["alice", "bob"], &["default"]).await;
    h.operator = Some(Operator::start_with(
        &h.client,
        &h.ns,
        &h.emulator.base_url(),
        ACCESS_KEY,
        |settings| settings.fresh_picture_age = Duration::from_secs(3600),
    ));
    h
}

/// Makes sure the operator's picture is read now, and not again: an ObserveOnly Group reaches
/// Ready. It must not create anything: a create leaves a create record, and a reconcile that
/// still sees that record (its own follow-up, racing the record's clearing) reads a new picture,
/// which could come after the hand-made group and so show it (CI saw this once).
async fn read_the_picture_now(h: &Harness, name: &str) {
    h.apply(
        name,
        json!({"members": ["alice"], "managementPolicy": "ObserveOnly"}),
    )
    .await
    .unwrap();
    h.wait_ready(name).await;
}

/// A group made by hand on the platform (outside Kubernetes), with `bob` in it.
async fn hand_made(h: &Harness, name: &str) -> UserGroup {
    let bob = h.platform.find_user("bob").await.unwrap().unwrap().id;
    h.platform
        .create_group(&NewUserGroup {
            name: name.to_owned(),
            description: Some("made by hand".to_owned()),
            assigned_policies: vec!["Data".to_owned()],
            member_ids: vec![bob],
            ..Default::default()
        })
        .await
        .unwrap()
}

/// The hand-made group is exactly as it was made, and no Event says it was taken over.
async fn assert_untouched(h: &Harness, resource: &str, before: &UserGroup) {
    let now = h.platform.get_group(&before.id).await.unwrap();
    assert_eq!(
        now.as_ref(),
        Some(before),
        "{resource}: the hand-made group changed"
    );
    let reasons = h.event_reasons(resource).await;
    for taken in [
        "Adopted",
        "Recovered",
        "MemberAdded",
        "MemberRemoved",
        "Updated",
        "Deleted",
    ] {
        assert!(
            !reasons.iter().any(|r| r == taken),
            "{resource}: {taken} Event: {reasons:?}"
        );
    }
    assert_eq!(h.platform_groups_named(&before.name).await, 1);
}

#[tokio::test]
async fn hand_made_groups_met_through_a_stale_picture_are_never_adopted() {
    let h = with_lasting_picture("adopt-race").await;
    for i in 0..5 {
        let name = format!("legacy{i}");
        read_the_picture_now(&h, &format!("warm{i}")).await;
        let theirs = hand_made(&h, &name).await;
        let creates = h.admin.stats().await.route("POST /api/user_groups");
        h.apply(&name, json!({"members": ["alice"]})).await.unwrap();

        let g = h.wait_reason(&name, "AlreadyExists").await;
        h.wait_event(&name, "AlreadyExists").await;
        assert_eq!(
            h.admin.stats().await.route("POST /api/user_groups"),
            creates + 1,
            "the stale picture made the operator try to create {name}, once"
        );
        let (_, _, message) = condition(&g, "Ready").unwrap();
        assert!(message.contains("spec.adoptExisting: true"), "{message}");
        assert!(
            !g.annotations().contains_key(ANNOTATION),
            "the definite 409 ended the create record"
        );
        assert_eq!(g.status.unwrap().group_id, None);
        assert_untouched(&h, &name, &theirs).await;
    }
    // Later reconciles (every 0.5 s here, with a fresh picture) keep leaving them alone.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for i in 0..5 {
        let name = format!("legacy{i}");
        let theirs = h.platform_group(&name).await.unwrap();
        assert_eq!(h.member_names(&theirs).await, ["bob"]);
        assert_untouched(&h, &name, &theirs).await;
        let g = h.wait_reason(&name, "AlreadyExists").await;
        let (_, _, message) = condition(&g, "Ready").unwrap();
        assert!(
            message.contains(&theirs.id),
            "the fresh picture names the group: {message}"
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn a_lost_answer_never_adopts_a_group_this_resource_did_not_create() {
    let h = with_lasting_picture("adopt-lost").await;
    read_the_picture_now(&h, "warm").await;
    let theirs = hand_made(&h, "contested").await;
    // The create reaches the platform, which answers 409; the answer is lost on the way back.
    h.faults(FaultsPatch {
        script: Some(vec![ScriptedFault {
            route: Some("POST /api/user_groups".into()),
            fault: Fault::Drop,
        }]),
        ..Default::default()
    })
    .await;
    h.apply("contested", json!({"members": ["alice"]}))
        .await
        .unwrap();

    let g = h
        .wait_for("contested", "AlreadyExists, outcome unknown", |g| {
            condition(g, "Ready").is_some_and(|(_, reason, message)| {
                reason == "AlreadyExists"
                    && message
                        .contains("outcome of this resource's earlier create request is unknown")
            })
        })
        .await;
    assert_eq!(h.admin.stats().await.faults.dropped, 1, "the 409 was lost");
    let (_, _, message) = condition(&g, "Ready").unwrap();
    assert!(
        message.contains("spec.adoptExisting: true"),
        "says what to do: {message}"
    );
    assert!(
        g.annotations().contains_key(ANNOTATION),
        "the outcome is unknown: the record stays"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_untouched(&h, "contested", &theirs).await;

    // Deleting the resource while its create's outcome is unknown leaves the group alone.
    h.delete("contested").await;
    h.wait_gone("contested").await;
    assert_untouched(&h, "contested", &theirs).await;
    h.stop().await;
}

/// The create record a test writes on a Group.
enum Record {
    /// Sealed with the operator's record key, as the operator writes it.
    Sealed,
    /// Anything else (a hand-written or damaged record).
    Written(&'static str),
}

/// The state an operator leaves when it is killed after sending a create and before learning
/// its answer: the group exists on the platform, and the resource carries the create record but
/// no id. `status_group` is the group status named when the create was sent (a re-create's).
async fn interrupted_create(h: &Harness, name: &str, status_group: Option<&str>, record: Record) {
    let alice = h.platform.find_user("alice").await.unwrap().unwrap().id;
    let sent = NewUserGroup {
        name: name.to_owned(),
        description: Some("ours".to_owned()),
        member_ids: vec![alice.clone()],
        ..Default::default()
    };
    h.platform.create_group(&sent).await.unwrap();
    let create = Action::CreateGroup {
        name: name.to_owned(),
        description: sent.description.clone(),
        gid: None,
        assigned_policies: BTreeSet::new(),
        members: BTreeMap::from([("alice".to_owned(), alice)]),
    };
    let mut group = h
        .apply(name, json!({"members": ["alice"], "description": "ours"}))
        .await
        .unwrap();
    if let Some(id) = status_group {
        group = name_in_status(h, name, id).await;
    }
    let value = match record {
        Record::Sealed => {
            // The key the operator will use: the Secret in its namespace (made here first).
            let keys = RecordKeys::load_or_create(&h.client, &h.ns).await.unwrap();
            let sent = Sent::of(&create).unwrap();
            create_record::seal(&keys, &group, &sent, jiff::Timestamp::now())
        }
        Record::Written(value) => value.to_owned(),
    };
    let patch = json!({"metadata": {"annotations": {ANNOTATION: value}}});
    h.groups
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Writes `group_id` into the resource's status, as an operator that created that group did.
async fn name_in_status(h: &Harness, name: &str, group_id: &str) -> igz_operator::crd::Group {
    let patch = json!({"status": {"groupId": group_id}});
    h.groups
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_re_create_interrupted_is_recognised_and_an_answered_create_record_is_not() {
    let mut h = Harness::without_operator("adopt-recreate", &["alice", "bob"], &[]).await;
    // "again": its platform group was deleted outside Kubernetes (status still names it), and
    // the operator was killed after sending the re-create: the new group is on the platform,
    // and the record says which group it replaces.
    interrupted_create(&h, "again", Some("deleted-1"), Record::Sealed).await;
    // "answered": the record is the one of a first create, and status names a group since (so
    // that create was answered; the group was deleted later). The platform group now carrying
    // the name holds exactly what that create sent, but someone else made it.
    interrupted_create(&h, "answered", None, Record::Sealed).await;
    name_in_status(&h, "answered", "deleted-2").await;
    let theirs = h.platform_group("answered").await.unwrap();
    h.operator = Some(Operator::start(
        &h.client,
        &h.ns,
        &h.emulator.base_url(),
        ACCESS_KEY,
    ));

    let g = h.wait_ready("again").await;
    h.wait_event("again", "Recovered").await;
    let made = h.platform_group("again").await.unwrap();
    assert_eq!(
        g.status.as_ref().unwrap().group_id.as_deref(),
        Some(made.id.as_str())
    );
    assert_eq!(h.platform_groups_named("again").await, 1, "no duplicate");

    let refused = h.wait_reason("answered", "AlreadyExists").await;
    let (_, _, message) = condition(&refused, "Ready").unwrap();
    assert!(message.contains("spec.adoptExisting: true"), "{message}");
    assert_untouched(&h, "answered", &theirs).await;
    h.stop().await;
}

#[tokio::test]
async fn a_create_interrupted_before_its_answer_is_recognised_after_a_restart() {
    let mut h = Harness::without_operator("adopt-own", &["alice", "bob"], &[]).await;
    interrupted_create(&h, "own", None, Record::Sealed).await;
    // Made by hand meanwhile? No: exactly what the create sent. A record the operator did not
    // seal proves nothing, so that one is refused.
    interrupted_create(
        &h,
        "unproven",
        None,
        Record::Written("2026-11-28T10:00:00Z"),
    )
    .await;
    h.operator = Some(Operator::start(
        &h.client,
        &h.ns,
        &h.emulator.base_url(),
        ACCESS_KEY,
    ));

    let g = h.wait_ready("own").await;
    h.wait_event("own", "Recovered").await;
    let notes = h.event_notes("own", "Recovered").await;
    assert!(notes[0].contains("answer was lost"), "{notes:?}");
    let platform = h.platform_group("own").await.unwrap();
    assert_eq!(h.platform_groups_named("own").await, 1, "no duplicate");
    assert_eq!(
        g.status.as_ref().unwrap().group_id.as_deref(),
        Some(platform.id.as_str())
    );
    // The record is cleared by the next reconcile: status names the group, and the record is
    // older than half a resync interval.
    h.wait_for("own", "the create record cleared", |g| {
        !g.annotations().contains_key(ANNOTATION)
    })
    .await;
    assert_eq!(h.member_names(&platform).await, ["alice"]);

    let refused = h.wait_reason("unproven", "AlreadyExists").await;
    let (_, _, message) = condition(&refused, "Ready").unwrap();
    assert!(
        message.contains("outcome of this resource's earlier create request is unknown"),
        "{message}"
    );
    h.stop().await;
}

#[tokio::test]
async fn managed_only_never_claims_a_member_someone_else_added() {
    let h = with_lasting_picture("adopt-managed").await;
    h.apply(
        "careful",
        json!({"members": ["alice"], "membersPolicy": "ManagedOnly"}),
    )
    .await
    .unwrap();
    let g = h.wait_ready("careful").await;
    let id = g.status.unwrap().group_id.unwrap();
    // bob joins outside Kubernetes, after the operator read its picture.
    let bob = h.platform.find_user("bob").await.unwrap().unwrap().id;
    assert!(h.platform.add_user_to_group(&bob, &id).await.unwrap());

    // The spec lists bob too: the stale picture plans to add him, the platform has him already.
    h.apply(
        "careful",
        json!({"members": ["alice", "bob"], "membersPolicy": "ManagedOnly"}),
    )
    .await
    .unwrap();
    let g = h
        .wait_for("careful", "Ready at generation 2", |g| {
            g.status.as_ref().and_then(|s| s.observed_generation) == Some(2)
                && condition(g, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await;
    assert_eq!(
        g.status.unwrap().managed_members,
        ["alice"],
        "bob was not added by us"
    );

    // Dropping bob from the spec must not remove him: he is not ours to remove.
    h.apply(
        "careful",
        json!({"members": ["alice"], "membersPolicy": "ManagedOnly"}),
    )
    .await
    .unwrap();
    h.wait_for("careful", "Ready at generation 3", |g| {
        g.status.as_ref().and_then(|s| s.observed_generation) == Some(3)
            && condition(g, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    let platform = h.platform.get_group(&id).await.unwrap().unwrap();
    assert_eq!(h.member_names(&platform).await, ["alice", "bob"]);
    assert!(h.event_notes("careful", "MemberRemoved").await.is_empty());
    h.stop().await;
}
