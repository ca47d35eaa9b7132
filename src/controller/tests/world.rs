//! A world for one driver test: the fake Kubernetes API, an in-process emulator seeded with
//! users and projects, a fixed tenancy (namespace `team-a`, labelled `tenant: a`, and the grant
//! the test gives), and the Context a reconcile runs with.

use std::sync::Arc;
use std::time::Duration;

use igz_emulator::{EmulatorConfig, RunningEmulator, Seed, SeedProject, SeedUser};
use igz_mgmt::{BreakerPolicy, Credentials, MgmtClient, MgmtConfig, Observer, RetryPolicy};
use igz_testkit::emulator::Admin;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher::Event;

use super::fake_kube::FakeKube;
use crate::controller::context::{Context, Timing};
use crate::controller::error::Error;
use crate::controller::metrics::ReconcileMetrics;
use crate::controller::reconcile::reconcile;
use crate::controller::tenancy_watch::Tenancy;
use crate::controller::{Platforms, Settings};
use crate::crd::{
    Group, GroupGrant, GroupGrantSpec, GroupSpec, ProjectRole, ProjectRoleGrant, TenantPolicy,
};
use crate::create_record::RecordKeys;

pub const NS: &str = "team-a";
pub const KEY: &str = "driver-test-key";

pub struct World {
    pub kube: FakeKube,
    /// Kept for the test's life (the platform stops when it is dropped).
    _emulator: RunningEmulator,
    pub admin: Admin,
    /// The test's own client of the platform (not the operator's).
    pub platform: MgmtClient,
    pub ctx: Arc<Context>,
    groups: std::sync::Mutex<Writer<Group>>,
    grants: std::sync::Mutex<Writer<GroupGrant>>,
}

/// A grant for `team-a` that allows everything (adoption included).
pub fn everything() -> GroupGrantSpec {
    serde_json::from_value(serde_json::json!({
        "namespaceSelector": {"matchLabels": {"tenant": "a"}},
        "tenantPolicies": TenantPolicy::ALL,
        "projectRoles": [ProjectRoleGrant { project_pattern: ".*".into(), max_role: ProjectRole::Admin }],
        "allowAdoption": true,
    }))
    .unwrap()
}

impl World {
    pub async fn new(grant: GroupGrantSpec) -> Self {
        Self::with_key(grant, KEY).await
    }

    /// A world whose operator holds `key` (the emulator accepts only KEY).
    pub async fn with_key(grant: GroupGrantSpec, key: &str) -> Self {
        let user = |name: &str| SeedUser {
            username: name.into(),
            ..Default::default()
        };
        let seed = Seed {
            users: vec![user("alice"), user("bob")],
            projects: vec![SeedProject {
                name: "default".into(),
                ..Default::default()
            }],
            groups: vec![],
        };
        let emulator = igz_testkit::emulator::start(EmulatorConfig {
            access_keys: vec![KEY.into()],
            seed: Some(seed),
            ..Default::default()
        })
        .await;
        let kube = FakeKube::default();
        let mut timing = Timing::new(Duration::from_secs(2));
        timing.error_backoff_min = Duration::from_millis(10);
        let settings = Settings {
            namespaces: vec![NS.into()],
            concurrency: 1,
            timing,
            fresh_picture_age: Duration::ZERO,
            namespace: NS.into(),
            recoveries: Default::default(),
            instance: Some("driver-test".into()),
            admission_policy: false,
        };
        let (tenancy, grants) = Tenancy::fixed(
            vec![GroupGrant::new("team-a", grant)],
            vec![(NS, [("tenant".to_owned(), "a".to_owned())].into())],
        );
        let (store, mut writer) = reflector::store();
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitDone);
        // The connection default is the one client the tests give (as the operator's flags
        // would); no connection controller runs, so the registry is ready at once.
        let platforms = Platforms::new(settings.picture_factory(), Observer::default())
            .with_builtin_default(client(&emulator.base_url(), key));
        platforms.mark_ready();
        let ctx = Context::new(
            kube.client(),
            Arc::new(platforms),
            &settings,
            RecordKeys::generate(),
            vec![store],
            tenancy,
            ReconcileMetrics::default(),
        );
        Self {
            admin: Admin::for_emulator(&emulator),
            platform: client(&emulator.base_url(), KEY),
            _emulator: emulator,
            kube,
            ctx,
            groups: std::sync::Mutex::new(writer),
            grants: std::sync::Mutex::new(grants),
        }
    }

    /// Replaces the grant (a cluster admin's edit), and returns the world.
    pub fn with_grant(self, grant: GroupGrantSpec) -> Self {
        let mut changed = GroupGrant::new("team-a", grant);
        // A new resourceVersion: the compiled grants are cached by it.
        changed.metadata.resource_version = Some(uuid::Uuid::new_v4().to_string());
        let mut grants = self.grants.lock().unwrap();
        grants.apply_watcher_event(&Event::Apply(changed));
        drop(grants);
        self
    }

    /// Creates a Group in `team-a` (as `kubectl apply` would) and puts it in the Group cache.
    pub fn apply(&self, name: &str, spec: serde_json::Value) -> Group {
        let spec: GroupSpec = serde_json::from_value(spec).expect("a Group spec");
        let mut group = Group::new(name, spec);
        group.metadata.namespace = Some(NS.into());
        let group = self.kube.create(group);
        self.cache(&group);
        group
    }

    /// The Group as the API server has it now.
    pub fn group(&self, name: &str) -> Option<Group> {
        self.kube.get(NS, name)
    }

    /// One reconcile of the Group as it is now, with the Group cache brought up to date first
    /// (as the watch keeps it).
    pub async fn reconcile(&self, name: &str) -> Result<Requeue, Error> {
        for group in self.kube.all() {
            self.cache(&group);
        }
        let group = self.group(name).expect("the Group exists");
        reconcile(Arc::new(group), self.ctx.clone()).await
    }

    fn cache(&self, group: &Group) {
        let mut writer = self.groups.lock().unwrap();
        writer.apply_watcher_event(&Event::Apply(group.clone()));
    }

    /// Waits (at most 10 s) until the Events sent satisfy `check`: they are sent by a task of
    /// their own, after the reconcile that published them.
    pub async fn wait_events(
        &self,
        what: &str,
        check: impl Fn(&[super::fake_kube::SentEvent]) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !check(&self.kube.events()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: events {:?}",
                self.kube.events()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether an Event with `reason` was sent whose note contains `text`.
    pub async fn wait_event(&self, reason: &str, text: &str) {
        self.wait_events(&format!("an Event {reason} with \"{text}\""), |events| {
            events
                .iter()
                .any(|(_, r, note)| r == reason && note.contains(text))
        })
        .await;
    }

    /// Writes the platform accepted so far.
    pub async fn platform_writes(&self) -> u64 {
        self.admin.stats().await.writes_total
    }
}

/// A management client with quick retries (failures reach the reconcile fast).
fn client(base_url: &str, key: &str) -> MgmtClient {
    let mut config = MgmtConfig::new(
        base_url.parse().unwrap(),
        Credentials::AccessKey {
            username: None,
            key: key.to_owned().into(),
        },
    );
    config.retry = RetryPolicy {
        max_attempts: 2,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_total_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_millis(20),
    };
    config.job_polling.min_interval = Duration::from_millis(5);
    config.job_polling.max_interval = Duration::from_millis(20);
    config.breaker = BreakerPolicy {
        threshold: 100,
        min_pause: Duration::from_millis(10),
        max_pause: Duration::from_millis(50),
    };
    MgmtClient::new(config).unwrap()
}

/// A condition of `group`: (status, reason, message).
pub fn condition(group: &Group, kind: &str) -> Option<(String, String, String)> {
    let c = group
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}
