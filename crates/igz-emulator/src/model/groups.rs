//! User groups: creation with initial members, attribute merge, membership replace, deletion.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::{
    Id, Model, ModelError, ModelResult, existing_ids, now_rfc3339, validate_name, validate_policies,
};

#[derive(Debug, Clone)]
pub struct UserGroup {
    pub id: Id,
    pub(super) seq: u64,
    pub name: String,
    pub description: String,
    pub gid: i64,
    pub assigned_policies: Vec<String>,
    pub system_provided: bool,
    pub created_at: String,
    pub updated_at: String,
    pub members: BTreeSet<Id>,
}

#[derive(Debug, Clone, Default)]
pub struct NewUserGroup {
    pub name: String,
    pub description: String,
    /// `None`: the platform picks the next free gid.
    pub gid: Option<i64>,
    pub assigned_policies: Vec<String>,
    pub members: Vec<Id>,
}

/// A PUT on a group: `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UserGroupPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub gid: Option<i64>,
    pub assigned_policies: Option<Vec<String>>,
    /// Replaces the membership when present.
    pub members: Option<Vec<Id>>,
}

fn validate_gid(gid: i64) -> ModelResult<()> {
    if (0..=i64::from(u32::MAX)).contains(&gid) {
        Ok(())
    } else {
        Err(ModelError::bad_request(format!(
            "invalid gid {gid}: must be between 0 and 4294967295"
        )))
    }
}

impl Model {
    pub fn create_group(&mut self, new: NewUserGroup) -> ModelResult<Id> {
        validate_name("group name", &new.name, 64)?;
        if self.group_by_name.contains_key(&new.name) {
            return Err(ModelError::conflict(format!(
                "user group '{}' already exists",
                new.name
            )));
        }
        if let Some(gid) = new.gid {
            validate_gid(gid)?;
            if self.group_by_gid.contains_key(&gid) {
                return Err(ModelError::conflict(format!("gid {gid} is already in use")));
            }
        }
        validate_policies(&new.assigned_policies)?;
        existing_ids(&new.members, "user", |id| self.users.contains_key(id))?;
        Ok(self.insert_group(new))
    }

    /// Inserts a validated group and links its members.
    pub(super) fn insert_group(&mut self, new: NewUserGroup) -> Id {
        let gid = new.gid.unwrap_or_else(|| self.free_gid());
        let id = Uuid::new_v4();
        let now = now_rfc3339();
        let group = UserGroup {
            id,
            seq: self.next_seq(),
            name: new.name,
            description: new.description,
            gid,
            assigned_policies: new.assigned_policies,
            system_provided: false,
            created_at: now.clone(),
            updated_at: now,
            members: BTreeSet::new(),
        };
        self.group_by_name.insert(group.name.clone(), id);
        self.group_by_gid.insert(gid, id);
        self.groups.insert(id, group);
        for user in new.members {
            self.link(user, id);
        }
        id
    }

    fn free_gid(&mut self) -> i64 {
        while self.group_by_gid.contains_key(&self.next_gid) {
            self.next_gid += 1;
        }
        self.next_gid
    }

    pub fn update_group(&mut self, id: Id, patch: UserGroupPatch) -> ModelResult<()> {
        let current = self
            .groups
            .get(&id)
            .ok_or_else(|| ModelError::not_found(format!("user group {id} not found")))?;
        if let Some(name) = &patch.name {
            validate_name("group name", name, 64)?;
            if self
                .group_by_name
                .get(name)
                .is_some_and(|other| *other != id)
            {
                return Err(ModelError::conflict(format!(
                    "user group '{name}' already exists"
                )));
            }
            if current.system_provided && *name != current.name {
                return Err(ModelError::forbidden(
                    "a system-provided group cannot be renamed",
                ));
            }
        }
        if let Some(gid) = patch.gid {
            validate_gid(gid)?;
            if self
                .group_by_gid
                .get(&gid)
                .is_some_and(|other| *other != id)
            {
                return Err(ModelError::conflict(format!("gid {gid} is already in use")));
            }
        }
        if let Some(policies) = &patch.assigned_policies {
            validate_policies(policies)?;
        }
        let wanted = match &patch.members {
            Some(ids) => Some(existing_ids(ids, "user", |u| self.users.contains_key(u))?),
            None => None,
        };
        if current.system_provided && wanted.as_ref().is_some_and(|w| *w != current.members) {
            return Err(ModelError::forbidden(
                "the membership of a system-provided group cannot be changed",
            ));
        }
        let old_members = current.members.clone();
        let old_name = current.name.clone();
        let old_gid = current.gid;

        if let Some(wanted) = wanted {
            for gone in old_members.difference(&wanted) {
                self.unlink(*gone, id);
            }
            for added in wanted.difference(&old_members) {
                self.link(*added, id);
            }
        }
        if let Some(name) = &patch.name {
            self.group_by_name.remove(&old_name);
            self.group_by_name.insert(name.clone(), id);
        }
        if let Some(gid) = patch.gid {
            self.group_by_gid.remove(&old_gid);
            self.group_by_gid.insert(gid, id);
        }
        let Some(group) = self.groups.get_mut(&id) else {
            return Ok(());
        };
        if let Some(name) = patch.name {
            group.name = name;
        }
        if let Some(description) = patch.description {
            group.description = description;
        }
        if let Some(gid) = patch.gid {
            group.gid = gid;
        }
        if let Some(policies) = patch.assigned_policies {
            group.assigned_policies = policies;
        }
        group.updated_at = now_rfc3339();
        Ok(())
    }

    /// Deletes a group and every reference to it (users' groups, project roles).
    pub fn delete_group(&mut self, id: Id) -> ModelResult<()> {
        let group = self
            .groups
            .get(&id)
            .ok_or_else(|| ModelError::not_found(format!("user group {id} not found")))?;
        if group.system_provided {
            return Err(ModelError::forbidden(
                "a system-provided group cannot be deleted",
            ));
        }
        let (name, gid) = (group.name.clone(), group.gid);
        for user in group.members.clone() {
            self.unlink(user, id);
        }
        for role in self.roles.values_mut() {
            role.groups.remove(&id);
        }
        self.groups.remove(&id);
        self.group_by_name.remove(&name);
        self.group_by_gid.remove(&gid);
        Ok(())
    }
}
