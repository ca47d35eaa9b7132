//! Shared ground for the integration tests and benchmarks of every crate in the workspace:
//!
//! - [`paths`]: where the repository, its scripts and the local control plane live (the scripts
//!   in `hack/` are the one place that knows; this module asks them);
//! - [`envtest`]: a kube client for the real kube-apiserver + etcd that `hack/envtest-up.sh`
//!   runs, and a fresh namespace per test;
//! - [`emulator`]: an in-process emulator on a loopback port and a typed client for its
//!   `/__emulator/` admin routes (faults, stats, state, reset), built on the emulator's own types;
//! - [`logs`]: capturing every log line of a test binary, to check that no secret reaches them;
//! - [`process`]: the real `igz-operator` binary as a child process (SIGKILL, peak memory);
//! - [`wait`]: polling for a condition with a generous deadline (tests never sleep and hope).

pub mod emulator;
pub mod envtest;
pub mod logs;
pub mod paths;
pub mod process;
pub mod wait;
