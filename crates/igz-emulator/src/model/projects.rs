//! Projects, their three authorization roles, and role updates (direct or as a transaction job).

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::Value;
use uuid::Uuid;

use super::{Effect, Id, Model, ModelError, ModelResult, existing_ids, now_rfc3339};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoleName {
    Admin,
    Editor,
    Viewer,
}

impl RoleName {
    pub const ALL: [RoleName; 3] = [RoleName::Admin, RoleName::Editor, RoleName::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            RoleName::Admin => "Admin",
            RoleName::Editor => "Editor",
            RoleName::Viewer => "Viewer",
        }
    }

    pub fn parse(name: &str) -> ModelResult<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| {
                ModelError::bad_request(format!(
                    "invalid project role '{name}'; expected one of: Admin, Editor, Viewer"
                ))
            })
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: Id,
    pub(super) seq: u64,
    pub name: String,
    pub description: String,
    /// `[{"name", "value"}]` lists, kept as given.
    pub labels: Vec<Value>,
    pub annotations: Vec<Value>,
    pub default_function_node_selector: Vec<Value>,
    pub owner: Option<Id>,
    pub operational_status: String,
    pub admin_status: String,
    pub created_at: String,
    pub updated_at: String,
    /// Admin, Editor, Viewer, in that order.
    pub roles: [Id; 3],
    pub last_job: Id,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: Id,
    pub(super) seq: u64,
    pub name: RoleName,
    pub project: Id,
    pub users: BTreeSet<Id>,
    pub groups: BTreeSet<Id>,
}

#[derive(Debug, Clone, Default)]
pub struct NewProject {
    pub name: String,
    pub description: String,
    pub labels: Vec<Value>,
    pub annotations: Vec<Value>,
    pub default_function_node_selector: Vec<Value>,
    pub owner: Option<Id>,
}

/// The new members of one role (a PUT of `project_authorization_roles/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleUpdate {
    pub role: Id,
    /// When given, must match the role's name (a client cannot rename roles).
    pub name: Option<RoleName>,
    /// When given, must be the role's project.
    pub project: Option<Id>,
    /// New principals; `None` keeps the current ones.
    pub users: Option<Vec<Id>>,
    pub groups: Option<Vec<Id>>,
}

fn validate_project_name(name: &str) -> ModelResult<()> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(ModelError::bad_request(format!(
            "invalid project name '{name}': lowercase letters, digits and '-', at most 63"
        )))
    }
}

/// Labels, annotations and node selectors are lists of `{"name": str, "value": str}`.
fn validate_name_values(field: &str, items: &[Value]) -> ModelResult<()> {
    let ok = items.iter().all(|item| {
        item.as_object().is_some_and(|o| {
            o.len() == 2
                && o.get("name").is_some_and(Value::is_string)
                && o.get("value").is_some_and(Value::is_string)
        })
    });
    if ok {
        Ok(())
    } else {
        Err(ModelError::bad_request(format!(
            "{field} must be a list of {{\"name\", \"value\"}} strings"
        )))
    }
}

impl Project {
    /// The id of this project's role named `name`.
    pub fn role_id(&self, name: RoleName) -> Id {
        self.roles[RoleName::ALL.iter().position(|r| *r == name).unwrap_or(0)]
    }
}

impl Model {
    /// Creates a project and its three roles; the project is `creating` until its job completes.
    pub fn create_project(&mut self, new: NewProject, now: Instant) -> ModelResult<Id> {
        validate_project_name(&new.name)?;
        if self.project_by_name.contains_key(&new.name) {
            return Err(ModelError::conflict(format!(
                "project '{}' already exists",
                new.name
            )));
        }
        validate_name_values("labels", &new.labels)?;
        validate_name_values("annotations", &new.annotations)?;
        validate_name_values(
            "default_function_node_selector",
            &new.default_function_node_selector,
        )?;
        if let Some(owner) = new.owner {
            existing_ids(&[owner], "user", |u| self.users.contains_key(u))?;
        }
        let id = Uuid::new_v4();
        let roles = RoleName::ALL.map(|name| {
            let role = Role {
                id: Uuid::new_v4(),
                seq: self.next_seq(),
                name,
                project: id,
                users: BTreeSet::new(),
                groups: BTreeSet::new(),
            };
            let role_id = role.id;
            self.roles.insert(role_id, role);
            role_id
        });
        let params = serde_json::json!({ "project_id": id, "project_name": new.name }).to_string();
        let last_job = self.submit_job("project.create", params, Effect::ProjectReady(id), now);
        let created = now_rfc3339();
        let project = Project {
            id,
            seq: self.next_seq(),
            name: new.name,
            description: new.description,
            labels: new.labels,
            annotations: new.annotations,
            default_function_node_selector: new.default_function_node_selector,
            owner: new.owner,
            operational_status: "creating".to_owned(),
            admin_status: "online".to_owned(),
            created_at: created.clone(),
            updated_at: created,
            roles,
            last_job,
        };
        self.project_by_name.insert(project.name.clone(), id);
        self.projects.insert(id, project);
        // A zero job delay completes the job at once; the project must exist by then.
        self.advance(now);
        Ok(id)
    }

    /// Deletes a project and its roles. Returns the id of the deletion job.
    pub fn delete_project(&mut self, id: Id, now: Instant) -> ModelResult<Id> {
        let project = self
            .projects
            .remove(&id)
            .ok_or_else(|| ModelError::not_found(format!("project {id} not found")))?;
        self.project_by_name.remove(&project.name);
        for role in project.roles {
            self.roles.remove(&role);
        }
        let params =
            serde_json::json!({ "project_id": id, "project_name": project.name }).to_string();
        Ok(self.submit_job("project.delete", params, Effect::Nothing, now))
    }

    /// Merges description, labels, annotations and owner into a project.
    pub fn update_project(
        &mut self,
        id: Id,
        description: Option<String>,
        labels: Option<Vec<Value>>,
        annotations: Option<Vec<Value>>,
        owner: Option<Option<Id>>,
    ) -> ModelResult<()> {
        if !self.projects.contains_key(&id) {
            return Err(ModelError::not_found(format!("project {id} not found")));
        }
        validate_name_values("labels", labels.as_deref().unwrap_or_default())?;
        validate_name_values("annotations", annotations.as_deref().unwrap_or_default())?;
        if let Some(Some(owner)) = owner {
            existing_ids(&[owner], "user", |u| self.users.contains_key(u))?;
        }
        let Some(project) = self.projects.get_mut(&id) else {
            return Ok(());
        };
        if let Some(description) = description {
            project.description = description;
        }
        if let Some(labels) = labels {
            project.labels = labels;
        }
        if let Some(annotations) = annotations {
            project.annotations = annotations;
        }
        if let Some(owner) = owner {
            project.owner = owner;
        }
        project.updated_at = now_rfc3339();
        Ok(())
    }

    /// Checks a role update against the current state without applying it.
    fn validate_role_update(&self, update: &RoleUpdate) -> ModelResult<()> {
        let role = self.roles.get(&update.role).ok_or_else(|| {
            ModelError::not_found(format!(
                "project_authorization_role {} not found",
                update.role
            ))
        })?;
        if update.name.is_some_and(|n| n != role.name) {
            return Err(ModelError::bad_request(format!(
                "project_authorization_role {} is named {}; roles cannot be renamed",
                role.id,
                role.name.as_str()
            )));
        }
        if update.project.is_some_and(|p| p != role.project) {
            return Err(ModelError::bad_request(format!(
                "project_authorization_role {} does not belong to that project",
                role.id
            )));
        }
        existing_ids(update.users.as_deref().unwrap_or_default(), "user", |u| {
            self.users.contains_key(u)
        })?;
        existing_ids(
            update.groups.as_deref().unwrap_or_default(),
            "user_group",
            |g| self.groups.contains_key(g),
        )?;
        Ok(())
    }

    /// Replaces a role's principals at once (a direct PUT on the role).
    pub fn update_role(&mut self, update: RoleUpdate) -> ModelResult<()> {
        self.validate_role_update(&update)?;
        self.apply_role_updates(&[update]);
        Ok(())
    }

    /// Validates a batch of role updates and queues them as one job; every update applies when
    /// the job completes. All roles must belong to the projects named in `project_ids`.
    pub fn submit_transaction(
        &mut self,
        project_ids: &[Id],
        updates: Vec<RoleUpdate>,
        now: Instant,
    ) -> ModelResult<Id> {
        if updates.is_empty() {
            return Err(ModelError::bad_request(
                "a transaction needs at least one request",
            ));
        }
        existing_ids(project_ids, "project", |p| self.projects.contains_key(p))?;
        for update in &updates {
            self.validate_role_update(update)?;
            let project = self.roles.get(&update.role).map(|r| r.project);
            if !project_ids.is_empty() && !project.is_some_and(|p| project_ids.contains(&p)) {
                return Err(ModelError::bad_request(format!(
                    "project_authorization_role {} is not in the transaction's projects",
                    update.role
                )));
            }
        }
        let params = serde_json::json!({
            "project_ids": project_ids,
            "roles": updates.iter().map(|u| u.role).collect::<Vec<_>>(),
        })
        .to_string();
        let job = self.submit_job("async_transaction", params, Effect::SetRoles(updates), now);
        self.advance(now);
        Ok(job)
    }

    /// Applies role updates, skipping principals deleted since the updates were validated
    /// (a deleted group or user is never referenced by a role). Returns the roles that no longer
    /// exist.
    pub(super) fn apply_role_updates(&mut self, updates: &[RoleUpdate]) -> Vec<Id> {
        let mut missing = Vec::new();
        for update in updates {
            let users: Option<BTreeSet<Id>> = update.users.as_ref().map(|ids| {
                ids.iter()
                    .copied()
                    .filter(|u| self.users.contains_key(u))
                    .collect()
            });
            let groups: Option<BTreeSet<Id>> = update.groups.as_ref().map(|ids| {
                ids.iter()
                    .copied()
                    .filter(|g| self.groups.contains_key(g))
                    .collect()
            });
            match self.roles.get_mut(&update.role) {
                Some(role) => {
                    if let Some(users) = users {
                        role.users = users;
                    }
                    if let Some(groups) = groups {
                        role.groups = groups;
                    }
                }
                None => missing.push(update.role),
            }
        }
        missing
    }
}
