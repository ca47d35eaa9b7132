//! The report for each way a reconcile can end: after a change, while one is in progress, for
//! an ObserveOnly Group, after a failure, and on deletion.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{Note, Outcome, spec_applied, status_after, with_outcome};
use crate::controller::error::Error;
use crate::controller::execute::Executed;
use crate::crd::{DeletionPolicy, Group, GroupOrigin, GroupStatus, ManagementPolicy, Reason};
use crate::plan::{Action, Observed, Plan, PlatformGroup, Temporary};

/// How a change that went through ends: refused temporary entries (beyond the grant's cap)
/// first, then missing users or projects, else Available.
pub fn outcome_applied(plan: &Plan) -> Outcome {
    if let Some(message) = &plan.temporary.not_granted {
        // The rest is applied; the refused entries are granted once their time left fits the cap
        // (or never): a shortfall the operator comes back to, not a failure.
        return Outcome::Partial {
            reason: Reason::NotGranted,
            message: message.clone(),
        };
    }
    super::partial(plan).unwrap_or(Outcome::Available)
}

/// Writes what the plan did to temporary members into `status`: each entry's state and
/// effective expiry, when it was first granted and whether this Group added it (an add that
/// found the user a member already did not), and the next expiry.
pub fn temporary_applied(status: &mut GroupStatus, temporary: &Temporary, executed: &Executed) {
    status.temporary_members = temporary.status(&executed.already_members);
    status.next_expiry = temporary.next_expiry_time();
}

/// The status after a change went through: what the plan did, less the members that turned out
/// to be members already (not added by us, so never counted as managed).
pub fn applied(
    group: &Group,
    plan: Plan,
    executed: &Executed,
    platform: Option<PlatformGroup>,
    outcome: &Outcome,
    now: &Time,
) -> GroupStatus {
    let managed_members = plan
        .managed_members
        .difference(&executed.already_members)
        .cloned()
        .collect();
    let plan = Plan {
        group_id: executed.group_id.clone(),
        managed_members,
        ..plan
    };
    let mut status = status_after(group, &plan, platform.as_ref(), outcome, now);
    temporary_applied(&mut status, &plan.temporary, executed);
    if let Some((_, origin)) = &executed.identity {
        status.origin = Some(*origin);
    }
    status
}

/// The status written before a change reaches the platform (Creating, or Updating with the
/// changes planned).
pub fn progress(group: &Group, plan: &Plan, now: &Time) -> GroupStatus {
    let name = group.effective_group_name();
    let outcome = if plan.creates() {
        Outcome::InProgress {
            reason: Reason::Creating,
            message: format!("Creating platform group \"{name}\"."),
        }
    } else {
        Outcome::InProgress {
            reason: Reason::Updating,
            message: format!(
                "Applying {} change(s) to platform group \"{name}\".",
                plan.actions.len()
            ),
        }
    };
    let mut status = with_outcome(group, &outcome, now);
    status.planned_changes = plan.planned_changes();
    status
}

/// The Event saying which changes made outside Kubernetes a change reverts.
pub fn drift_corrected(observed: &Observed, plan: &Plan) -> Option<Note> {
    (observed.spec_applied && !plan.drift.is_empty()).then(|| {
        let note = format!(
            "Reverting changes made outside Kubernetes: {}.",
            plan.drift.join("; ")
        );
        Note::normal("DriftCorrected", note)
    })
}

/// ObserveOnly: what Full management would change (status.plannedChanges, and an Event when that
/// list changes), with nothing written to the platform.
pub fn observe_only(
    group: &Group,
    plan: Plan,
    observed: &Observed,
    platform: Option<PlatformGroup>,
    now: &Time,
) -> (GroupStatus, Option<Note>) {
    let planned = plan.planned_changes();
    let message = if planned.is_empty() {
        "managementPolicy is ObserveOnly: the platform group matches the spec; nothing is written."
            .to_owned()
    } else {
        format!(
            "managementPolicy is ObserveOnly: Full management would make {} change(s), listed \
             in status.plannedChanges; nothing is written.",
            planned.len()
        )
    };
    let previous = group.status.clone().unwrap_or_default();
    let note = (previous.planned_changes != planned && !planned.is_empty()).then(|| {
        let note = format!(
            "ObserveOnly: Full management would now: {}.",
            planned.join("; ")
        );
        Note::normal("ChangesPlanned", note)
    });
    let adopted = plan.actions.iter().any(|a| {
        matches!(
            a,
            Action::AdoptGroup {
                lost_create: false,
                ..
            }
        )
    });
    // Nothing was executed: what this resource added stays what it was.
    let plan = Plan {
        managed_members: observed.managed_members.clone(),
        ..plan
    };
    let outcome = Outcome::Observed { message };
    let mut status = status_after(group, &plan, platform.as_ref(), &outcome, now);
    status.planned_changes = planned;
    status.temporary_members = plan.temporary.status_unapplied();
    status.next_expiry = plan.temporary.next_expiry_time();
    if adopted && status.origin.is_none() {
        status.origin = Some(GroupOrigin::Adopted);
    }
    (status, note)
}

/// Where a reconcile failed, which decides what the conditions say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Reading the platform, before any change.
    Observing,
    /// Applying changes to the platform.
    Changing,
    /// Cleaning up for deletion.
    Deleting,
}

/// A failure's status and its Warning Event.
pub struct Failure {
    pub status: GroupStatus,
    pub note: Note,
}

/// The report of a failure at `stage`; `identity` is the group a create or an adoption of this
/// reconcile made ours, which status must name whatever happened next.
pub fn failure(
    group: &Group,
    error: &Error,
    stage: Stage,
    identity: Option<&(String, GroupOrigin)>,
    now: &Time,
) -> Failure {
    let reason = error.reason();
    let mut message = error.message();
    if stage == Stage::Deleting {
        message.push_str(
            " To release the resource without cleaning up the platform, set spec.deletionPolicy: Orphan.",
        );
    }
    // A failed re-check of a group that matched its spec leaves Ready alone (the group is as it
    // was); Synced says the platform could not be checked.
    let outcome = if stage == Stage::Observing && spec_applied(group) {
        Outcome::Degraded {
            reason,
            message: message.clone(),
        }
    } else {
        Outcome::Failed {
            reason,
            message: message.clone(),
        }
    };
    let mut status = with_outcome(group, &outcome, now);
    if let Some((id, origin)) = identity {
        status.group_id = Some(id.clone());
        status.origin = Some(*origin);
    }
    Failure {
        status,
        note: Note::warning(reason.as_str(), message),
    }
}

/// The status while a deletion cleans up the platform.
pub fn deleting(group: &Group, now: &Time) -> GroupStatus {
    let outcome = Outcome::InProgress {
        reason: Reason::Deleting,
        message: format!(
            "Cleaning up platform group \"{}\".",
            group.effective_group_name()
        ),
    };
    with_outcome(group, &outcome, now)
}

/// Why deletion leaves the platform alone by policy (ObserveOnly or Orphan), if it does.
pub fn untouched_by_policy(group: &Group) -> Option<&'static str> {
    if group.spec.management_policy == ManagementPolicy::ObserveOnly {
        Some("managementPolicy is ObserveOnly")
    } else if group.spec.deletion_policy == DeletionPolicy::Orphan {
        Some("deletionPolicy is Orphan")
    } else {
        None
    }
}

/// The Event of a deletion that leaves the platform group alone (none when there was none).
pub fn orphaned(group: &Group, why: &str) -> Option<Note> {
    let id = group.status.as_ref()?.group_id.as_deref()?;
    let name = group.effective_group_name();
    let note = format!("Left platform group \"{name}\" (id {id}) untouched: {why}.");
    Some(Note::normal("Orphaned", note))
}

/// The Warning for a failure that came before the plan, while memberships this Group added have
/// ended by `now` (as status recorded them): they could not be removed yet.
pub fn expiries_overdue(group: &Group, error: &str, now: jiff::Timestamp) -> Option<Note> {
    let status = group.status.as_ref()?;
    let overdue: Vec<String> = status
        .temporary_members
        .iter()
        .filter(|m| m.added && m.expires.0 <= now)
        .map(|m| format!("{} (ended at {})", m.name, m.expires.0))
        .collect();
    (!overdue.is_empty()).then(|| {
        Note::warning(
            "MemberExpiryDelayed",
            format!(
                "Ended temporary memberships could not be removed yet: {} ({error}); they are \
                 removed as soon as the platform answers.",
                overdue.join(", ")
            ),
        )
    })
}
