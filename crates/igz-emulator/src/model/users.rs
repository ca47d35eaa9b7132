//! Users: creation, attribute merge, group membership from the user's side, deletion.

use std::collections::BTreeSet;
use std::time::Instant;

use uuid::Uuid;

use super::{
    Effect, Id, Model, ModelError, ModelResult, existing_ids, now_rfc3339, validate_name,
    validate_policies,
};

const AUTH_METHODS: [&str; 2] = ["password", "sso"];
const ADMIN_STATUSES: [&str; 2] = ["up", "down"];

#[derive(Debug, Clone)]
pub struct User {
    pub id: Id,
    pub(super) seq: u64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone_number: String,
    pub job_title: String,
    pub department: String,
    pub uid: i64,
    /// Only ever compared at login; never rendered, logged or dumped.
    pub(super) password: Option<String>,
    pub assigned_policies: Vec<String>,
    pub authentication_methods: Vec<String>,
    pub admin_status: String,
    pub created_at: String,
    pub updated_at: String,
    pub primary_group: Option<Id>,
    pub groups: BTreeSet<Id>,
}

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone_number: String,
    pub job_title: String,
    pub department: String,
    pub uid: Option<i64>,
    pub password: Option<String>,
    pub assigned_policies: Vec<String>,
    pub authentication_methods: Vec<String>,
    pub primary_group: Option<Id>,
    pub groups: Vec<Id>,
}

/// A PUT on a user: `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub password: Option<String>,
    pub assigned_policies: Option<Vec<String>>,
    pub authentication_methods: Option<Vec<String>>,
    pub admin_status: Option<String>,
    /// Replaces the user's groups (`all_users` always stays).
    pub groups: Option<Vec<Id>>,
    /// `Some(None)` clears the primary group.
    pub primary_group: Option<Option<Id>>,
}

fn validate_one_of(field: &str, value: &str, allowed: &[&str]) -> ModelResult<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ModelError::bad_request(format!(
            "invalid {field} '{value}'; expected one of: {}",
            allowed.join(", ")
        )))
    }
}

impl Model {
    pub fn create_user(&mut self, new: NewUser) -> ModelResult<Id> {
        validate_name("username", &new.username, 32)?;
        if self.user_by_name.contains_key(&new.username) {
            return Err(ModelError::conflict(format!(
                "user '{}' already exists",
                new.username
            )));
        }
        validate_policies(&new.assigned_policies)?;
        for method in &new.authentication_methods {
            validate_one_of("authentication method", method, &AUTH_METHODS)?;
        }
        let mut groups =
            existing_ids(&new.groups, "user_group", |id| self.groups.contains_key(id))?;
        if let Some(primary) = new.primary_group {
            existing_ids(&[primary], "user_group", |id| self.groups.contains_key(id))?;
            groups.insert(primary);
        }
        groups.insert(self.all_users);

        let uid = new.uid.unwrap_or_else(|| {
            self.next_uid += 1;
            self.next_uid
        });
        let id = Uuid::new_v4();
        let now = now_rfc3339();
        let user = User {
            id,
            seq: self.next_seq(),
            username: new.username,
            first_name: new.first_name,
            last_name: new.last_name,
            email: new.email,
            phone_number: new.phone_number,
            job_title: new.job_title,
            department: new.department,
            uid,
            password: new.password,
            assigned_policies: new.assigned_policies,
            authentication_methods: new.authentication_methods,
            admin_status: "up".to_owned(),
            created_at: now.clone(),
            updated_at: now,
            primary_group: new.primary_group,
            groups: BTreeSet::new(),
        };
        self.user_by_name.insert(user.username.clone(), id);
        self.users.insert(id, user);
        for group in groups {
            self.link(id, group);
        }
        Ok(id)
    }

    pub fn update_user(&mut self, id: Id, patch: UserPatch) -> ModelResult<()> {
        let current = self
            .users
            .get(&id)
            .ok_or_else(|| ModelError::not_found(format!("user {id} not found")))?;
        if let Some(name) = &patch.username {
            validate_name("username", name, 32)?;
            if self
                .user_by_name
                .get(name)
                .is_some_and(|other| *other != id)
            {
                return Err(ModelError::conflict(format!(
                    "user '{name}' already exists"
                )));
            }
        }
        if let Some(policies) = &patch.assigned_policies {
            validate_policies(policies)?;
        }
        for method in patch.authentication_methods.iter().flatten() {
            validate_one_of("authentication method", method, &AUTH_METHODS)?;
        }
        if let Some(status) = &patch.admin_status {
            validate_one_of("admin_status", status, &ADMIN_STATUSES)?;
        }
        let wanted_groups = match &patch.groups {
            Some(ids) => Some(existing_ids(ids, "user_group", |g| {
                self.groups.contains_key(g)
            })?),
            None => None,
        };
        if let Some(Some(primary)) = patch.primary_group {
            existing_ids(&[primary], "user_group", |g| self.groups.contains_key(g))?;
        }
        let old_name = current.username.clone();
        let old_groups = current.groups.clone();

        // Everything is valid: apply.
        let mut wanted_groups = wanted_groups;
        if let Some(Some(primary)) = patch.primary_group {
            wanted_groups
                .get_or_insert_with(|| old_groups.clone())
                .insert(primary);
        }
        if let Some(wanted) = &mut wanted_groups {
            wanted.insert(self.all_users);
            for gone in old_groups.difference(wanted) {
                self.unlink(id, *gone);
            }
            for added in wanted.difference(&old_groups) {
                self.link(id, *added);
            }
        }
        if let Some(name) = &patch.username
            && *name != old_name
        {
            self.user_by_name.remove(&old_name);
            self.user_by_name.insert(name.clone(), id);
        }
        let Some(user) = self.users.get_mut(&id) else {
            return Ok(());
        };
        let text_fields = [
            (&mut user.username, patch.username),
            (&mut user.first_name, patch.first_name),
            (&mut user.last_name, patch.last_name),
            (&mut user.email, patch.email),
            (&mut user.phone_number, patch.phone_number),
            (&mut user.job_title, patch.job_title),
            (&mut user.department, patch.department),
            (&mut user.admin_status, patch.admin_status),
        ];
        for (field, value) in text_fields {
            if let Some(value) = value {
                *field = value;
            }
        }
        if let Some(policies) = patch.assigned_policies {
            user.assigned_policies = policies;
        }
        if let Some(methods) = patch.authentication_methods {
            user.authentication_methods = methods;
        }
        if let Some(password) = patch.password {
            user.password = Some(password);
        }
        if let Some(primary) = patch.primary_group {
            user.primary_group = primary;
        }
        user.updated_at = now_rfc3339();
        Ok(())
    }

    /// Deletes a user everywhere it is referenced. Returns the id of the clean-up job the
    /// platform answers with.
    pub fn delete_user(&mut self, id: Id, now: Instant) -> ModelResult<Id> {
        let user = self
            .users
            .get(&id)
            .ok_or_else(|| ModelError::not_found(format!("user {id} not found")))?;
        let username = user.username.clone();
        for group in user.groups.clone() {
            self.unlink(id, group);
        }
        for role in self.roles.values_mut() {
            role.users.remove(&id);
        }
        for project in self.projects.values_mut() {
            if project.owner == Some(id) {
                project.owner = None;
            }
        }
        self.users.remove(&id);
        self.user_by_name.remove(&username);
        let params = serde_json::json!({ "user_id": id, "username": username }).to_string();
        Ok(self.submit_job("user.delete", params, Effect::Nothing, now))
    }
}
