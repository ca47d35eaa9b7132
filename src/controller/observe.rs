//! Turns the shared platform picture and a Group resource into the planner's `Observed` input.
//!
//! Only what the planner needs for this one group is copied: the users it names or has, and the
//! projects it names or holds a role in, so a reconcile costs no more than its own group's size.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::ResourceExt;

use super::snapshot::PlatformView;
use crate::crd::{CREATE_PENDING_ANNOTATION, Group, ProjectRoleState};
use crate::plan::{self, Desired, Observed, PendingCreate};

/// How old a picture of the platform this reconcile may plan from (`None`: any, the current
/// picture as it is, kept current by our own writes).
///
/// - A create of ours may have succeeded unseen: only a picture read after it can show the group
///   it made (`ZERO`: read it now). Not once its record is over (see [`create_record_over`]).
/// - Users or projects were missing: they are looked for in a picture no older than `fresh`, so
///   they are picked up soon after they appear.
/// - The spec was acted on before (a resync, a retry, a blocked Group looking again): a picture no
///   older than `drift`, so an out-of-band change is found within one resync interval plus
///   `drift`.
/// - A spec change: any picture. Waiting for a refresh would delay the change, and whatever the
///   picture misses is harmless: every write re-reads what it changes, and the next resync
///   works from a newer picture.
pub fn picture_max_age(group: &Group, fresh: Duration, drift: Duration) -> Option<Duration> {
    if pending_record(group).is_some() {
        return Some(Duration::ZERO);
    }
    let status = group.status.as_ref()?;
    let missing = !status.missing_users.is_empty()
        || status
            .project_roles
            .iter()
            .any(|p| p.state == ProjectRoleState::ProjectNotFound);
    if missing {
        return Some(fresh);
    }
    // Ready speaks of this generation: the spec was acted on (applied, blocked, or failed), so
    // this is a re-check.
    let rechecked = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.observed_generation == group.metadata.generation);
    rechecked.then_some(drift.max(fresh))
}

/// Whether the Group carries a create-pending record that is over: status names another group
/// than when it was written, so the create was answered and written down (only clearing the
/// record is left). An over record proves nothing and is ignored.
pub fn create_record_over(group: &Group) -> bool {
    let status_group = group.status.as_ref().and_then(|s| s.group_id.as_deref());
    group
        .annotations()
        .get(CREATE_PENDING_ANNOTATION)
        .is_some_and(|value| plan::pending_create_over(value, status_group))
}

/// The Group's create-pending record when it is not over: its create's outcome may be unknown.
fn pending_record(group: &Group) -> Option<&String> {
    group
        .annotations()
        .get(CREATE_PENDING_ANNOTATION)
        .filter(|_| !create_record_over(group))
}

pub fn observe(
    group: &Group,
    desired: &Desired,
    view: &PlatformView,
    rival_owner: Option<String>,
) -> Observed {
    let status = group.status.clone().unwrap_or_default();
    let group_by_id = status.group_id.as_deref().and_then(|id| view.group(id));
    let group_by_name = view.group_named(&desired.group_name);

    let mut users = BTreeMap::new();
    for username in &desired.members {
        if let Some(id) = view.user_id(username) {
            users.insert(username.clone(), id.to_owned());
        }
    }
    for platform_group in group_by_id.iter().chain(group_by_name.iter()) {
        for id in &platform_group.member_ids {
            if let Some(username) = view.username(id) {
                users.insert(username.to_owned(), id.clone());
            }
        }
    }

    let projects = desired
        .project_roles
        .keys()
        .chain(group_by_id.iter().flat_map(|g| g.project_roles.keys()))
        .chain(group_by_name.iter().flat_map(|g| g.project_roles.keys()))
        .filter(|name| view.project_exists(name))
        .cloned()
        .collect();

    Observed {
        status_group_id: status.group_id.clone(),
        pending_create: pending_record(group).map(|value| PendingCreate::parse(value)),
        spec_applied: super::status::spec_applied(group),
        managed_members: status.managed_members.iter().cloned().collect(),
        group_by_id,
        group_by_name,
        rival_owner,
        users,
        projects,
        reported_missing_users: status.missing_users.iter().cloned().collect(),
        reported_missing_projects: status
            .project_roles
            .iter()
            .filter(|p| p.state == ProjectRoleState::ProjectNotFound)
            .map(|p| p.project.clone())
            .collect(),
        // Issue 21 (temporary members) is not wired into the driver yet: without a clock the
        // planner grants no temporary member.
        now: None,
        temporary_records: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{GroupSpec, GroupStatus, ProjectRole, ProjectRoleStatus};
    use crate::plan::SentGroup;

    const FRESH: Duration = Duration::from_secs(15);
    const DRIFT: Duration = Duration::from_secs(150);

    fn group(generation: i64, status: Option<GroupStatus>) -> Group {
        let mut g = Group::new(
            "g",
            GroupSpec {
                members: vec!["alice".into()],
                ..Default::default()
            },
        );
        g.metadata.generation = Some(generation);
        g.status = status;
        g
    }

    fn applied(generation: i64) -> GroupStatus {
        GroupStatus {
            observed_generation: Some(generation),
            conditions: vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: "Available".into(),
                message: String::new(),
                observed_generation: Some(generation),
                last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    jiff::Timestamp::UNIX_EPOCH,
                ),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_picture_age_follows_what_the_reconcile_must_see() {
        // New, or a changed spec: any picture; a change never waits for a refresh.
        assert_eq!(picture_max_age(&group(1, None), FRESH, DRIFT), None);
        assert_eq!(
            picture_max_age(&group(2, Some(applied(1))), FRESH, DRIFT),
            None
        );
        // A resync of an applied spec: recent enough to find drift.
        assert_eq!(
            picture_max_age(&group(2, Some(applied(2))), FRESH, DRIFT),
            Some(DRIFT)
        );
        // Waiting for missing users or projects: a recent picture.
        let mut waiting = applied(2);
        waiting.missing_users = vec!["bob".into()];
        assert_eq!(
            picture_max_age(&group(2, Some(waiting)), FRESH, DRIFT),
            Some(FRESH)
        );
        let mut waiting = applied(2);
        waiting.project_roles = vec![ProjectRoleStatus {
            project: "p".into(),
            role: ProjectRole::Viewer,
            state: ProjectRoleState::ProjectNotFound,
        }];
        assert_eq!(
            picture_max_age(&group(3, Some(waiting)), FRESH, DRIFT),
            Some(FRESH)
        );
        // A create whose answer may be lost: a picture read now.
        let mut pending = group(1, None);
        pending
            .annotations_mut()
            .insert(CREATE_PENDING_ANNOTATION.into(), "x".into());
        assert_eq!(
            picture_max_age(&pending, FRESH, DRIFT),
            Some(Duration::ZERO)
        );
        // Once status names the group the record's create made, as without the record.
        let mut over = group(
            2,
            Some(GroupStatus {
                group_id: Some("g1".into()),
                ..applied(2)
            }),
        );
        over.annotations_mut()
            .insert(CREATE_PENDING_ANNOTATION.into(), record(None));
        assert_eq!(picture_max_age(&over, FRESH, DRIFT), Some(DRIFT));
        // The drift age is never shorter than the fresh one.
        assert_eq!(
            picture_max_age(&group(2, Some(applied(2))), FRESH, Duration::from_secs(1)),
            Some(FRESH)
        );
    }

    /// A pending-create record written while status named `replaces`.
    fn record(replaces: Option<&str>) -> String {
        let sent = SentGroup {
            gid: None,
            sha256: "00".into(),
        };
        crate::plan::pending_create_record(&sent, "2026-11-29T00:00:00Z", replaces)
    }

    #[test]
    fn a_record_over_is_ignored_and_a_pending_one_is_not() {
        let view = PlatformView::new(vec![], vec![], vec![]);
        let desired = Desired::from_group(&group(1, None));
        let mut g = group(1, Some(applied(1)));
        assert!(!create_record_over(&g), "no record");
        // A first create's record, before status names a group: pending.
        g.annotations_mut()
            .insert(CREATE_PENDING_ANNOTATION.into(), record(None));
        assert!(!create_record_over(&g));
        assert!(observe(&g, &desired, &view, None).pending_create.is_some());
        // Status names the group it made: over, and the planner never sees it.
        g.status.as_mut().unwrap().group_id = Some("g1".into());
        assert!(create_record_over(&g));
        assert_eq!(observe(&g, &desired, &view, None).pending_create, None);
        // A re-create of g1 (deleted outside Kubernetes): pending while status names g1.
        g.annotations_mut()
            .insert(CREATE_PENDING_ANNOTATION.into(), record(Some("g1")));
        assert!(!create_record_over(&g));
        assert!(observe(&g, &desired, &view, None).pending_create.is_some());
    }
}
