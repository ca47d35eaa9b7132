//! Model -> JSON:API resource objects, and the related resources an `include` asks for.
//! Typed attributes are never `null`; an empty to-one relationship is left out entirely.
//!
//! Like the platform, a user, group or project carries a relationship only when the request
//! included it (the SDK relies on that: `"primary_group" in user.relationships` means "has one",
//! and a user PUT echoes back exactly the relationships it read). The exceptions the SDK reads
//! without asking are always present: a project's `last_job` and a role's principals.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::jsonapi::{ApiError, ApiResult};
use super::model::{Id, Job, Model, Project, Role, User, UserGroup};

/// The kinds of resource the emulator serves, with their wire type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    UserGroup,
    Project,
    Role,
    Job,
}

impl Kind {
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::UserGroup => "user_group",
            Kind::Project => "project",
            Kind::Role => "project_authorization_role",
            Kind::Job => "job",
        }
    }

    /// `include` paths this kind understands. `tenant` is accepted and yields nothing: the
    /// emulator has a single tenant that is not a resource.
    fn includes(self) -> &'static [&'static str] {
        match self {
            Kind::User => &["user_groups", "primary_group"],
            Kind::UserGroup => &["users"],
            Kind::Project => &[
                "project_authorization_roles",
                "project_authorization_roles.principal_users",
                "project_authorization_roles.principal_user_groups",
                "owner",
                "tenant",
            ],
            Kind::Role => &["principal_users", "principal_user_groups", "project"],
            Kind::Job => &[],
        }
    }

    /// Attribute names a list may filter or sort on (besides `id`).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::User => &[
                "username",
                "first_name",
                "last_name",
                "email",
                "uid",
                "created_at",
                "updated_at",
                "admin_status",
                "operational_status",
                "phone_number",
                "job_title",
                "department",
            ],
            Kind::UserGroup => &[
                "name",
                "description",
                "gid",
                "kind",
                "system_provided",
                "created_at",
                "updated_at",
            ],
            Kind::Project => &[
                "name",
                "description",
                "created_at",
                "updated_at",
                "admin_status",
                "operational_status",
            ],
            Kind::Role => &["name"],
            Kind::Job => &["kind", "state", "created_at", "updated_at"],
        }
    }

    pub fn check_includes(self, includes: &[String]) -> ApiResult<()> {
        match includes
            .iter()
            .find(|i| !self.includes().contains(&i.as_str()))
        {
            Some(bad) => Err(ApiError::bad_request(format!(
                "cannot include '{bad}' on {}; supported: {}",
                self.type_name(),
                self.includes().join(", ")
            ))),
            None => Ok(()),
        }
    }
}

/// Whether `includes` asks for relationship `rel` (directly or through a nested path).
/// `*` asks for every relationship (the state dump).
fn wants(includes: &[String], rel: &str) -> bool {
    includes.iter().any(|i| {
        i == "*"
            || i == rel
            || i.strip_prefix(rel)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

fn linkage(kind: Kind, ids: impl IntoIterator<Item = Id>) -> Value {
    let data: Vec<Value> = ids
        .into_iter()
        .map(|id| json!({ "type": kind.type_name(), "id": id }))
        .collect();
    json!({ "data": data })
}

fn linkage_one(kind: Kind, id: Id) -> Value {
    json!({ "data": { "type": kind.type_name(), "id": id } })
}

pub fn user(u: &User, includes: &[String]) -> Value {
    let mut relationships = serde_json::Map::new();
    if wants(includes, "user_groups") {
        relationships.insert(
            "user_groups".into(),
            linkage(Kind::UserGroup, u.groups.iter().copied()),
        );
    }
    if let (Some(primary), true) = (u.primary_group, wants(includes, "primary_group")) {
        relationships.insert(
            "primary_group".into(),
            linkage_one(Kind::UserGroup, primary),
        );
    }
    json!({
        "type": "user",
        "id": u.id,
        "attributes": {
            "username": u.username,
            "first_name": u.first_name,
            "last_name": u.last_name,
            "email": u.email,
            "uid": u.uid,
            "created_at": u.created_at,
            "updated_at": u.updated_at,
            "data_access_mode": "enabled",
            "authentication_scheme": "local",
            "authentication_methods": u.authentication_methods,
            "send_password_on_creation": false,
            "assigned_policies": u.assigned_policies,
            "operational_status": "up",
            "admin_status": u.admin_status,
            "phone_number": u.phone_number,
            "job_title": u.job_title,
            "department": u.department,
        },
        "relationships": relationships,
    })
}

pub fn group(g: &UserGroup, includes: &[String]) -> Value {
    let mut relationships = serde_json::Map::new();
    if wants(includes, "users") {
        relationships.insert(
            "users".into(),
            linkage(Kind::User, g.members.iter().copied()),
        );
    }
    json!({
        "type": "user_group",
        "id": g.id,
        "attributes": {
            "name": g.name,
            "description": g.description,
            "data_access_mode": "enabled",
            "gid": g.gid,
            "kind": "local",
            "assigned_policies": g.assigned_policies,
            "system_provided": g.system_provided,
            "created_at": g.created_at,
            "updated_at": g.updated_at,
        },
        "relationships": relationships,
    })
}

pub fn project(p: &Project, includes: &[String]) -> Value {
    let mut relationships = serde_json::Map::new();
    if wants(includes, "project_authorization_roles") {
        relationships.insert(
            "project_authorization_roles".into(),
            linkage(Kind::Role, p.roles),
        );
    }
    relationships.insert("last_job".into(), linkage_one(Kind::Job, p.last_job));
    if let (Some(owner), true) = (p.owner, wants(includes, "owner")) {
        relationships.insert("owner".into(), linkage_one(Kind::User, owner));
    }
    json!({
        "type": "project",
        "id": p.id,
        "attributes": {
            "name": p.name,
            "description": p.description,
            "created_at": p.created_at,
            "updated_at": p.updated_at,
            "admin_status": p.admin_status,
            "operational_status": p.operational_status,
            "labels": p.labels,
            "annotations": p.annotations,
            "default_function_node_selector": p.default_function_node_selector,
            "mlrun_project": "",
            "nuclio_project": "",
        },
        "relationships": relationships,
    })
}

pub fn role(r: &Role) -> Value {
    json!({
        "type": "project_authorization_role",
        "id": r.id,
        "attributes": { "name": r.name.as_str() },
        "relationships": {
            "project": linkage_one(Kind::Project, r.project),
            "principal_users": linkage(Kind::User, r.users.iter().copied()),
            "principal_user_groups": linkage(Kind::UserGroup, r.groups.iter().copied()),
        },
    })
}

pub fn job(j: &Job) -> Value {
    json!({
        "type": "job",
        "id": j.id,
        "attributes": {
            "kind": j.kind,
            "params": j.params,
            "max_total_execution_time": 3 * 60 * 60,
            "delay": 0,
            "state": j.state.as_str(),
            "result": j.result,
            "created_at": j.created_at,
            "updated_at": j.updated_at,
            "on_success": [],
            "on_failure": [],
            "handler": "",
            "ctx_id": "",
        },
        "relationships": {},
    })
}

/// Collects included resources once each, in first-seen order.
#[derive(Default)]
pub struct Included {
    seen: HashSet<Id>,
    items: Vec<Value>,
}

impl Included {
    fn push(&mut self, id: Id, render: impl FnOnce() -> Value) {
        if self.seen.insert(id) {
            self.items.push(render());
        }
    }

    pub fn into_vec(self) -> Vec<Value> {
        self.items
    }

    fn users<'a>(&mut self, m: &Model, ids: impl IntoIterator<Item = &'a Id>) {
        for u in ids.into_iter().filter_map(|id| m.user(id)) {
            self.push(u.id, || user(u, &[]));
        }
    }

    fn groups<'a>(&mut self, m: &Model, ids: impl IntoIterator<Item = &'a Id>) {
        for g in ids.into_iter().filter_map(|id| m.group(id)) {
            self.push(g.id, || group(g, &[]));
        }
    }

    fn role_with(&mut self, m: &Model, r: &Role, includes: &[String], prefix: &str) {
        let wants = |name: &str| includes.iter().any(|i| i == &format!("{prefix}{name}"));
        if wants("principal_users") {
            self.users(m, &r.users);
        }
        if wants("principal_user_groups") {
            self.groups(m, &r.groups);
        }
    }

    /// Adds what `includes` asks for, related to `resource` of `kind`.
    pub fn add(&mut self, m: &Model, kind: Kind, id: &Id, includes: &[String]) {
        let has = |name: &str| includes.iter().any(|i| i == name);
        match kind {
            Kind::User => {
                if let Some(u) = m.user(id) {
                    if has("user_groups") {
                        self.groups(m, &u.groups);
                    }
                    if has("primary_group") {
                        self.groups(m, u.primary_group.iter());
                    }
                }
            }
            Kind::UserGroup => {
                if let (Some(g), true) = (m.group(id), has("users")) {
                    self.users(m, &g.members);
                }
            }
            Kind::Project => {
                let Some(p) = m.project(id) else { return };
                let any_roles = includes
                    .iter()
                    .any(|i| i.starts_with("project_authorization_roles"));
                for r in p.roles.iter().filter_map(|rid| m.role(rid)) {
                    if any_roles {
                        self.push(r.id, || role(r));
                    }
                    self.role_with(m, r, includes, "project_authorization_roles.");
                }
                if has("owner") {
                    self.users(m, p.owner.iter());
                }
            }
            Kind::Role => {
                let Some(r) = m.role(id) else { return };
                self.role_with(m, r, includes, "");
                if let (Some(p), true) = (m.project(&r.project), has("project")) {
                    self.push(p.id, || project(p, &[]));
                }
            }
            Kind::Job => {}
        }
    }
}

/// Renders any resource by kind and id.
pub fn resource(m: &Model, kind: Kind, id: &Id, includes: &[String]) -> Option<Value> {
    match kind {
        Kind::User => m.user(id).map(|u| user(u, includes)),
        Kind::UserGroup => m.group(id).map(|g| group(g, includes)),
        Kind::Project => m.project(id).map(|p| project(p, includes)),
        Kind::Role => m.role(id).map(role),
        Kind::Job => m.job(id).map(job),
    }
}

/// `{"data": resource, "included": [...]}` for one resource, or 404.
pub fn single(m: &Model, kind: Kind, id: &Id, includes: &[String]) -> ApiResult<Value> {
    kind.check_includes(includes)?;
    let data = resource(m, kind, id, includes)
        .ok_or_else(|| ApiError::not_found(format!("{} {id} not found", kind.type_name())))?;
    let mut doc = json!({ "data": data });
    if !includes.is_empty() {
        let mut included = Included::default();
        included.add(m, kind, id, includes);
        doc["included"] = Value::Array(included.into_vec());
    }
    Ok(doc)
}
