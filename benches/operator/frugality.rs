//! Requests per Group (from scratch and per idle resync) and the time to converge, for the
//! operator and, on an identical platform in the same run, for a sync script written with the
//! vendor SDK (hack/bench/sdk_sync.py) and for the floor of any per-object design (one GET per
//! group per resync).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use igz_testkit::emulator::Admin;
use igz_testkit::process::OperatorProcess;

use crate::common::{self, Applier, KEY, Scenario};

/// 100 Groups, 5 members and 2 project roles each; 200 users, 20 projects.
pub const SCENARIO: Scenario = Scenario {
    groups: 100,
    members: 5,
    roles: 2,
    users: 200,
    projects: 20,
};
/// Every request the emulator answers waits this long (the same for the SDK script).
pub const LATENCY_MS: u64 = 20;
/// Short, so the idle phase sees every Group resync twice in reasonable time.
const RESYNC: &str = "10s";
/// Converge runs per way of handing the Groups over (BENCH_CONVERGE_RUNS): on a small machine
/// one run's time varies by half (the API server's CPU is shared with kubectl and the operator),
/// so the ratio is taken from the median.
const CONVERGE_RUNS: usize = 5;

pub struct Numbers {
    pub requests_per_group: f64,
    pub idle_per_resync: f64,
    /// Kubernetes writes (status, Events, ...) per idle resync reconcile, but for the one-time
    /// clearing of the creates' records (at each Group's first resync).
    pub idle_kube_writes_per_resync: f64,
    /// Create records cleared during the idle phase (metadata patches), per Group.
    pub idle_record_clears_per_group: f64,
    pub converge: Duration,
    pub routes: BTreeMap<String, u64>,
    /// Most requests the platform received in any one second.
    pub peak_rate: f64,
    /// How long applying the manifests took (part of `converge`).
    pub applied: Duration,
    /// Mean time of one reconcile while converging.
    pub reconcile_mean: Duration,
    /// The operator's Kubernetes requests while converging, "verb resource" -> count.
    pub kube: BTreeMap<String, f64>,
}

/// Samples the emulator's request count every 50 ms until stopped; the most requests seen in
/// any one-second window.
fn sample_rate(
    admin: Admin,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<f64>,
) {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut samples: Vec<(Instant, u64)> = Vec::new();
        loop {
            samples.push((Instant::now(), admin.stats().await.requests_total));
            tokio::select! {
                _ = &mut stopped => break,
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
        let mut peak = 0.0f64;
        for (i, (t, n)) in samples.iter().enumerate() {
            if let Some((t0, n0)) = samples[..i]
                .iter()
                .rev()
                .find(|(t0, _)| t.duration_since(*t0) >= Duration::from_secs(1))
            {
                peak = peak.max((n - n0) as f64 / t.duration_since(*t0).as_secs_f64());
            }
        }
        peak
    });
    (stop, task)
}

pub async fn run() {
    let s = SCENARIO;
    println!(
        "\n== frugality and speed: {} Groups x {} members x {} project roles; {} users, {} projects; emulator latency {LATENCY_MS} ms",
        s.groups, s.members, s.roles, s.users, s.projects
    );
    let runs = converge_runs();
    let (operator, digest_op) = operator_run(Applier::Kubectl, &[], Phase::WithIdle).await;
    // The same from a Helm release, the other way users hand Groups over (helm creates the
    // objects of one kind concurrently, kubectl one after the other).
    let (helm, digest_helm) = operator_run(Applier::Helm, &[], Phase::WithIdle).await;
    let kubectl_runs = more_converge_runs(Applier::Kubectl, &operator, runs).await;
    let helm_runs = more_converge_runs(Applier::Helm, &helm, runs).await;
    let floor = naive_floor().await;
    let sdk = sdk_run().await;

    println!(
        "{:<34} {:>12} {:>14} {:>12} {:>12}",
        "", "req/Group", "req/resync", "converge s", "peak req/s"
    );
    for (applier, numbers, times) in [
        (Applier::Kubectl, &operator, &kubectl_runs),
        (Applier::Helm, &helm, &helm_runs),
    ] {
        println!(
            "{:<34} {:>12.2} {:>14.3} {:>12.2} {:>12.1}",
            format!("operator, Groups by {}", applier.label()),
            median(&times.requests),
            numbers.idle_per_resync,
            median(&times.converge).as_secs_f64(),
            numbers.peak_rate,
        );
        println!(
            "  (median of {1} runs; converge, from the start of {0} to every Group Ready: {2} s; requests per Group: {6}; in the first run, {0} of the 100 manifests took {3:.2} s of it, every Group was Ready {4:.2} s after it returned, a reconcile took {5:.0} ms on average)",
            applier.label(),
            times.converge.len(),
            times
                .converge
                .iter()
                .map(|t| format!("{:.2}", t.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", "),
            numbers.applied.as_secs_f64(),
            (numbers.converge.saturating_sub(numbers.applied)).as_secs_f64(),
            numbers.reconcile_mean.as_secs_f64() * 1000.0,
            times
                .requests
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    println!(
        "{:<34} {:>12} {:>14.3} {:>12}",
        "baseline: one GET per group", "", floor, ""
    );
    match &sdk {
        Some((sdk, digest_sdk)) => {
            println!(
                "{:<34} {:>12.2} {:>14.3} {:>12.2} {:>12.1}",
                "vendor SDK script (sdk_sync.py)",
                sdk.requests_per_group,
                sdk.idle_per_resync,
                sdk.converge.as_secs_f64(),
                sdk.peak_rate,
            );
            println!(
                "ratios: requests from scratch {:.3} of the SDK's; idle {:.4} of the SDK's, {:.3} of one GET per group; converged {} faster than the SDK script by kubectl apply, {} by helm install (median, and the slowest to the fastest run)",
                median(&kubectl_runs.requests) / sdk.requests_per_group,
                operator.idle_per_resync / sdk.idle_per_resync,
                operator.idle_per_resync / floor,
                speedups(sdk.converge, &kubectl_runs.converge),
                speedups(sdk.converge, &helm_runs.converge),
            );
            println!(
                "same end state on all three platforms: {}",
                if digest_sdk == &digest_op && digest_sdk == &digest_helm {
                    "yes"
                } else {
                    "NO (differs)"
                }
            );
        }
        None => println!("vendor SDK script skipped: set IGZ_SDK_PYTHON (hack/bench.sh does)"),
    }
    let twenty_times = |times: &[Duration]| match &sdk {
        Some((sdk, _)) => goal(times, |t| {
            sdk.converge.as_secs_f64() / t.as_secs_f64() >= 20.0
        }),
        None => "n/a".to_owned(),
    };
    let frugal = |requests: &[f64]| goal(requests, |r| *r <= 1.5);
    println!(
        "goals: <= 1.5 req/Group from scratch [by kubectl apply: {}; by helm install: {}], <= 0.2 per idle resync [{}], >= 20x faster than the SDK [by kubectl apply: {}; by helm install: {}]",
        frugal(&kubectl_runs.requests),
        frugal(&helm_runs.requests),
        met(operator.idle_per_resync.max(helm.idle_per_resync) <= 0.2),
        twenty_times(&kubectl_runs.converge),
        twenty_times(&helm_runs.converge),
    );
    println!("operator requests by route, from scratch (per Group):");
    for (route, count) in &operator.routes {
        println!("  {:<58} {:>6.2}", route, *count as f64 / s.groups as f64);
    }
    println!(
        "operator Kubernetes requests while converging (per Group; the apiserver's CPU is shared with kubectl and the operator's own watch): {:.2} writes",
        kube_writes(&operator.kube) / s.groups as f64
    );
    for (request, count) in &operator.kube {
        println!("  {:<58} {:>6.2}", request, count / s.groups as f64);
    }
    println!(
        "operator Kubernetes writes per idle resync: {:.3} (a resync that changes nothing writes no status), and once per new Group at its first resync the create's record cleared: {:.2} per Group",
        operator.idle_kube_writes_per_resync, operator.idle_record_clears_per_group
    );
}

/// How many converge runs per way of handing over the Groups (BENCH_CONVERGE_RUNS, at least 1).
fn converge_runs() -> usize {
    std::env::var("BENCH_CONVERGE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CONVERGE_RUNS)
        .max(1)
}

/// What each of several runs from scratch measured, each list sorted.
struct Runs {
    converge: Vec<Duration>,
    requests: Vec<f64>,
}

/// `first` and `runs - 1` more runs like it (without the idle phase).
async fn more_converge_runs(applier: Applier, first: &Numbers, runs: usize) -> Runs {
    let mut converge = vec![first.converge];
    let mut requests = vec![first.requests_per_group];
    for _ in 1..runs {
        let (numbers, _) = operator_run(applier, &[], Phase::ConvergeOnly).await;
        converge.push(numbers.converge);
        requests.push(numbers.requests_per_group);
    }
    converge.sort();
    requests.sort_by(f64::total_cmp);
    Runs { converge, requests }
}

/// The middle of sorted `values` (the lower middle of an even count).
fn median<T: Copy>(values: &[T]) -> T {
    values[(values.len() - 1) / 2]
}

/// "met (in 4 of 5 runs)": whether the median run meets `ok`, and how many runs did.
fn goal<T: Copy>(sorted: &[T], ok: impl Fn(&T) -> bool) -> String {
    format!(
        "{} (in {} of {} runs)",
        met(ok(&median(sorted))),
        sorted.iter().filter(|v| ok(v)).count(),
        sorted.len()
    )
}

/// "16.5x (13.9x to 19.8x)": how much faster than `sdk` the median and the slowest and the
/// fastest of sorted `times` were.
fn speedups(sdk: Duration, times: &[Duration]) -> String {
    let x = |t: &Duration| sdk.as_secs_f64() / t.as_secs_f64();
    format!(
        "{:.1}x ({:.1}x to {:.1}x)",
        x(&median(times)),
        x(times.last().expect("at least one run")),
        x(&times[0])
    )
}

/// The write requests (not get, list or watch) among the operator's Kubernetes requests.
fn kube_writes(requests: &BTreeMap<String, f64>) -> f64 {
    requests
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("get ") && !k.starts_with("list ") && !k.starts_with("watch ")
        })
        .map(|(_, n)| n)
        .sum()
}

/// The operator's Kubernetes writes so far, and its metadata patches of Groups among them (when
/// idle, only the clearing of create records patches a Group's metadata).
async fn kube_writes_and_record_clears(process: &OperatorProcess) -> (f64, f64) {
    let requests = common::kube_requests(process).await;
    let metadata_patches = requests.get("patch groups").copied().unwrap_or(0.0);
    (kube_writes(&requests), metadata_patches)
}

pub fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// What [`operator_run`] measures after the converge.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Also the requests per idle resync (about 25 s more).
    WithIdle,
    ConvergeOnly,
}

/// The operator (with `extra` flags) from scratch, and then idle if `phase` says so.
pub async fn operator_run(
    applier: Applier,
    extra: &[&str],
    phase: Phase,
) -> (Numbers, common::Digest) {
    let s = SCENARIO;
    let (client, ns, api) = common::kube_namespace("bench-frugal").await;
    let emu = common::start_emulator(&s, LATENCY_MS).await;
    let admin = Admin::for_emulator(&emu);
    let mut args = vec!["--resync-interval", RESYNC];
    args.extend_from_slice(extra);
    let process = common::operator(&ns, &emu.base_url(), "frugality", &args).await;
    let before = admin.stats().await;
    let kube_before = common::kube_requests(&process).await;
    let (stop_sampling, sampler) = sample_rate(admin.clone());
    let (started, applied) = common::apply_all_with(applier, &ns, &s, 0..s.groups).await;
    let converge = common::wait_converged(&api, s.groups, started, Duration::from_secs(600)).await;
    let after = admin.stats().await;
    let kube: BTreeMap<String, f64> = common::kube_requests(&process)
        .await
        .into_iter()
        .map(|(k, n)| (k.clone(), n - kube_before.get(&k).copied().unwrap_or(0.0)))
        .filter(|(_, n)| *n > 0.0)
        .collect();
    let _ = stop_sampling.send(());
    let peak_rate = sampler.await.unwrap_or(0.0);
    let reconcile_mean = process
        .counter("igz_operator_reconcile_duration_seconds_sum")
        .await
        / process
            .counter("igz_operator_reconcile_duration_seconds_count")
            .await
            .max(1.0);
    let routes = after
        .routes
        .iter()
        .map(|(r, n)| (r.clone(), n - before.route(r)))
        .filter(|(_, n)| *n > 0)
        .collect();

    // Idle: let the reconciles of convergence settle, then count requests per resync reconcile.
    if phase == Phase::WithIdle {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let r0 = process.counter("igz_operator_reconciles").await;
    let q0 = admin.stats().await.requests_total;
    let (k0, c0) = kube_writes_and_record_clears(&process).await;
    let target = r0 + 2.0 * s.groups as f64;
    let idle_started = Instant::now();
    let mut r1 = r0;
    while phase == Phase::WithIdle
        && r1 < target
        && idle_started.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
        r1 = process.counter("igz_operator_reconciles").await;
    }
    let q1 = admin.stats().await.requests_total;
    let (k1, c1) = kube_writes_and_record_clears(&process).await;
    let digest = common::digest(&admin).await;
    process.terminate(Duration::from_secs(10));
    common::release_namespace(&client, &ns).await;
    emu.shutdown().await;
    (
        Numbers {
            requests_per_group: (after.requests_total - before.requests_total) as f64
                / s.groups as f64,
            idle_per_resync: (q1 - q0) as f64 / (r1 - r0).max(1.0),
            idle_kube_writes_per_resync: (k1 - k0 - (c1 - c0)) / (r1 - r0).max(1.0),
            idle_record_clears_per_group: (c1 - c0) / s.groups as f64,
            converge,
            routes,
            peak_rate,
            applied,
            reconcile_mean: Duration::from_secs_f64(reconcile_mean),
            kube,
        },
        digest,
    )
}

/// Defaults chosen from measurements: the frugality scenario under a range of rate limits and
/// concurrencies (BENCH_ONLY=sweep). Converge time, requests per Group and the peak request
/// rate the platform saw, for each.
pub async fn sweep() {
    println!(
        "\n== sweep: {} Groups from scratch, emulator latency {LATENCY_MS} ms",
        SCENARIO.groups
    );
    println!(
        "{:>8} {:>8} {:>12} {:>10} {:>12} {:>10} {:>14}",
        "qps", "conc.", "converge s", "req/Group", "peak req/s", "apply s", "reconcile ms"
    );
    let qps: Vec<String> = std::env::var("BENCH_SWEEP_QPS")
        .unwrap_or_else(|_| "10,20,30,50,100,1000".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    let concurrency: Vec<String> = std::env::var("BENCH_SWEEP_CONCURRENCY")
        .unwrap_or_else(|_| "4,8,16,32".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    // BENCH_SWEEP_HELM=1: the Groups arrive as a Helm release (all at once) instead.
    let applier = if std::env::var("BENCH_SWEEP_HELM").is_ok_and(|v| v == "1") {
        Applier::Helm
    } else {
        Applier::Kubectl
    };
    for q in &qps {
        for c in &concurrency {
            let burst = (q.parse::<u32>().unwrap_or(20) * 2).to_string();
            let (n, _) = operator_run(
                applier,
                &["--mgmt-qps", q, "--mgmt-burst", &burst, "--concurrency", c],
                Phase::ConvergeOnly,
            )
            .await;
            println!(
                "{:>8} {:>8} {:>12.2} {:>10.2} {:>12.1} {:>10.2} {:>14.0}",
                q,
                c,
                n.converge.as_secs_f64(),
                n.requests_per_group,
                n.peak_rate,
                n.applied.as_secs_f64(),
                n.reconcile_mean.as_secs_f64() * 1000.0,
            );
        }
    }
}

/// One GET per group, on a platform holding the scenario's groups: the floor of observing each
/// object with its own request.
async fn naive_floor() -> f64 {
    let s = SCENARIO;
    let emu = common::start_emulator(&s, 0).await;
    let admin = Admin::for_emulator(&emu);
    let client = common::platform_client(&emu.base_url());
    for i in 0..s.groups {
        client
            .create_group(&igz_mgmt::NewUserGroup {
                name: format!("g{i}"),
                ..Default::default()
            })
            .await
            .expect("create");
    }
    let ids: Vec<String> = client
        .list_groups()
        .await
        .expect("list")
        .into_iter()
        .map(|g| g.id)
        .collect();
    let q0 = admin.stats().await.requests_total;
    for id in &ids {
        client.get_group(id).await.expect("get");
    }
    let q1 = admin.stats().await.requests_total;
    emu.shutdown().await;
    (q1 - q0) as f64 / ids.len() as f64
}

/// The SDK script from scratch, then again on the synced platform (its idle resync).
async fn sdk_run() -> Option<(Numbers, common::Digest)> {
    let python = std::env::var_os("IGZ_SDK_PYTHON")?;
    let s = SCENARIO;
    let emu = common::start_emulator(&s, LATENCY_MS).await;
    let admin = Admin::for_emulator(&emu);
    let manifests = common::work_dir().join("sdk-groups.json");
    let items: Vec<serde_json::Value> = (0..s.groups).map(|i| s.manifest(i)).collect();
    std::fs::write(
        &manifests,
        serde_json::to_vec(&serde_json::json!({ "items": items })).expect("json"),
    )
    .expect("write manifests");
    let script = igz_testkit::paths::repo_root().join("hack/bench/sdk_sync.py");
    let sync = |python: std::ffi::OsString, script: PathBuf, manifests: PathBuf, url: String| {
        tokio::task::spawn_blocking(move || {
            let out = Command::new(python)
                .arg(script)
                .args(["--endpoint", &url])
                .arg(manifests)
                .env("IGZ_ACCESS_KEY", KEY)
                .output()
                .expect("run sdk_sync.py");
            assert!(
                out.status.success(),
                "sdk_sync.py failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("sdk_sync.py prints JSON");
            Duration::from_secs_f64(line["seconds"].as_f64().expect("seconds"))
        })
    };
    let q0 = admin.stats().await.requests_total;
    let (stop_sampling, sampler) = sample_rate(admin.clone());
    let converge = sync(
        python.clone(),
        script.clone(),
        manifests.clone(),
        emu.base_url(),
    )
    .await
    .expect("join");
    let q1 = admin.stats().await.requests_total;
    let _ = stop_sampling.send(());
    let peak_rate = sampler.await.unwrap_or(0.0);
    sync(python, script, manifests, emu.base_url())
        .await
        .expect("join");
    let q2 = admin.stats().await.requests_total;
    let digest = common::digest(&admin).await;
    emu.shutdown().await;
    Some((
        Numbers {
            requests_per_group: (q1 - q0) as f64 / s.groups as f64,
            idle_per_resync: (q2 - q1) as f64 / s.groups as f64,
            idle_kube_writes_per_resync: 0.0,
            idle_record_clears_per_group: 0.0,
            converge,
            routes: BTreeMap::new(),
            peak_rate,
            applied: Duration::ZERO,
            reconcile_mean: Duration::ZERO,
            kube: BTreeMap::new(),
        },
        digest,
    ))
}
