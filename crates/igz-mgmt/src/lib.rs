//! The management API client: typed, authenticated, retrying, rate-limited, and honest about
//! failure. Every request goes through `transport`; the operation modules (`groups`, `users`,
//! `projects`, `jobs`) each add their part of [`MgmtClient`].

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;

mod auth;
mod batch;
mod breaker;
mod client;
mod config;
mod error;
mod groups;
mod jobs;
mod jsonapi;
#[cfg(feature = "prometheus")]
mod metrics;
mod model;
mod observer;
mod probe;
mod projects;
mod routes;
mod transport;
mod users;

pub use client::MgmtClient;
pub use config::{
    BreakerPolicy, Credentials, JobPolling, MgmtConfig, RateLimit, RetryPolicy, RoleBatching,
    in_cluster_endpoint, resolve_endpoint,
};
pub use error::{ErrorKind, HealthProblem, MgmtError};
#[cfg(feature = "prometheus")]
pub use metrics::MgmtMetrics;
pub use model::{
    AuthorizationRole, NewUserGroup, PlatformIdentity, Project, ProjectRole, SessionInfo, User,
    UserGroup, UserGroupPatch,
};
pub use observer::{Observer, RequestObserver};
