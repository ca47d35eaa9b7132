//! The management API client: typed, authenticated, retrying, rate-limited, and honest about
//! failure. Every request goes through `transport`; the operation modules (`groups`, `users`,
//! `projects`, `jobs`) each add their part of [`MgmtClient`].

mod auth;
mod batch;
mod client;
mod config;
mod error;
mod groups;
mod jobs;
mod jsonapi;
mod locks;
mod metrics;
mod model;
mod projects;
mod routes;
mod transport;
mod users;

pub use client::MgmtClient;
pub use config::{
    Credentials, JobPolling, MgmtConfig, RateLimit, RetryPolicy, in_cluster_endpoint,
    resolve_endpoint,
};
pub use error::{ErrorKind, MgmtError};
pub use metrics::MgmtMetrics;
pub use model::{
    Group, GroupPatch, NewGroup, Project, ProjectRole, ProjectRoleBinding, SessionInfo, User,
};
