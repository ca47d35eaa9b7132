//! Projects and a group's role in them. A role change is one async transaction that rewrites
//! only the roles whose group list changes, computed from a fresh read under a per-project
//! lock, so concurrent changes for different groups in one project never lose each other.

use backon::Retryable as _;
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};

use tokio::sync::oneshot;

use super::batch::RoleChange;
use super::client::{FALLBACK_CONCURRENCY, MgmtClient, Notice};
use super::error::{ErrorKind, MgmtError};
use super::jsonapi::{Document, Resource, decode_included};
use super::model::{AuthorizationRole, NameAttributes, Project, ProjectRole};
use super::routes;
use super::transport::Request;

/// What the vendor SDK includes to see every role's principals.
const ROLES_INCLUDE: &str =
    "project_authorization_roles.principal_users,project_authorization_roles.principal_user_groups";

impl MgmtClient {
    /// The project with this exact name, with its roles and their principals.
    pub async fn find_project(&self, name: &str) -> Result<Option<Project>, MgmtError> {
        let req = Request::get(routes::PROJECTS, &[])
            .query("filter[name]", name)
            .query("include", ROLES_INCLUDE);
        let context = req.context();
        let doc: Document<Vec<Resource<NameAttributes>>> = self.fetch(req).await?;
        let Some(found) = doc.data.iter().find(|p| p.attributes.name == name) else {
            return Ok(None);
        };
        match project_from(&context, found, &doc.included)? {
            Some(project) => Ok(Some(project)),
            None => self.get_project(&found.id).await,
        }
    }

    /// Every project with its roles (for bulk observation).
    pub async fn list_projects(&self) -> Result<Vec<Project>, MgmtError> {
        let listing = self
            .list_all::<NameAttributes>(
                routes::PROJECTS,
                &[("include", ROLES_INCLUDE), ("sort", "name")],
            )
            .await?;
        let context = "GET /api/projects";
        let mut complete = Vec::with_capacity(listing.items.len());
        let mut incomplete = Vec::new();
        for item in &listing.items {
            match project_from(context, item, &listing.included)? {
                Some(project) => complete.push(project),
                None => incomplete.push(item.id.clone()),
            }
        }
        if !incomplete.is_empty() {
            self.notice_once(Notice::ProjectListWithoutRoles);
            let fetched: Vec<Option<Project>> = futures::stream::iter(incomplete)
                .map(|id| async move { self.get_project(&id).await })
                .buffered(FALLBACK_CONCURRENCY)
                .try_collect()
                .await?;
            complete.extend(fetched.into_iter().flatten());
        }
        Ok(complete)
    }

    async fn get_project(&self, id: &str) -> Result<Option<Project>, MgmtError> {
        let req = Request::get(routes::PROJECT, &[id]).query("include", ROLES_INCLUDE);
        let context = req.context();
        let doc: Document<Resource<NameAttributes>> = match self.fetch(req).await {
            Ok(doc) => doc,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        // On the detail route every included role is this project's.
        let project =
            project_from(&context, &doc.data, &doc.included)?.unwrap_or_else(|| Project {
                id: doc.data.id.clone(),
                name: doc.data.attributes.name.clone(),
                roles: Vec::new(),
            });
        Ok(Some(project))
    }

    /// Gives the group `role` in the project (taking it out of the other two), or takes it out
    /// of every role when `role` is `None`. Other principals are left untouched. Waits for the
    /// platform job; does nothing when the group already holds exactly that role. Changes for
    /// one project made at the same time share a transaction (see `batch`).
    pub async fn set_group_project_role(
        &self,
        project: &str,
        group_id: &str,
        role: Option<ProjectRole>,
    ) -> Result<(), MgmtError> {
        let (done, outcome) = oneshot::channel();
        let group_id = group_id.to_owned();
        self.inner.role_queue.push(
            project,
            RoleChange {
                group_id,
                role,
                done,
            },
        );
        {
            // Held until the job finishes: the next writer must read the roles this one produced.
            let _guard = self.inner.project_locks.lock(project).await;
            let batch = self.inner.role_queue.take(project);
            if !batch.is_empty() {
                let changes: Vec<(&str, Option<ProjectRole>)> = batch
                    .iter()
                    .map(|c| (c.group_id.as_str(), c.role))
                    .collect();
                tracing::debug!(project, changes = changes.len(), "writing project roles");
                // A transaction whose answer was lost is not resent blindly: the roles are read
                // again and only what is still missing is written.
                let result = (|| self.role_round(project, &changes))
                    .retry(self.inner.retry_backoff)
                    .sleep(tokio::time::sleep)
                    .when(MgmtError::is_ambiguous)
                    .await;
                for change in batch {
                    let _ = change.done.send(result.clone());
                }
            }
        }
        // Ours was sent by us or by an earlier lock holder; a dropped sender means that holder
        // was cancelled before it finished.
        outcome.await.unwrap_or_else(|_| {
            Err(MgmtError::new(
                ErrorKind::Unavailable,
                "POST /api/async_transactions",
                "the role change was abandoned before it completed",
            ))
        })
    }

    async fn role_round(
        &self,
        project: &str,
        changes: &[(&str, Option<ProjectRole>)],
    ) -> Result<(), MgmtError> {
        let found = self.find_project(project).await?.ok_or_else(|| {
            MgmtError::new(
                ErrorKind::NotFound,
                "GET /api/projects",
                format!("project {project:?} does not exist"),
            )
        })?;
        let updates = batch_role_updates(&found, changes)?;
        if updates.is_empty() {
            return Ok(());
        }
        let req =
            Request::post(routes::ASYNC_TRANSACTIONS).json(&transaction_body(&found.id, &updates));
        let doc: Document<Resource<Value>> = self.fetch(req).await?;
        if doc.data.id.is_empty() {
            return Err(MgmtError::decode(
                "POST /api/async_transactions",
                "data.id",
                "no job id",
            ));
        }
        self.wait_job(&doc.data.id).await
    }
}

/// Builds a project from its resource and the included role resources. `None` when the
/// server did not include the roles (a list route that ignored `include`).
fn project_from(
    context: &str,
    res: &Resource<NameAttributes>,
    included: &[Resource<Value>],
) -> Result<Option<Project>, MgmtError> {
    let linked = res.related_ids("project_authorization_roles");
    let mut roles = Vec::new();
    for (index, inc) in included.iter().enumerate() {
        if inc.kind != "project_authorization_role" {
            continue;
        }
        let belongs = match &linked {
            Some(ids) => ids.contains(&inc.id),
            None => inc
                .related_ids("project")
                .is_some_and(|p| p.contains(&res.id)),
        };
        if !belongs {
            continue;
        }
        let attrs: NameAttributes = decode_included(context, index, inc)?;
        let Some(role) = ProjectRole::parse(&attrs.name) else {
            tracing::debug!(role = %attrs.name, "ignoring a project role that is not Admin, Editor or Viewer");
            continue;
        };
        roles.push(AuthorizationRole {
            role,
            role_id: inc.id.clone(),
            user_ids: inc.related_ids("principal_users").unwrap_or_default(),
            group_ids: inc.related_ids("principal_user_groups").unwrap_or_default(),
        });
    }
    let honoured = match &linked {
        Some(ids) => ids
            .iter()
            .all(|id| included.iter().any(|inc| &inc.id == id)),
        None => !roles.is_empty(),
    };
    if !honoured {
        return Ok(None);
    }
    roles.sort_by_key(|b| b.role);
    Ok(Some(Project {
        id: res.id.clone(),
        name: res.attributes.name.clone(),
        roles,
    }))
}

/// The roles whose group list must change for `group_id` to hold exactly `role`, with their
/// new group lists; every other principal is carried over unchanged.
fn role_updates(
    project: &Project,
    group_id: &str,
    role: Option<ProjectRole>,
) -> Result<Vec<AuthorizationRole>, MgmtError> {
    if let Some(wanted) = role
        && !project.roles.iter().any(|b| b.role == wanted)
    {
        return Err(MgmtError::new(
            ErrorKind::Invalid,
            "project roles",
            format!("project {:?} has no {wanted} role", project.name),
        ));
    }
    let mut updates = Vec::new();
    for binding in &project.roles {
        let wanted = Some(binding.role) == role;
        let holds = binding.group_ids.iter().any(|g| g == group_id);
        if wanted == holds {
            continue;
        }
        let mut changed = binding.clone();
        if wanted {
            changed.group_ids.push(group_id.to_owned());
        } else {
            changed.group_ids.retain(|g| g != group_id);
        }
        updates.push(changed);
    }
    Ok(updates)
}

/// The roles whose group list must change for every `(group, role)` change to hold, applied in
/// order, with their new group lists; every other principal is carried over unchanged.
fn batch_role_updates(
    project: &Project,
    changes: &[(&str, Option<ProjectRole>)],
) -> Result<Vec<AuthorizationRole>, MgmtError> {
    let mut working = project.clone();
    for &(group_id, role) in changes {
        for changed in role_updates(&working, group_id, role)? {
            if let Some(binding) = working
                .roles
                .iter_mut()
                .find(|b| b.role_id == changed.role_id)
            {
                *binding = changed;
            }
        }
    }
    Ok(working
        .roles
        .into_iter()
        .filter(|binding| !project.roles.contains(binding))
        .collect())
}

/// The async transaction that rewrites the given roles of one project.
fn transaction_body(project_id: &str, roles: &[AuthorizationRole]) -> Value {
    let linkage = |kind: &str, ids: &[String]| -> Vec<Value> {
        ids.iter()
            .map(|id| json!({"type": kind, "id": id}))
            .collect()
    };
    let requests: Vec<Value> = roles
        .iter()
        .map(|b| {
            json!({
                "method": "put",
                "resource": format!("project_authorization_roles/{}", b.role_id),
                "body": {"data": {
                    "type": "project_authorization_role",
                    "attributes": {"name": b.role.as_str()},
                    "relationships": {
                        "project": {"data": {"type": "project", "id": project_id}},
                        "principal_users": {"data": linkage("user", &b.user_ids)},
                        "principal_user_groups": {"data": linkage("user_group", &b.group_ids)},
                    },
                }},
            })
        })
        .collect();
    json!({"data": {"attributes": {
        "metadata": {"project_ids": [project_id], "notify_by_email": false},
        "requests": requests,
    }}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonapi::decode;

    fn binding(role: ProjectRole, users: &[&str], groups: &[&str]) -> AuthorizationRole {
        AuthorizationRole {
            role,
            role_id: format!("r-{role}"),
            user_ids: users.iter().map(|s| s.to_string()).collect(),
            group_ids: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn project() -> Project {
        Project {
            id: "p1".into(),
            name: "proj".into(),
            roles: vec![
                binding(ProjectRole::Admin, &["u1"], &["g-other"]),
                binding(ProjectRole::Editor, &[], &["g1"]),
                binding(ProjectRole::Viewer, &["u2"], &[]),
            ],
        }
    }

    #[test]
    fn a_batch_applies_every_change_in_one_set_of_role_updates() {
        let changes = [
            ("g1", Some(ProjectRole::Viewer)),
            ("g2", Some(ProjectRole::Viewer)),
            ("g-other", None),
        ];
        let updates = batch_role_updates(&project(), &changes).unwrap();
        let by_role = |role| updates.iter().find(|b| b.role == role).unwrap();
        assert_eq!(updates.len(), 3, "{updates:?}");
        assert!(by_role(ProjectRole::Admin).group_ids.is_empty());
        assert_eq!(by_role(ProjectRole::Admin).user_ids, vec!["u1"]);
        assert!(by_role(ProjectRole::Editor).group_ids.is_empty());
        assert_eq!(by_role(ProjectRole::Viewer).group_ids, vec!["g1", "g2"]);
        assert_eq!(by_role(ProjectRole::Viewer).user_ids, vec!["u2"]);
        // Nothing to change: no update at all.
        let same = [
            ("g1", Some(ProjectRole::Editor)),
            ("g-other", Some(ProjectRole::Admin)),
        ];
        assert!(batch_role_updates(&project(), &same).unwrap().is_empty());
    }

    #[test]
    fn moving_a_group_touches_only_two_roles_and_keeps_other_principals() {
        let updates = role_updates(&project(), "g1", Some(ProjectRole::Admin)).unwrap();
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].role, ProjectRole::Admin);
        assert_eq!(updates[0].group_ids, vec!["g-other", "g1"]);
        assert_eq!(updates[0].user_ids, vec!["u1"]);
        assert_eq!(updates[1].role, ProjectRole::Editor);
        assert!(updates[1].group_ids.is_empty());
    }

    #[test]
    fn no_change_means_no_update_and_removal_clears_every_role() {
        assert!(
            role_updates(&project(), "g1", Some(ProjectRole::Editor))
                .unwrap()
                .is_empty()
        );
        assert!(role_updates(&project(), "g-none", None).unwrap().is_empty());
        let updates = role_updates(&project(), "g1", None).unwrap();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].role, ProjectRole::Editor);
        let mut partial = project();
        partial.roles.retain(|b| b.role != ProjectRole::Viewer);
        assert_eq!(
            role_updates(&partial, "g1", Some(ProjectRole::Viewer))
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );
    }

    #[test]
    fn transaction_matches_the_sdk_shape() {
        let body = transaction_body("p1", &[binding(ProjectRole::Viewer, &["u2"], &["g1"])]);
        assert_eq!(
            body,
            json!({"data": {"attributes": {
                "metadata": {"project_ids": ["p1"], "notify_by_email": false},
                "requests": [{
                    "method": "put",
                    "resource": "project_authorization_roles/r-Viewer",
                    "body": {"data": {
                        "type": "project_authorization_role",
                        "attributes": {"name": "Viewer"},
                        "relationships": {
                            "project": {"data": {"type": "project", "id": "p1"}},
                            "principal_users": {"data": [{"type": "user", "id": "u2"}]},
                            "principal_user_groups": {"data": [{"type": "user_group", "id": "g1"}]},
                        },
                    }},
                }],
            }}})
        );
    }

    #[test]
    fn projects_decode_from_included_roles() {
        let body = br#"{"data":{"type":"project","id":"p1","attributes":{"name":"proj"},
          "relationships":{"project_authorization_roles":{"data":[
            {"type":"project_authorization_role","id":"ra"},{"type":"project_authorization_role","id":"rv"}]}}},
          "included":[
            {"type":"project_authorization_role","id":"rv","attributes":{"name":"Viewer"},
             "relationships":{"principal_users":{"data":[]},"principal_user_groups":{"data":[{"type":"user_group","id":"g1"}]}}},
            {"type":"user_group","id":"g1","attributes":{"name":"x"}},
            {"type":"project_authorization_role","id":"ra","attributes":{"name":"Admin"},
             "relationships":{"principal_users":{"data":[{"type":"user","id":"u1"}]}}}]}"#;
        let doc: Document<Resource<NameAttributes>> = decode("x", body).unwrap();
        let p = project_from("x", &doc.data, &doc.included)
            .unwrap()
            .unwrap();
        assert_eq!(p.roles.len(), 2);
        assert_eq!(p.roles[0].role, ProjectRole::Admin);
        assert_eq!(p.roles[0].user_ids, vec!["u1"]);
        assert!(p.roles[0].group_ids.is_empty());
        assert_eq!(p.group_role("g1"), Some(ProjectRole::Viewer));
    }

    #[test]
    fn missing_includes_are_detected() {
        let body = br#"{"data":{"type":"project","id":"p1","attributes":{"name":"proj"},
          "relationships":{"project_authorization_roles":{"data":[{"type":"project_authorization_role","id":"ra"}]}}}}"#;
        let doc: Document<Resource<NameAttributes>> = decode("x", body).unwrap();
        assert!(
            project_from("x", &doc.data, &doc.included)
                .unwrap()
                .is_none()
        );
        let bare = br#"{"data":{"type":"project","id":"p1","attributes":{"name":"proj"}}}"#;
        let doc: Document<Resource<NameAttributes>> = decode("x", bare).unwrap();
        assert!(
            project_from("x", &doc.data, &doc.included)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn bad_role_attributes_name_the_field() {
        let body = br#"{"data":{"type":"project","id":"p1","attributes":{"name":"proj"}},
          "included":[{"type":"project_authorization_role","id":"ra","attributes":{"name":7},
            "relationships":{"project":{"data":{"type":"project","id":"p1"}}}}]}"#;
        let doc: Document<Resource<NameAttributes>> = decode("x", body).unwrap();
        let err = project_from("x", &doc.data, &doc.included).unwrap_err();
        assert!(
            err.to_string().contains("`included[0].attributes.name`"),
            "{err}"
        );
    }
}
