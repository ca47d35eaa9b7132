//! Platform connections: one management API client per `PlatformConnection` (its own rate
//! limit, circuit breaker and credentials), kept in line with the connection's spec and Secret,
//! with its health in the connection's status.
//!
//! - [`Registry`]: the clients by connection name, for the Group driver (`get(name)` gives a
//!   [`Connection`] or a [`ConnectionUnavailable`] that says why not) and a stream naming the
//!   connections that may work again ([`Registry::recoveries`]).
//! - `controller`: the watches (PlatformConnections; Secrets of the operator's namespace only;
//!   Groups, for usage) and the reconcile of each connection (finalizer, probe, status, Events,
//!   metrics).
//! - Pure parts: `secret` (Secret to credentials), `settings` (spec to client settings),
//!   `binder` (both to what the registry should hold), `health` (probe answer, when to probe,
//!   expiry), `status` (status and Events), `usage` (which Groups use which connection).
//! - `admission`: the policy refusing a Secret outside the operator's namespace.
//! - `builtin`: the flags' connection, serving as `default` while no PlatformConnection has that
//!   name.

mod admission;
mod binder;
mod builtin;
mod controller;
mod health;
mod metrics;
mod registry;
mod secret;
mod settings;
mod status;
mod usage;

pub use admission::{
    POLICY_NAME as ADMISSION_POLICY_NAME, apply as apply_admission_policy,
    policy as admission_policy,
};
pub use binder::client_for;
pub use controller::{Settings, run};
pub use health::{EXPIRY_WARNING, PROBE_INTERVAL};
pub use metrics::ConnectionMetrics;
pub use registry::{
    Connection, ConnectionUnavailable, PictureFactory, Registry, UnavailableReason,
};
pub use settings::ClientDefaults;

/// Field manager of the operator's server-side applies.
const FIELD_MANAGER: &str = "igz-operator";
