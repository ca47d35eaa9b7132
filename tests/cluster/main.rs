//! The operator as users run it: the image from `make image`, installed by `helm install` from
//! charts/igz-operator into the single-node cluster (`make cluster-up`: kubelet, containerd,
//! controllers, in a network namespace of its own), against the emulator running as a Pod
//! (hack/cluster/emulator-chart) and reached through its Service ClusterIP.
//!
//! Every test here is `#[ignore]`d: `make test` builds and lints this binary but runs none of it.
//! `make test-cluster` (hack/test-cluster.sh) starts the cluster, builds and imports the images,
//! and runs exactly this binary with `--ignored`.
//!
//! The test process reaches the cluster only through its API server (a loopback port on the
//! host): Pod and Service addresses exist only inside the cluster's network namespace, so the
//! platform's state is read through the API server's Service proxy, never by connecting to them.
//! Tests run one at a time (they share the chart's cluster-scoped objects, such as its admission
//! policy), each with namespaces of its own that it removes at the end.

#[path = "../common/groups.rs"]
mod groups;
mod install;
mod leader;
mod restricted;
mod support;
mod uninstall;
mod upgrade;
