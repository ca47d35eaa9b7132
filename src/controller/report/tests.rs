//! The report stage's pure decisions: status facts, conditions, when a write is worth it.

use super::*;
use crate::crd::{GroupSpec, ProjectRole, ProjectRoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
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
    let status = status_after(
        &group(),
        &plan,
        Some(&platform()),
        &Outcome::Available,
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
    g.status = Some(status_after(
        &g,
        &plan,
        Some(&platform()),
        &Outcome::Available,
        &now(1),
    ));
    let again = status_after(&g, &plan, Some(&platform()), &Outcome::Available, &now(2));
    assert_eq!(condition(&again, "Ready").last_transition_time, now(1));
    let failed = Outcome::Failed {
        reason: Reason::ApiUnavailable,
        message: "down".into(),
    };
    let broken = status_after(&g, &plan, Some(&platform()), &failed, &now(3));
    assert_eq!(condition(&broken, "Ready").last_transition_time, now(3));
    assert_eq!(condition(&broken, "Ready").reason, "ApiUnavailable");
    assert_eq!(condition(&broken, "Synced").status, "False");
    assert_eq!(condition(&broken, "Synced").message, "down");
}

#[test]
fn degraded_keeps_ready_and_fails_synced() {
    let plan = Plan::default();
    let mut g = group();
    g.status = Some(status_after(
        &g,
        &plan,
        Some(&platform()),
        &Outcome::Available,
        &now(1),
    ));
    let degraded = Outcome::Degraded {
        reason: Reason::ApiUnavailable,
        message: "down".into(),
    };
    let status = with_outcome(&g, &degraded, &now(2));
    assert_eq!(condition(&status, "Ready").status, "True");
    assert_eq!(condition(&status, "Ready").reason, "Available");
    assert_eq!(condition(&status, "Synced").status, "False");
    assert_eq!(condition(&status, "Synced").reason, "ApiUnavailable");
    // Without an earlier Ready condition, Ready says why it is not known.
    let fresh = with_outcome(&group(), &degraded, &now(2));
    assert_eq!(condition(&fresh, "Ready").status, "False");
    assert_eq!(condition(&fresh, "Ready").reason, "ApiUnavailable");
}

#[test]
fn refused_never_shows_someone_elses_group() {
    let plan = Plan::default();
    let refused = Outcome::Refused {
        reason: Reason::NameConflict,
        message: "taken".into(),
    };
    let status = status_after(&group(), &plan, Some(&platform()), &refused, &now(1));
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
    let Some(Outcome::Partial { reason, message }) = partial(&plan) else {
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
        Some(Outcome::Partial {
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
    let v = Outcome::InProgress {
        reason: Reason::Deleting,
        message: "cleaning up".into(),
    };
    let status = with_outcome(&g, &v, &now(5));
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
    let first = status_after(&g, &plan, Some(&platform()), &Outcome::Available, &now(100));
    assert!(worth_writing(None, &first, refresh), "no status yet");
    g.status = Some(first.clone());

    let resync = status_after(&g, &plan, Some(&platform()), &Outcome::Available, &now(400));
    assert_eq!(resync.last_sync_time, Some(now(400)));
    assert!(!worth_writing(Some(&first), &resync, refresh));
    let an_hour_on = status_after(
        &g,
        &plan,
        Some(&platform()),
        &Outcome::Available,
        &now(3700),
    );
    assert!(worth_writing(Some(&first), &an_hour_on, refresh));

    let mut fewer = platform();
    fewer.member_ids.clear();
    let changed = status_after(&g, &plan, Some(&fewer), &Outcome::Available, &now(400));
    assert!(
        worth_writing(Some(&first), &changed, refresh),
        "members changed"
    );
    let failed = Outcome::Failed {
        reason: Reason::ApiUnavailable,
        message: "down".into(),
    };
    let failure = with_outcome(&g, &failed, &now(400));
    assert!(
        worth_writing(Some(&first), &failure, refresh),
        "Ready turned False"
    );
    g.status = Some(failure.clone());
    let same_failure = with_outcome(&g, &failed, &now(500));
    assert!(
        !worth_writing(Some(&failure), &same_failure, refresh),
        "the same failure again"
    );
    g.metadata.generation = Some(4);
    let new_spec = with_outcome(&g, &failed, &now(500));
    assert!(
        worth_writing(Some(&failure), &new_spec, refresh),
        "a newer generation seen"
    );
}
