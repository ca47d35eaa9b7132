//! Projects and a group's role in them. Role changes are batched (see `batch`): every change
//! queued while a round for its project is in flight goes in the next round, which reads the
//! projects afresh, computes all changes on that read, and writes them in one async transaction
//! that rewrites only the roles whose group list changes. Concurrent changes for different groups
//! never lose each other, and other principals are never touched.

use backon::Retryable as _;
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use super::batch::{Pending, Round};
use super::client::{FALLBACK_CONCURRENCY, MgmtClient, Notice};
use super::error::{ErrorKind, MgmtError};
use super::jobs::JobKind;
use super::jsonapi::{Document, KeepRoles, Resource, decode_included};
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
        let doc: Document<Vec<Resource<NameAttributes>>, KeepRoles> = self.fetch(req).await?;
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
            .list_all::<NameAttributes, KeepRoles>(
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
        self.inner
            .project_count
            .store(complete.len(), Ordering::Relaxed);
        Ok(complete)
    }

    async fn get_project(&self, id: &str) -> Result<Option<Project>, MgmtError> {
        let req = Request::get(routes::PROJECT, &[id]).query("include", ROLES_INCLUDE);
        let context = req.context();
        let doc: Document<Resource<NameAttributes>, KeepRoles> = match self.fetch(req).await {
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
    /// platform job; does nothing when the group already holds exactly that role.
    ///
    /// Changes made at about the same time, by any task, share one transaction (see
    /// [`RoleBatching`](crate::RoleBatching)): the projects are read once, one transaction
    /// carries every change, its job is polled once, and each caller gets its own outcome.
    pub async fn set_group_project_role(
        &self,
        project: &str,
        group_id: &str,
        role: Option<ProjectRole>,
    ) -> Result<(), MgmtError> {
        let (pending, outcome) = Pending::new(RoleChange {
            group_id: group_id.to_owned(),
            role,
        });
        let schedule = {
            let mut queue = self.inner.roles.lock();
            queue.push(project, pending);
            !std::mem::replace(&mut queue.scheduled, true)
        };
        if schedule {
            self.schedule_roles(self.inner.role_batching.linger);
        }
        // The round runs in its own task: a caller that gives up never strands the others.
        outcome.await.unwrap_or_else(|_| {
            Err(MgmtError::new(
                ErrorKind::Unavailable,
                "POST /api/async_transactions",
                "the role change was abandoned before it completed",
            ))
        })
    }

    /// Starts the rounds that can go, after `linger` (the queue is marked scheduled).
    fn schedule_roles(&self, linger: std::time::Duration) {
        let client = self.clone();
        tokio::spawn(async move {
            if !linger.is_zero() {
                tokio::time::sleep(linger).await;
            }
            loop {
                let round = {
                    let mut queue = client.inner.roles.lock();
                    match queue.take(
                        client.max_projects_per_transaction(),
                        client.inner.role_batching.rounds_in_flight,
                    ) {
                        Some(round) => round,
                        None => {
                            queue.scheduled = false;
                            return;
                        }
                    }
                };
                let client = client.clone();
                tokio::spawn(async move { client.run_role_round(round).await });
            }
        });
    }

    fn max_projects_per_transaction(&self) -> usize {
        if self.inner.span_projects.load(Ordering::Relaxed) {
            self.inner.role_batching.max_projects.max(1)
        } else {
            1
        }
    }

    /// Carries one round's changes to the platform and tells each caller its outcome; then lets
    /// the changes that queued up behind it go.
    async fn run_role_round(&self, round: Round<RoleChange>) {
        let started = std::time::Instant::now();
        let changes: Vec<Change<'_>> = round
            .iter()
            .flat_map(|(project, pending)| {
                pending.iter().map(move |p| Change {
                    project,
                    group_id: &p.change.group_id,
                    role: p.change.role,
                })
            })
            .collect();
        tracing::debug!(
            projects = round.len(),
            changes = changes.len(),
            "writing project roles"
        );
        let mut outcomes = self.apply_role_changes(&changes).await.into_iter();
        drop(changes);
        let keys: Vec<String> = round.iter().map(|(k, _)| k.clone()).collect();
        for (_, pending) in round {
            for p in pending {
                let outcome = outcomes.next().unwrap_or_else(|| {
                    Err(MgmtError::new(
                        ErrorKind::Invalid,
                        "POST /api/async_transactions",
                        "no outcome for a role change",
                    ))
                });
                let _ = p.done.send(outcome);
            }
        }
        let schedule = {
            let mut queue = self.inner.roles.lock();
            queue.finish(&keys);
            queue.has_free_work(self.inner.role_batching.rounds_in_flight)
                && !std::mem::replace(&mut queue.scheduled, true)
        };
        if schedule {
            // Changes keep coming: let the next round wait about as long as this one took, so
            // that more of them share it (a lone change never gets here; see RoleBatching).
            self.schedule_roles(self.inner.role_batching.linger_after(started.elapsed()));
        }
    }

    /// Applies role changes (in order) and returns each one's outcome. A transaction whose
    /// answer was lost is not resent blindly: the projects are read again and only what is still
    /// missing is written. A transaction the platform refuses is split (by project, then by
    /// change) so that one bad change fails alone.
    fn apply_role_changes<'a>(
        &'a self,
        changes: &'a [Change<'a>],
    ) -> futures::future::BoxFuture<'a, Vec<Result<(), MgmtError>>> {
        Box::pin(async move {
            let outcome = (|| self.role_round_once(changes))
                .retry(self.inner.retry_backoff)
                .sleep(tokio::time::sleep)
                .when(|e: &MgmtError| e.is_ambiguous())
                .await;
            let error = match outcome {
                Ok(outcomes) => return outcomes,
                Err(e) => e,
            };
            let projects = distinct_projects(changes);
            if !splittable(&error) || changes.len() == 1 {
                return vec![Err(error); changes.len()];
            }
            let outcomes: Vec<Result<(), MgmtError>> = if projects.len() > 1 {
                // Different projects: side by side.
                let parts: Vec<Vec<Change<'a>>> = projects
                    .iter()
                    .map(|p| {
                        changes
                            .iter()
                            .filter(|c| c.project == *p)
                            .cloned()
                            .collect()
                    })
                    .collect();
                let results = futures::future::join_all(
                    parts.iter().map(|part| self.apply_role_changes(part)),
                )
                .await;
                let mut by_project: Vec<std::vec::IntoIter<Result<(), MgmtError>>> =
                    results.into_iter().map(Vec::into_iter).collect();
                changes
                    .iter()
                    .map(|c| {
                        let index = projects.iter().position(|p| *p == c.project).unwrap_or(0);
                        by_project[index]
                            .next()
                            .unwrap_or_else(|| Err(error.clone()))
                    })
                    .collect()
            } else {
                // One project: one change at a time, each on a fresh read.
                let mut outcomes = Vec::with_capacity(changes.len());
                for change in changes {
                    let mut one = self.apply_role_changes(std::slice::from_ref(change)).await;
                    outcomes.push(one.pop().unwrap_or_else(|| Err(error.clone())));
                }
                outcomes
            };
            if projects.len() > 1
                && error.kind() == ErrorKind::Invalid
                && outcomes.iter().all(Result::is_ok)
            {
                // Each project alone went through: the platform refuses transactions that span
                // projects. Send one per project from now on.
                if self.inner.span_projects.swap(false, Ordering::Relaxed) {
                    tracing::warn!(error = %error, "the platform refused a transaction spanning several projects; sending one per project from now on");
                }
            }
            outcomes
        })
    }

    /// One read-modify-write: a fresh read of the projects, every change computed on it, one
    /// transaction with all role updates, its job awaited. Per-change failures that need no
    /// transaction (a missing project or role) are in the returned list; an error of the read,
    /// the transaction or its job fails the whole round.
    async fn role_round_once(
        &self,
        changes: &[Change<'_>],
    ) -> Result<Vec<Result<(), MgmtError>>, MgmtError> {
        let names = distinct_projects(changes);
        let found = self.read_projects(&names).await?;
        let mut outcomes: Vec<Result<(), MgmtError>> = vec![Ok(()); changes.len()];
        let mut updates: Vec<(String, Vec<AuthorizationRole>)> = Vec::new();
        for name in &names {
            let indexes: Vec<usize> = (0..changes.len())
                .filter(|&i| changes[i].project == *name)
                .collect();
            let Some(project) = found.get(*name).and_then(Option::as_ref) else {
                for &i in &indexes {
                    outcomes[i] = Err(MgmtError::new(
                        ErrorKind::NotFound,
                        "GET /api/projects",
                        format!("project {name:?} does not exist"),
                    ));
                }
                continue;
            };
            let wanted: Vec<(&str, Option<ProjectRole>)> = indexes
                .iter()
                .map(|&i| (changes[i].group_id, changes[i].role))
                .collect();
            let (changed, refused) = batch_role_updates(project, &wanted);
            for (k, error) in refused {
                outcomes[indexes[k]] = Err(error);
            }
            if !changed.is_empty() {
                updates.push((project.id.clone(), changed));
            }
        }
        if updates.is_empty() {
            return Ok(outcomes);
        }
        let req = Request::post(routes::ASYNC_TRANSACTIONS).json(&transaction_body(&updates));
        let doc: Document<Resource<Value>> = self.fetch(req).await?;
        if doc.data.id.is_empty() {
            return Err(MgmtError::decode(
                "POST /api/async_transactions",
                "data.id",
                "no job id",
            ));
        }
        // The job's outcome is the transaction's: a lost poll answer is as ambiguous as a lost
        // transaction answer, and the round is retried on a fresh read.
        self.wait_job(&doc.data.id, JobKind::RoleTransaction)
            .await?;
        Ok(outcomes)
    }

    /// Fresh reads of the named projects (`None`: no such project). One project: one GET. Many:
    /// the whole paged list when that takes fewer requests than one GET each.
    async fn read_projects(
        &self,
        names: &[&str],
    ) -> Result<HashMap<String, Option<Project>>, MgmtError> {
        let known = self.inner.project_count.load(Ordering::Relaxed);
        let pages = known.div_ceil(self.inner.page_size.max(1) as usize);
        if names.len() > 1 && known > 0 && pages < names.len() {
            let mut all: HashMap<String, Project> = self
                .list_projects()
                .await?
                .into_iter()
                .map(|p| (p.name.clone(), p))
                .collect();
            return Ok(names
                .iter()
                .map(|n| (n.to_string(), all.remove(*n)))
                .collect());
        }
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        futures::stream::iter(names)
            .map(|name: String| async move {
                let found = self.find_project(&name).await?;
                Ok((name, found))
            })
            .buffered(FALLBACK_CONCURRENCY)
            .try_collect()
            .await
    }
}

/// One group's wanted role in one project (`None`: no role there).
#[derive(Debug, Clone)]
pub(crate) struct RoleChange {
    group_id: String,
    role: Option<ProjectRole>,
}

/// A queued change with its project, as one round sees it.
#[derive(Debug, Clone, Copy)]
struct Change<'a> {
    project: &'a str,
    group_id: &'a str,
    role: Option<ProjectRole>,
}

/// The projects of `changes`, in order of first appearance.
fn distinct_projects<'a>(changes: &[Change<'a>]) -> Vec<&'a str> {
    let mut seen = Vec::new();
    for change in changes {
        if !seen.contains(&change.project) {
            seen.push(change.project);
        }
    }
    seen
}

/// Failures worth splitting a round for: the platform refused something in it (a request, a
/// principal that vanished, a job that failed), which may be one change's fault alone.
fn splittable(error: &MgmtError) -> bool {
    !error.outcome_unknown()
        && matches!(
            error.kind(),
            ErrorKind::Invalid | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::JobFailed
        )
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
/// order, with their new group lists (every other principal carried over unchanged), and the
/// changes that cannot be made (by index: the project lacks the wanted role).
fn batch_role_updates(
    project: &Project,
    changes: &[(&str, Option<ProjectRole>)],
) -> (Vec<AuthorizationRole>, Vec<(usize, MgmtError)>) {
    let mut working = project.clone();
    let mut refused = Vec::new();
    for (index, &(group_id, role)) in changes.iter().enumerate() {
        let updates = match role_updates(&working, group_id, role) {
            Ok(updates) => updates,
            Err(e) => {
                refused.push((index, e));
                continue;
            }
        };
        for changed in updates {
            if let Some(binding) = working
                .roles
                .iter_mut()
                .find(|b| b.role_id == changed.role_id)
            {
                *binding = changed;
            }
        }
    }
    let changed = working
        .roles
        .into_iter()
        .filter(|binding| !project.roles.contains(binding))
        .collect();
    (changed, refused)
}

/// The async transaction that rewrites the given roles of each project: one request per role,
/// every project named in `metadata.project_ids` (the platform's list; the vendor SDK sends one).
fn transaction_body(projects: &[(String, Vec<AuthorizationRole>)]) -> Value {
    let linkage = |kind: &str, ids: &[String]| -> Vec<Value> {
        ids.iter()
            .map(|id| json!({"type": kind, "id": id}))
            .collect()
    };
    let requests: Vec<Value> = projects
        .iter()
        .flat_map(|(project_id, roles)| {
            roles.iter().map(move |b| {
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
        })
        .collect();
    let project_ids: Vec<&str> = projects.iter().map(|(id, _)| id.as_str()).collect();
    json!({"data": {"attributes": {
        "metadata": {"project_ids": project_ids, "notify_by_email": false},
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
        let (updates, refused) = batch_role_updates(&project(), &changes);
        assert!(refused.is_empty());
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
        let (updates, refused) = batch_role_updates(&project(), &same);
        assert!(updates.is_empty() && refused.is_empty());
        // A change the project cannot take fails alone; the others still apply.
        let mut partial = project();
        partial.roles.retain(|b| b.role != ProjectRole::Admin);
        let (updates, refused) = batch_role_updates(
            &partial,
            &[
                ("g9", Some(ProjectRole::Admin)),
                ("g9", Some(ProjectRole::Viewer)),
            ],
        );
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, 0);
        assert_eq!(refused[0].1.kind(), ErrorKind::Invalid);
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].group_ids, vec!["g9"]);
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
        let body = transaction_body(&[(
            "p1".to_owned(),
            vec![binding(ProjectRole::Viewer, &["u2"], &["g1"])],
        )]);
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
    fn one_transaction_carries_every_project() {
        let body = transaction_body(&[
            (
                "p1".to_owned(),
                vec![binding(ProjectRole::Viewer, &[], &["g1"])],
            ),
            (
                "p2".to_owned(),
                vec![
                    binding(ProjectRole::Admin, &[], &["g2"]),
                    binding(ProjectRole::Editor, &[], &[]),
                ],
            ),
        ]);
        let attrs = &body["data"]["attributes"];
        assert_eq!(attrs["metadata"]["project_ids"], json!(["p1", "p2"]));
        let requests = attrs["requests"].as_array().unwrap();
        assert_eq!(requests.len(), 3);
        let project_of = |i: usize| {
            requests[i]["body"]["data"]["relationships"]["project"]["data"]["id"].clone()
        };
        assert_eq!(
            [project_of(0), project_of(1), project_of(2)],
            [json!("p1"), json!("p2"), json!("p2")]
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
