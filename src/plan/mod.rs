//! The pure reconcile planner: `(desired spec, observed platform state) -> actions`.
//!
//! No I/O, no clock, no async: the controller observes, calls [`plan`] (or [`plan_cleanup`]),
//! executes the actions and writes status. Everything that decides *what* to change lives here,
//! so it can be tested exhaustively (see the property tests).
//!
//! Identity rules: once created, a group is found by the id in status, never by name.
//! Before the first create a group with the desired name is adopted only when `adoptExisting` is
//! set, or taken as ours when the Group's create record is pending (its answer was lost) and the
//! group carries exactly what that create sent; otherwise the plan ends in the conflict
//! `AlreadyExists`. A rival Group resource owning the name ends it in `NameConflict`.

mod action;
mod attributes;
mod members;
mod roles;
pub mod temporary;

pub use action::{Action, Conflict, GroupUpdate, steps};

pub use temporary::{Temporary, TemporaryCap, TemporaryEntry, TemporaryRecord};

use crate::crd::{DeletionPolicy, Group, MembersPolicy, ProjectRole};
use crate::create_record::Standing;
use std::collections::{BTreeMap, BTreeSet};

/// What the Group resource asks for, normalized for comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// Effective platform group name (spec.groupName or metadata.name).
    /// The PlatformConnection the Group lives on (`default` when it names none).
    pub connection: String,
    pub group_name: String,
    /// `None`: leave the platform's description alone.
    pub description: Option<String>,
    /// `None`: leave the platform's gid alone (auto-assigned at creation).
    pub gid: Option<i64>,
    /// `None`: leave the platform's policies alone; the group is created with none.
    pub assigned_policies: Option<BTreeSet<String>>,
    /// Usernames.
    pub members: BTreeSet<String>,
    pub members_policy: MembersPolicy,
    /// Project name -> role.
    pub project_roles: BTreeMap<String, ProjectRole>,
    pub adopt_existing: bool,
    /// spec.temporaryMembers: username -> entry.
    pub temporary_members: BTreeMap<String, TemporaryEntry>,
    /// The longest a temporary membership may last, from the grants that permit the Group
    /// (`tenancy::temporary_cap`); `None`: no cap. Not in the spec: the driver sets it after the
    /// tenancy decision.
    pub temporary_cap: Option<TemporaryCap>,
}

impl Desired {
    pub fn from_group(group: &Group) -> Self {
        let spec = &group.spec;
        Desired {
            connection: group.connection_name().to_owned(),
            group_name: group.effective_group_name().to_owned(),
            description: spec.description.clone(),
            gid: spec.gid,
            assigned_policies: spec
                .assigned_policies
                .as_ref()
                .map(|policies| policies.iter().map(|p| p.as_str().to_owned()).collect()),
            members: spec.members.iter().cloned().collect(),
            members_policy: spec.members_policy,
            project_roles: spec
                .project_roles
                .iter()
                .map(|binding| (binding.project.clone(), binding.role))
                .collect(),
            adopt_existing: spec.adopt_existing,
            temporary_members: temporary::entries(group),
            temporary_cap: None,
        }
    }
}

/// A user group as the platform reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub gid: i64,
    pub assigned_policies: BTreeSet<String>,
    /// User ids of the members.
    pub member_ids: BTreeSet<String>,
    /// Project name -> this group's role there (projects where it holds none are absent).
    pub project_roles: BTreeMap<String, ProjectRole>,
}

/// What the controller observed, from the resource's status and the platform.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// status.groupId: the group this resource created or adopted.
    pub status_group_id: Option<String>,
    /// The Group's create record, unless it is settled: a create request of ours may have
    /// succeeded without us learning the id.
    pub create_record: Option<Standing>,
    /// status.observedGeneration equals metadata.generation: this spec was already applied, so
    /// any difference found now was made outside Kubernetes (drift).
    pub spec_applied: bool,
    /// status.managedMembers: usernames this resource added.
    pub managed_members: BTreeSet<String>,
    /// The platform group whose id is status_group_id, if it still exists.
    pub group_by_id: Option<PlatformGroup>,
    /// The platform group whose name is the desired name, if any.
    pub group_by_name: Option<PlatformGroup>,
    /// "namespace/name" of another Group resource that holds this group name (it has the group's
    /// id in its status, or, when none holds it, it is older). The controller computes it.
    pub rival_owner: Option<String>,
    /// Directory of platform users: username -> user id.
    pub users: BTreeMap<String, String>,
    /// Names of every existing platform project.
    pub projects: BTreeSet<String>,
    /// Users and projects the last status reported missing: finding them now is the awaited
    /// pick-up, not drift.
    pub reported_missing_users: BTreeSet<String>,
    pub reported_missing_projects: BTreeSet<String>,
    /// The operator's clock when it observed: temporary members begin and end by it. `None`
    /// grants no temporary member (the driver always sets it).
    pub now: Option<jiff::Timestamp>,
    /// status.temporaryMembers as last written (`temporary::records`): when each entry was
    /// first granted and whether it added its user.
    pub temporary_records: BTreeMap<String, TemporaryRecord>,
}

impl Observed {
    /// The group this resource owns according to its status (found by id only).
    fn owned_group(&self) -> Option<&PlatformGroup> {
        let id = self.status_group_id.as_ref()?;
        self.group_by_id.as_ref().filter(|group| &group.id == id)
    }
}

/// The outcome of planning one reconcile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Platform changes, in execution order. Empty when the platform already matches the spec.
    pub actions: Vec<Action>,
    /// Set when the platform group is someone else's: the resource must not touch it, and
    /// `actions` is empty.
    pub conflict: Option<Conflict>,
    /// Id of the existing platform group the actions apply to (`None` when the plan creates it
    /// or ends in a conflict).
    pub group_id: Option<String>,
    /// Desired usernames that do not exist on the platform (skipped, reported).
    pub missing_users: Vec<String>,
    /// Desired projects that do not exist on the platform (skipped, reported).
    pub missing_projects: Vec<String>,
    /// status.managedMembers after the actions: members this resource added and that are still
    /// members. Members that were already in the group (for example when adopted) are never in it.
    pub managed_members: BTreeSet<String>,
    /// Plain sentences describing differences made outside Kubernetes that the actions correct.
    pub drift: Vec<String>,
    /// Temporary members: status lines, the next expiry (requeue then), refusals, Event notes.
    pub temporary: Temporary,
}

impl Plan {
    /// The platform changes the actions make, in plain sentences (`status.plannedChanges`).
    pub fn planned_changes(&self) -> Vec<String> {
        self.actions
            .iter()
            .flat_map(|a| self.temporary.planned(a).unwrap_or_else(|| a.planned()))
            .collect()
    }

    /// Whether the plan creates the platform group (its first write is then the create record).
    pub fn creates(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a, Action::CreateGroup { .. }))
    }

    /// Nothing to change and nothing missing: the platform matches the spec.
    pub fn is_converged(&self) -> bool {
        self.actions.is_empty()
            && self.conflict.is_none()
            && self.missing_users.is_empty()
            && self.missing_projects.is_empty()
    }
}

/// Plans the changes that bring the platform in line with `desired`, temporary members judged
/// at `observed.now`.
pub fn plan(desired: &Desired, observed: &Observed) -> Plan {
    let schedule = temporary::schedule(desired, observed);
    let mut plan = plan_members(&schedule.desired(desired), observed, &schedule);
    plan.temporary = temporary::outcome(&schedule, desired, observed, &plan);
    plan
}

/// The plan with the temporary members who are members now among the desired ones.
fn plan_members(desired: &Desired, observed: &Observed, schedule: &temporary::Schedule) -> Plan {
    if let Some(owner) = &observed.rival_owner {
        return conflict(
            Conflict::NameConflict {
                name: desired.group_name.clone(),
                owner: owner.clone(),
            },
            observed,
        );
    }
    if let Some(group) = observed.owned_group() {
        let mut plan = converge(desired, observed, group, schedule);
        if !observed.spec_applied {
            // Differences come from the spec change being applied, not from drift.
            plan.drift.clear();
        }
        return plan;
    }

    let mut drift = Vec::new();
    if let Some(id) = &observed.status_group_id {
        drift.push(format!(
            "platform group \"{}\" (id {id}) was deleted outside Kubernetes and is recreated",
            desired.group_name
        ));
    }
    // Defensive: only a group that really carries the desired name can be adopted or block us.
    let by_name = observed
        .group_by_name
        .as_ref()
        .filter(|group| group.name == desired.group_name);
    let ours = |group: &PlatformGroup| {
        observed
            .create_record
            .as_ref()
            .is_some_and(|record| record.proves(group))
    };
    let mut plan = match by_name {
        Some(existing) if desired.adopt_existing || ours(existing) => {
            let mut plan = converge(desired, observed, existing, schedule);
            // The adopted group's differences are its first alignment, not drift.
            plan.drift.clear();
            plan.actions.insert(
                0,
                Action::AdoptGroup {
                    id: existing.id.clone(),
                    name: existing.name.clone(),
                    lost_create: !desired.adopt_existing,
                },
            );
            plan
        }
        Some(existing) => {
            return conflict(
                Conflict::AlreadyExists {
                    name: existing.name.clone(),
                    id: Some(existing.id.clone()),
                    create_outcome_unknown: observed.create_record.is_some(),
                },
                observed,
            );
        }
        None => create(desired, observed),
    };
    plan.drift.splice(0..0, drift);
    plan
}

/// Plans the platform side of deleting the resource: remove the group from every project role
/// it holds, then delete it. Only a group this resource owns is touched: the one named by
/// status.groupId or, when the create record is pending and no other resource holds the name,
/// the group our lost create provably made. `Orphan` touches nothing.
pub fn plan_cleanup(policy: DeletionPolicy, observed: &Observed) -> Vec<Action> {
    if policy == DeletionPolicy::Orphan {
        return Vec::new();
    }
    let lost_create = || {
        let record = observed.create_record.as_ref()?;
        let unclaimed = observed.status_group_id.is_none() && observed.rival_owner.is_none();
        observed
            .group_by_name
            .as_ref()
            .filter(|group| unclaimed && record.proves(group))
    };
    let Some(group) = observed.owned_group().or_else(lost_create) else {
        return Vec::new();
    };
    group
        .project_roles
        .keys()
        .map(|project| Action::RemoveProjectRole {
            project: project.clone(),
        })
        .chain([Action::DeleteGroup {
            id: group.id.clone(),
            name: group.name.clone(),
        }])
        .collect()
}

fn conflict(conflict: Conflict, observed: &Observed) -> Plan {
    Plan {
        conflict: Some(conflict),
        managed_members: observed.managed_members.clone(),
        ..Plan::default()
    }
}

/// Plan for a group that does not exist yet: one create carrying attributes and members, then a
/// role in every existing desired project.
fn create(desired: &Desired, observed: &Observed) -> Plan {
    let (found, missing_users) = members::resolve(&desired.members, &observed.users);
    let roles = roles::plan(
        &desired.project_roles,
        &BTreeMap::new(),
        &observed.projects,
        &observed.reported_missing_projects,
    );
    let mut actions = vec![Action::CreateGroup {
        name: desired.group_name.clone(),
        description: desired.description.clone(),
        gid: desired.gid,
        // Never the SDK's default policies: a declarative tool must not grant roles silently.
        assigned_policies: desired.assigned_policies.clone().unwrap_or_default(),
        members: found.clone(),
    }];
    actions.extend(roles.actions);
    Plan {
        actions,
        conflict: None,
        group_id: None,
        missing_users,
        missing_projects: roles.missing,
        managed_members: found.into_keys().collect(),
        drift: Vec::new(),
        temporary: Temporary::default(),
    }
}

/// Plan for an existing group: update what differs from the spec.
fn converge(
    desired: &Desired,
    observed: &Observed,
    group: &PlatformGroup,
    schedule: &temporary::Schedule,
) -> Plan {
    let attributes = attributes::plan(desired, group);
    let members = members::plan(
        desired,
        &group.member_ids,
        &observed.users,
        &observed.managed_members,
        &observed.reported_missing_users,
        schedule,
    );
    let roles = roles::plan(
        &desired.project_roles,
        &group.project_roles,
        &observed.projects,
        &observed.reported_missing_projects,
    );
    let mut actions = Vec::new();
    actions.extend(attributes.update.map(Action::UpdateGroup));
    actions.extend(members.actions);
    actions.extend(roles.actions);
    let drift = [attributes.drift, members.drift, roles.drift].concat();
    Plan {
        actions,
        conflict: None,
        group_id: Some(group.id.clone()),
        missing_users: members.missing,
        missing_projects: roles.missing,
        managed_members: members.managed_after,
        drift,
        temporary: Temporary::default(),
    }
}

#[cfg(test)]
mod testkit;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod temporary_proptests;
