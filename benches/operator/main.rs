//! Operator benchmark (`make bench`): the real `igz-operator` binary against the local control
//! plane and the emulator. Every number is printed next to a baseline measured in the same run:
//!
//! - frugality: platform requests per Group from scratch and per idle resync, and the time to
//!   converge 100 Groups (handed over by `kubectl apply`, and as a Helm release), against the
//!   vendor SDK sync script (hack/bench/sdk_sync.py) on an identical platform with the same
//!   latency, and against one GET per group per resync;
//! - memory: peak RSS (VmHWM) at 1,000 and 5,000 Groups, against the empty process;
//! - latency: p50/p99 from an applied change to the change on the platform with 5,000 idle
//!   Groups, against the watch delivery plus the platform write done directly;
//! - outage: requests sent during a 60 s API outage, and the time to converge after it;
//! - temporary: how late ended temporary memberships are removed (p99 over 100 staggered
//!   expiries, against the removal done directly), and platform requests between expiries;
//! - connections: one platform's 60 s outage against the other's change latency, and 5,000
//!   Groups over two connections (peak RSS and change latency of the binary the image ships).
//!
//! Knobs: BENCH_ONLY=frugality,memory,latency,outage,temporary,connections (default all; `sweep` runs the
//! frugality scenario over BENCH_SWEEP_QPS x BENCH_SWEEP_CONCURRENCY, the Groups by kubectl
//! apply, or as a Helm release with BENCH_SWEEP_HELM=1); BENCH_SIZES=1000,5000;
//! BENCH_CONVERGE_RUNS=5 (converge runs per way of handing over the Groups; the median counts).
//! IGZ_BENCH_OPERATOR=/path/to/wrapper runs the operator through a wrapper (for example one that
//! execs `heaptrack -o FILE target/release/igz-operator "$@"`, to see where the memory goes).
//! Goals are printed as met/MISSED; nothing here asserts a timing.

mod common;
mod connections;
mod frugality;
mod outage;
mod scale;
mod temporary;

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let only: Vec<String> = std::env::var("BENCH_ONLY")
        .unwrap_or_else(|_| "frugality,memory,latency,outage,temporary,connections".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    let wants = |section: &str| only.iter().any(|s| s == section);
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1000,5000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();

    if wants("frugality") {
        frugality::run().await;
    }
    if wants("sweep") {
        frugality::sweep().await;
    }
    if wants("memory") {
        scale::run(&sizes, wants("latency")).await;
    } else if wants("latency") {
        // The latency needs the idle Groups of the largest memory run.
        let largest = sizes.iter().copied().max().unwrap_or(5000);
        scale::run(&[largest], true).await;
    }
    if wants("outage") {
        outage::run().await;
    }
    if wants("temporary") {
        temporary::run().await;
    }
    if wants("connections") {
        connections::run().await;
    }
}
