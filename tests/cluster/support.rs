//! What the in-cluster tests share: a [`Scenario`] (namespaces of its own, the emulator as a Pod,
//! the operator installed by helm, a GroupGrant for its Groups namespace, all removed again when
//! it is dropped) and small helpers around helm, kubectl and the API server.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use igz_emulator::StateReport;
use igz_operator::crd::Group;
use igz_testkit::paths::{hack_path, repo_root};
use igz_testkit::wait;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Service, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, ResourceExt};
use serde_json::json;

pub use crate::groups::{Groups, reasons};

/// How long any one thing may take in the cluster: generous, since a loaded 2-core CI machine can
/// be many times slower than a laptop. A passing wait returns as soon as its condition holds.
pub const DEADLINE: Duration = Duration::from_secs(120);
/// The Helm release name README.md and docs/operating.md use.
pub const RELEASE: &str = "igz-operator";
/// The operator Pods' label (the chart's selector).
pub const OPERATOR_PODS: &str = "app.kubernetes.io/name=igz-operator";
/// The Lease the operator takes in its namespace, and for how long a holder keeps it without
/// renewing (src/run.rs: 15 s, renewed 5 s before it runs out). A standby looks again when the
/// Lease it saw would expire, so a released Lease changes hands within this time.
pub const LEASE: &str = "igz-operator";
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// The key the emulator accepts and the operator's Secret holds.
pub const ACCESS_KEY: &str = "cluster-test-access-key";
/// Label on everything a scenario creates, namespaces and GroupGrants alike.
const TEST_LABEL: &str = "igz-operator.io/cluster-test";

/// The cluster's admin kubeconfig (hack/lib.sh knows where).
pub fn kubeconfig() -> PathBuf {
    hack_path("CLUSTER_KUBECONFIG")
}

fn helm_path() -> PathBuf {
    hack_path("TOOLS_BIN").join("helm")
}

/// An admin client of the single-node cluster (through its loopback API server port). Like any
/// kube client it retries requests answered with 429, 503 or 504.
pub async fn admin_client() -> Client {
    Client::try_from(admin_config().await).expect("build kube client")
}

/// An admin client that takes no for an answer: a 429 (e.g. an eviction a
/// PodDisruptionBudget refuses) comes back at once instead of being retried until it passes.
pub async fn admin_client_without_retries() -> Client {
    let mut config = admin_config().await;
    config.default_retry = false;
    Client::try_from(config).expect("build kube client")
}

async fn admin_config() -> Config {
    let path = kubeconfig();
    assert!(
        path.exists(),
        "no single-node cluster: {} is missing; run `make test-cluster` (it starts the cluster, \
         builds and imports the images and runs these tests)",
        path.display()
    );
    let kubeconfig = Kubeconfig::read_from(&path).expect("read the cluster's kubeconfig");
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("the cluster's kubeconfig is valid")
}

/// Runs `program args...` against the cluster; Ok(stdout) or Err(what it said).
async fn run(program: PathBuf, args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new(&program)
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(args)
        .current_dir(repo_root())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{} {} failed ({}): {}{}",
            program.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            stdout
        ))
    }
}

/// `helm ARGS...` (the helm `hack/build-tools.sh helm` builds).
pub async fn helm(args: &[&str]) -> Result<String, String> {
    run(helm_path(), args).await
}

/// `kubectl ARGS...`.
pub async fn kubectl(args: &[&str]) -> Result<String, String> {
    run(PathBuf::from("kubectl"), args).await
}

/// The same, for clean-up in `Drop`, where nothing can be awaited. Errors are ignored.
fn run_blocking(program: PathBuf, args: &[&str]) {
    let _ = std::process::Command::new(program)
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(args)
        .current_dir(repo_root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// A line of progress (measured times) in the test's output.
pub fn note(what: impl AsRef<str>) {
    eprintln!("[cluster-test] {}", what.as_ref());
}

/// Tests run one at a time: every release of the chart owns the same cluster-scoped objects
/// (the admission policy, the CRDs), so two releases cannot be installed at once.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One test's world in the cluster:
/// - `system_ns`: the operator, installed by `helm install igz-operator charts/igz-operator`
///   with the Secret docs/operating.md says to create (`--from-file`), enforcing Pod Security `restricted`;
/// - `platform_ns`: the emulator (hack/cluster/emulator-chart, seeded with hack/demo-seed.yaml:
///   users alice, bob, carol, dave, erin; projects default, analytics, fraud-detection),
///   enforcing `restricted` too;
/// - `groups_ns`: the Group resources, with a GroupGrant that allows everything there.
///
/// Dropping it (also when the test panics) removes the release, the grant and the namespaces. It
/// derefs to the [`Groups`] of `groups_ns` (apply, wait for, read them).
pub struct Scenario {
    pub client: Client,
    pub system_ns: String,
    pub platform_ns: String,
    pub groups_ns: String,
    /// The emulator's Service, as the operator reaches it (inside the cluster only).
    pub emulator_url: String,
    pub driver: Groups,
    pub pods: Api<Pod>,
    grant: String,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Scenario {
    /// Namespaces, emulator, Secret, `helm install --wait` with `helm_args` added (e.g.
    /// `--set replicaCount=2`), and a grant in force for `groups_ns`.
    pub async fn start(prefix: &str, helm_args: &[&str]) -> Self {
        let serial = SERIAL.lock().await;
        let client = admin_client().await;
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let system_ns = format!("{prefix}-sys-{suffix}");
        let platform_ns = format!("{prefix}-platform-{suffix}");
        let groups_ns = format!("{prefix}-groups-{suffix}");
        let restricted = [
            ("pod-security.kubernetes.io/enforce", "restricted"),
            ("pod-security.kubernetes.io/enforce-version", "latest"),
        ];
        create_namespace(&client, &system_ns, &restricted).await;
        create_namespace(&client, &platform_ns, &restricted).await;
        create_namespace(&client, &groups_ns, &[]).await;
        let scenario = Self {
            driver: Groups::new(&client, &groups_ns, DEADLINE),
            pods: Api::namespaced(client.clone(), &system_ns),
            client,
            system_ns,
            platform_ns,
            groups_ns: groups_ns.clone(),
            emulator_url: String::new(),
            grant: groups_ns,
            _serial: serial,
        };
        // From here on, Drop cleans up whatever was created.
        scenario.init(helm_args).await
    }

    async fn init(mut self, helm_args: &[&str]) -> Self {
        for ns in [&self.system_ns, &self.platform_ns] {
            wait_for_default_service_account(&self.client, ns).await;
        }
        upgrade_crds_if_present(&self.client).await;

        let started = Instant::now();
        self.emulator_url = self.install_emulator().await;
        note(format!(
            "emulator Ready at {} in {:.1}s",
            self.emulator_url,
            started.elapsed().as_secs_f64()
        ));

        // The access key, as docs/operating.md says: a file (with the newline editors add), then
        // `kubectl create secret generic igz-operator-mgmt --from-file=access-key=./access-key`.
        let key_file = tempfile::NamedTempFile::new().expect("temporary key file");
        std::fs::write(key_file.path(), format!("{ACCESS_KEY}\n")).expect("write key file");
        let from_file = format!("--from-file=access-key={}", key_file.path().display());
        kubectl(&[
            "create",
            "secret",
            "generic",
            "igz-operator-mgmt",
            "-n",
            &self.system_ns,
            &from_file,
        ])
        .await
        .unwrap_or_else(|e| panic!("{e}"));

        let started = Instant::now();
        self.install_operator(helm_args).await;
        note(format!(
            "helm install --wait {} in {:.1}s",
            helm_args.join(" "),
            started.elapsed().as_secs_f64()
        ));
        self.grant_groups_namespace().await;
        self
    }

    /// `helm install` of the emulator chart; returns the URL of its Service.
    async fn install_emulator(&self) -> String {
        let seed = format!("seed={}", repo_root().join("hack/demo-seed.yaml").display());
        let key = format!("accessKeys[0]={ACCESS_KEY}");
        let tag = format!("image.tag={}", env!("CARGO_PKG_VERSION"));
        let result = helm(&[
            "install",
            "igz-emulator",
            "hack/cluster/emulator-chart",
            "-n",
            &self.platform_ns,
            "--wait",
            "--timeout",
            "180s",
            "--set",
            &key,
            "--set",
            &tag,
            "--set-file",
            &seed,
        ])
        .await;
        if let Err(e) = result {
            self.dump(&self.platform_ns).await;
            panic!("{e}");
        }
        let service = Api::<Service>::namespaced(self.client.clone(), &self.platform_ns)
            .get("igz-emulator")
            .await
            .expect("the emulator's Service");
        let ip = service
            .spec
            .and_then(|s| s.cluster_ip)
            .expect("the emulator's ClusterIP");
        format!("http://{ip}:8470")
    }

    /// `helm install igz-operator charts/igz-operator --wait` as docs/operating.md gives it, with the
    /// chart's default image (localhost/igz-operator:<appVersion>, imported by make test-cluster)
    /// and the emulator's URL, plus `extra`.
    pub async fn install_operator(&self, extra: &[&str]) {
        let url = format!("mgmt.url={}", self.emulator_url);
        let mut args = vec![
            "install",
            RELEASE,
            "charts/igz-operator",
            "-n",
            &self.system_ns,
            "--wait",
            "--timeout",
            "180s",
            "--set",
            &url,
        ];
        args.extend_from_slice(extra);
        if let Err(e) = helm(&args).await {
            self.dump(&self.system_ns).await;
            panic!("{e}");
        }
    }

    /// `helm ARGS... -n <system_ns>`.
    pub async fn helm(&self, args: &[&str]) -> Result<String, String> {
        let mut all = args.to_vec();
        all.extend_from_slice(&["-n", &self.system_ns]);
        helm(&all).await
    }

    /// Prints what is in a namespace (Pods, Events), to explain a failure.
    pub async fn dump(&self, ns: &str) {
        for what in ["pods,deployments,services,leases", "events"] {
            if let Ok(out) = kubectl(&["get", what, "-n", ns, "-o", "wide"]).await {
                note(format!("kubectl get {what} -n {ns}:\n{out}"));
            }
        }
        let pods = Api::<Pod>::namespaced(self.client.clone(), ns);
        if let Ok(list) = pods.list(&ListParams::default()).await {
            for pod in list {
                let lp = LogParams {
                    tail_lines: Some(30),
                    ..Default::default()
                };
                if let Ok(log) = pods.logs(&pod.name_any(), &lp).await {
                    note(format!("last log lines of {}:\n{log}", pod.name_any()));
                }
            }
        }
    }

    /// A GroupGrant (a cluster admin's) that lets `groups_ns` ask for everything; waits until
    /// the operator has written it into the admission policy.
    async fn grant_groups_namespace(&self) {
        let grant = json!({
            "apiVersion": "igz-operator.io/v1alpha1",
            "kind": "GroupGrant",
            "metadata": {"name": self.grant, "labels": {TEST_LABEL: "true"}},
            "spec": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.groups_ns}},
                "tenantPolicies": ["Data", "Developer", "Application Admin"],
                "projectRoles": [{"projectPattern": ".*", "maxRole": "Admin"}],
                "allowAdoption": true,
            },
        });
        let grants: Api<igz_operator::crd::GroupGrant> = Api::all(self.client.clone());
        grants
            .patch(
                &self.grant,
                &PatchParams::apply("igz-cluster-test").force(),
                &Patch::Apply(&grant),
            )
            .await
            .expect("apply the GroupGrant");
        let probe: Group = serde_json::from_value(json!({
            "apiVersion": "igz-operator.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": "admission-probe"},
            "spec": {"members": ["alice"]},
        }))
        .expect("probe Group");
        let dry_run = PostParams {
            dry_run: true,
            ..Default::default()
        };
        let started = Instant::now();
        wait::until(
            &format!(
                "the operator's admission policy admits Groups in {}",
                self.groups_ns
            ),
            DEADLINE,
            || async {
                self.groups
                    .create(&dry_run, &probe)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
        )
        .await;
        note(format!(
            "the grant reached admission in {:.1}s",
            started.elapsed().as_secs_f64()
        ));
    }

    /// The platform's whole state, read from the emulator through the API server's Service
    /// proxy (the emulator's address exists only inside the cluster).
    pub async fn platform(&self) -> Result<StateReport, String> {
        let path = format!(
            "/api/v1/namespaces/{}/services/igz-emulator:http/proxy/__emulator",
            self.platform_ns
        );
        let request = kube::core::Request::new(path)
            .get("state", &Default::default())
            .map_err(|e| e.to_string())?;
        self.client
            .request::<StateReport>(request)
            .await
            .map_err(|e| e.to_string())
    }

    /// Waits until the platform's state passes `check` (Ok) and returns what it returned.
    pub async fn wait_platform<T>(
        &self,
        what: &str,
        check: impl Fn(&StateReport) -> Result<T, String>,
    ) -> T {
        wait::until(&format!("platform: {what}"), DEADLINE, || async {
            check(&self.platform().await?)
        })
        .await
    }

    /// Waits until the platform group `name` has exactly these members.
    pub async fn wait_platform_members(&self, name: &str, expected: &[&str]) {
        let mut expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        expected.sort();
        self.wait_platform(
            &format!("group {name} has members {expected:?}"),
            |state| match members(state, name) {
                Some(found) if found == expected => Ok(()),
                other => Err(format!("members {other:?}")),
            },
        )
        .await
    }

    /// The operator's Pods (all, terminating ones too), by name.
    pub async fn operator_pods(&self) -> Vec<Pod> {
        let mut pods = self
            .pods
            .list(&ListParams::default().labels(OPERATOR_PODS))
            .await
            .expect("list operator Pods")
            .items;
        pods.sort_by_key(|p| p.name_any());
        pods
    }

    /// Waits until exactly `n` operator Pods exist, none terminating, all Ready; returns them.
    pub async fn wait_operator_pods_ready(&self, n: usize) -> Vec<Pod> {
        wait::until(&format!("{n} operator Pods Ready"), DEADLINE, || async {
            let pods = self.operator_pods().await;
            let summary: Vec<String> = pods.iter().map(describe_pod).collect();
            if pods.len() == n && pods.iter().all(|p| !terminating(p) && pod_ready(p)) {
                Ok(pods)
            } else {
                Err(summary.join("; "))
            }
        })
        .await
    }

    /// The Lease's holder, if any.
    pub async fn lease_holder(&self) -> Option<String> {
        Api::<Lease>::namespaced(self.client.clone(), &self.system_ns)
            .get_opt(LEASE)
            .await
            .expect("read the Lease")
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
            .filter(|h| !h.is_empty())
    }

    /// Waits until the Lease is held by one of `candidates`; returns the holder.
    pub async fn wait_lease_held_by(&self, candidates: &[String]) -> String {
        wait::until(
            &format!("the Lease held by one of {candidates:?}"),
            DEADLINE,
            || async {
                match self.lease_holder().await {
                    Some(h) if candidates.contains(&h) => Ok(h),
                    other => Err(format!("holder {other:?}")),
                }
            },
        )
        .await
    }

    /// A Pod's log.
    pub async fn logs(&self, pod: &str) -> String {
        self.pods
            .logs(pod, &LogParams::default())
            .await
            .unwrap_or_else(|e| panic!("logs of {pod}: {e}"))
    }
}

impl std::ops::Deref for Scenario {
    type Target = Groups;

    fn deref(&self) -> &Groups {
        &self.driver
    }
}

impl Drop for Scenario {
    /// Everything the scenario created goes, in an order that leaves nothing stuck: Groups are
    /// deleted (the operator, if still there, cleans up what it can), the release goes (so the
    /// next test can install the chart; its admission policy goes with it), then any Group left
    /// loses its finalizer (the emulator goes with its namespace anyway), then the grant and the
    /// namespaces.
    fn drop(&mut self) {
        let kubectl = PathBuf::from("kubectl");
        let ns = self.groups_ns.clone();
        run_blocking(
            kubectl.clone(),
            &["delete", "groups", "--all", "-n", &ns, "--wait=false"],
        );
        run_blocking(
            helm_path(),
            &[
                "uninstall",
                RELEASE,
                "-n",
                &self.system_ns,
                "--wait",
                "--ignore-not-found",
            ],
        );
        let names = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig())
            .args(["get", "groups", "-n", &ns, "-o", "name"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for group in names.lines() {
            run_blocking(
                kubectl.clone(),
                &[
                    "patch",
                    group,
                    "-n",
                    &ns,
                    "--type",
                    "merge",
                    "-p",
                    r#"{"metadata":{"finalizers":null}}"#,
                ],
            );
        }
        run_blocking(
            kubectl.clone(),
            &["delete", "groupgrant", &self.grant, "--ignore-not-found"],
        );
        run_blocking(
            kubectl,
            &[
                "delete",
                "namespace",
                &self.system_ns,
                &self.platform_ns,
                &self.groups_ns,
                "--wait=false",
                "--ignore-not-found",
            ],
        );
    }
}

/// A namespace this test owns: marked with the test label (so a failed run's leftovers are found).
async fn create_namespace(client: &Client, name: &str, labels: &[(&str, &str)]) {
    let mut all = vec![(TEST_LABEL, "true")];
    all.extend_from_slice(labels);
    igz_testkit::envtest::create_namespace(client, name, &all).await;
}

/// Pods are refused until kube-controller-manager has made the namespace's `default`
/// ServiceAccount.
async fn wait_for_default_service_account(client: &Client, ns: &str) {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    wait::until(
        &format!("ServiceAccount default in {ns}"),
        DEADLINE,
        || async {
            match sas.get_opt("default").await {
                Ok(Some(_)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
}

/// Helm installs crds/ only when they are missing, and never upgrades them (docs/operating.md says to
/// apply them with kubectl on upgrades): on a cluster kept from an earlier run, do that.
async fn upgrade_crds_if_present(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    if crds
        .get_opt("groups.igz-operator.io")
        .await
        .expect("read CRD")
        .is_some()
    {
        kubectl(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            "charts/igz-operator/crds/",
        ])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

pub fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn describe_pod(pod: &Pod) -> String {
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    format!(
        "{} {phase}{}{}",
        pod.name_any(),
        if pod_ready(pod) { " Ready" } else { "" },
        if terminating(pod) { " Terminating" } else { "" }
    )
}

/// The usernames of platform group `name`'s members, sorted; None when there is no such group.
pub fn members(state: &StateReport, name: &str) -> Option<Vec<String>> {
    let group = state.user_group(name)?;
    let ids: Vec<&str> = group["relationships"]["users"]["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["id"].as_str()).collect())
        .unwrap_or_default();
    let mut names: Vec<String> = state
        .users
        .iter()
        .filter(|u| u["id"].as_str().is_some_and(|id| ids.contains(&id)))
        .filter_map(|u| u["attributes"]["username"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    Some(names)
}
