//! Start-up content for demos: users, projects and groups created before the first request.
//!
//! ```yaml
//! users:
//!   - username: alice            # required
//!     first_name: Alice          # optional, like every field below unless noted
//!     last_name: Liddell
//!     email: alice@example.com
//!     password: wonderland       # enables POST /api/sessions login
//! projects:
//!   - name: default              # required
//!     description: Demo project
//!     owner: alice               # a username from `users`
//! groups:
//!   - name: data-science         # required
//!     members: [alice]           # usernames
//!     gid: 5001                  # auto-assigned when absent
//!     description: Data scientists
//!     projects: {default: Editor}  # project name -> Admin | Editor | Viewer
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, anyhow};
use serde::Deserialize;

use super::model::{Model, NewProject, NewUser, NewUserGroup, RoleName, RoleUpdate};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub projects: Vec<SeedProject>,
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub username: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for SeedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedUser")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProject {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGroup {
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub gid: Option<i64>,
    #[serde(default)]
    pub description: String,
    /// Project name -> role name.
    #[serde(default)]
    pub projects: BTreeMap<String, String>,
}

impl Seed {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading seed {}", path.display()))?;
        serde_yaml::from_str(&text).with_context(|| format!("parsing seed {}", path.display()))
    }

    /// Creates everything in the seed; stops at the first entry the platform would refuse.
    pub fn apply(&self, model: &mut Model) -> anyhow::Result<()> {
        let now = Instant::now();
        let user_id = |model: &Model, name: &str| {
            model
                .user_by_name(name)
                .map(|u| u.id)
                .ok_or_else(|| anyhow!("seed: unknown user '{name}'"))
        };
        for u in &self.users {
            let new = NewUser {
                username: u.username.clone(),
                first_name: u.first_name.clone(),
                last_name: u.last_name.clone(),
                email: u.email.clone(),
                password: u.password.clone(),
                assigned_policies: vec!["Developer".into(), "Application Read Only".into()],
                ..Default::default()
            };
            model
                .create_user(new)
                .map_err(|e| anyhow!("seed user '{}': {}", u.username, e.detail))?;
        }
        for p in &self.projects {
            let owner = p.owner.as_deref().map(|o| user_id(model, o)).transpose()?;
            let new = NewProject {
                name: p.name.clone(),
                description: p.description.clone(),
                owner,
                ..Default::default()
            };
            model
                .create_project(new, now)
                .map_err(|e| anyhow!("seed project '{}': {}", p.name, e.detail))?;
        }
        for g in &self.groups {
            let members = g
                .members
                .iter()
                .map(|m| user_id(model, m))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let new = NewUserGroup {
                name: g.name.clone(),
                description: g.description.clone(),
                gid: g.gid,
                assigned_policies: vec!["Data".into(), "Application Admin".into()],
                members,
            };
            let id = model
                .create_group(new)
                .map_err(|e| anyhow!("seed group '{}': {}", g.name, e.detail))?;
            for (project, role) in &g.projects {
                let role = RoleName::parse(role)
                    .map_err(|e| anyhow!("seed group '{}': {}", g.name, e.detail))?;
                let p = model
                    .project_by_name(project)
                    .ok_or_else(|| anyhow!("seed: unknown project '{project}'"))?;
                let role_id = p.role_id(role);
                let mut groups: Vec<_> = model
                    .role(&role_id)
                    .map(|r| r.groups.iter().copied().collect())
                    .unwrap_or_default();
                groups.push(id);
                let update = RoleUpdate {
                    role: role_id,
                    name: None,
                    project: None,
                    users: None,
                    groups: Some(groups),
                };
                model
                    .update_role(update)
                    .map_err(|e| anyhow!("seed group '{}': {}", g.name, e.detail))?;
            }
        }
        Ok(())
    }
}
