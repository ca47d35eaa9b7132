//! Status: what the last reconcile found and did, as facts and the Ready/Synced conditions.
//! Building it is pure; writing it is one server-side apply of the whole status.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};

use crate::crd::{ConditionType, Group, GroupStatus, ProjectRoleState, ProjectRoleStatus, Reason};
use crate::plan::{Plan, PlatformGroup};

/// Field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "igz-operator";

/// How a reconcile ended, as far as the conditions are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything applied; nothing missing.
    Available,
    /// Applied what exists; some users or projects are missing.
    Partial { reason: Reason, message: String },
    /// Deliberately untouched (AlreadyExists, NameConflict).
    Blocked { reason: Reason, message: String },
    /// Re-checking the platform failed; the group is as it was (Ready unchanged, Synced False).
    Degraded { reason: Reason, message: String },
    /// A request failed; what came before it stays applied.
    Failed { reason: Reason, message: String },
    /// Work in progress (Creating, Updating, Deleting).
    InProgress { reason: Reason, message: String },
    /// ObserveOnly: the platform was read, nothing was written.
    Observed { message: String },
}

/// The status after a reconcile. `platform` is the group as it stands after the actions.
pub fn build(
    group: &Group,
    plan: &Plan,
    platform: Option<&PlatformGroup>,
    verdict: &Verdict,
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
        group_name: Some(group.effective_group_name()),
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
        // Issue 21: kept as they were until the driver writes the plan's (plan.temporary).
        temporary_members: previous.temporary_members.clone(),
        next_expiry: previous.next_expiry.clone(),
    };
    if matches!(verdict, Verdict::Blocked { .. }) {
        // A blocked resource manages nothing: it must not show another resource's group as its own.
        status.group_id = previous.group_id;
        status.gid = previous.gid;
        status.members = None;
    }
    apply_verdict(
        &mut status.conditions,
        group.metadata.generation,
        verdict,
        now,
    );
    status
}

/// The previous status with only the conditions changed (progress and failures mid-way), and
/// the generation it speaks of: kstatus reads `status.observedGeneration` as "the controller has
/// seen this spec", whatever the outcome.
pub fn with_verdict(group: &Group, verdict: &Verdict, now: &Time) -> GroupStatus {
    let mut status = group.status.clone().unwrap_or_default();
    status.observed_generation = group.metadata.generation;
    status.group_name = Some(group.effective_group_name());
    apply_verdict(
        &mut status.conditions,
        group.metadata.generation,
        verdict,
        now,
    );
    status
}

fn apply_verdict(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    verdict: &Verdict,
    now: &Time,
) {
    if let Verdict::Degraded { reason, message } = verdict {
        let synced = (false, *reason, message.clone());
        if !conditions
            .iter()
            .any(|c| c.type_ == ConditionType::Ready.as_str())
        {
            set_condition(
                conditions,
                ConditionType::Ready,
                synced.clone(),
                generation,
                now,
            );
        }
        set_condition(conditions, ConditionType::Synced, synced, generation, now);
        // The group is as it was; a failed re-check neither needs a person nor blocks.
        set_abnormal(
            conditions,
            ConditionType::Reconciling,
            None,
            generation,
            now,
        );
        set_abnormal(conditions, ConditionType::Stalled, None, generation, now);
        return;
    }
    let (ready, synced): ((bool, Reason, String), (bool, Reason, String)) = match verdict {
        Verdict::Available => (
            (
                true,
                Reason::Available,
                "The platform group matches the spec.".to_owned(),
            ),
            (
                true,
                Reason::ReconcileSuccess,
                "The last reconcile applied the spec to the platform.".to_owned(),
            ),
        ),
        Verdict::Partial { reason, message } => (
            (false, *reason, message.clone()),
            (
                true,
                Reason::ReconcileSuccess,
                "Applied everything that exists on the platform.".to_owned(),
            ),
        ),
        Verdict::Blocked { reason, message } | Verdict::Failed { reason, message } => (
            (false, *reason, message.clone()),
            (false, *reason, message.clone()),
        ),
        Verdict::InProgress { reason, message } => (
            (false, *reason, message.clone()),
            (true, *reason, message.clone()),
        ),
        Verdict::Observed { message } => (
            (true, Reason::Observed, message.clone()),
            (
                true,
                Reason::ReconcileSuccess,
                "Read the platform; ObserveOnly writes nothing.".to_owned(),
            ),
        ),
        Verdict::Degraded { .. } => unreachable!("handled above"),
    };
    // kstatus: Reconciling while the operator works or retries, Stalled when a person must act.
    let (reconciling, stalled) = match verdict {
        Verdict::Available | Verdict::Observed { .. } => (None, None),
        Verdict::Partial { reason, message } | Verdict::InProgress { reason, message } => {
            (Some((true, *reason, message.clone())), None)
        }
        Verdict::Blocked { reason, message } | Verdict::Failed { reason, message } => {
            let condition = Some((true, *reason, message.clone()));
            if reason.needs_a_person() {
                (None, condition)
            } else {
                (condition, None)
            }
        }
        Verdict::Degraded { .. } => unreachable!("handled above"),
    };
    set_condition(conditions, ConditionType::Ready, ready, generation, now);
    set_condition(conditions, ConditionType::Synced, synced, generation, now);
    set_abnormal(
        conditions,
        ConditionType::Reconciling,
        reconciling,
        generation,
        now,
    );
    set_abnormal(conditions, ConditionType::Stalled, stalled, generation, now);
}

/// Sets a condition that kstatus reads with "abnormal-true" polarity (Reconciling, Stalled):
/// present while true, removed otherwise.
fn set_abnormal(
    conditions: &mut Vec<Condition>,
    kind: ConditionType,
    value: Option<(bool, Reason, String)>,
    generation: Option<i64>,
    now: &Time,
) {
    match value {
        Some(value) => set_condition(conditions, kind, value, generation, now),
        None => conditions.retain(|c| c.type_ != kind.as_str()),
    }
}

/// Sets one condition; `lastTransitionTime` only moves when the status flips.
fn set_condition(
    conditions: &mut Vec<Condition>,
    kind: ConditionType,
    (ok, reason, message): (bool, Reason, String),
    generation: Option<i64>,
    now: &Time,
) {
    let status = if ok { "True" } else { "False" }.to_owned();
    let last_transition_time = conditions
        .iter()
        .find(|c| c.type_ == kind.as_str() && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    conditions.retain(|c| c.type_ != kind.as_str());
    conditions.push(Condition {
        type_: kind.as_str().to_owned(),
        status,
        reason: reason.as_str().to_owned(),
        message,
        observed_generation: generation,
        last_transition_time,
    });
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
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

/// The Ready message when users or projects are missing, or `None` when nothing is.
pub fn partial(plan: &Plan) -> Option<Verdict> {
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
    (!message.is_empty()).then_some(Verdict::Partial { reason, message })
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

/// Writes the whole status with server-side apply, only if the resource is still at the version
/// `group` was read at (409 otherwise), and returns the updated resource. The precondition keeps
/// a reconcile working from a cache that lags behind our own writes from replacing a newer status
/// (for example erasing a groupId recorded a moment ago).
pub async fn write(
    api: &Api<Group>,
    group: &Group,
    status: &GroupStatus,
) -> Result<Group, kube::Error> {
    let body = serde_json::json!({
        "apiVersion": "igz-operator.io/v1alpha1",
        "kind": "Group",
        "metadata": {"resourceVersion": group.resource_version()},
        "status": status,
    });
    api.patch_status(
        &group.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{GroupSpec, ProjectRole, ProjectRoleBinding};
    use std::collections::BTreeMap;

    fn now(s: i64) -> Time {
        Time(jiff::Timestamp::from_second(s).unwrap())
    }

    fn group() -> Group {
        let mut g = Group::new(
            "team",
            GroupSpec {
                members: vec!["alice".into()],
                project_roles: vec![
                    ProjectRoleBinding {
                        project: "p1".into(),
                        role: ProjectRole::Admin,
                    },
                    ProjectRoleBinding {
                        project: "p2".into(),
                        role: ProjectRole::Viewer,
                    },
                    ProjectRoleBinding {
                        project: "p3".into(),
                        role: ProjectRole::Editor,
                    },
                ],
                ..Default::default()
            },
        );
        g.metadata.generation = Some(3);
        g
    }

    fn platform() -> PlatformGroup {
        PlatformGroup {
            id: "g1".into(),
            name: "team".into(),
            description: None,
            gid: 1000,
            assigned_policies: Default::default(),
            member_ids: ["u1".to_string()].into(),
            project_roles: BTreeMap::from([("p1".into(), ProjectRole::Admin)]),
        }
    }

    fn condition<'a>(s: &'a GroupStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn available_sets_facts_and_both_conditions_true() {
        let plan = Plan {
            group_id: Some("g1".into()),
            missing_projects: vec!["p2".into()],
            ..Default::default()
        };
        let status = build(
            &group(),
            &plan,
            Some(&platform()),
            &Verdict::Available,
            &now(1),
        );
        assert_eq!(status.group_id.as_deref(), Some("g1"));
        assert_eq!(status.gid, Some(1000));
        assert_eq!(status.members, Some(1));
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.group_name.as_deref(), Some("team"));
        let states: Vec<_> = status.project_roles.iter().map(|p| p.state).collect();
        assert_eq!(
            states,
            [
                ProjectRoleState::Applied,
                ProjectRoleState::ProjectNotFound,
                ProjectRoleState::Pending
            ]
        );
        assert_eq!(condition(&status, "Ready").status, "True");
        assert_eq!(condition(&status, "Ready").reason, "Available");
        assert_eq!(condition(&status, "Synced").status, "True");
        assert_eq!(condition(&status, "Ready").observed_generation, Some(3));
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let plan = Plan::default();
        let mut g = group();
        g.status = Some(build(
            &g,
            &plan,
            Some(&platform()),
            &Verdict::Available,
            &now(1),
        ));
        let again = build(&g, &plan, Some(&platform()), &Verdict::Available, &now(2));
        assert_eq!(condition(&again, "Ready").last_transition_time, now(1));
        let failed = Verdict::Failed {
            reason: Reason::ApiUnavailable,
            message: "down".into(),
        };
        let broken = build(&g, &plan, Some(&platform()), &failed, &now(3));
        assert_eq!(condition(&broken, "Ready").last_transition_time, now(3));
        assert_eq!(condition(&broken, "Ready").reason, "ApiUnavailable");
        assert_eq!(condition(&broken, "Synced").status, "False");
        assert_eq!(condition(&broken, "Synced").message, "down");
    }

    #[test]
    fn degraded_keeps_ready_and_fails_synced() {
        let plan = Plan::default();
        let mut g = group();
        g.status = Some(build(
            &g,
            &plan,
            Some(&platform()),
            &Verdict::Available,
            &now(1),
        ));
        let degraded = Verdict::Degraded {
            reason: Reason::ApiUnavailable,
            message: "down".into(),
        };
        let status = with_verdict(&g, &degraded, &now(2));
        assert_eq!(condition(&status, "Ready").status, "True");
        assert_eq!(condition(&status, "Ready").reason, "Available");
        assert_eq!(condition(&status, "Synced").status, "False");
        assert_eq!(condition(&status, "Synced").reason, "ApiUnavailable");
        // Without an earlier Ready condition, Ready says why it is not known.
        let fresh = with_verdict(&group(), &degraded, &now(2));
        assert_eq!(condition(&fresh, "Ready").status, "False");
        assert_eq!(condition(&fresh, "Ready").reason, "ApiUnavailable");
    }

    #[test]
    fn blocked_never_shows_someone_elses_group() {
        let plan = Plan::default();
        let blocked = Verdict::Blocked {
            reason: Reason::NameConflict,
            message: "taken".into(),
        };
        let status = build(&group(), &plan, Some(&platform()), &blocked, &now(1));
        assert_eq!(status.group_id, None);
        assert_eq!(status.members, None);
        assert_eq!(condition(&status, "Ready").reason, "NameConflict");
    }

    #[test]
    fn partial_names_what_is_missing() {
        let plan = Plan {
            missing_users: vec!["bob".into()],
            missing_projects: vec!["p9".into()],
            ..Default::default()
        };
        let Some(Verdict::Partial { reason, message }) = partial(&plan) else {
            panic!("expected partial")
        };
        assert_eq!(reason, Reason::UserNotFound);
        assert!(
            message.contains("bob") && message.contains("p9"),
            "{message}"
        );
        let only_projects = Plan {
            missing_projects: vec!["p9".into()],
            ..Default::default()
        };
        assert!(matches!(
            partial(&only_projects),
            Some(Verdict::Partial {
                reason: Reason::ProjectNotFound,
                ..
            })
        ));
        assert_eq!(partial(&Plan::default()), None);
    }

    #[test]
    fn in_progress_keeps_facts_and_marks_ready_false() {
        let mut g = group();
        g.status = Some(GroupStatus {
            group_id: Some("g1".into()),
            ..Default::default()
        });
        let v = Verdict::InProgress {
            reason: Reason::Deleting,
            message: "cleaning up".into(),
        };
        let status = with_verdict(&g, &v, &now(5));
        assert_eq!(status.group_id.as_deref(), Some("g1"));
        assert_eq!(condition(&status, "Ready").reason, "Deleting");
        assert_eq!(condition(&status, "Ready").status, "False");
    }

    /// A resync that finds everything as it was builds the same status but for lastSyncTime:
    /// not written until the recorded time is `refresh` old; any other change is written at once.
    #[test]
    fn only_a_change_or_an_old_sync_time_is_worth_a_write() {
        let refresh = Duration::from_secs(3600);
        let plan = Plan {
            group_id: Some("g1".into()),
            ..Default::default()
        };
        let mut g = group();
        let first = build(&g, &plan, Some(&platform()), &Verdict::Available, &now(100));
        assert!(worth_writing(None, &first, refresh), "no status yet");
        g.status = Some(first.clone());

        let resync = build(&g, &plan, Some(&platform()), &Verdict::Available, &now(400));
        assert_eq!(resync.last_sync_time, Some(now(400)));
        assert!(!worth_writing(Some(&first), &resync, refresh));
        let an_hour_on = build(
            &g,
            &plan,
            Some(&platform()),
            &Verdict::Available,
            &now(3700),
        );
        assert!(worth_writing(Some(&first), &an_hour_on, refresh));

        let mut fewer = platform();
        fewer.member_ids.clear();
        let changed = build(&g, &plan, Some(&fewer), &Verdict::Available, &now(400));
        assert!(
            worth_writing(Some(&first), &changed, refresh),
            "members changed"
        );
        let failed = Verdict::Failed {
            reason: Reason::ApiUnavailable,
            message: "down".into(),
        };
        let failure = with_verdict(&g, &failed, &now(400));
        assert!(
            worth_writing(Some(&first), &failure, refresh),
            "Ready turned False"
        );
        g.status = Some(failure.clone());
        let same_failure = with_verdict(&g, &failed, &now(500));
        assert!(
            !worth_writing(Some(&failure), &same_failure, refresh),
            "the same failure again"
        );
        g.metadata.generation = Some(4);
        let new_spec = with_verdict(&g, &failed, &now(500));
        assert!(
            worth_writing(Some(&failure), &new_spec, refresh),
            "a newer generation seen"
        );
    }
}
