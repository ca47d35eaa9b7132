//! A shared picture of the platform: every group (with members), user and project (with its
//! roles), read in bulk with paged list requests and shared by all reconciles.
//!
//! Why: observing each Group with its own GETs costs several requests per group per resync; one
//! bulk read serves a thousand reconciles. The picture is refreshed when older than its TTL
//! (single-flight: concurrent reconciles wait for one refresh) and kept current between refreshes
//! by recording our own successful writes. Staleness is safe: it can only make a plan do too
//! much, and every write is idempotent (membership and role writes re-read what they change).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::crd::ProjectRole;
use crate::plan::PlatformGroup;
use igz_mgmt::{self as mgmt, MgmtClient, MgmtError};

/// Everything the planner needs to know about the platform, indexed for lookups.
#[derive(Debug, Default, Clone)]
pub struct PlatformView {
    groups: HashMap<String, mgmt::UserGroup>,
    user_ids: HashMap<String, String>,
    usernames: HashMap<String, String>,
    /// Project name -> project.
    projects: BTreeMap<String, mgmt::Project>,
}

impl PlatformView {
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

/// The cached view plus when it was read.
struct Cached {
    view: PlatformView,
    read_at: Instant,
}

/// The shared, single-flight cache of [`PlatformView`].
pub struct Snapshot {
    mgmt: MgmtClient,
    ttl: Duration,
    cached: Mutex<Option<Cached>>,
}

impl Snapshot {
    pub fn new(mgmt: MgmtClient, ttl: Duration) -> Self {
        Self {
            mgmt,
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// Runs `f` on a view no older than the TTL, refreshing it first when needed.
    pub async fn read<T>(&self, f: impl FnOnce(&PlatformView) -> T) -> Result<T, MgmtError> {
        let mut cached = self.cached.lock().await;
        let fresh = cached
            .as_ref()
            .is_some_and(|c| c.read_at.elapsed() < self.ttl);
        if !fresh {
            let view = self.fetch().await?;
            *cached = Some(Cached {
                view,
                read_at: Instant::now(),
            });
        }
        Ok(f(&cached.as_ref().expect("just filled").view))
    }

    /// Runs `f` on the cached view without refreshing it; `None` when nothing is cached.
    pub async fn peek<T>(&self, f: impl FnOnce(&PlatformView) -> T) -> Option<T> {
        self.cached.lock().await.as_ref().map(|c| f(&c.view))
    }

    /// Records a successful write in the cached view (nothing to do when none is cached).
    pub async fn record(&self, f: impl FnOnce(&mut PlatformView)) {
        if let Some(cached) = self.cached.lock().await.as_mut() {
            f(&mut cached.view);
        }
    }

    /// Forgets the view: the next reader fetches a new one (after a write failed in a way that
    /// says the picture was wrong, e.g. a 404 on a group it listed).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<PlatformView, MgmtError> {
        let started = Instant::now();
        let (groups, users, projects) = tokio::try_join!(
            self.mgmt.list_groups(),
            self.mgmt.list_users(),
            self.mgmt.list_projects()
        )?;
        tracing::debug!(
            groups = groups.len(),
            users = users.len(),
            projects = projects.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "read the platform"
        );
        Ok(PlatformView::new(groups, users, projects))
    }
}
