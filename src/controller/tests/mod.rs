//! The driver's tests, without a control plane: every branch of a reconcile against the fake
//! Kubernetes API (`fake_kube`) and an in-process emulator. The real API server tests
//! (tests/operator) stay for what only it can show (admission, RBAC, watches, kstatus).

mod changes;
mod deletion;
mod failures;
mod fake_kube;
mod temporary;
mod world;
