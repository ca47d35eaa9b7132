//! What the operator knows about the platform at one time: every group (with its members),
//! user and project (with its roles), indexed for the lookups a reconcile makes, and kept
//! current between reads by recording the operator's own writes.

use std::collections::{BTreeMap, HashMap};

use crate::crd::ProjectRole;
use crate::plan::PlatformGroup;
use igz_mgmt as mgmt;

/// The platform picture: everything the planner needs to know about the platform, indexed.
#[derive(Debug, Default, Clone)]
pub struct Picture {
    groups: HashMap<String, mgmt::UserGroup>,
    user_ids: HashMap<String, String>,
    usernames: HashMap<String, String>,
    /// Project name -> project.
    projects: BTreeMap<String, mgmt::Project>,
}

impl Picture {
    pub fn new(
        groups: Vec<mgmt::UserGroup>,
        users: Vec<mgmt::User>,
        projects: Vec<mgmt::Project>,
    ) -> Self {
        Self {
            groups: groups.into_iter().map(|g| (g.id.clone(), g)).collect(),
            user_ids: users
                .iter()
                .map(|u| (u.username.clone(), u.id.clone()))
                .collect(),
            usernames: users.into_iter().map(|u| (u.id, u.username)).collect(),
            projects: projects.into_iter().map(|p| (p.name.clone(), p)).collect(),
        }
    }

    pub fn group(&self, id: &str) -> Option<PlatformGroup> {
        self.groups.get(id).map(|g| self.platform_group(g))
    }

    pub fn group_named(&self, name: &str) -> Option<PlatformGroup> {
        // Lowest id first, so the answer is stable should the platform ever hold two.
        self.groups
            .values()
            .filter(|g| g.name == name)
            .min_by(|a, b| a.id.cmp(&b.id))
            .map(|g| self.platform_group(g))
    }

    pub fn user_id(&self, username: &str) -> Option<&str> {
        self.user_ids.get(username).map(String::as_str)
    }

    pub fn username(&self, user_id: &str) -> Option<&str> {
        self.usernames.get(user_id).map(String::as_str)
    }

    pub fn project_exists(&self, name: &str) -> bool {
        self.projects.contains_key(name)
    }

    fn platform_group(&self, group: &mgmt::UserGroup) -> PlatformGroup {
        PlatformGroup {
            id: group.id.clone(),
            name: group.name.clone(),
            description: Some(group.description.clone()).filter(|d| !d.is_empty()),
            gid: group.gid,
            assigned_policies: group.assigned_policies.iter().cloned().collect(),
            member_ids: group.member_ids.iter().cloned().collect(),
            project_roles: self
                .projects
                .values()
                .filter_map(|p| Some((p.name.clone(), p.group_role(&group.id)?.into())))
                .collect(),
        }
    }

    // --- recording our own writes, so the next plan starts from what we just did ---

    pub fn record_group(&mut self, group: mgmt::UserGroup) {
        self.groups.insert(group.id.clone(), group);
    }

    pub fn record_attributes(&mut self, updated: &mgmt::UserGroup) {
        if let Some(group) = self.groups.get_mut(&updated.id) {
            group.name = updated.name.clone();
            group.description = updated.description.clone();
            group.gid = updated.gid;
            group.assigned_policies = updated.assigned_policies.clone();
        }
    }

    pub fn record_membership(&mut self, group_id: &str, user_id: &str, member: bool) {
        if let Some(group) = self.groups.get_mut(group_id) {
            group.member_ids.retain(|id| id != user_id);
            if member {
                group.member_ids.push(user_id.to_owned());
            }
        }
    }

    pub fn record_project_role(
        &mut self,
        project: &str,
        group_id: &str,
        role: Option<ProjectRole>,
    ) {
        let Some(project) = self.projects.get_mut(project) else {
            return;
        };
        for binding in &mut project.roles {
            binding.group_ids.retain(|id| id != group_id);
            if Some(ProjectRole::from(binding.role)) == role {
                binding.group_ids.push(group_id.to_owned());
            }
        }
    }

    pub fn record_deleted(&mut self, group_id: &str) {
        self.groups.remove(group_id);
        for project in self.projects.values_mut() {
            for binding in &mut project.roles {
                binding.group_ids.retain(|id| id != group_id);
            }
        }
    }
}

/// One of our own writes, as it changes the picture.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// A group we created (or read back whole).
    Group(mgmt::UserGroup),
    /// A group whose attributes we updated.
    Attributes(mgmt::UserGroup),
    Membership {
        group_id: String,
        user_id: String,
        member: bool,
    },
    ProjectRole {
        project: String,
        group_id: String,
        role: Option<ProjectRole>,
    },
    Deleted {
        group_id: String,
    },
}

impl Picture {
    /// Records one of our own writes.
    pub fn apply(&mut self, recorded: &Recorded) {
        match recorded {
            Recorded::Group(group) => self.record_group(group.clone()),
            Recorded::Attributes(group) => self.record_attributes(group),
            Recorded::Membership {
                group_id,
                user_id,
                member,
            } => self.record_membership(group_id, user_id, *member),
            Recorded::ProjectRole {
                project,
                group_id,
                role,
            } => self.record_project_role(project, group_id, *role),
            Recorded::Deleted { group_id } => self.record_deleted(group_id),
        }
    }
}
