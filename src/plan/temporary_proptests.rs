//! Property tests of temporary members, over the planner's whole input space (the states of
//! `proptests`) with temporary entries, a cap and status records added: no plan adds a user past
//! its effective expiry, expiry never removes a permanent member, under Additive and ManagedOnly
//! a member this Group did not add is never removed, the next expiry is the earliest effective
//! expiry ahead, and executing a plan converges.

use super::proptests::{desired_state, observed_state};
use super::testkit::*;
use super::*;
use jiff::{SignedDuration, Timestamp};
use proptest::collection::btree_map;
use proptest::prelude::*;
use proptest::sample::select;

/// The operator's clock in these tests.
fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn minutes(m: i64) -> Timestamp {
    now() + SignedDuration::from_mins(m)
}

/// Names of temporary entries: some also permanent, "ghost" never exists.
fn name() -> impl Strategy<Value = String> {
    select(vec!["u0", "u1", "u2", "u3", "u4", "ghost"]).prop_map(str::to_owned)
}

fn entries() -> impl Strategy<Value = BTreeMap<String, TemporaryEntry>> {
    btree_map(
        name(),
        (
            -90_i64..180,
            proptest::option::of(Just("on call".to_owned())),
        )
            .prop_map(|(m, reason)| TemporaryEntry {
                expires: minutes(m),
                reason,
            }),
        0..4,
    )
}

fn cap() -> impl Strategy<Value = Option<TemporaryCap>> {
    proptest::option::of(select(vec![30_i64, 60, 120])).prop_map(|m| {
        m.map(|m| TemporaryCap {
            max: SignedDuration::from_mins(m),
            text: format!("{m}m"),
            grant: "g".into(),
        })
    })
}

fn records() -> impl Strategy<Value = BTreeMap<String, TemporaryRecord>> {
    btree_map(
        name(),
        (
            proptest::option::of(-180_i64..=0),
            any::<bool>(),
            proptest::option::of(-90_i64..180),
        )
            .prop_map(|(granted, added, expires)| TemporaryRecord {
                granted_at: granted.map(minutes),
                added,
                expires: expires.map(minutes),
            }),
        0..4,
    )
}

fn inputs() -> impl Strategy<Value = (Desired, Observed)> {
    (
        desired_state(),
        observed_state(),
        entries(),
        cap(),
        records(),
    )
        .prop_map(|(mut desired, mut observed, entries, cap, records)| {
            desired.temporary_members = entries;
            desired.temporary_cap = cap;
            observed.now = Some(now());
            observed.temporary_records = records;
            (desired, observed)
        })
}

/// The effective expiry of `name`'s entry when it gives access now, computed from the rules
/// alone: `min(expires, first grant + cap)`, where a grant not made yet would be made now and
/// only if the entry fits the cap.
fn access_until(desired: &Desired, observed: &Observed, name: &str) -> Option<Timestamp> {
    let entry = desired.temporary_members.get(name)?;
    let granted = observed
        .temporary_records
        .get(name)
        .and_then(|r| r.granted_at);
    let cap = desired.temporary_cap.as_ref().map(|c| c.max);
    let until = match (granted, cap) {
        (Some(g), Some(cap)) => entry.expires.min(g + cap),
        (Some(_), None) | (None, None) => entry.expires,
        (None, Some(cap)) if entry.expires <= now() + cap => entry.expires,
        (None, Some(_)) => return None,
    };
    (until > now()).then_some(until)
}

fn added_users(plan: &Plan) -> BTreeSet<String> {
    plan.actions
        .iter()
        .flat_map(|a| match a {
            Action::AddMember { username, .. } => vec![username.clone()],
            Action::CreateGroup { members, .. } => members.keys().cloned().collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn removed_users(plan: &Plan) -> BTreeSet<String> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            Action::RemoveMember { username, .. } => Some(username.clone()),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn no_plan_adds_a_user_past_its_effective_expiry((desired, observed) in inputs()) {
        let plan = plan(&desired, &observed);
        for user in added_users(&plan) {
            if desired.members.contains(&user) {
                continue;
            }
            let until = access_until(&desired, &observed, &user);
            prop_assert!(until.is_some(), "added {} who has no access now", user);
            let line = plan.temporary.members.iter().find(|m| m.name == user).unwrap();
            prop_assert_eq!(Some(line.expires), until, "{}'s effective expiry", user);
        }
    }

    #[test]
    fn expiry_never_removes_a_permanent_member((desired, observed) in inputs()) {
        let plan = plan(&desired, &observed);
        let removed = removed_users(&plan);
        for user in &desired.members {
            prop_assert!(!removed.contains(user), "removed permanent member {}", user);
            prop_assert!(!plan.temporary.expiring.contains_key(user));
        }
    }

    #[test]
    fn additive_and_managed_only_never_remove_a_member_this_group_did_not_add(
        (desired, observed) in inputs(),
        managed_only in any::<bool>(),
    ) {
        let policy = if managed_only { MembersPolicy::ManagedOnly } else { MembersPolicy::Additive };
        let desired = Desired { members_policy: policy, ..desired };
        let plan = plan(&desired, &observed);
        for user in removed_users(&plan) {
            let added_by_entry = observed.temporary_records.get(&user).is_some_and(|r| r.added);
            let managed = managed_only && observed.managed_members.contains(&user);
            prop_assert!(added_by_entry || managed, "{:?} removed {}, which it did not add", policy, user);
        }
    }

    #[test]
    fn the_next_expiry_is_the_earliest_effective_expiry_ahead((desired, observed) in inputs()) {
        let plan = plan(&desired, &observed);
        let earliest = desired
            .temporary_members
            .keys()
            .filter_map(|name| access_until(&desired, &observed, name))
            .min();
        prop_assert_eq!(plan.temporary.next_expiry, earliest);
        if let Some(wake) = plan.temporary.wake_at {
            prop_assert!(wake > now());
            prop_assert!(earliest.is_none_or(|e| wake <= e));
        }
    }

    #[test]
    fn executing_the_plan_converges_with_temporary_members((desired, observed) in inputs()) {
        let first = plan(&desired, &observed);
        let after = apply(&observed, &first);
        let second = plan(&desired, &after);
        prop_assert!(second.actions.is_empty(), "not converged: {:?}", second.actions);
        prop_assert!(second.drift.is_empty(), "drift after convergence: {:?}", second.drift);
        prop_assert_eq!(&second.temporary.next_expiry, &first.temporary.next_expiry);
    }

    #[test]
    fn a_refusal_never_keeps_an_ended_membership(
        (desired, observed) in inputs(),
        policy in select(vec![MembersPolicy::Authoritative, MembersPolicy::Additive, MembersPolicy::ManagedOnly]),
    ) {
        // Whatever else is refused, a user this Group's entry added whose access is over is
        // removed (when it is still a member of an existing group the plan works on).
        let desired = Desired { members_policy: policy, ..desired };
        let plan = plan(&desired, &observed);
        if plan.conflict.is_some() {
            return Ok(());
        }
        let Some(target) = [&observed.group_by_id, &observed.group_by_name]
            .into_iter()
            .flatten()
            .find(|g| Some(&g.id) == plan.group_id.as_ref())
        else {
            return Ok(());
        };
        for (user, record) in &observed.temporary_records {
            let member = observed.users.get(user).is_some_and(|id| target.member_ids.contains(id));
            let over = access_until(&desired, &observed, user).is_none();
            if record.added && member && over && !desired.members.contains(user) {
                prop_assert!(removed_users(&plan).contains(user), "{} kept after its access ended", user);
            }
        }
    }
}
