//! Test fixtures and a pure simulator of the platform applying a plan.

use super::*;
use crate::create_record::Sent;

/// Gid the simulated platform assigns when a group is created without one.
pub const AUTO_GID: i64 = 4242;

pub fn user_id(username: &str) -> String {
    format!("uid-{username}")
}

pub fn names(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A user directory where every user's id is `uid-<username>`.
pub fn directory(usernames: &[&str]) -> BTreeMap<String, String> {
    usernames
        .iter()
        .map(|u| (u.to_string(), user_id(u)))
        .collect()
}

pub fn desired(name: &str) -> Desired {
    Desired {
        connection: "default".to_owned(),
        group_name: name.to_owned(),
        description: None,
        gid: None,
        assigned_policies: None,
        members: BTreeSet::new(),
        members_policy: MembersPolicy::Authoritative,
        project_roles: BTreeMap::new(),
        adopt_existing: false,
        temporary_members: BTreeMap::new(),
        temporary_cap: None,
    }
}

/// A pending create record proving that `group` is what the create sent.
pub fn record_for(group: &PlatformGroup) -> Standing {
    let create = Action::CreateGroup {
        name: group.name.clone(),
        description: group.description.clone(),
        gid: None,
        assigned_policies: group.assigned_policies.clone(),
        members: group
            .member_ids
            .iter()
            .map(|id| (format!("user-{id}"), id.clone()))
            .collect(),
    };
    Standing::Pending(Sent::of(&create).expect("a create"))
}

/// A pending create record of a create that sent something else than any group seen here.
pub fn record_elsewhere() -> Standing {
    let mut other = platform_group("other", "team");
    other.description = Some("sent by a create whose answer was lost".into());
    record_for(&other)
}

pub fn platform_group(id: &str, name: &str) -> PlatformGroup {
    PlatformGroup {
        id: id.to_owned(),
        name: name.to_owned(),
        description: None,
        gid: AUTO_GID,
        assigned_policies: BTreeSet::new(),
        member_ids: BTreeSet::new(),
        project_roles: BTreeMap::new(),
    }
}

/// Observed state where `group` is the group this resource owns (status.groupId = its id).
pub fn owning(group: PlatformGroup) -> Observed {
    Observed {
        status_group_id: Some(group.id.clone()),
        spec_applied: true,
        group_by_name: Some(group.clone()),
        group_by_id: Some(group),
        ..Observed::default()
    }
}

/// The platform and the status after executing `plan` against `observed`, as the controller
/// would record them. Panics on an action the platform would refuse (a plan bug).
pub fn apply(observed: &Observed, plan: &Plan) -> Observed {
    let mut next = observed.clone();
    for action in &plan.actions {
        match action {
            Action::CreateGroup {
                name,
                description,
                gid,
                assigned_policies,
                members,
            } => {
                let existing_ids = [&observed.group_by_id, &observed.group_by_name];
                assert!(
                    existing_ids
                        .iter()
                        .all(|g| g.as_ref().is_none_or(|g| g.name != *name)),
                    "creating a duplicate of {name}"
                );
                let group = PlatformGroup {
                    id: format!("created-{name}"),
                    name: name.clone(),
                    description: description.clone(),
                    gid: gid.unwrap_or(AUTO_GID),
                    assigned_policies: assigned_policies.clone(),
                    member_ids: members.values().cloned().collect(),
                    project_roles: BTreeMap::new(),
                };
                next.status_group_id = Some(group.id.clone());
                next.group_by_name = Some(group.clone());
                next.group_by_id = Some(group);
                next.create_record = None;
            }
            Action::AdoptGroup { id, .. } => {
                let group = next
                    .group_by_name
                    .clone()
                    .expect("adopting a group seen by name");
                assert_eq!(&group.id, id);
                next.status_group_id = Some(id.clone());
                next.group_by_id = Some(group);
                next.create_record = None;
            }
            Action::UpdateGroup(update) => edit(&mut next, |g| {
                if let Some(name) = &update.name {
                    g.name = name.clone();
                }
                if let Some(description) = &update.description {
                    g.description = Some(description.clone());
                }
                if let Some(gid) = update.gid {
                    g.gid = gid;
                }
                if let Some(policies) = &update.assigned_policies {
                    g.assigned_policies = policies.clone();
                }
            }),
            Action::AddMember { user_id, .. } => edit(&mut next, |g| {
                assert!(
                    g.member_ids.insert(user_id.clone()),
                    "{user_id} already a member"
                );
            }),
            Action::RemoveMember { user_id, .. } => edit(&mut next, |g| {
                assert!(g.member_ids.remove(user_id), "{user_id} was not a member");
            }),
            Action::SetProjectRole { project, role } => {
                assert!(observed.projects.contains(project), "no project {project}");
                edit(&mut next, |g| {
                    g.project_roles.insert(project.clone(), *role);
                });
            }
            Action::RemoveProjectRole { project } => edit(&mut next, |g| {
                assert!(
                    g.project_roles.remove(project).is_some(),
                    "no role in {project}"
                );
            }),
            Action::DeleteGroup { id, .. } => {
                assert_eq!(next.group_by_id.as_ref().map(|g| &g.id), Some(id));
                next.group_by_id = None;
            }
        }
    }
    if plan.conflict.is_none() {
        next.managed_members = plan.managed_members.clone();
        next.spec_applied = true;
    }
    // The status the driver writes: what temporary entries were granted and added.
    let status = crate::crd::GroupStatus {
        temporary_members: plan.temporary.status(&BTreeSet::new()),
        ..Default::default()
    };
    next.temporary_records = super::temporary::records(Some(&status));
    next
}

/// Applies `change` to the owned group, in both views that show it.
fn edit(observed: &mut Observed, change: impl Fn(&mut PlatformGroup)) {
    let id = observed
        .status_group_id
        .clone()
        .expect("editing an owned group");
    let mut touched = false;
    for group in [&mut observed.group_by_id, &mut observed.group_by_name]
        .into_iter()
        .flatten()
        .filter(|g| g.id == id)
    {
        change(group);
        touched = true;
    }
    assert!(touched, "the owned group {id} does not exist");
}
