//! Temporary members on the real API server and the emulator, with the operator's resync set to
//! a minute: a removal that lands within seconds of `expires` was made by the timer the
//! reconcile set, not by a resync. Expiry on time; an operator restarted across an expiry; a
//! platform outage across an expiry; an edit near the expiry (extended, then shortened);
//! ObserveOnly showing what it would add; Additive and ManagedOnly removing only what an entry
//! added; a grant's cap and "no standing access" rule at reconcile (admission's side is in
//! `admission.rs`).
//!
//! Times are a few seconds ahead, and every wait polls with a deadline.

use std::time::Duration;

use igz_emulator::FaultsPatch;
use igz_operator::controller::Timing;
use igz_operator::crd::TemporaryMemberState;
use serde_json::{Value, json};

use crate::support::{ACCESS_KEY, Harness, Operator, condition, errors};

/// An RFC 3339 time `seconds` from now, to the second.
fn at(seconds: i64) -> (String, jiff::Timestamp) {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
    let text = t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let t = text.parse().unwrap();
    (text, t)
}

/// Starts the operator with a one-minute resync (and quick error retries).
fn operator(h: &Harness) -> Operator {
    Operator::start_with(&h.client, &h.ns, &h.emulator.base_url(), ACCESS_KEY, |s| {
        let mut timing = Timing::new(Duration::from_secs(60));
        timing.error_backoff_min = Duration::from_millis(200);
        timing.error_backoff_max = Duration::from_secs(2);
        s.timing = timing;
    })
}

async fn harness(prefix: &str) -> Harness {
    let mut h = Harness::without_operator(prefix, &["alice", "bob"], &[]).await;
    h.operator = Some(operator(&h));
    h
}

fn on_call(expires: &str) -> Value {
    json!({"members": ["alice"], "temporaryMembers": [
        {"name": "bob", "expires": expires, "reason": "on call"}]})
}

/// Waits until the platform group `name` has exactly `expected` as members.
async fn wait_members(h: &Harness, name: &str, expected: &[&str], deadline: Duration) {
    igz_testkit::wait::until(
        &format!("{name} has members {expected:?}"),
        deadline,
        || async {
            let group = h.platform_group(name).await.ok_or("no group")?;
            let members = h.member_names(&group).await;
            (members == expected)
                .then_some(())
                .ok_or(format!("{members:?}"))
        },
    )
    .await;
}

/// Waits until the Group says bob's entry is in `state`.
async fn wait_state(h: &Harness, name: &str, state: TemporaryMemberState) {
    h.wait_for(name, &format!("bob {state:?}"), |g| {
        g.status.as_ref().is_some_and(|s| {
            s.temporary_members
                .iter()
                .any(|m| m.name == "bob" && m.state == state)
        })
    })
    .await;
}

/// How long until `t`, at least nothing.
fn until(t: jiff::Timestamp) -> Duration {
    Duration::try_from(t.duration_since(jiff::Timestamp::now())).unwrap_or(Duration::ZERO)
}

#[tokio::test]
async fn a_temporary_member_is_removed_on_time_by_its_timer() {
    let h = harness("temp-time").await;
    let (expires, end) = at(5);
    h.apply("oncall", on_call(&expires)).await.unwrap();
    wait_members(&h, "oncall", &["alice", "bob"], Duration::from_secs(30)).await;
    wait_state(&h, "oncall", TemporaryMemberState::Active).await;
    // Events are sent by a task of their own, after the reconcile that published them.
    h.wait_event("oncall", "MemberAdded").await;
    let added = h.event_notes("oncall", "MemberAdded").await;
    assert!(
        added
            .iter()
            .any(|n| n.contains(&format!("bob until {expires} (on call)"))),
        "{added:?}"
    );
    // Well within the one-minute resync: only the timer set at the expiry can have done it.
    wait_members(
        &h,
        "oncall",
        &["alice"],
        until(end) + Duration::from_secs(20),
    )
    .await;
    let removed_after = jiff::Timestamp::now().duration_since(end);
    wait_state(&h, "oncall", TemporaryMemberState::Expired).await;
    h.wait_event("oncall", "MemberExpired").await;
    eprintln!("removal seen {removed_after:?} after the expiry");
    h.stop().await;
}

#[tokio::test]
async fn an_expiry_that_passed_while_the_operator_was_stopped_lands_at_its_start() {
    let mut h = harness("temp-restart").await;
    let (expires, end) = at(4);
    h.apply("oncall", on_call(&expires)).await.unwrap();
    wait_members(&h, "oncall", &["alice", "bob"], Duration::from_secs(30)).await;
    h.operator.take().unwrap().stop().await;
    tokio::time::sleep(until(end) + Duration::from_secs(1)).await;
    let started = std::time::Instant::now();
    h.operator = Some(operator(&h));
    wait_members(&h, "oncall", &["alice"], Duration::from_secs(30)).await;
    eprintln!("removed {:?} after the operator started", started.elapsed());
    wait_state(&h, "oncall", TemporaryMemberState::Expired).await;
    h.stop().await;
}

#[tokio::test]
async fn an_expiry_during_an_outage_is_reported_and_lands_when_the_platform_answers() {
    let h = harness("temp-outage").await;
    let (expires, end) = at(4);
    h.apply("oncall", on_call(&expires)).await.unwrap();
    wait_members(&h, "oncall", &["alice", "bob"], Duration::from_secs(30)).await;
    wait_state(&h, "oncall", TemporaryMemberState::Active).await;
    h.faults(errors(1.0)).await;
    tokio::time::sleep(until(end)).await;
    let g = h
        .wait_for("oncall", "Synced False while the platform is down", |g| {
            condition(g, "Synced").is_some_and(|c| c.0 == "False" && c.1 == "ApiUnavailable")
        })
        .await;
    assert!(
        g.status
            .unwrap()
            .temporary_members
            .iter()
            .any(|m| m.name == "bob" && m.added),
        "the record that bob is ours to remove is kept"
    );
    h.wait_event("oncall", "MemberExpiryDelayed").await;
    let delayed = h.event_notes("oncall", "MemberExpiryDelayed").await;
    assert!(
        delayed.iter().any(|n| n.contains("bob (ended at")),
        "the Warning names bob: {delayed:?}"
    );
    h.faults(FaultsPatch {
        error_rate: Some(0.0),
        ..Default::default()
    })
    .await;
    wait_members(&h, "oncall", &["alice"], Duration::from_secs(30)).await;
    h.wait_event("oncall", "MemberExpired").await;
    h.stop().await;
}

#[tokio::test]
async fn an_expiry_edited_near_its_time_takes_effect_at_once() {
    let h = harness("temp-edit").await;
    let (soon, soon_at) = at(4);
    h.apply("oncall", on_call(&soon)).await.unwrap();
    wait_members(&h, "oncall", &["alice", "bob"], Duration::from_secs(30)).await;
    // Extended before it ends: bob stays past the first time.
    let (later, _) = at(3600);
    h.apply("oncall", on_call(&later)).await.unwrap();
    h.wait_for("oncall", "the new expiry in status", |g| {
        g.status
            .as_ref()
            .and_then(|s| s.next_expiry.as_ref())
            .is_some_and(|t| t.0.to_string() == later)
    })
    .await;
    tokio::time::sleep(until(soon_at) + Duration::from_secs(2)).await;
    let group = h.platform_group("oncall").await.unwrap();
    assert_eq!(
        h.member_names(&group).await,
        ["alice", "bob"],
        "still a member"
    );
    // Shortened to a time already past: removed at once.
    let (past, _) = at(-1);
    h.apply("oncall", on_call(&past)).await.unwrap();
    wait_members(&h, "oncall", &["alice"], Duration::from_secs(30)).await;
    h.stop().await;
}

#[tokio::test]
async fn observe_only_shows_the_temporary_member_it_would_add() {
    let h = harness("temp-observe").await;
    let alice = h.platform.find_user("alice").await.unwrap().unwrap().id;
    let made = igz_mgmt::NewUserGroup {
        name: "seen".into(),
        member_ids: vec![alice],
        ..Default::default()
    };
    let before = h.platform.create_group(&made).await.unwrap();
    let (expires, _) = at(3600);
    let mut spec = on_call(&expires);
    spec["managementPolicy"] = json!("ObserveOnly");
    spec["adoptExisting"] = json!(true);
    h.apply("seen", spec).await.unwrap();
    let g = h
        .wait_for("seen", "planned changes", |g| {
            g.status
                .as_ref()
                .is_some_and(|s| !s.planned_changes.is_empty())
        })
        .await;
    let planned = g.status.unwrap().planned_changes;
    assert!(
        planned
            .iter()
            .any(|c| c.contains(&format!("bob until {expires}"))),
        "{planned:?}"
    );
    let after = h.platform_group("seen").await.unwrap();
    assert_eq!(after.member_ids, before.member_ids, "nothing written");
    h.stop().await;
}

/// Under Additive and ManagedOnly an expiry removes only the member this Group's entry added:
/// bob was a member of both platform groups before, carol was added by the entries.
#[tokio::test]
async fn under_additive_and_managed_only_an_expiry_removes_only_what_the_entry_added() {
    let mut h = Harness::without_operator("temp-policies", &["alice", "bob", "carol"], &[]).await;
    h.operator = Some(operator(&h));
    let bob = h.platform.find_user("bob").await.unwrap().unwrap().id;
    // Far enough ahead that both Groups are applied (adoption included) on a loaded machine
    // before the entries end: an entry already past is never granted.
    let (expires, _) = at(10);
    for (name, policy) in [("additive", "Additive"), ("managed", "ManagedOnly")] {
        let made = igz_mgmt::NewUserGroup {
            name: name.into(),
            member_ids: vec![bob.clone()],
            ..Default::default()
        };
        h.platform.create_group(&made).await.unwrap();
        let spec = json!({"members": [], "membersPolicy": policy, "adoptExisting": true,
            "temporaryMembers": [{"name": "bob", "expires": expires},
                                 {"name": "carol", "expires": expires}]});
        h.apply(name, spec).await.unwrap();
    }
    for name in ["additive", "managed"] {
        wait_members(&h, name, &["bob", "carol"], Duration::from_secs(30)).await;
    }
    for name in ["additive", "managed"] {
        // Both entries have ended once status says so; only carol was the entries' to remove.
        h.wait_for(name, "both entries Expired", |g| {
            g.status.as_ref().is_some_and(|s| {
                s.temporary_members.len() == 2
                    && s.temporary_members
                        .iter()
                        .all(|m| m.state == TemporaryMemberState::Expired)
            })
        })
        .await;
        wait_members(&h, name, &["bob"], Duration::from_secs(30)).await;
    }
    h.stop().await;
}

/// A "no standing access" grant judged at reconcile, where admission cannot: a Group admitted
/// before the grant required temporary members is refused for its permanent member, and an
/// extension beyond the cap (an update: admission has no clock) is refused naming the cap,
/// with access still ending at the cap counted from when bob was granted.
#[tokio::test]
async fn a_grants_cap_and_no_standing_access_are_enforced_at_reconcile() {
    let h = harness("temp-grant").await;
    h.apply("standing", json!({"members": ["alice"]}))
        .await
        .unwrap();
    h.wait_ready("standing").await;

    let mut grant = crate::support::grants::everything_in(&h.ns);
    grant.spec.temporary_members = Some(igz_operator::crd::TemporaryMembersGrant {
        max_duration: Some("10s".into()),
        required: true,
    });
    crate::support::grants::apply_grant(&h.client, &grant).await;
    let g = h.wait_reason("standing", "NotGranted").await;
    let (_, _, message) = condition(&g, "Ready").unwrap();
    assert!(
        message.contains("permanent member \"alice\""),
        "the refusal names the permanent member: {message}"
    );

    // Within the cap: granted. Then extended to an hour: refused, and bob leaves at the cap.
    let (soon, _) = at(8);
    let spec = |expires: &str| {
        json!({"members": [], "temporaryMembers": [
            {"name": "bob", "expires": expires, "reason": "on call"}]})
    };
    h.apply("oncall", spec(&soon)).await.unwrap();
    wait_members(&h, "oncall", &["bob"], Duration::from_secs(30)).await;
    let (hour, _) = at(3600);
    h.apply("oncall", spec(&hour)).await.unwrap();
    let g = h.wait_reason("oncall", "NotGranted").await;
    let (_, _, message) = condition(&g, "Ready").unwrap();
    assert!(
        message.contains("10s"),
        "the message names the cap: {message}"
    );
    // An hour was asked for; the cap ends bob's access seconds after it was granted.
    wait_members(&h, "oncall", &[], Duration::from_secs(40)).await;
    h.stop().await;
}
