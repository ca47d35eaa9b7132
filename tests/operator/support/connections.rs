//! Ground for the PlatformConnection tests: a fresh namespace that is both the operator's (its
//! Secrets) and the Groups' (their usage), two emulators, and the connection controller of the
//! operator watching only this run's connections (a label per run: PlatformConnections are
//! cluster-scoped and several tests run at once against one API server).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use igz_emulator::{EmulatorConfig, RunningEmulator};
use igz_mgmt::{BreakerPolicy, Observer, RetryPolicy};
use igz_operator::connection::{self, ConnectionMetrics, Registry};
use igz_operator::controller::{self as groups_controller, Platforms, ReconcileMetrics};
use igz_operator::crd::{
    CONNECTION_FINALIZER, Group, PlatformConnection, PlatformConnectionStatus,
};
use igz_testkit::emulator::Admin;
use igz_testkit::envtest;
use igz_testkit::wait::{self, DEFAULT_DEADLINE};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::grants;

/// Label on every PlatformConnection a test makes (its value names the run).
pub const RUN_LABEL: &str = "igz-operator.io/test-run";
/// The operator namespace the test binary's connection admission policy names.
pub const POLICY_NAMESPACE: &str = "igz-system";
/// The access key both emulators accept from the start (owner `admin`).
pub const KEY: &str = "conn-access-key";

/// The connection controller of one test.
pub struct Controller {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Controller {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        self.task.abort();
    }
}

pub struct ConnectionHarness {
    pub client: Client,
    /// The operator's namespace (Secrets) and the Groups' namespace.
    pub ns: String,
    /// This run's id: the label value and the prefix of every connection name.
    pub run: String,
    pub connections: Api<PlatformConnection>,
    pub secrets: Api<Secret>,
    pub groups: Api<Group>,
    pub emulators: Vec<RunningEmulator>,
    pub admins: Vec<Admin>,
    /// The platforms (a client and a picture per connection), shared with the Group controller.
    pub registry: Arc<Platforms>,
    /// How the Group controller runs when a test starts it ([`ConnectionHarness::start_groups`]).
    pub group_settings: groups_controller::Settings,
    pub metrics: ConnectionMetrics,
    pub controller: Option<Controller>,
}

impl ConnectionHarness {
    /// Control plane, CRDs, a fresh namespace granted Groups on `connections` (names without
    /// the run prefix), two emulators (tenants `tenant-a`, `tenant-b`) and the controller.
    pub async fn start(prefix: &str, connections: &[&str]) -> Self {
        let mut h = Self::without_controller(prefix, connections).await;
        h.controller = Some(h.start_controller(&h.client.clone()));
        h
    }

    pub async fn without_controller(prefix: &str, connections: &[&str]) -> Self {
        super::logs();
        let client = envtest::admin_client().await;
        super::install_crd(&client).await;
        grants::forget_earlier_runs(&client).await;
        forget_earlier_connections(&client).await;
        let ns = envtest::fresh_namespace(&client, prefix).await;
        let run = ns.clone();
        let mut grant = grants::everything_in(&ns);
        grant.spec.connections = Some(connections.iter().map(|c| format!("{run}-{c}")).collect());
        grants::apply_grant(&client, &grant).await;
        grants::keep_admission_policy();
        if let Some(first) = connections.first() {
            let mut spec = grants::minimal_spec();
            spec.connection = Some(format!("{run}-{first}"));
            grants::wait_admitted(&client, &ns, spec).await;
        }
        let mut emulators = Vec::new();
        for tenant in ["tenant-a", "tenant-b"] {
            let seed = igz_emulator::Seed {
                users: ["alice", "bob", "carol"].map(super::user).to_vec(),
                ..Default::default()
            };
            let config = EmulatorConfig {
                access_keys: vec![KEY.into()],
                tenant_id: tenant.into(),
                seed: Some(seed),
                job_delay: Duration::from_millis(20),
                ..Default::default()
            };
            emulators.push(igz_testkit::emulator::start(config).await);
        }
        let admins = emulators.iter().map(Admin::for_emulator).collect();
        let group_settings = groups_controller::Settings {
            namespaces: vec![ns.clone()],
            concurrency: 8,
            timing: super::fast_timing(),
            fresh_picture_age: Duration::from_millis(300),
            namespace: ns.clone(),
            recoveries: Default::default(),
            instance: Some("conn-test".into()),
            admission_policy: false,
        };
        let registry = Arc::new(
            Registry::new(group_settings.picture_factory(), Observer::default()).with_config_tuner(
                |config| {
                    // Failures reach the status quickly; the platform is probed back soon.
                    config.retry = RetryPolicy {
                        max_attempts: 2,
                        min_delay: Duration::from_millis(20),
                        max_delay: Duration::from_millis(100),
                        max_total_delay: Duration::from_millis(500),
                        max_retry_after: Duration::from_millis(100),
                    };
                    config.connect_timeout = Duration::from_secs(2);
                    config.request_timeout = Duration::from_secs(5);
                    config.breaker = BreakerPolicy {
                        threshold: 5,
                        min_pause: Duration::from_millis(50),
                        max_pause: Duration::from_millis(500),
                    };
                },
            ),
        );
        Self {
            connections: Api::all(client.clone()),
            secrets: Api::namespaced(client.clone(), &ns),
            groups: Api::namespaced(client.clone(), &ns),
            client,
            ns,
            run,
            emulators,
            admins,
            registry,
            group_settings,
            metrics: ConnectionMetrics::default(),
            controller: None,
        }
    }

    /// The settings the tests run the controller with.
    pub fn settings(&self) -> connection::Settings {
        let mut settings = connection::Settings::new(self.ns.clone());
        settings.group_namespaces = vec![self.ns.clone()];
        settings.admission_policy = false;
        settings.selector = Some(format!("{RUN_LABEL}={}", self.run));
        settings.usage_flush = Duration::from_millis(200);
        // Revocations at the emulator (no Secret change) show within a second, not a minute.
        settings.probe_interval = Duration::from_millis(500);
        settings.instance = Some("conn-test".into());
        settings
    }

    /// Starts the connection controller with `client`'s identity.
    pub fn start_controller(&self, client: &Client) -> Controller {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(connection::run(
            client.clone(),
            self.registry.clone(),
            self.settings(),
            self.metrics.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        Controller {
            stop: Some(stop),
            task,
        }
    }

    /// Starts the Group controller on this run's platforms (beside the connection controller).
    pub fn start_groups(&self) -> Controller {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(groups_controller::run(
            self.client.clone(),
            self.registry.clone(),
            self.group_settings.clone(),
            ReconcileMetrics::default(),
            async move {
                let _ = stopped.await;
            },
            || {},
        ));
        Controller {
            stop: Some(stop),
            task,
        }
    }

    /// The full name of this run's connection `short`.
    pub fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.run)
    }

    pub fn url(&self, emulator: usize) -> String {
        self.emulators[emulator].base_url()
    }

    /// Applies (server-side) this run's connection `short` with `spec`.
    pub async fn apply_connection(
        &self,
        short: &str,
        spec: Value,
    ) -> Result<PlatformConnection, kube::Error> {
        let name = self.name(short);
        let body = json!({
            "apiVersion": "igz-operator.io/v1alpha1",
            "kind": "PlatformConnection",
            "metadata": {"name": name, "labels": {RUN_LABEL: self.run, grants::TEST_GRANT_LABEL: "true"}},
            "spec": spec,
        });
        self.connections
            .patch(
                &name,
                &PatchParams::apply("kubectl").force(),
                &Patch::Apply(&body),
            )
            .await
    }

    /// Applies the Secret `name` in the operator's namespace with exactly `pairs` as data.
    pub async fn apply_secret(&self, name: &str, pairs: &[(&str, &str)]) -> Secret {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        };
        let mut body = serde_json::to_value(&secret).unwrap();
        body["apiVersion"] = "v1".into();
        body["kind"] = "Secret".into();
        self.secrets
            .patch(
                name,
                &PatchParams::apply("kubectl").force(),
                &Patch::Apply(&body),
            )
            .await
            .expect("apply Secret")
    }

    /// Polls connection `short` until `check` holds; panics with its last status at the deadline.
    pub async fn wait_for(
        &self,
        short: &str,
        what: &str,
        check: impl Fn(&PlatformConnection) -> bool,
    ) -> PlatformConnection {
        let name = self.name(short);
        wait::until(
            &format!("PlatformConnection {name}: {what}"),
            DEFAULT_DEADLINE,
            || async {
                match self.connections.get(&name).await {
                    Ok(c) if check(&c) => Ok(c),
                    Ok(c) => Err(format!("{:#?}", c.status)),
                    Err(e) => Err(e.to_string()),
                }
            },
        )
        .await
    }

    /// Waits until connection `short`'s Ready condition has `reason`.
    pub async fn wait_reason(&self, short: &str, reason: &str) -> PlatformConnection {
        self.wait_for(short, &format!("Ready reason {reason}"), |c| {
            ready(c).is_some_and(|r| r.1 == reason)
        })
        .await
    }

    /// (reason, note, type) of the Events about connection `short`.
    pub async fn events(&self, short: &str) -> Vec<(String, String, String)> {
        let name = self.name(short);
        // Events about a cluster-scoped object live in the namespace "default".
        Api::<Event>::namespaced(self.client.clone(), "default")
            .list(&ListParams::default())
            .await
            .expect("list Events")
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().is_some_and(|r| {
                    r.name.as_deref() == Some(&name)
                        && r.kind.as_deref() == Some("PlatformConnection")
                })
            })
            .map(|e| {
                (
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                    e.type_.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Waits for an Event about connection `short` with `reason`; returns its note.
    pub async fn wait_event(&self, short: &str, reason: &str) -> String {
        wait::until(
            &format!("a {reason} Event about connection {short}"),
            DEFAULT_DEADLINE,
            || async {
                let events = self.events(short).await;
                events
                    .iter()
                    .find(|e| e.0 == reason)
                    .map(|e| e.1.clone())
                    .ok_or_else(|| format!("{events:?}"))
            },
        )
        .await
    }

    /// Creates Group `name` on connection `short` (no Group controller runs: it just exists).
    pub async fn apply_group(&self, name: &str, short: &str) -> Result<Group, kube::Error> {
        let body = json!({
            "apiVersion": "igz-operator.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": name},
            "spec": {"connection": self.name(short), "members": ["alice"]},
        });
        self.groups
            .patch(
                name,
                &PatchParams::apply("kubectl").force(),
                &Patch::Apply(&body),
            )
            .await
    }

    pub async fn stop(mut self) {
        if let Some(c) = self.controller.take() {
            c.stop().await;
        }
        remove_connections(&self.client, &format!("{RUN_LABEL}={}", self.run)).await;
        grants::withdraw(&self.client, &self.ns).await;
        for e in self.emulators.drain(..) {
            e.shutdown().await;
        }
    }
}

/// (status, reason, message) of a connection's Ready condition.
pub fn ready(c: &PlatformConnection) -> Option<(String, String, String)> {
    condition(c.status.as_ref()?, "Ready")
}

pub fn condition(s: &PlatformConnectionStatus, type_: &str) -> Option<(String, String, String)> {
    s.conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Removes the PlatformConnections `selector` selects: the finalizer first (no controller is
/// left to release it), then the object.
pub async fn remove_connections(client: &Client, selector: &str) {
    let api: Api<PlatformConnection> = Api::all(client.clone());
    let Ok(list) = api.list(&ListParams::default().labels(selector)).await else {
        return;
    };
    for c in list.items {
        let name = c.name_any();
        if c.finalizers().iter().any(|f| f == CONNECTION_FINALIZER) {
            let patch = json!({"metadata": {"finalizers": null}});
            let _ = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await;
        }
        let _ = api.delete(&name, &DeleteParams::default()).await;
    }
}

/// Removes (once per test binary) the connections earlier runs left behind.
pub async fn forget_earlier_connections(client: &Client) {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        remove_connections(client, RUN_LABEL).await;
    })
    .await;
}

/// Applies (once per test binary, on a thread of its own) the connection admission policy for
/// the operator namespace `POLICY_NAMESPACE`, as the operator does at start.
pub fn keep_connection_policy() {
    static KEEPER: OnceLock<()> = OnceLock::new();
    KEEPER.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("keeper runtime");
            runtime.block_on(async {
                let client = envtest::admin_client().await;
                wait::until(
                    "the connection admission policy is applied",
                    DEFAULT_DEADLINE,
                    || async {
                        connection::apply_admission_policy(&client, POLICY_NAMESPACE)
                            .await
                            .map_err(|e| e.to_string())
                    },
                )
                .await;
            });
        });
    });
}
