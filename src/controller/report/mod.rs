//! The report stage: what a reconcile tells people, built purely from what it found and did:
//! the Group's status (facts, and the Ready/Synced/Reconciling/Stalled conditions) and the
//! Events worth sending. The Group writer writes the status; `events` sends the Events.

mod conditions;
mod outcomes;

pub use outcomes::{
    Stage, applied, deleting, drift_corrected, expiries_overdue, failure, observe_only, orphaned,
    outcome_applied, progress, temporary_applied, untouched_by_policy,
};

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::crd::{ConditionType, Group, GroupStatus, ProjectRoleState, ProjectRoleStatus, Reason};
use crate::plan::{Plan, PlatformGroup};

/// How a reconcile ended, as far as the conditions are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything applied; nothing missing.
    Available,
    /// Applied what exists; some users or projects are missing.
    Partial { reason: Reason, message: String },
    /// Deliberately untouched: not granted, or the platform group is someone else's.
    Refused { reason: Reason, message: String },
    /// Re-checking the platform failed; the group is as it was (Ready unchanged, Synced False).
    Degraded { reason: Reason, message: String },
    /// A request failed; what came before it stays applied.
    Failed { reason: Reason, message: String },
    /// Work in progress (Creating, Updating, Deleting).
    InProgress { reason: Reason, message: String },
    /// ObserveOnly: the platform was read, nothing was written.
    Observed { message: String },
}

/// An Event to send about the Group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

impl Note {
    pub fn normal(reason: &str, message: String) -> Self {
        Note {
            warning: false,
            reason: reason.to_owned(),
            message,
        }
    }

    pub fn warning(reason: &str, message: String) -> Self {
        Note {
            warning: true,
            ..Note::normal(reason, message)
        }
    }
}

/// The status after a reconcile that planned `plan`; `platform` is the group as it stands after
/// the actions.
pub fn status_after(
    group: &Group,
    plan: &Plan,
    platform: Option<&PlatformGroup>,
    outcome: &Outcome,
    now: &Time,
) -> GroupStatus {
    let previous = group.status.clone().unwrap_or_default();
    let applied_roles = platform.map(|p| &p.project_roles);
    let project_roles = group
        .spec
        .project_roles
        .iter()
        .map(|binding| ProjectRoleStatus {
            project: binding.project.clone(),
            role: binding.role,
            state: if plan.missing_projects.contains(&binding.project) {
                ProjectRoleState::ProjectNotFound
            } else if applied_roles.and_then(|r| r.get(&binding.project)) == Some(&binding.role) {
                ProjectRoleState::Applied
            } else {
                ProjectRoleState::Pending
            },
        })
        .collect();
    let mut status = GroupStatus {
        observed_generation: group.metadata.generation,
        group_name: Some(group.effective_group_name().to_owned()),
        group_id: platform
            .map(|p| p.id.clone())
            .or(plan.group_id.clone())
            .or(previous.group_id.clone()),
        gid: platform.map(|p| p.gid).or(previous.gid),
        conditions: previous.conditions.clone(),
        missing_users: plan.missing_users.clone(),
        members: platform
            .map(|p| p.member_ids.len() as i32)
            .or(previous.members),
        project_roles,
        managed_members: plan.managed_members.iter().cloned().collect(),
        last_sync_time: Some(now.clone()),
        // What is still to do after this reconcile; callers fill it in where there is any.
        planned_changes: Vec::new(),
        origin: previous.origin,
        temporary_members: previous.temporary_members.clone(),
        next_expiry: previous.next_expiry.clone(),
    };
    if matches!(outcome, Outcome::Refused { .. }) {
        // A refused resource manages nothing: it must not show another resource's group as its own.
        status.group_id = previous.group_id;
        status.gid = previous.gid;
        status.members = None;
    }
    conditions::apply_outcome(
        &mut status.conditions,
        group.metadata.generation,
        outcome,
        now,
    );
    status
}

/// The previous status with only the conditions changed (progress and failures mid-way), and
/// the generation it speaks of: kstatus reads `status.observedGeneration` as "the controller has
/// seen this spec", whatever the outcome.
pub fn with_outcome(group: &Group, outcome: &Outcome, now: &Time) -> GroupStatus {
    let mut status = group.status.clone().unwrap_or_default();
    status.observed_generation = group.metadata.generation;
    status.group_name = Some(group.effective_group_name().to_owned());
    conditions::apply_outcome(
        &mut status.conditions,
        group.metadata.generation,
        outcome,
        now,
    );
    status
}

/// The Warning Event for an outcome whose reason Ready does not show yet (a repeat of the same
/// refusal or shortfall at every resync would only be noise).
pub fn warning_if_new(group: &Group, outcome: &Outcome) -> Option<Note> {
    let (Outcome::Partial { reason, message } | Outcome::Refused { reason, message }) = outcome
    else {
        return None;
    };
    (ready_reason(group) != Some(reason.as_str()))
        .then(|| Note::warning(reason.as_str(), message.clone()))
}

/// The Ready condition's reason now.
pub fn ready_reason(group: &Group) -> Option<&str> {
    group
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == ConditionType::Ready.as_str())
        .map(|c| c.reason.as_str())
}

/// Whether the resource's current spec was applied to the platform (Ready, fully or as far as
/// the platform allows, at this generation): differences found now were made outside
/// Kubernetes. (Not `status.observedGeneration`, which any outcome advances.)
pub fn spec_applied(group: &Group) -> bool {
    let generation = group.metadata.generation;
    group.status.as_ref().is_some_and(|s| {
        s.conditions.iter().any(|c| {
            c.type_ == ConditionType::Ready.as_str()
                && c.observed_generation == generation
                && [
                    Reason::Available,
                    Reason::UserNotFound,
                    Reason::ProjectNotFound,
                ]
                .iter()
                .any(|r| r.as_str() == c.reason)
        })
    })
}

/// The outcome when users or projects are missing, or `None` when nothing is.
pub fn partial(plan: &Plan) -> Option<Outcome> {
    let users = (!plan.missing_users.is_empty()).then(|| {
        format!(
            "These users do not exist on the platform: {}. Create them (or fix the usernames); they are added as soon as they exist.",
            plan.missing_users.join(", ")
        )
    });
    let projects = (!plan.missing_projects.is_empty()).then(|| {
        format!(
            "These projects do not exist on the platform: {}. Create them (or fix the names); the roles are applied as soon as they exist.",
            plan.missing_projects.join(", ")
        )
    });
    let reason = if users.is_some() {
        Reason::UserNotFound
    } else {
        Reason::ProjectNotFound
    };
    let message = [users, projects]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (!message.is_empty()).then_some(Outcome::Partial { reason, message })
}

/// Whether the operator has written no conditions yet (a new Group).
pub fn is_blank(group: &Group) -> bool {
    group
        .status
        .as_ref()
        .is_none_or(|s| s.conditions.is_empty())
}

/// Whether `next` is worth a write over `previous`: when anything in it changes, or when only
/// `lastSyncTime` would move and the recorded one is at least `refresh` old. A resync that
/// finds the platform as the spec wants it then costs the API server nothing.
pub fn worth_writing(
    previous: Option<&GroupStatus>,
    next: &GroupStatus,
    refresh: Duration,
) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    let same_apart_from_sync_time = GroupStatus {
        last_sync_time: next.last_sync_time.clone(),
        ..previous.clone()
    } == *next;
    if !same_apart_from_sync_time {
        return true;
    }
    match (&previous.last_sync_time, &next.last_sync_time) {
        (Some(then), Some(now)) => jiff::SignedDuration::try_from(refresh)
            .is_ok_and(|refresh| now.0.duration_since(then.0) >= refresh),
        (None, None) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests;
