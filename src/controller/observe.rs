//! Turns the shared platform picture and a Group resource into the planner's `Observed` input.
//!
//! Only what the planner needs for this one group is copied: the users it names or has, and the
//! projects it names or holds a role in, so a reconcile costs no more than its own group's size.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::snapshot::PlatformView;
use crate::crd::{CREATE_PENDING_ANNOTATION, Group, ProjectRoleState};
use crate::plan::{Desired, Observed, PendingCreate};

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
        pending_create: group
            .annotations()
            .get(CREATE_PENDING_ANNOTATION)
            .map(|value| PendingCreate::parse(value)),
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
    }
}
