//! A shared picture of the platform: every group (with members), user and project (with its
//! roles), read in bulk with paged list requests and shared by all reconciles.
//!
//! Why: observing each Group with its own GETs costs several requests per group per resync; one
//! bulk read serves thousands of reconciles. Each reader says how old a picture it can work with
//! (see `observe::picture_max_age`): a resync needs one no older than half the resync interval
//! to find drift, a Group waiting for a missing user a recent one, a spec change any picture at
//! all. Only readers that need a newer picture wait for a refresh (single-flight); the others
//! go on with the current one meanwhile, so a refresh never delays a change.
//!
//! Between refreshes the picture is kept current by recording our own successful writes; a
//! write that completes while a refresh is in flight is recorded again on the new picture, which
//! may have been read before it. Staleness is safe: it can only make a plan do too much or too
//! little until the next picture, and every write is idempotent (membership and role writes
//! re-read what they change).

use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

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

impl PlatformView {
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

/// The current picture and what is known about its age.
#[derive(Default)]
struct State {
    view: Option<PlatformView>,
    /// When the reading of `view` started (anything written before is in it).
    read_at: Option<Instant>,
    /// A write failed in a way that shows the picture is wrong: a picture whose reading started
    /// before then serves no one. (A time, not a flag: a read already in flight when the write
    /// failed may not show what the write found.)
    wrong_before: Option<Instant>,
    /// A refresh is in flight; writes recorded meanwhile are kept to replay onto its picture.
    refreshing: bool,
    journal: Vec<Recorded>,
}

impl State {
    /// Whether the picture may serve a reader who needs one read from `oldest` on (`None`: any).
    fn usable(&self, oldest: Option<Instant>) -> bool {
        let Some(read_at) = self.read_at.filter(|_| self.view.is_some()) else {
            return false;
        };
        self.wrong_before.is_none_or(|wrong| read_at >= wrong)
            && oldest.is_none_or(|oldest| read_at >= oldest)
    }
}

/// The oldest start of a read that still serves a reader asking now for `max_age` (`None`: any
/// picture). Fixed when the reader asks, not when it is served: a reader that waited for the
/// flight is served by a read that started after it asked, instead of reading again (`ZERO`
/// readers queued behind one refresh share the next one).
fn oldest_acceptable(max_age: Option<Duration>) -> Option<Instant> {
    max_age.and_then(|max| Instant::now().checked_sub(max))
}

/// The shared cache of [`PlatformView`]: refreshed on demand (single-flight), read without
/// waiting by anyone the current picture satisfies.
pub struct Snapshot {
    mgmt: MgmtClient,
    /// How old a picture may be for a reconcile waiting for missing users or projects.
    ttl: Duration,
    state: RwLock<State>,
    /// Held by the one task refreshing the picture.
    refresh: tokio::sync::Mutex<()>,
    /// How long the last refresh took, in milliseconds.
    last_refresh_ms: std::sync::atomic::AtomicU64,
}

impl Snapshot {
    pub fn new(mgmt: MgmtClient, ttl: Duration) -> Self {
        Self {
            mgmt,
            ttl,
            state: RwLock::new(State::default()),
            refresh: tokio::sync::Mutex::new(()),
            last_refresh_ms: Default::default(),
        }
    }

    /// Whether a task is reading a new picture right now.
    pub fn refreshing(&self) -> bool {
        self.state().refreshing
    }

    /// How long the last refresh took (zero before the first).
    pub fn last_refresh_took(&self) -> Duration {
        Duration::from_millis(
            self.last_refresh_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Like [`read`](Self::read), except that when the picture is too old for `max_age` and
    /// another task is already reading a new one, it does not wait: `Ok(None)`. A resync then
    /// holds no controller slot for the seconds a large platform takes to read (at 5,000 groups,
    /// the resyncs waiting for one refresh took every slot, and a changed Group waited ~5 s
    /// for one); it comes back once the new picture is there.
    pub async fn read_unless_refreshing<T>(
        &self,
        max_age: Option<Duration>,
        f: impl FnOnce(&PlatformView) -> T,
    ) -> Result<Option<T>, MgmtError> {
        let oldest = oldest_acceptable(max_age);
        let f = match self.serve_if_usable(oldest, f) {
            Ok(served) => return Ok(Some(served)),
            Err(f) => f,
        };
        let Ok(_flight) = self.refresh.try_lock() else {
            return Ok(None);
        };
        self.serve_fresh(oldest, f).await.map(Some)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on a view no older than `max_age` (`None`: any view), refreshing it first when
    /// needed. `f` runs under a lock that writers wait for: keep it short.
    pub async fn read<T>(
        &self,
        max_age: Option<Duration>,
        f: impl FnOnce(&PlatformView) -> T,
    ) -> Result<T, MgmtError> {
        let oldest = oldest_acceptable(max_age);
        let f = match self.serve_if_usable(oldest, f) {
            Ok(served) => return Ok(served),
            Err(f) => f,
        };
        let _flight = self.refresh.lock().await;
        self.serve_fresh(oldest, f).await
    }

    /// `f` on the view when its reading started at `oldest` or later; `f` back otherwise.
    fn serve_if_usable<T, F: FnOnce(&PlatformView) -> T>(
        &self,
        oldest: Option<Instant>,
        f: F,
    ) -> Result<T, F> {
        let state = self.state();
        match state.view.as_ref() {
            Some(view) if state.usable(oldest) => Ok(f(view)),
            _ => Err(f),
        }
    }

    /// With the refresh flight held: reads a new view unless whoever held the flight before
    /// already did, then runs `f` on it.
    async fn serve_fresh<T>(
        &self,
        oldest: Option<Instant>,
        f: impl FnOnce(&PlatformView) -> T,
    ) -> Result<T, MgmtError> {
        if !self.state().usable(oldest) {
            self.refresh_now().await?;
        }
        let state = self.state();
        Ok(f(state
            .view
            .as_ref()
            .expect("a usable or just-read picture")))
    }

    /// Runs `f` on the cached view without refreshing it; `None` when nothing is cached.
    pub async fn peek<T>(&self, f: impl FnOnce(&PlatformView) -> T) -> Option<T> {
        self.state().view.as_ref().map(f)
    }

    /// Records a successful write in the cached view (and for the refresh in flight, if any).
    pub async fn record(&self, recorded: Recorded) {
        let mut state = self.state_mut();
        if let Some(view) = state.view.as_mut() {
            view.apply(&recorded);
        }
        if state.refreshing {
            state.journal.push(recorded);
        }
    }

    /// Marks the view wrong: the next reader, whatever age it accepts, reads a new one (after a
    /// write failed in a way that says the picture was wrong, e.g. a 404 on a group it listed).
    /// A read already in flight does not count: it may have passed what the write found.
    pub async fn invalidate(&self) {
        self.state_mut().wrong_before = Some(Instant::now());
    }

    /// Reads a new picture (the caller holds the flight). The old one serves other readers
    /// meanwhile; writes recorded during the read are replayed onto the new one.
    async fn refresh_now(&self) -> Result<(), MgmtError> {
        let started = Instant::now();
        {
            let mut state = self.state_mut();
            state.refreshing = true;
            state.journal.clear();
        }
        let fetched = self.fetch().await;
        let mut state = self.state_mut();
        state.refreshing = false;
        let journal = std::mem::take(&mut state.journal);
        let mut view = fetched?;
        for recorded in &journal {
            view.apply(recorded);
        }
        state.view = Some(view);
        state.read_at = Some(started);
        self.last_refresh_ms.store(
            started.elapsed().as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
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
