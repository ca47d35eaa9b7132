//! What every section of the benchmark shares: the scenario (users, projects, Group specs), the
//! control plane, an emulator, the real operator binary as a process, and waiting for convergence.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use igz_emulator::{EmulatorConfig, Faults, RunningEmulator, Seed, SeedProject, SeedUser};
use igz_mgmt::{Credentials, MgmtClient, MgmtConfig, RateLimit};
use igz_operator::crd::{Group, GroupGrant};
use igz_testkit::emulator::Admin;
use igz_testkit::envtest;
use igz_testkit::process::{Launch, OperatorProcess};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::ResourceExt as _;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

pub const KEY: &str = "bench-key";

/// Groups of `members` members and `roles` project roles each, over `users` users and `projects`
/// projects. Group i's members and projects are spread evenly, so every project is shared.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub groups: usize,
    pub members: usize,
    pub roles: usize,
    pub users: usize,
    pub projects: usize,
}

impl Scenario {
    pub fn seed(&self) -> Seed {
        Seed {
            users: (0..self.users)
                .map(|i| SeedUser {
                    username: format!("u{i}"),
                    ..Default::default()
                })
                .collect(),
            projects: (0..self.projects)
                .map(|i| SeedProject {
                    name: format!("p{i}"),
                    ..Default::default()
                })
                .collect(),
            groups: vec![],
        }
    }

    pub fn members_of(&self, i: usize) -> Vec<String> {
        (0..self.members)
            .map(|k| format!("u{}", (i * self.members + k) % self.users))
            .collect()
    }

    pub fn spec(&self, i: usize) -> Value {
        let roles: Vec<Value> = (0..self.roles)
            .map(|j| {
                let role = ["Editor", "Viewer", "Admin"][(i + j) % 3];
                json!({
                    "project": format!("p{}", (i + j * 7) % self.projects),
                    "role": role,
                })
            })
            .collect();
        json!({
            "assignedPolicies": ["Data"],
            "members": self.members_of(i),
            "projectRoles": roles,
        })
    }

    pub fn manifest(&self, i: usize) -> Value {
        json!({
            "apiVersion": "igz-operator.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": format!("g{i}")},
            "spec": self.spec(i),
        })
    }
}

/// Where the benchmark writes logs and inputs (target/bench/).
pub fn work_dir() -> PathBuf {
    let dir = igz_testkit::paths::hack_path("TARGET_DIR").join("bench");
    std::fs::create_dir_all(&dir).expect("create target/bench");
    dir
}

pub async fn start_emulator(scenario: &Scenario, latency_ms: u64) -> RunningEmulator {
    let config = EmulatorConfig {
        access_keys: vec![KEY.into()],
        seed: Some(scenario.seed()),
        faults: Faults {
            latency_ms,
            ..Default::default()
        },
        ..Default::default()
    };
    igz_testkit::emulator::start(config).await
}

/// The control plane with the CRDs, a fresh namespace with a GroupGrant that allows everything
/// in it (the operator refuses Groups no grant covers), and the Group API in it.
pub async fn kube_namespace(prefix: &str) -> (kube::Client, String, Api<Group>) {
    let kube = envtest::admin_client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(kube.clone());
    for (name, crd) in [
        ("groups.igz-operator.io", igz_operator::crd::crd()),
        (
            "groupgrants.igz-operator.io",
            igz_operator::crd::grant_crd(),
        ),
        (
            "platformconnections.igz-operator.io",
            igz_operator::crd::connection_crd(),
        ),
    ] {
        crds.patch(
            name,
            &PatchParams::apply("igz-bench").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("install the CRD");
        kube::runtime::wait::await_condition(
            crds.clone(),
            name,
            kube::runtime::conditions::is_crd_established(),
        )
        .await
        .expect("CRD established");
    }
    let ns = envtest::fresh_namespace(&kube, prefix).await;
    let grants: Api<GroupGrant> = Api::all(kube.clone());
    let grant = json!({
        "apiVersion": "igz-operator.io/v1alpha1",
        "kind": "GroupGrant",
        "metadata": {"name": ns},
        "spec": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "tenantPolicies": ["Data"],
            "projectRoles": [{"projectPattern": ".*", "maxRole": "Admin"}],
            "allowAdoption": true,
        },
    });
    grants
        .patch(
            &ns,
            &PatchParams::apply("igz-bench").force(),
            &Patch::Apply(&grant),
        )
        .await
        .expect("apply the GroupGrant");
    let api = Api::namespaced(kube.clone(), &ns);
    (kube, ns, api)
}

/// Removes what a run leaves in the control plane once it is over (the operator stopped): the
/// GroupGrant [`kube_namespace`] made, the Groups (their finalizers dropped: the run's platform
/// is gone) and the Events. Each later run in the same control plane then meets the same API
/// server as the first: every grant is part of the admission policy each Group create is checked
/// against (its cost grows with the grants), and objects left behind grow the API server's heap
/// and its garbage collection (in a control plane that had served a 5,000-Group run and about 40
/// frugality runs, the frugality median was 3.33 s; in a fresh one, 2.25 s). The empty
/// namespace stays: the control plane has no namespace controller.
pub async fn release_namespace(kube: &kube::Client, ns: &str) {
    let grants: Api<GroupGrant> = Api::all(kube.clone());
    grants
        .delete(ns, &DeleteParams::default())
        .await
        .expect("delete the run's GroupGrant");
    let groups: Api<Group> = Api::namespaced(kube.clone(), ns);
    let names: Vec<String> = groups
        .list_metadata(&ListParams::default())
        .await
        .expect("list the run's Groups")
        .items
        .iter()
        .map(|g| g.name_any())
        .collect();
    let release = json!({"metadata": {"finalizers": null}});
    futures::stream::iter(names)
        .for_each_concurrent(16, |name| {
            let groups = groups.clone();
            let release = release.clone();
            async move {
                groups
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&release))
                    .await
                    .expect("drop a Group's finalizer");
            }
        })
        .await;
    groups
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("delete the run's Groups");
    let events: Api<K8sEvent> = Api::namespaced(kube.clone(), ns);
    events
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("delete the run's Events");
}

/// The operator binary this bench was built with. IGZ_BENCH_OPERATOR runs it through a wrapper
/// instead (for example a script that execs heaptrack with the binary, to see where the memory
/// goes).
pub fn bench_binary() -> PathBuf {
    std::env::var_os("IGZ_BENCH_OPERATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_igz-operator")))
}

/// The operator binary the image ships (static musl, built by `hack/image.sh --binaries-only`),
/// when hack/bench.sh could build it.
pub fn image_binary() -> Option<PathBuf> {
    std::env::var_os("IGZ_BENCH_IMAGE_OPERATOR").map(PathBuf::from)
}

/// The operator (the bench's build) as a process against `base_url`, watching `ns`.
pub async fn operator(ns: &str, base_url: &str, name: &str, args: &[&str]) -> OperatorProcess {
    operator_binary(&bench_binary(), ns, base_url, name, args).await
}

/// `binary` as a process against `base_url`, watching `ns`.
pub async fn operator_binary(
    binary: &std::path::Path,
    ns: &str,
    base_url: &str,
    name: &str,
    args: &[&str],
) -> OperatorProcess {
    envtest::ensure_operator_namespace(&envtest::admin_client().await).await;
    let launch = Launch {
        binary: binary.to_owned(),
        kubeconfig: envtest::kubeconfig_path().clone(),
        mgmt_url: base_url.to_owned(),
        access_key: KEY.to_owned(),
        namespace: ns.to_owned(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        // IGZ_BENCH_LOG: the operator's RUST_LOG, e.g. "info,igz_mgmt=debug" to follow role
        // transactions and job polls in target/bench/NAME.log.
        log_filter: Some(
            std::env::var("IGZ_BENCH_LOG")
                .unwrap_or_else(|_| "warn,igz_operator=info,igz_mgmt=warn".into()),
        ),
        log_file: work_dir().join(format!("{name}.log")),
    };
    let _ = std::fs::remove_file(&launch.log_file);
    let mut process = OperatorProcess::spawn(&launch);
    process.wait_ready(Duration::from_secs(120)).await;
    process
}

/// How the bench hands the Groups to Kubernetes, as users do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applier {
    /// One `kubectl apply -f` of a file holding every manifest (kubectl sends them one by one).
    Kubectl,
    /// One `helm install` of a chart holding every manifest (helm creates the objects of one
    /// kind concurrently).
    Helm,
}

impl Applier {
    pub fn label(self) -> &'static str {
        match self {
            Applier::Kubectl => "kubectl apply",
            Applier::Helm => "helm install",
        }
    }
}

/// Applies Groups `range` of the scenario as a user would (see [`Applier`]), once admission
/// takes them. The operator writes a new GroupGrant into its admission policy a moment after the
/// grant appears, so first a server-side dry run of one manifest is repeated until admission
/// accepts it (as hack/demo.sh does); that wait is not part of what is timed. Returns when the
/// apply started (the start of the measured time) and how long it took.
pub async fn apply_all(
    ns: &str,
    scenario: &Scenario,
    range: std::ops::Range<usize>,
) -> (Instant, Duration) {
    apply_all_with(Applier::Kubectl, ns, scenario, range).await
}

pub async fn apply_all_with(
    applier: Applier,
    ns: &str,
    scenario: &Scenario,
    range: std::ops::Range<usize>,
) -> (Instant, Duration) {
    let manifests = range.map(|i| scenario.manifest(i)).collect();
    apply_manifests(applier, ns, manifests).await
}

/// Hands `manifests` (Groups) over as [`apply_all_with`] does, once admission takes the first.
pub async fn apply_manifests(
    applier: Applier,
    ns: &str,
    manifests: Vec<Value>,
) -> (Instant, Duration) {
    let dir = work_dir();
    let first = dir.join(format!("{ns}-first.json"));
    let list = |items: Vec<Value>| {
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "List", "items": items}))
            .expect("json")
    };
    std::fs::write(&first, list(manifests[..1].to_vec())).expect("write manifest");
    let manifests = manifests.into_iter();
    let (program, args, target) = match applier {
        Applier::Kubectl => {
            let all = dir.join(format!("{ns}-groups.json"));
            std::fs::write(&all, list(manifests.collect())).expect("write manifests");
            ("kubectl".into(), vec!["apply", "-o", "name", "-f"], all)
        }
        Applier::Helm => {
            let chart = dir.join(format!("{ns}-chart"));
            std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
            std::fs::write(
                chart.join("Chart.yaml"),
                "apiVersion: v2\nname: bench-groups\nversion: 0.1.0\n",
            )
            .expect("Chart.yaml");
            // JSON is YAML: one document per Group.
            let documents: Vec<String> = manifests.map(|m| m.to_string()).collect();
            std::fs::write(
                chart.join("templates/groups.yaml"),
                documents.join("\n---\n"),
            )
            .expect("templates");
            let helm = igz_testkit::paths::hack_path("TOOLS_BIN").join("helm");
            (helm, vec!["install", "bench-groups"], chart)
        }
    };

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = kubectl(
            ns,
            &["apply", "--dry-run=server", "-o", "name", "-f"],
            &first,
        )
        .await;
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the GroupGrant did not reach admission within 60 s: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    let out = run_on_cluster(program.as_ref(), ns, &args, &target).await;
    assert!(
        out.status.success(),
        "{} failed: {}",
        applier.label(),
        String::from_utf8_lossy(&out.stderr)
    );
    (started, started.elapsed())
}

/// Runs `kubectl ARGS FILE -n NS` against the local control plane.
async fn kubectl(ns: &str, args: &[&str], file: &std::path::Path) -> std::process::Output {
    run_on_cluster("kubectl".as_ref(), ns, args, file).await
}

/// Runs `PROGRAM ARGS PATH -n NS` (kubectl or helm) against the local control plane.
async fn run_on_cluster(
    program: &std::path::Path,
    ns: &str,
    args: &[&str],
    path: &std::path::Path,
) -> std::process::Output {
    tokio::process::Command::new(program)
        .env("KUBECONFIG", envtest::kubeconfig_path())
        .args(args)
        .arg(path)
        .args(["-n", ns])
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
}

pub fn is_ready(group: &Group) -> bool {
    group.status.as_ref().is_some_and(|s| {
        s.observed_generation == group.metadata.generation
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Waits until exactly `expected` Groups exist and are Ready for their current generation;
/// returns how long it took from `since`. A watch, not polling: the time is when the last Group
/// turned Ready (to the watch's delivery), and the wait adds no list requests to the apiserver
/// whose CPU is part of what is measured.
pub async fn wait_converged(
    api: &Api<Group>,
    expected: usize,
    since: Instant,
    deadline: Duration,
) -> Duration {
    use kube::runtime::watcher::{self, Event};
    let mut ready: std::collections::HashMap<String, bool> = Default::default();
    let mut synced = false;
    let mut stream = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    let until = since + deadline;
    loop {
        let next = tokio::time::timeout_at(until.into(), stream.next()).await;
        let event = match next {
            Ok(Some(Ok(event))) => event,
            Ok(Some(Err(e))) => {
                tracing::debug!(error = %e, "watch error; the watcher retries");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Ok(None) => panic!("the Group watch ended"),
            Err(_) => panic!(
                "not converged within {deadline:?}: {}/{expected} Ready",
                ready.values().filter(|r| **r).count()
            ),
        };
        match event {
            Event::Init => {
                ready.clear();
                synced = false;
            }
            Event::InitApply(g) | Event::Apply(g) => {
                ready.insert(g.name_any(), is_ready(&g));
            }
            Event::Delete(g) => {
                ready.remove(&g.name_any());
            }
            Event::InitDone => synced = true,
        }
        if synced && ready.len() == expected && ready.values().all(|r| *r) {
            return since.elapsed();
        }
    }
}

/// The platform as a comparable value: group name -> (member usernames, project=role).
pub type Digest = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

pub async fn digest(admin: &Admin) -> Digest {
    let state = admin.state().await;
    let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    let usernames: BTreeMap<String, String> = state
        .users
        .iter()
        .map(|u| {
            (
                id(u),
                u["attributes"]["username"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let projects: BTreeMap<String, String> = state
        .projects
        .iter()
        .map(|p| {
            (
                id(p),
                p["attributes"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let linked = |v: &Value, rel: &str| -> Vec<String> {
        v["relationships"][rel]["data"]
            .as_array()
            .map(|a| a.iter().map(id).collect())
            .unwrap_or_default()
    };
    let mut out = Digest::new();
    let mut names = BTreeMap::new();
    for g in &state.user_groups {
        let name = g["attributes"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let members = linked(g, "users")
            .iter()
            .filter_map(|u| usernames.get(u).cloned())
            .collect();
        names.insert(id(g), name.clone());
        out.insert(name, (members, BTreeSet::new()));
    }
    for role in &state.project_authorization_roles {
        let project = role["relationships"]["project"]["data"]["id"]
            .as_str()
            .and_then(|p| projects.get(p))
            .cloned()
            .unwrap_or_default();
        let role_name = role["attributes"]["name"].as_str().unwrap_or_default();
        for group in linked(role, "principal_user_groups") {
            if let Some(entry) = names.get(&group).and_then(|n| out.get_mut(n)) {
                entry.1.insert(format!("{project}={role_name}"));
            }
        }
    }
    out
}

/// Percentile (0..=100) of a set of durations, in milliseconds.
pub fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (ms.len() as f64 - 1.0)).round() as usize;
    ms[rank.min(ms.len() - 1)]
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A client of our own for reading (and, for the latency floor, writing) the platform directly;
/// its rate limit is far above anything the bench asks of it.
pub fn platform_client(base: &str) -> MgmtClient {
    let mut config = MgmtConfig::new(
        base.parse().expect("url"),
        Credentials::AccessKey {
            username: None,
            key: KEY.to_owned().into(),
        },
    );
    config.rate_limit = RateLimit {
        qps: 5000.0,
        burst: std::num::NonZeroU32::new(5000).expect("non-zero"),
    };
    MgmtClient::new(config).expect("client")
}

/// The operator's Kubernetes requests so far, "verb resource" -> count (its
/// igz_operator_kube_requests counter).
pub async fn kube_requests(process: &OperatorProcess) -> BTreeMap<String, f64> {
    let text = process.metrics().await;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("igz_operator_kube_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |key: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
                .unwrap_or_default()
        };
        *out.entry(format!("{} {}", label("verb"), label("resource")))
            .or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    out
}
