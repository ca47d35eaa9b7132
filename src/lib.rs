//! igz-operator: reconciles `Group` resources against the Iguazio management API.
//!
//! Layout: `crd` (the resources), `connection` (a client per PlatformConnection, their health),
//! `plan` (pure decisions), `controller` (permit -> observe -> plan -> execute -> report),
//! `create_record` (the record a create leaves, sealed with the record key), `tenancy` (what
//! GroupGrants permit, and the admission policy made of them), `run` (flags to a running
//! controller), `http` (metrics and probes),
//! `leader` (leader election), `telemetry` (logging). The management API client is the
//! `igz-mgmt` crate; the emulator used by tests is the `igz-emulator` crate.

pub mod cli;
pub mod connection;
pub mod controller;
pub mod crd;
pub mod create_record;
pub mod http;
pub mod import;
pub mod leader;
pub mod plan;
pub mod run;
pub mod telemetry;
pub mod tenancy;
