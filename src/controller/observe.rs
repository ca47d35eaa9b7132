//! The observe stage: what the platform holds now for one Group, as the planner's `Observed`,
//! from the connection's shared platform picture.
//!
//! Only what the planner needs for this one group is copied: the users it names or has, and the
//! projects it names or holds a role in, so a reconcile costs no more than its own group's size.

use std::collections::BTreeMap;
use std::time::Duration;

use super::context::Context;
use super::error::Error;
use super::picture::Picture;
use super::platforms::Platform;
use super::report;
use crate::crd::{Group, ProjectRoleState};
use crate::create_record::{self, Standing};
use crate::plan::{self, Desired, Observed};

/// Whether the observe stage may hand back "come back later" instead of waiting for a picture
/// being read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    /// A change: when the picture is too old and another reconcile is reading a new one, come
    /// back when it is read instead of holding one of the controller's slots meanwhile.
    ComeBackLater,
    /// Deletion: it must act on what is there, so it waits for the read.
    Wait,
}

/// What the planner needs of `platform` for `group`, from its picture as fresh as
/// [`picture_max_age`] asks, at `now` (the operator's clock: temporary members begin and end by
/// it); `None` when `patience` allows coming back later and the picture is being read. A pending
/// create record's outcome (a picture read after it) is always waited for.
pub async fn observe(
    ctx: &Context,
    platform: &Platform,
    group: &Group,
    desired: &Desired,
    patience: Patience,
    now: jiff::Timestamp,
) -> Result<Option<Observed>, Error> {
    let picture = platform.picture();
    let record = create_record::standing(group, &ctx.record_keys);
    let max_age = picture_max_age(
        group,
        record.as_ref(),
        picture.fresh_age(),
        ctx.timing.resync_interval / 2,
    );
    let rival = ctx.rival_owner(group);
    let observe = |seen: &Picture| {
        let mut observed = observed(group, desired, seen, rival, record);
        observed.now = Some(now);
        observed
    };
    let read = if patience == Patience::Wait || max_age == Some(Duration::ZERO) {
        picture.read(max_age, observe).await.map(Some)
    } else {
        picture.read_unless_refreshing(max_age, observe).await
    };
    read.map_err(|e| Error::platform("read the platform's groups, users and projects", e))
}

/// How old a picture of the platform this reconcile may plan from (`None`: any, the current
/// picture as it is, kept current by our own writes).
///
/// - A create of ours may have succeeded unseen (a pending create record): only a picture read
///   after it can show the group it made (`ZERO`: read it now). A record that does not verify
///   proves nothing and forces nothing.
/// - Users or projects were missing: they are looked for in a picture no older than `fresh`, so
///   they are picked up soon after they appear.
/// - The spec was acted on before (a resync, a retry, a refused Group looking again): a picture
///   no older than `drift`, so an out-of-band change is found within one resync interval plus
///   `drift`.
/// - A spec change: any picture. Waiting for a refresh would delay the change, and whatever the
///   picture misses is harmless: every write re-reads what it changes, and the next resync
///   works from a newer picture.
pub fn picture_max_age(
    group: &Group,
    record: Option<&Standing>,
    fresh: Duration,
    drift: Duration,
) -> Option<Duration> {
    if matches!(record, Some(Standing::Pending(_))) {
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
    // Ready speaks of this generation: the spec was acted on (applied, refused, or failed), so
    // this is a re-check.
    let rechecked = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.observed_generation == group.metadata.generation);
    rechecked.then_some(drift.max(fresh))
}

/// The planner's view of the platform and of the Group's status.
pub fn observed(
    group: &Group,
    desired: &Desired,
    picture: &Picture,
    rival_owner: Option<String>,
    create_record: Option<Standing>,
) -> Observed {
    let status = group.status.clone().unwrap_or_default();
    let group_by_id = status.group_id.as_deref().and_then(|id| picture.group(id));
    let group_by_name = picture.group_named(&desired.group_name);

    let mut users = BTreeMap::new();
    // Every user the spec names, permanent or temporary.
    for username in desired
        .members
        .iter()
        .chain(desired.temporary_members.keys())
    {
        if let Some(id) = picture.user_id(username) {
            users.insert(username.clone(), id.to_owned());
        }
    }
    for platform_group in group_by_id.iter().chain(group_by_name.iter()) {
        for id in &platform_group.member_ids {
            if let Some(username) = picture.username(id) {
                users.insert(username.to_owned(), id.clone());
            }
        }
    }

    let projects = desired
        .project_roles
        .keys()
        .chain(group_by_id.iter().flat_map(|g| g.project_roles.keys()))
        .chain(group_by_name.iter().flat_map(|g| g.project_roles.keys()))
        .filter(|name| picture.project_exists(name))
        .cloned()
        .collect();

    Observed {
        status_group_id: status.group_id.clone(),
        create_record,
        spec_applied: report::spec_applied(group),
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
        // The clock is the caller's (see `observe`): without it no temporary member is granted.
        now: None,
        temporary_records: plan::temporary::records(group.status.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{GroupSpec, GroupStatus, ProjectRole, ProjectRoleStatus};
    use crate::create_record::Sent;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

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
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: "Available".into(),
                message: String::new(),
                observed_generation: Some(generation),
                last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
            }],
            ..Default::default()
        }
    }

    fn age(group: &Group, record: Option<&Standing>) -> Option<Duration> {
        picture_max_age(group, record, FRESH, DRIFT)
    }

    #[test]
    fn the_picture_age_follows_what_the_reconcile_must_see() {
        // New, or a changed spec: any picture; a change never waits for a refresh.
        assert_eq!(age(&group(1, None), None), None);
        assert_eq!(age(&group(2, Some(applied(1))), None), None);
        // A resync of an applied spec: recent enough to find drift.
        assert_eq!(age(&group(2, Some(applied(2))), None), Some(DRIFT));
        // Waiting for missing users or projects: a recent picture.
        let mut waiting = applied(2);
        waiting.missing_users = vec!["bob".into()];
        assert_eq!(age(&group(2, Some(waiting)), None), Some(FRESH));
        let mut waiting = applied(2);
        waiting.project_roles = vec![ProjectRoleStatus {
            project: "p".into(),
            role: ProjectRole::Viewer,
            state: ProjectRoleState::ProjectNotFound,
        }];
        assert_eq!(age(&group(3, Some(waiting)), None), Some(FRESH));
        // A pending create record: a picture read now. An unproven one forces nothing.
        let pending = Standing::Pending(Sent {
            gid: None,
            sha256: "00".into(),
        });
        assert_eq!(age(&group(1, None), Some(&pending)), Some(Duration::ZERO));
        assert_eq!(age(&group(1, None), Some(&Standing::Unproven)), None);
        assert_eq!(
            age(&group(2, Some(applied(2))), Some(&Standing::Unproven)),
            Some(DRIFT)
        );
        // The drift age is never shorter than the fresh one.
        assert_eq!(
            picture_max_age(
                &group(2, Some(applied(2))),
                None,
                FRESH,
                Duration::from_secs(1)
            ),
            Some(FRESH)
        );
    }

    #[test]
    fn the_planner_sees_the_record_it_is_given_and_the_groups_by_id_and_name() {
        let picture = Picture::new(vec![], vec![], vec![]);
        let g = group(1, Some(applied(1)));
        let desired = Desired::from_group(&g);
        let seen = observed(&g, &desired, &picture, None, Some(Standing::Unproven));
        assert_eq!(seen.create_record, Some(Standing::Unproven));
        assert!(seen.spec_applied);
        assert_eq!(seen.group_by_id, None);
        assert_eq!(seen.group_by_name, None);
    }
}
