//! The platform's in-memory state and every rule that changes it.
//!
//! No I/O and no HTTP here: handlers parse requests into the plain types of this module, call one
//! method under the single state lock, and render the result. Every method validates everything
//! before it mutates anything, so a failed request leaves the state untouched; membership is only
//! ever changed through [`Model::link`]/[`Model::unlink`], which update both sides together. That
//! is what keeps the invariants of [`Model::check_invariants`] true under any interleaving.

mod groups;
mod jobs;
mod projects;
mod users;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use uuid::Uuid;

pub use groups::{NewUserGroup, UserGroup, UserGroupPatch};
pub use jobs::{Effect, Job, JobState};
pub use projects::{NewProject, Project, Role, RoleName, RoleUpdate};
pub use users::{NewUser, User, UserPatch};

pub type Id = Uuid;

/// The name of the group every user belongs to.
pub const ALL_USERS: &str = "all_users";

/// The only values `assigned_policies` may hold (tenant-management roles).
pub const TENANT_POLICIES: [&str; 12] = [
    "IT Admin",
    "IT Admin Read Only",
    "Application Admin",
    "Security Admin",
    "Project Security Admin",
    "Project Read Only",
    "Application Read Only",
    "Data",
    "Tenant Admin",
    "Developer",
    "Service Admin",
    "System Admin",
];

/// First uid / gid handed out when a client leaves them to the platform.
const FIRST_UID: i64 = 1000;
const FIRST_GID: i64 = 1000;

/// Why a request was refused; the HTTP layer maps each kind to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    NotFound,
    Conflict,
    Forbidden,
    Unauthorized,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    pub kind: ErrorKind,
    pub detail: String,
}

impl ModelError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::BadRequest,
            detail: detail.into(),
        }
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            detail: detail.into(),
        }
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Conflict,
            detail: detail.into(),
        }
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Forbidden,
            detail: detail.into(),
        }
    }
}

pub type ModelResult<T> = Result<T, ModelError>;

/// A login session: whose, and since when.
#[derive(Debug, Clone)]
struct Session {
    username: String,
    started: Instant,
}

impl Session {
    fn expired(&self, ttl: Option<Duration>, now: Instant) -> bool {
        ttl.is_some_and(|ttl| now.saturating_duration_since(self.started) >= ttl)
    }
}

/// The whole platform: users, groups, projects with their roles, jobs and login sessions.
#[derive(Debug)]
pub struct Model {
    users: HashMap<Id, User>,
    groups: HashMap<Id, UserGroup>,
    projects: HashMap<Id, Project>,
    roles: HashMap<Id, Role>,
    jobs: HashMap<Id, Job>,
    user_by_name: HashMap<String, Id>,
    group_by_name: HashMap<String, Id>,
    project_by_name: HashMap<String, Id>,
    group_by_gid: HashMap<i64, Id>,
    /// Jobs whose effect has not been applied yet, oldest first (one delay for all jobs keeps
    /// this ordered by due time).
    pending_jobs: VecDeque<Id>,
    /// Login sessions by token.
    sessions: HashMap<String, Session>,
    /// How long a login session lasts; none: until the next reset.
    session_ttl: Option<Duration>,
    all_users: Id,
    job_delay: Duration,
    next_seq: u64,
    next_uid: i64,
    next_gid: i64,
}

impl Model {
    /// An empty platform holding only the built-in `all_users` group.
    pub fn new(job_delay: Duration) -> Self {
        let mut model = Self {
            users: HashMap::new(),
            groups: HashMap::new(),
            projects: HashMap::new(),
            roles: HashMap::new(),
            jobs: HashMap::new(),
            user_by_name: HashMap::new(),
            group_by_name: HashMap::new(),
            project_by_name: HashMap::new(),
            group_by_gid: HashMap::new(),
            pending_jobs: VecDeque::new(),
            sessions: HashMap::new(),
            session_ttl: None,
            all_users: Uuid::nil(),
            job_delay,
            next_seq: 0,
            next_uid: FIRST_UID,
            next_gid: FIRST_GID,
        };
        model.all_users = model.insert_group(NewUserGroup {
            name: ALL_USERS.to_owned(),
            description: "All users".to_owned(),
            gid: None,
            assigned_policies: Vec::new(),
            members: Vec::new(),
        });
        if let Some(group) = model.groups.get_mut(&model.all_users) {
            group.system_provided = true;
        }
        model
    }

    pub fn job_delay(&self) -> Duration {
        self.job_delay
    }

    pub fn all_users_id(&self) -> Id {
        self.all_users
    }

    pub fn user(&self, id: &Id) -> Option<&User> {
        self.users.get(id)
    }
    pub fn group(&self, id: &Id) -> Option<&UserGroup> {
        self.groups.get(id)
    }
    pub fn project(&self, id: &Id) -> Option<&Project> {
        self.projects.get(id)
    }
    pub fn role(&self, id: &Id) -> Option<&Role> {
        self.roles.get(id)
    }
    pub fn job(&self, id: &Id) -> Option<&Job> {
        self.jobs.get(id)
    }
    pub fn user_by_name(&self, name: &str) -> Option<&User> {
        self.user_by_name
            .get(name)
            .and_then(|id| self.users.get(id))
    }
    pub fn group_by_name(&self, name: &str) -> Option<&UserGroup> {
        self.group_by_name
            .get(name)
            .and_then(|id| self.groups.get(id))
    }
    pub fn project_by_name(&self, name: &str) -> Option<&Project> {
        self.project_by_name
            .get(name)
            .and_then(|id| self.projects.get(id))
    }

    /// All users / groups / ... in creation order (the default list order).
    pub fn users(&self) -> Vec<&User> {
        sorted_by_seq(self.users.values(), |u| u.seq)
    }
    pub fn groups(&self) -> Vec<&UserGroup> {
        sorted_by_seq(self.groups.values(), |g| g.seq)
    }
    pub fn projects(&self) -> Vec<&Project> {
        sorted_by_seq(self.projects.values(), |p| p.seq)
    }
    pub fn roles(&self) -> Vec<&Role> {
        sorted_by_seq(self.roles.values(), |r| r.seq)
    }
    pub fn jobs(&self) -> Vec<&Job> {
        sorted_by_seq(self.jobs.values(), |j| j.seq)
    }

    pub fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.users.len(),
            self.groups.len(),
            self.projects.len(),
            self.jobs.len(),
        )
    }

    /// Starts a login session for `username` / `password` at `now`; returns the session token.
    pub fn login(&mut self, username: &str, password: &str, now: Instant) -> ModelResult<String> {
        let user = self.user_by_name(username);
        let matches = user
            .and_then(|u| u.password.as_deref())
            .is_some_and(|stored| constant_time_eq(stored.as_bytes(), password.as_bytes()));
        if !matches {
            return Err(ModelError {
                kind: ErrorKind::Unauthorized,
                detail: "invalid username or password".into(),
            });
        }
        // Expired sessions are never used again: forget them here, where sessions are added.
        let ttl = self.session_ttl;
        self.sessions.retain(|_, s| !s.expired(ttl, now));
        let token = Uuid::new_v4().simple().to_string();
        let session = Session {
            username: username.to_owned(),
            started: now,
        };
        self.sessions.insert(token.clone(), session);
        Ok(token)
    }

    /// The username behind a login session token that has not expired at `now`.
    pub fn session_user(&self, token: &str, now: Instant) -> Option<&str> {
        self.sessions
            .get(token)
            .filter(|s| !s.expired(self.session_ttl, now))
            .map(|s| s.username.as_str())
    }

    /// Sets how long login sessions last, those already started included (none: no limit).
    pub fn set_session_ttl(&mut self, ttl: Option<Duration>) {
        self.session_ttl = ttl;
    }

    pub fn session_ttl(&self) -> Option<Duration> {
        self.session_ttl
    }

    /// Ends every login session: the next request on one is refused (401), as after expiry.
    /// Returns how many there were.
    pub fn expire_sessions(&mut self) -> usize {
        std::mem::take(&mut self.sessions).len()
    }

    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Adds `user` to `group`, on both sides.
    fn link(&mut self, user: Id, group: Id) {
        if let (Some(u), true) = (self.users.get_mut(&user), self.groups.contains_key(&group)) {
            u.groups.insert(group);
            if let Some(g) = self.groups.get_mut(&group) {
                g.members.insert(user);
            }
        }
    }

    /// Removes `user` from `group`, on both sides, and drops it as the user's primary group.
    fn unlink(&mut self, user: Id, group: Id) {
        if let Some(u) = self.users.get_mut(&user) {
            u.groups.remove(&group);
            if u.primary_group == Some(group) {
                u.primary_group = None;
            }
        }
        if let Some(g) = self.groups.get_mut(&group) {
            g.members.remove(&user);
        }
    }

    /// Checks every cross-reference; returns the first violation found. Tests call this after
    /// concurrent load; it is also cheap enough for the debug state dump.
    pub fn check_invariants(&self) -> Result<(), String> {
        for group in self.groups.values() {
            for member in &group.members {
                let user = self
                    .users
                    .get(member)
                    .ok_or_else(|| format!("group {} lists missing user {member}", group.name))?;
                if !user.groups.contains(&group.id) {
                    return Err(format!(
                        "group {} lists {} but not vice versa",
                        group.name, user.username
                    ));
                }
            }
            if self.group_by_name.get(&group.name) != Some(&group.id) {
                return Err(format!("group name index out of step for {}", group.name));
            }
            if self.group_by_gid.get(&group.gid) != Some(&group.id) {
                return Err(format!("gid index out of step for {}", group.name));
            }
        }
        if self.group_by_name.len() != self.groups.len()
            || self.group_by_gid.len() != self.groups.len()
        {
            return Err("two groups share a name or a gid".into());
        }
        for user in self.users.values() {
            for group in &user.groups {
                let g = self.groups.get(group).ok_or_else(|| {
                    format!("user {} references missing group {group}", user.username)
                })?;
                if !g.members.contains(&user.id) {
                    return Err(format!(
                        "user {} lists group {} but not vice versa",
                        user.username, g.name
                    ));
                }
            }
            if !user.groups.contains(&self.all_users) {
                return Err(format!("user {} is not in {ALL_USERS}", user.username));
            }
            if let Some(primary) = user.primary_group
                && !user.groups.contains(&primary)
            {
                return Err(format!(
                    "user {} has a primary group it is not a member of",
                    user.username
                ));
            }
        }
        if self.user_by_name.len() != self.users.len() {
            return Err("two users share a username".into());
        }
        for role in self.roles.values() {
            if !self.projects.contains_key(&role.project) {
                return Err(format!("role {} belongs to a missing project", role.id));
            }
            if let Some(g) = role.groups.iter().find(|g| !self.groups.contains_key(g)) {
                return Err(format!("role {} references missing group {g}", role.id));
            }
            if let Some(u) = role.users.iter().find(|u| !self.users.contains_key(u)) {
                return Err(format!("role {} references missing user {u}", role.id));
            }
        }
        if self.project_by_name.len() != self.projects.len() {
            return Err("two projects share a name".into());
        }
        Ok(())
    }
}

fn sorted_by_seq<'a, T>(items: impl Iterator<Item = &'a T>, seq: impl Fn(&T) -> u64) -> Vec<&'a T> {
    let mut all: Vec<&T> = items.collect();
    all.sort_by_key(|item| seq(item));
    all
}

/// Validates a list of tenant-management policy names.
/// Names (usernames, group names): 1..=`max` letters, digits, '.', '_' or '-'.
fn validate_name(what: &str, name: &str, max: usize) -> ModelResult<()> {
    let valid = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if valid {
        Ok(())
    } else {
        Err(ModelError::bad_request(format!(
            "invalid {what} '{name}': 1-{max} characters of letters, digits, '.', '_' or '-'"
        )))
    }
}

fn validate_policies(policies: &[String]) -> ModelResult<()> {
    match policies
        .iter()
        .find(|p| !TENANT_POLICIES.contains(&p.as_str()))
    {
        Some(bad) => Err(ModelError::bad_request(format!(
            "invalid assigned policy '{bad}'; expected one of: {}",
            TENANT_POLICIES.join(", ")
        ))),
        None => Ok(()),
    }
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// Password comparison that does not leak the matching prefix length through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Turns a list of ids into a set, failing on the first one `exists` rejects.
fn existing_ids(ids: &[Id], what: &str, exists: impl Fn(&Id) -> bool) -> ModelResult<BTreeSet<Id>> {
    match ids.iter().find(|id| !exists(id)) {
        Some(missing) => Err(ModelError::not_found(format!("{what} {missing} not found"))),
        None => Ok(ids.iter().copied().collect()),
    }
}
