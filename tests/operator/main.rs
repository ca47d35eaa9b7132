//! The operator's integration tests, in one binary (the crate is linked once): against a real
//! kube-apiserver + etcd (`hack/envtest-up.sh`, shared) and in-process emulators (one per test).
//! Each test has its own namespace, so they run in parallel.

mod admission;
mod adoption;
mod cli;
mod connection_groups;
mod connections;
mod create_record;
mod e2e;
mod envtest;
mod events;
mod gitops;
mod gitops_status;
#[path = "../common/groups.rs"]
mod groups;
mod leader;
mod outage;
mod picture;
mod preflight;
mod rbac;
mod readme;
mod resilience;
mod sigkill;
mod support;
mod temporary;
mod tenancy;
