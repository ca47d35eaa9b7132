//! Temporary members through the driver: added until their expiry with the reason in the Event,
//! removed once it has passed (an edit that shortens it takes effect at once), pre-existing
//! members left alone under Additive, a cap refusal reported while the rest is applied, a
//! frozen Group still losing what it added, Orphan deletion ending them, and an outage during a
//! removal reported.

use kube::ResourceExt;
use serde_json::json;

use super::world::{NS, World, condition, everything};
use crate::crd::{FINALIZER, TemporaryMemberState};

/// An RFC 3339 time `seconds` from now (negative: in the past), to the second.
fn at(seconds: i64) -> String {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn members(w: &World, name: &str) -> Vec<String> {
    let group = w
        .platform
        .find_group_by_name(name)
        .await
        .unwrap()
        .expect("the group");
    let mut names = Vec::new();
    for id in &group.member_ids {
        let users = w.platform.list_users().await.unwrap();
        names.extend(
            users
                .into_iter()
                .filter(|u| &u.id == id)
                .map(|u| u.username),
        );
    }
    names.sort();
    names
}

fn state(w: &World, group: &str, user: &str) -> Option<TemporaryMemberState> {
    let status = w.group(group)?.status?;
    status
        .temporary_members
        .into_iter()
        .find(|m| m.name == user)
        .map(|m| m.state)
}

/// Sets the Group's spec as `kubectl apply` would (a new generation).
fn respec(w: &World, name: &str, spec: serde_json::Value) {
    let mut group = w.group(name).unwrap();
    group.spec = serde_json::from_value(spec).unwrap();
    group.metadata.generation = group.metadata.generation.map(|g| g + 1);
    w.kube.put(&group);
}

#[tokio::test]
async fn a_temporary_member_is_added_until_its_expiry_and_removed_when_it_has_passed() {
    let w = World::new(everything()).await;
    let until = at(3600);
    let spec = |expires: &str| {
        json!({"members": ["alice"], "temporaryMembers": [
            {"name": "bob", "expires": expires, "reason": "on call"}]})
    };
    w.apply("team", spec(&until));
    w.reconcile("team").await.unwrap();
    assert_eq!(members(&w, "team").await, ["alice", "bob"]);
    assert_eq!(state(&w, "team", "bob"), Some(TemporaryMemberState::Active));
    let status = w.group("team").unwrap().status.unwrap();
    assert!(status.temporary_members[0].added, "{status:?}");
    assert_eq!(
        status.next_expiry.map(|t| t.0.to_string()),
        Some(until.clone())
    );
    w.wait_event("MemberAdded", &format!("bob until {until} (on call)"))
        .await;

    // Shortened to a time already past: removed at once, and said so.
    let ended = at(-1);
    respec(&w, "team", spec(&ended));
    w.reconcile("team").await.unwrap();
    assert_eq!(members(&w, "team").await, ["alice"]);
    assert_eq!(
        state(&w, "team", "bob"),
        Some(TemporaryMemberState::Expired)
    );
    w.wait_event(
        "MemberExpired",
        &format!("bob: its temporary membership ended at {ended}"),
    )
    .await;
    assert_eq!(w.group("team").unwrap().status.unwrap().next_expiry, None);
}

#[tokio::test]
async fn an_entry_already_expired_grants_nothing_and_a_permanent_member_is_never_expired() {
    let w = World::new(everything()).await;
    w.apply(
        "team",
        json!({"members": ["alice"], "temporaryMembers": [
            {"name": "alice", "expires": at(-60)}, {"name": "bob", "expires": at(-60)}]}),
    );
    w.reconcile("team").await.unwrap();
    assert_eq!(
        members(&w, "team").await,
        ["alice"],
        "bob never granted, alice permanent"
    );
    assert_eq!(
        state(&w, "team", "bob"),
        Some(TemporaryMemberState::Expired)
    );
}

#[tokio::test]
async fn under_additive_an_expiry_removes_only_a_member_this_group_added() {
    let w = World::new(everything()).await;
    let alice = w.platform.find_user("alice").await.unwrap().unwrap().id;
    // alice is a member already when the Group adopts the group: not its to remove.
    w.platform
        .create_group(&igz_mgmt::NewUserGroup {
            name: "team".into(),
            member_ids: vec![alice],
            ..Default::default()
        })
        .await
        .unwrap();
    let spec = |expires: &str| {
        json!({"adoptExisting": true, "membersPolicy": "Additive", "temporaryMembers": [
            {"name": "alice", "expires": expires}, {"name": "bob", "expires": expires}]})
    };
    w.apply("team", spec(&at(3600)));
    w.reconcile("team").await.unwrap();
    assert_eq!(members(&w, "team").await, ["alice", "bob"]);
    respec(&w, "team", spec(&at(-1)));
    w.reconcile("team").await.unwrap();
    assert_eq!(
        members(&w, "team").await,
        ["alice"],
        "only bob was added by this Group"
    );
}

#[tokio::test]
async fn an_entry_beyond_the_grants_cap_is_refused_alone() {
    let mut grant = everything();
    grant.temporary_members = Some(crate::crd::TemporaryMembersGrant {
        max_duration: Some("1h".into()),
        required: false,
    });
    let w = World::new(grant).await;
    w.apply(
        "team",
        json!({"members": ["alice"], "temporaryMembers": [{"name": "bob", "expires": at(7200)}]}),
    );
    w.reconcile("team").await.unwrap();
    let g = w.group("team").unwrap();
    let (ready, reason, message) = condition(&g, "Ready").unwrap();
    assert_eq!((ready.as_str(), reason.as_str()), ("False", "NotGranted"));
    assert!(
        message.contains("1h"),
        "the message names the cap: {message}"
    );
    assert_eq!(
        members(&w, "team").await,
        ["alice"],
        "the rest is applied, bob is not"
    );
    assert_eq!(
        state(&w, "team", "bob"),
        Some(TemporaryMemberState::NotGranted)
    );
}

#[tokio::test]
async fn a_group_no_longer_granted_still_loses_the_memberships_it_added() {
    let w = World::new(everything()).await;
    w.apply(
        "team",
        json!({"members": ["alice"], "temporaryMembers": [{"name": "bob", "expires": at(3600)}]}),
    );
    w.reconcile("team").await.unwrap();
    assert_eq!(members(&w, "team").await, ["alice", "bob"]);
    // Now it asks for something no grant allows (a tenant policy), and its entry has ended.
    respec(
        &w,
        "team",
        json!({"members": ["alice"], "groupName": "team", "assignedPolicies": ["System Admin"],
               "temporaryMembers": [{"name": "bob", "expires": at(-1)}]}),
    );
    let mut narrow = everything();
    narrow.tenant_policies = vec![crate::crd::TenantPolicy::Data];
    let w = w.with_grant(narrow);
    w.reconcile("team").await.unwrap();
    let (_, reason, _) = condition(&w.group("team").unwrap(), "Ready").unwrap();
    assert_eq!(reason, "NotGranted");
    assert_eq!(
        members(&w, "team").await,
        ["alice"],
        "bob's membership ended anyway"
    );
}

#[tokio::test]
async fn orphan_deletion_ends_the_temporary_memberships_it_added() {
    let w = World::new(everything()).await;
    w.apply(
        "team",
        json!({"members": ["alice"], "deletionPolicy": "Orphan",
               "temporaryMembers": [{"name": "bob", "expires": at(3600)}]}),
    );
    w.reconcile("team").await.unwrap();
    assert_eq!(members(&w, "team").await, ["alice", "bob"]);
    w.kube.delete(NS, "team");
    w.reconcile("team").await.unwrap();
    assert!(w.group("team").is_none(), "let go");
    assert_eq!(
        members(&w, "team").await,
        ["alice"],
        "the group stays, bob's access does not"
    );
    w.wait_event("Orphaned", "deletionPolicy is Orphan").await;
}

#[tokio::test]
async fn an_outage_during_a_removal_is_reported_and_the_status_kept() {
    let w = World::new(everything()).await;
    let spec = |expires: &str| json!({"members": ["alice"], "temporaryMembers": [{"name": "bob", "expires": expires}]});
    w.apply("team", spec(&at(3600)));
    w.reconcile("team").await.unwrap();
    respec(&w, "team", spec(&at(-1)));
    w.admin
        .set_faults(igz_emulator::FaultsPatch {
            error_rate: Some(1.0),
            ..Default::default()
        })
        .await;
    // The picture still shows bob a member: the removal is tried, and fails.
    w.reconcile("team").await.unwrap_err();
    w.wait_event("MemberExpiryDelayed", "bob").await;
    let g = w.group("team").unwrap();
    assert!(g.finalizers().contains(&FINALIZER.to_owned()));
    let bob = g
        .status
        .unwrap()
        .temporary_members
        .into_iter()
        .find(|m| m.name == "bob");
    assert!(
        bob.is_some_and(|m| m.added),
        "the record that bob was added by us is kept"
    );
    w.admin.clear_faults().await;
    w.reconcile("team").await.unwrap();
    assert_eq!(members(&w, "team").await, ["alice"]);
}

#[test]
fn the_reconcile_comes_back_at_the_next_expiry_when_it_is_sooner_than_the_resync() {
    use crate::controller::reconcile::wake;
    use kube::runtime::controller::Action;
    use std::time::Duration;
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let resync = Duration::from_secs(300);
    let waking = |seconds: i64| crate::plan::Temporary {
        wake_at: Some(now + jiff::SignedDuration::from_secs(seconds)),
        ..Default::default()
    };
    assert_eq!(
        wake(resync, &Default::default(), now),
        Action::requeue(resync)
    );
    assert_eq!(
        wake(resync, &waking(7), now),
        Action::requeue(Duration::from_secs(7))
    );
    assert_eq!(wake(resync, &waking(3600), now), Action::requeue(resync));
    assert_eq!(
        wake(resync, &waking(-5), now),
        Action::requeue(Duration::ZERO),
        "overdue: now"
    );
}
