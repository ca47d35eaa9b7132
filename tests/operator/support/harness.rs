//! End-to-end harness: a real kube-apiserver (shared), and per test a fresh namespace, an
//! in-process emulator, and the operator's controller watching only that namespace.

use std::time::Duration;

use igz_emulator::{EmulatorConfig, FaultsPatch, RunningEmulator, Seed, SeedProject, SeedUser};
use igz_mgmt::{self as mgmt, BreakerPolicy, Credentials, MgmtClient, MgmtConfig, RetryPolicy};
use std::sync::Arc;

use igz_operator::controller::{self, Platforms, ReconcileMetrics, Settings, Timing};
use igz_testkit::emulator::Admin;
use igz_testkit::envtest;
use igz_testkit::wait::{self, DEFAULT_DEADLINE as DEADLINE};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use crate::groups::{Groups, condition};

pub const ACCESS_KEY: &str = "e2e-access-key";

/// Timings short enough for tests: drift is reverted within a few seconds.
pub fn fast_timing() -> Timing {
    let mut timing = Timing::new(Duration::from_secs(2));
    timing.missing_retry = Duration::from_millis(500);
    timing.blocked_retry = Duration::from_millis(500);
    timing.error_backoff_min = Duration::from_millis(200);
    timing.error_backoff_max = Duration::from_secs(2);
    timing
}

/// Installs (once per test binary) every CRD, as they are generated now: concurrent installs of
/// the same CRD from parallel tests would race each other's updates.
pub async fn install_crd(client: &Client) {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            install(client, "groups.igz-operator.io", igz_operator::crd::crd()).await;
            install(
                client,
                "groupgrants.igz-operator.io",
                igz_operator::crd::grant_crd(),
            )
            .await;
            install(
                client,
                "platformconnections.igz-operator.io",
                igz_operator::crd::connection_crd(),
            )
            .await;
        })
        .await;
}

async fn install(client: &Client, name: &str, crd: CustomResourceDefinition) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    wait::until(&format!("the {name} CRD is applied"), DEADLINE, || async {
        crds.patch(
            name,
            &PatchParams::apply("igz-e2e").force(),
            &Patch::Apply(&crd),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    })
    .await;
    kube::runtime::wait::await_condition(
        crds,
        name,
        kube::runtime::conditions::is_crd_established(),
    )
    .await
    .unwrap_or_else(|e| panic!("the {name} CRD becomes Established: {e}"));
}

/// A client of the emulator for the test's own checks and out-of-band changes (not the
/// operator's client: it shares no cache or locks with it).
pub fn platform_client(base_url: &str, key: &str) -> MgmtClient {
    mgmt_client(base_url, key, 20, Duration::from_secs(20))
}

/// A management client with fast retries: `attempts` per request within `budget`.
fn mgmt_client(base_url: &str, key: &str, attempts: u32, budget: Duration) -> MgmtClient {
    MgmtClient::new(mgmt_config(base_url, key, attempts, budget)).expect("management client")
}

/// The settings of [`mgmt_client`], for tests that change some.
pub fn mgmt_config(base_url: &str, key: &str, attempts: u32, budget: Duration) -> MgmtConfig {
    let mut config = MgmtConfig::new(
        base_url.parse().expect("emulator url"),
        Credentials::AccessKey {
            username: None,
            key: key.to_owned().into(),
        },
    );
    config.retry = RetryPolicy {
        max_attempts: attempts,
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_total_delay: budget,
        max_retry_after: Duration::from_millis(200),
    };
    config.job_polling.min_interval = Duration::from_millis(20);
    config.job_polling.max_interval = Duration::from_millis(100);
    // Probes every 50-500 ms once the platform keeps failing: tests see it back quickly.
    config.breaker = BreakerPolicy {
        threshold: 5,
        min_pause: Duration::from_millis(50),
        max_pause: Duration::from_millis(500),
    };
    config
}

pub fn user(name: &str) -> SeedUser {
    SeedUser {
        username: name.into(),
        ..Default::default()
    }
}

pub fn project(name: &str) -> SeedProject {
    SeedProject {
        name: name.into(),
        ..Default::default()
    }
}

/// The operator as `igz-operator run` wires it: the Group controller and the connection
/// controller under one stop signal, `mgmt` serving as the connection default (as the flags'
/// client does). The connection controller sees only PlatformConnections labelled for this
/// test's namespace, and Secrets of that namespace.
pub async fn run_operator(
    client: Client,
    settings: Settings,
    mgmt: MgmtClient,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use futures::FutureExt as _;
    let platforms = Arc::new(
        Platforms::new(settings.picture_factory(), mgmt::Observer::default())
            .with_builtin_default(mgmt),
    );
    let mut connections = igz_operator::connection::Settings::new(settings.namespace.clone());
    connections.group_namespaces = settings.namespaces.clone();
    connections.admission_policy = false;
    connections.selector = Some(format!("igz-operator.io/test-ns={}", settings.namespace));
    connections.instance = settings.instance.clone();
    let shutdown = shutdown.boxed().shared();
    futures::join!(
        igz_operator::connection::run(
            client.clone(),
            platforms.clone(),
            connections,
            igz_operator::connection::ConnectionMetrics::default(),
            shutdown.clone(),
        ),
        controller::run(
            client,
            platforms,
            settings,
            ReconcileMetrics::default(),
            shutdown,
            || {},
        ),
    );
}

pub struct Operator {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Operator {
    /// Starts the controller for one namespace against `base_url` with `key`.
    pub fn start(client: &Client, ns: &str, base_url: &str, key: &str) -> Self {
        Self::start_with(client, ns, base_url, key, |_| {})
    }

    /// Like [`Operator::start`], with the test's settings changed by `tune` first.
    pub fn start_with(
        client: &Client,
        ns: &str,
        base_url: &str,
        key: &str,
        tune: impl FnOnce(&mut Settings),
    ) -> Self {
        Self::start_tuned(client, ns, base_url, key, tune, |_| {})
    }

    /// Like [`Operator::start_with`], with the management client's settings changed too.
    pub fn start_tuned(
        client: &Client,
        ns: &str,
        base_url: &str,
        key: &str,
        tune: impl FnOnce(&mut Settings),
        tune_mgmt: impl FnOnce(&mut MgmtConfig),
    ) -> Self {
        // Few quick retries: failures must reach the reconcile's own backoff and status.
        let mut config = mgmt_config(base_url, key, 3, Duration::from_secs(1));
        tune_mgmt(&mut config);
        let mgmt = MgmtClient::new(config).expect("management client");
        let mut settings = Settings {
            namespaces: vec![ns.to_owned()],
            concurrency: 4,
            timing: fast_timing(),
            fresh_picture_age: Duration::from_millis(300),
            namespace: ns.to_owned(),
            recoveries: Default::default(),
            instance: Some("e2e".into()),
            admission_policy: false,
        };
        tune(&mut settings);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run_operator(client.clone(), settings, mgmt, async move {
            let _ = stopped.await;
        }));
        Self {
            stop: Some(stop),
            task,
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        self.task.abort();
    }
}

/// Derefs to the test's [`Groups`] (apply, wait for, read the Groups of its namespace).
pub struct Harness {
    pub client: Client,
    pub ns: String,
    pub driver: Groups,
    pub emulator: RunningEmulator,
    /// The emulator's admin routes (faults, stats, state).
    pub admin: Admin,
    /// The test's own view of the platform.
    pub platform: MgmtClient,
    pub operator: Option<Operator>,
    http: reqwest::Client,
}

impl Harness {
    /// Control plane + CRD + fresh namespace + emulator seeded with `users` and `projects` +
    /// the operator.
    pub async fn start(prefix: &str, users: &[&str], projects: &[&str]) -> Self {
        let mut harness = Self::without_operator(prefix, users, projects).await;
        harness.operator = Some(Operator::start(
            &harness.client,
            &harness.ns,
            &harness.emulator.base_url(),
            ACCESS_KEY,
        ));
        harness
    }

    pub async fn without_operator(prefix: &str, users: &[&str], projects: &[&str]) -> Self {
        super::logs();
        let client = envtest::admin_client().await;
        install_crd(&client).await;
        super::grants::forget_earlier_runs(&client).await;
        let ns = envtest::fresh_namespace(&client, prefix).await;
        // A cluster admin's grant for this namespace, in force at admission before any Group.
        super::grants::apply_grant(&client, &super::grants::everything_in(&ns)).await;
        super::grants::keep_admission_policy();
        super::grants::wait_admitted(&client, &ns, super::grants::minimal_spec()).await;
        let seed = Seed {
            users: users.iter().map(|u| user(u)).collect(),
            projects: projects.iter().map(|p| project(p)).collect(),
            groups: vec![],
        };
        let config = EmulatorConfig {
            access_keys: vec![ACCESS_KEY.into()],
            job_delay: Duration::from_millis(20),
            seed: Some(seed),
            ..Default::default()
        };
        let emulator = igz_testkit::emulator::start(config).await;
        let platform = platform_client(&emulator.base_url(), ACCESS_KEY);
        Self {
            admin: Admin::for_emulator(&emulator),
            driver: Groups::new(&client, &ns, DEADLINE),
            client,
            ns,
            emulator,
            platform,
            operator: None,
            http: reqwest::Client::new(),
        }
    }

    /// The platform group with this name, read fresh.
    pub async fn platform_group(&self, name: &str) -> Option<mgmt::UserGroup> {
        self.platform
            .find_group_by_name(name)
            .await
            .expect("read platform group")
    }

    pub async fn platform_groups_named(&self, name: &str) -> usize {
        let groups = self
            .platform
            .list_groups()
            .await
            .expect("list platform groups");
        groups.iter().filter(|g| g.name == name).count()
    }

    /// Usernames of a platform group's members.
    pub async fn member_names(&self, group: &mgmt::UserGroup) -> Vec<String> {
        let users = self.platform.list_users().await.expect("list users");
        let mut names: Vec<String> = users
            .into_iter()
            .filter(|u| group.member_ids.contains(&u.id))
            .map(|u| u.username)
            .collect();
        names.sort();
        names
    }

    /// The group's role in each project, as "project=Role", sorted.
    pub async fn roles_of(&self, group_id: &str) -> Vec<String> {
        let projects = self.platform.list_projects().await.expect("list projects");
        let mut roles: Vec<String> = projects
            .iter()
            .filter_map(|p| p.group_role(group_id).map(|r| format!("{}={r}", p.name)))
            .collect();
        roles.sort();
        roles
    }

    /// Creates a user on the platform (outside Kubernetes), as the SDK's User.create does.
    pub async fn create_user(&self, username: &str) {
        let body = json!({"data": {"type": "user", "attributes": {
            "username": username, "first_name": username, "last_name": "Test",
            "email": format!("{username}@example.com"), "password": "Pa55word!",
        }}});
        self.post("/api/users", body, &[]).await;
    }

    /// Creates a project on the platform (outside Kubernetes), as the SDK's Project.create does.
    pub async fn create_project(&self, name: &str) {
        let body =
            json!({"data": {"type": "project", "attributes": {"name": name, "description": ""}}});
        self.post(
            "/api/projects",
            body,
            &[("x-projects-role", "igz-mgmt-sdk")],
        )
        .await;
        // Project creation is a job; wait until the project is readable.
        wait::until(&format!("project {name} readable"), DEADLINE, || async {
            match self.platform.find_project(name).await {
                Ok(Some(_)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    }

    async fn post(&self, path: &str, body: Value, headers: &[(&str, &str)]) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.emulator.base_url()))
            .header("cookie", format!("session=j:{{\"sid\": \"{ACCESS_KEY}\"}}"))
            .json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("emulator request");
        assert!(resp.status().is_success(), "POST {path}: {}", resp.status());
    }

    /// Sets emulator faults (`PUT /__emulator/faults`); absent knobs keep their value.
    pub async fn faults(&self, patch: FaultsPatch) {
        self.admin.set_faults(patch).await;
    }

    pub async fn stop(mut self) {
        if let Some(op) = self.operator.take() {
            op.stop().await;
        }
        super::grants::withdraw(&self.client, &self.ns).await;
        self.emulator.shutdown().await;
    }
}

impl std::ops::Deref for Harness {
    type Target = Groups;

    fn deref(&self) -> &Groups {
        &self.driver
    }
}
