//! igz-operator: reconciles `Group` resources against the Iguazio management API.
//!
//! Layout: `crd` (the Group resource), `plan` (pure decisions), `mgmt` (the management API
//! client), `controller` (observe -> plan -> execute -> status), `emulator` (the management API
//! emulator behind the `igz-emulator` binary).

pub mod cli;
pub mod controller;
pub mod crd;
pub mod emulator;
pub mod http;
pub mod leader;
pub mod mgmt;
pub mod plan;
pub mod run;
pub mod telemetry;
