//! Temporary members (spec.temporaryMembers): who is a member now, each entry's state, which
//! memberships have ended, and when the next one ends. Pure: time enters as a value
//! (`Observed::now`, the operator's clock), so every rule is testable; the driver requeues at
//! [`Temporary::wake_at`] (timers, not scans).
//!
//! Rules, per entry (name, expires):
//! - A user also in spec.members is permanent: expiry never removes it.
//! - An entry's *effective expiry* is `expires`, or `grantedAt + cap` when a GroupGrant's
//!   maxDuration ends it sooner (`grantedAt`: when the operator first granted the entry, kept in
//!   status). Changing `expires` takes effect at once.
//! - Not granted yet: granted (the user becomes a member) when `now < expires <= now + cap`;
//!   `expires <= now`: Expired, never grants (a re-applied old commit is harmless);
//!   `expires > now + cap`: NotGranted (no access), until the time left fits the cap.
//! - Granted: a member until its effective expiry; an `expires` moved beyond the cap is
//!   NotGranted (the extension is refused) and access still ends at the cap.
//! - When a membership ends (effective expiry passed, or the entry left the spec), the user
//!   stops being desired. Under Authoritative that removes it; under Additive and ManagedOnly it
//!   is removed only when this Group's entry added it (`added` in status; a user who was already
//!   a member stays).
//! - A refusal never keeps anyone in: removals of ended memberships happen whatever else is
//!   refused (removing access is always safe).

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{Action, Desired, Observed, Plan, PlatformGroup};
use crate::crd::{Group, GroupStatus, TemporaryMemberState as State, TemporaryMemberStatus};

/// One spec.temporaryMembers entry (keyed by username in `Desired::temporary_members`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemporaryEntry {
    pub expires: Timestamp,
    pub reason: Option<String>,
}

/// The longest a temporary membership may last, from the grants that permit the Group
/// (`tenancy::temporary_cap`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemporaryCap {
    pub max: SignedDuration,
    /// As the grant writes it ("8h"), for messages.
    pub text: String,
    /// The grant's name, for messages.
    pub grant: String,
}

/// What status.temporaryMembers recorded of one entry (`Observed::temporary_records`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemporaryRecord {
    /// When the operator first granted the entry.
    pub granted_at: Option<Timestamp>,
    /// The entry's user was added by the operator for this entry.
    pub added: bool,
    /// The effective expiry last written.
    pub expires: Option<Timestamp>,
}

/// The spec's entries, for `Desired::temporary_members`.
pub fn entries(group: &Group) -> BTreeMap<String, TemporaryEntry> {
    group
        .spec
        .temporary_members
        .iter()
        .map(|t| {
            let entry = TemporaryEntry {
                expires: t.expires.0,
                reason: t.reason.clone(),
            };
            (t.name.clone(), entry)
        })
        .collect()
}

/// The records status holds, for `Observed::temporary_records`.
pub fn records(status: Option<&GroupStatus>) -> BTreeMap<String, TemporaryRecord> {
    status
        .map(|s| s.temporary_members.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let record = TemporaryRecord {
                granted_at: t.granted_at.as_ref().map(|g| g.0),
                added: t.added,
                expires: Some(t.expires.0),
            };
            (t.name.clone(), record)
        })
        .collect()
}

/// How one entry stands in time, before looking at the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Standing {
    /// Granted, or granted now: a member until `until`.
    Member { until: Timestamp },
    /// Refused: asks for longer than the cap. `until`: access an earlier grant still gives.
    Refused {
        until: Option<Timestamp>,
        message: String,
    },
    /// Over (or never began).
    Over { at: Timestamp },
}

/// The time-dependent part of the plan, computed before the membership plan.
#[derive(Clone, Debug, Default)]
pub(super) struct Schedule {
    /// Temporary users who are members now (not counting permanent ones).
    active: BTreeSet<String>,
    /// Users whose temporary membership this Group added and has ended: removed under every
    /// membersPolicy (unless desired otherwise).
    pub ending: BTreeSet<String>,
    /// Users whose membership changes because of time or of temporary entries (granted now, or
    /// ended): such a change is not drift.
    pub scheduled: BTreeSet<String>,
    /// Entries (and leftover records) with their standing.
    standing: BTreeMap<String, Standing>,
    now: Option<Timestamp>,
    /// When a refused entry's time left fits the cap.
    grantable_from: Option<Timestamp>,
}

impl Schedule {
    /// `desired` with the active temporary users among its members.
    pub(super) fn desired(&self, desired: &Desired) -> Desired {
        let mut effective = desired.clone();
        effective.members.extend(self.active.iter().cloned());
        effective
    }
}

/// Judges every entry at `observed.now` (no clock: nothing temporary is granted).
pub(super) fn schedule(desired: &Desired, observed: &Observed) -> Schedule {
    let Some(now) = observed.now else {
        return unclocked(desired, observed);
    };
    let cap = desired.temporary_cap.as_ref();
    let mut schedule = Schedule {
        now: Some(now),
        ..Schedule::default()
    };
    for (name, entry) in &desired.temporary_members {
        let record = observed.temporary_records.get(name);
        let granted_at = record.and_then(|r| r.granted_at);
        let standing = judge(name, entry, granted_at, now, cap);
        if let (Standing::Refused { until: None, .. }, Some(cap)) = (&standing, cap) {
            let from = entry.expires.checked_sub(cap.max).ok();
            schedule.grantable_from = earliest(schedule.grantable_from, from);
        }
        let permanent = desired.members.contains(name);
        match &standing {
            Standing::Member { .. } | Standing::Refused { until: Some(_), .. } => {
                if !permanent {
                    schedule.active.insert(name.clone());
                }
                if granted_at.is_none() {
                    schedule.scheduled.insert(name.clone());
                }
            }
            _ => {
                schedule.scheduled.insert(name.clone());
            }
        }
        schedule.standing.insert(name.clone(), standing);
    }
    // Entries that left the spec: the membership they added ends now.
    for (name, record) in &observed.temporary_records {
        if !desired.temporary_members.contains_key(name) && record.added {
            schedule.scheduled.insert(name.clone());
            let at = record.expires.map_or(now, |e| e.min(now));
            schedule
                .standing
                .insert(name.clone(), Standing::Over { at });
        }
    }
    schedule.ending = ending(desired, observed, &schedule.active);
    schedule
}

/// No clock given: no entry grants access and every membership an entry added ends (the
/// driver always passes the clock; this only keeps a mistake on the safe side).
fn unclocked(desired: &Desired, observed: &Observed) -> Schedule {
    let names = desired
        .temporary_members
        .keys()
        .chain(observed.temporary_records.keys());
    let at = Timestamp::UNIX_EPOCH;
    let standing: BTreeMap<String, Standing> =
        names.map(|n| (n.clone(), Standing::Over { at })).collect();
    Schedule {
        scheduled: standing.keys().cloned().collect(),
        ending: ending(desired, observed, &BTreeSet::new()),
        standing,
        ..Schedule::default()
    }
}

/// Users an entry added whose membership is over: not permanent, not active.
fn ending(desired: &Desired, observed: &Observed, active: &BTreeSet<String>) -> BTreeSet<String> {
    observed
        .temporary_records
        .iter()
        .filter(|(name, record)| {
            record.added && !desired.members.contains(*name) && !active.contains(*name)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

fn judge(
    name: &str,
    entry: &TemporaryEntry,
    granted_at: Option<Timestamp>,
    now: Timestamp,
    cap: Option<&TemporaryCap>,
) -> Standing {
    // A limit too far to represent is no limit.
    let limit = |from: Timestamp| cap.and_then(|c| from.checked_add(c.max).ok());
    match granted_at {
        Some(granted) => {
            let limit = limit(granted);
            let until = limit.map_or(entry.expires, |l| entry.expires.min(l));
            if until <= now {
                Standing::Over { at: until }
            } else if let (Some(limit), Some(cap)) = (limit, cap)
                && entry.expires > limit
            {
                Standing::Refused {
                    until: Some(until),
                    message: format!(
                        "temporary member \"{name}\" until {} is not granted: it would last {} from when it was first granted ({}), longer than maxDuration {} of GroupGrant {}; its access ends at {limit}",
                        entry.expires,
                        crate::tenancy::duration::format(entry.expires.duration_since(granted)),
                        granted,
                        cap.text,
                        cap.grant,
                    ),
                }
            } else {
                Standing::Member { until }
            }
        }
        None => {
            if entry.expires <= now {
                return Standing::Over { at: entry.expires };
            }
            match (limit(now), cap) {
                (Some(limit), Some(cap)) if entry.expires > limit => Standing::Refused {
                    until: None,
                    message: format!(
                        "temporary member \"{name}\" until {} is not granted: it would last {} from now, longer than maxDuration {} of GroupGrant {} (shorten expires, or it is granted from {})",
                        entry.expires,
                        crate::tenancy::duration::format(entry.expires.duration_since(now)),
                        cap.text,
                        cap.grant,
                        entry.expires.checked_sub(cap.max).unwrap_or(now),
                    ),
                },
                _ => Standing::Member {
                    until: entry.expires,
                },
            }
        }
    }
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One entry's line of status.temporaryMembers, as the plan leaves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemporaryOutcome {
    pub name: String,
    pub state: State,
    /// Effective expiry (for an entry never granted: the spec's).
    pub expires: Timestamp,
    /// When first granted, this reconcile included.
    pub granted_at: Option<Timestamp>,
    /// This entry's user was added by this Group and is (or, once the plan lands, will be) a
    /// member.
    pub added: bool,
    pub message: Option<String>,
    /// What status held before this reconcile (ObserveOnly writes that back).
    recorded: Option<TemporaryRecord>,
    /// A record whose entry left the spec: listed only while its user is ours to remove.
    leftover: bool,
    /// The plan adds the user for this entry (the driver corrects it when the user turned out
    /// to be a member already).
    adds: bool,
}

/// What the plan says about temporary members: status lines, times, refusals, and the notes
/// Events need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Temporary {
    /// status.temporaryMembers, sorted by name (see [`Temporary::status`]).
    pub members: Vec<TemporaryOutcome>,
    /// status.nextExpiry: the earliest effective expiry still ahead.
    pub next_expiry: Option<Timestamp>,
    /// When the driver must plan again: the next expiry, or the moment a refused entry's time
    /// left fits the cap, whichever comes first (`None`: no temporary reason to come back).
    pub wake_at: Option<Timestamp>,
    /// Entries refused by the cap, in sentences joined by "; ": the Group reports NotGranted
    /// with it while the rest of the plan is applied.
    pub not_granted: Option<String>,
    /// Users the plan adds for a temporary entry: username -> (until, reason).
    pub adding: BTreeMap<String, (Timestamp, Option<String>)>,
    /// Users the plan removes because their temporary membership ended: username -> when.
    pub expiring: BTreeMap<String, Timestamp>,
}

impl Temporary {
    /// status.temporaryMembers once the plan has run: `already_members` are users an add
    /// found to be members already (not added by this Group).
    pub fn status(&self, already_members: &BTreeSet<String>) -> Vec<TemporaryMemberStatus> {
        self.members
            .iter()
            .filter_map(|m| {
                let added = m.added && !(m.adds && already_members.contains(&m.name));
                (added || !m.leftover).then(|| line(m, m.granted_at, added))
            })
            .collect()
    }

    /// status.temporaryMembers when the plan was not executed (ObserveOnly): states and times as
    /// judged now, but grants and additions as they were recorded (nothing was granted).
    pub fn status_unapplied(&self) -> Vec<TemporaryMemberStatus> {
        self.members
            .iter()
            .filter_map(|m| {
                let recorded = m.recorded.clone().unwrap_or_default();
                (recorded.added || !m.leftover)
                    .then(|| line(m, recorded.granted_at, recorded.added))
            })
            .collect()
    }

    /// status.nextExpiry.
    pub fn next_expiry_time(&self) -> Option<Time> {
        self.next_expiry.map(Time)
    }

    /// The Event for `action` when it concerns a temporary member, `(reason, note)`:
    /// `MemberAdded` "Added member bob until <time> (<reason>)." or `MemberExpired` "Removed
    /// member bob: its temporary membership ended at <time>.". `None`: the action's usual Event.
    pub fn event(&self, action: &Action) -> Option<(&'static str, String)> {
        match action {
            Action::AddMember { username, .. } => self
                .adding
                .get(username)
                .map(|(until, reason)| ("MemberAdded", added_note(username, until, reason))),
            Action::RemoveMember { username, .. } => self
                .expiring
                .get(username)
                .map(|at| ("MemberExpired", expired_note(username, at))),
            _ => None,
        }
    }

    /// For a create: one `MemberAdded` Event per temporary member it carries (besides the
    /// create's own Event), so every temporary membership's start is recorded with its end.
    pub fn created_with(&self, action: &Action) -> Vec<(&'static str, String)> {
        let Action::CreateGroup { members, .. } = action else {
            return Vec::new();
        };
        members
            .keys()
            .filter_map(|username| {
                let (until, reason) = self.adding.get(username)?;
                Some(("MemberAdded", added_note(username, until, reason)))
            })
            .collect()
    }

    /// The sentence for status.plannedChanges when `action` concerns a temporary member.
    pub fn planned(&self, action: &Action) -> Option<Vec<String>> {
        match action {
            Action::AddMember { username, .. } => {
                let (until, reason) = self.adding.get(username)?;
                Some(vec![format!(
                    "Add member {username} until {until}{}",
                    reason_note(reason)
                )])
            }
            Action::RemoveMember { username, .. } => {
                let at = self.expiring.get(username)?;
                Some(vec![format!(
                    "Remove member {username} (temporary membership ended at {at})"
                )])
            }
            _ => None,
        }
    }

    /// The Warning for a reconcile whose removals of ended memberships did not land (the
    /// platform did not answer): which members, since when, and that it is retried.
    pub fn removal_delayed_note(&self, error: &str) -> Option<String> {
        if self.expiring.is_empty() {
            return None;
        }
        let members: Vec<String> = self
            .expiring
            .iter()
            .map(|(name, at)| format!("{name} (ended at {at})"))
            .collect();
        Some(format!(
            "Ended temporary memberships could not be removed yet: {} ({error}); they are \
             removed as soon as the platform answers.",
            members.join(", ")
        ))
    }

    /// The actions of `plan` that end temporary memberships: all a Group that is not granted
    /// may still do (removing access is always safe). See [`frozen`].
    pub fn expiry_actions(&self, actions: &[Action]) -> Vec<Action> {
        actions
            .iter()
            .filter(|a| {
                matches!(a, Action::RemoveMember { username, .. } if self.expiring.contains_key(username))
            })
            .cloned()
            .collect()
    }
}

/// Message of a leftover record (its entry left the spec).
const LEFTOVER: &str =
    "removed from spec.temporaryMembers: the membership this entry added is being removed";

fn line(m: &TemporaryOutcome, granted_at: Option<Timestamp>, added: bool) -> TemporaryMemberStatus {
    TemporaryMemberStatus {
        name: m.name.clone(),
        state: m.state,
        expires: Time(m.expires),
        granted_at: granted_at.map(Time),
        added,
        message: m.message.clone(),
    }
}

fn reason_note(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

/// "Added member bob until 2026-05-04T18:00:00Z (on call)."
pub fn added_note(username: &str, until: &Timestamp, reason: &Option<String>) -> String {
    format!(
        "Added member {username} until {until}{}.",
        reason_note(reason)
    )
}

/// "Removed member bob: its temporary membership ended at 2026-05-04T18:00:00Z."
pub fn expired_note(username: &str, at: &Timestamp) -> String {
    format!("Removed member {username}: its temporary membership ended at {at}.")
}

/// The temporary part of `plan`, once the membership plan is known.
pub(super) fn outcome(
    schedule: &Schedule,
    desired: &Desired,
    observed: &Observed,
    plan: &Plan,
) -> Temporary {
    let target = target(observed, plan);
    let is_member = |name: &str| {
        let id = observed.users.get(name);
        id.zip(target)
            .is_some_and(|(id, group)| group.member_ids.contains(id))
    };
    let mut added_now = BTreeSet::new();
    let mut removed_now = BTreeSet::new();
    for action in &plan.actions {
        match action {
            Action::AddMember { username, .. } => {
                added_now.insert(username.clone());
            }
            Action::CreateGroup { members, .. } => added_now.extend(members.keys().cloned()),
            Action::RemoveMember { username, .. } => {
                removed_now.insert(username.clone());
            }
            _ => {}
        }
    }
    let in_conflict = plan.conflict.is_some();
    let mut temporary = Temporary::default();
    let mut refused = Vec::new();
    for (name, standing) in &schedule.standing {
        let record = observed.temporary_records.get(name);
        let entry = desired.temporary_members.get(name);
        let permanent = desired.members.contains(name);
        let exists = observed.users.contains_key(name);
        let adds = !in_conflict && !permanent && added_now.contains(name);
        let added = adds || record.is_some_and(|r| r.added) && is_member(name);
        let recorded_grant = record.and_then(|r| r.granted_at);
        let (state, expires, granted_at, message) = match standing {
            Standing::Member { until } if !exists => (State::Pending, *until, recorded_grant, None),
            Standing::Member { until } => {
                // Granted now, unless the plan ends in a conflict (nothing happens to the platform).
                let granted = recorded_grant.or(schedule.now.filter(|_| !in_conflict));
                (State::Active, *until, granted, None)
            }
            Standing::Refused { until, message } => {
                refused.push(message.clone());
                let expires = until.or(entry.map(|e| e.expires)).unwrap_or_default();
                (
                    State::NotGranted,
                    expires,
                    recorded_grant,
                    Some(message.clone()),
                )
            }
            Standing::Over { at } if entry.is_none() => (
                State::Expired,
                *at,
                recorded_grant,
                Some(LEFTOVER.to_owned()),
            ),
            Standing::Over { at } => (State::Expired, *at, recorded_grant, None),
        };
        if let Some(now) = schedule.now
            && expires > now
            && matches!(state, State::Active | State::Pending | State::NotGranted)
            && !matches!(standing, Standing::Refused { until: None, .. })
        {
            temporary.next_expiry = earliest(temporary.next_expiry, Some(expires));
        }
        if adds {
            let reason = entry.and_then(|e| e.reason.clone());
            temporary.adding.insert(name.clone(), (expires, reason));
        }
        if removed_now.contains(name) && matches!(standing, Standing::Over { .. }) {
            temporary.expiring.insert(name.clone(), expires);
        }
        temporary.members.push(TemporaryOutcome {
            name: name.clone(),
            state,
            expires,
            granted_at,
            added,
            message,
            recorded: record.cloned(),
            leftover: entry.is_none(),
            adds,
        });
    }
    temporary.wake_at = earliest(temporary.next_expiry, schedule.grantable_from);
    temporary.not_granted = (!refused.is_empty()).then(|| refused.join("; "));
    temporary
}

/// The existing platform group the plan works on (owned, or taken over by name).
fn target<'a>(observed: &'a Observed, plan: &Plan) -> Option<&'a PlatformGroup> {
    let id = plan.group_id.as_ref()?;
    [&observed.group_by_id, &observed.group_by_name]
        .into_iter()
        .flatten()
        .find(|g| &g.id == id)
}

/// The plan for a Group no grant permits (it is frozen): only the temporary memberships that
/// have ended are removed, never anything else. While frozen an entry is never granted or
/// extended: each membership ends by the earlier of its spec time and the effective expiry
/// status last recorded. The driver runs `frozen(..).actions` when tenancy says NotGranted and
/// status lists an entry with `added`.
pub fn frozen(desired: &Desired, observed: &Observed) -> Plan {
    let mut clamped = desired.clone();
    let now = observed.now.unwrap_or(Timestamp::UNIX_EPOCH);
    for (name, entry) in &mut clamped.temporary_members {
        let record = observed.temporary_records.get(name);
        let recorded_end = match record {
            Some(r) if r.granted_at.is_some() => r.expires,
            // Never granted: it grants nothing while frozen.
            _ => Some(now),
        };
        if let Some(end) = recorded_end {
            entry.expires = entry.expires.min(end);
        }
    }
    let planned = super::plan(&clamped, observed);
    let actions = planned.temporary.expiry_actions(&planned.actions);
    Plan {
        actions,
        temporary: planned.temporary,
        group_id: planned.group_id,
        managed_members: observed.managed_members.clone(),
        ..Plan::default()
    }
}

/// The removals a deletion with `deletionPolicy: Orphan` makes: the temporary members this
/// Group added, except permanent ones. Orphan leaves the platform group in place, and nobody
/// would end those memberships any more: left in place they would be standing access, which is
/// what a temporary entry (and a grant that requires them) exists to prevent.
pub fn orphan_removals(desired: &Desired, observed: &Observed) -> Vec<Action> {
    let Some(group) = observed.owned_group() else {
        return Vec::new();
    };
    observed
        .temporary_records
        .iter()
        .filter(|(name, record)| record.added && !desired.members.contains(*name))
        .filter_map(|(name, _)| {
            let id = observed.users.get(name)?;
            group.member_ids.contains(id).then(|| Action::RemoveMember {
                username: name.clone(),
                user_id: id.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "temporary_tests.rs"]
mod tests;
