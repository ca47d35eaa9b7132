//! Route templates: the names used in spans, metrics and errors, and the paths requests follow.
//! A `{...}` segment is filled with a percent-encoded argument.

pub(crate) const SESSIONS: &str = "/api/sessions";
pub(crate) const SESSION_VERIFY: &str = "/api/sessions/verifications/planes/any/internal";
pub(crate) const GROUPS: &str = "/api/user_groups";
pub(crate) const GROUP: &str = "/api/user_groups/{id}";
pub(crate) const USERS: &str = "/api/users";
pub(crate) const USER: &str = "/api/users/{id}";
pub(crate) const PROJECTS: &str = "/api/projects";
pub(crate) const PROJECT: &str = "/api/projects/{id}";
pub(crate) const ASYNC_TRANSACTIONS: &str = "/api/async_transactions";
pub(crate) const JOB: &str = "/api/jobs/{id}";
pub(crate) const ACCESS_KEYS: &str = "/api/access_keys";
pub(crate) const VERSION: &str = "/api/tunnel/{tunnel}/external_versions/{node}";
