//! The group's roles in projects. The spec is authoritative: listed projects get the listed
//! role, and the group's roles in unlisted projects are removed.

use super::Action;
use crate::crd::ProjectRole;
use std::collections::{BTreeMap, BTreeSet};

pub(super) struct RolePlan {
    pub actions: Vec<Action>,
    pub missing: Vec<String>,
    pub drift: Vec<String>,
}

pub(super) fn plan(
    desired: &BTreeMap<String, ProjectRole>,
    current: &BTreeMap<String, ProjectRole>,
    projects: &BTreeSet<String>,
    reported_missing: &BTreeSet<String>,
) -> RolePlan {
    let mut actions = Vec::new();
    let mut missing = Vec::new();
    let mut drift = Vec::new();

    for (project, &role) in desired {
        if !projects.contains(project) {
            missing.push(project.clone());
            continue;
        }
        match current.get(project) {
            Some(&held) if held == role => continue,
            Some(held) => drift.push(format!(
                "the group's role in project {project} was changed to {} outside Kubernetes",
                held.as_str()
            )),
            // A project reported missing that now exists is the awaited pick-up, not drift.
            None if reported_missing.contains(project) => {}
            None => drift.push(format!(
                "the group's role in project {project} was removed outside Kubernetes"
            )),
        }
        actions.push(Action::SetProjectRole {
            project: project.clone(),
            role,
        });
    }
    for (project, held) in current {
        if !desired.contains_key(project) {
            drift.push(format!(
                "the group was given role {} in project {project} outside Kubernetes",
                held.as_str()
            ));
            actions.push(Action::RemoveProjectRole {
                project: project.clone(),
            });
        }
    }
    RolePlan {
        actions,
        missing,
        drift,
    }
}
