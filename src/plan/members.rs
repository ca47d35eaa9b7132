//! Group membership under the three members policies.
//!
//! `managedMembers` (status) records the usernames this resource added itself. Afterwards it is:
//! the previously managed members that are still members once the plan is applied, plus every
//! member the plan adds. A member that was already present when this resource first saw it (for
//! example in an adopted group, or added by someone else before being listed in the spec) is
//! never managed, so `ManagedOnly` never removes it. Tracking happens under every policy, so
//! switching to `ManagedOnly` later knows what this resource added.

use super::temporary::Schedule;
use super::{Action, Desired};
use crate::crd::MembersPolicy;
use std::collections::{BTreeMap, BTreeSet};

pub(super) struct MemberPlan {
    pub actions: Vec<Action>,
    pub missing: Vec<String>,
    pub managed_after: BTreeSet<String>,
    pub drift: Vec<String>,
}

/// Splits desired usernames into those the directory knows (username -> id) and missing ones.
pub(super) fn resolve(
    usernames: &BTreeSet<String>,
    directory: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut found = BTreeMap::new();
    let mut missing = Vec::new();
    for username in usernames {
        match directory.get(username) {
            Some(id) => {
                found.insert(username.clone(), id.clone());
            }
            None => missing.push(username.clone()),
        }
    }
    (found, missing)
}

pub(super) fn plan(
    desired: &Desired,
    current_ids: &BTreeSet<String>,
    directory: &BTreeMap<String, String>,
    managed_before: &BTreeSet<String>,
    reported_missing: &BTreeSet<String>,
    temporary: &Schedule,
) -> MemberPlan {
    let (found, missing) = resolve(&desired.members, directory);
    let username_of: BTreeMap<&String, &String> =
        directory.iter().map(|(name, id)| (id, name)).collect();

    let additions: Vec<(String, String)> = found
        .into_iter()
        .filter(|(_, id)| !current_ids.contains(id))
        .collect();

    // Current members not in the spec, as (username, id); unknown ids go by their id.
    let undeclared = current_ids.iter().filter_map(|id| {
        let username = username_of.get(id).map_or(id, |name| *name);
        (!desired.members.contains(username)).then(|| (username.clone(), id.clone()))
    });
    let removals: Vec<(String, String)> = match desired.members_policy {
        MembersPolicy::Authoritative => undeclared.collect(),
        MembersPolicy::Additive => Vec::new(),
        MembersPolicy::ManagedOnly => undeclared
            .filter(|(username, _)| managed_before.contains(username))
            .collect(),
    };
    // A temporary membership this Group added ends under every policy.
    let removals: Vec<(String, String)> = if temporary.ending.is_empty() {
        removals
    } else {
        let policy: BTreeSet<String> = removals.iter().map(|(u, _)| u.clone()).collect();
        let ended = current_ids.iter().filter_map(|id| {
            let username = username_of.get(id)?;
            (temporary.ending.contains(*username)
                && !desired.members.contains(*username)
                && !policy.contains(*username))
            .then(|| ((*username).clone(), id.clone()))
        });
        removals
            .into_iter()
            .chain(ended.collect::<Vec<_>>())
            .collect()
    };

    let removed: BTreeSet<&String> = removals.iter().map(|(username, _)| username).collect();
    let still_member = |username: &String| {
        directory
            .get(username)
            .is_some_and(|id| current_ids.contains(id))
            && !removed.contains(username)
    };
    let managed_after = managed_before
        .iter()
        .filter(|username| still_member(username))
        .chain(additions.iter().map(|(username, _)| username))
        .cloned()
        .collect();

    let drift = additions
        .iter()
        // A user reported missing that now exists is the awaited pick-up, not drift; nor
        // is a temporary membership beginning or ending on time.
        .filter(|(username, _)| !reported_missing.contains(username))
        .filter(|(username, _)| !temporary.scheduled.contains(username))
        .map(|(username, _)| format!("member {username} was missing from the group"))
        .chain(
            removals
                .iter()
                .filter(|(username, _)| !temporary.scheduled.contains(username))
                .map(|(username, _)| {
                    format!("{username} was added to the group outside Kubernetes")
                }),
        )
        .collect();
    let actions = additions
        .into_iter()
        .map(|(username, user_id)| Action::AddMember { username, user_id })
        .chain(
            removals
                .into_iter()
                .map(|(username, user_id)| Action::RemoveMember { username, user_id }),
        )
        .collect();

    MemberPlan {
        actions,
        missing,
        managed_after,
        drift,
    }
}
