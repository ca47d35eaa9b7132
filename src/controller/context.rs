//! What every reconcile shares: clients, the platform picture, the record key, the Group
//! caches, the tenancy watch, Events, metrics, per-object error backoff and timing settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use kube::Client;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{ObjectRef, Store};
use rand::Rng;

use super::Settings;
use super::error::Error;
use super::events::Events;
use super::metrics::ReconcileMetrics;
use super::platforms::{Platform, Platforms};
use super::rivals;
use super::tenancy_watch::Tenancy;
use crate::crd::Group;
use crate::create_record::RecordKeys;

/// Timing of requeues.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Re-check a converged Group this often (plus up to 10% jitter) to revert drift.
    pub resync_interval: Duration,
    /// Re-check a Group with missing users or projects this often, to pick them up once created.
    pub missing_retry: Duration,
    /// Re-check a refused Group (NotGranted, AlreadyExists, NameConflict) this often.
    pub blocked_retry: Duration,
    /// Error backoff bounds (exponential with jitter, per Group).
    pub error_backoff_min: Duration,
    pub error_backoff_max: Duration,
    /// A reconcile that changes nothing in status but `lastSyncTime` writes it only when the
    /// recorded one is this old: rewriting every Group's status at every resync costs the API
    /// server a write per Group per interval (17 a second at 5,000 Groups and 5 minutes).
    pub status_refresh: Duration,
}

impl Timing {
    pub fn new(resync_interval: Duration) -> Self {
        Self {
            resync_interval,
            missing_retry: resync_interval.min(Duration::from_secs(15)),
            blocked_retry: resync_interval.min(Duration::from_secs(60)),
            error_backoff_min: Duration::from_secs(1),
            error_backoff_max: Duration::from_secs(300),
            status_refresh: Duration::from_secs(3600),
        }
    }

    /// How long a reconcile that found the platform being read waits before it comes back:
    /// about as long as the last read took (at least 500 ms, at most half the resync
    /// interval), with up to 50% jitter so the waiting reconciles do not return together.
    pub fn picture_wait(&self, last_read: Duration) -> Duration {
        let base = last_read.clamp(
            Duration::from_millis(500),
            (self.resync_interval / 2).max(Duration::from_millis(500)),
        );
        base.mul_f64(1.0 + rand::rng().random_range(0.0..0.5))
    }

    /// The resync delay with jitter, so a thousand Groups do not resync in the same second.
    pub fn resync(&self) -> Duration {
        let jitter = rand::rng().random_range(0.0..0.1);
        self.resync_interval.mul_f64(1.0 + jitter)
    }
}

pub struct Context {
    pub kube: Client,
    /// The platforms, by connection name.
    pub platforms: Arc<Platforms>,
    /// The key create records are sealed with.
    pub record_keys: RecordKeys,
    /// Caches of every watched Group, to resolve name conflicts across resources.
    pub stores: Vec<Store<Group>>,
    /// GroupGrants and namespace labels: what each Group may ask for.
    pub tenancy: Arc<Tenancy>,
    pub events: Events,
    pub metrics: ReconcileMetrics,
    pub timing: Timing,
    /// One per failing Group: its connection, and backon's ExponentialBackoff iterator (the next
    /// error delay).
    failures: Mutex<HashMap<ObjectRef<Group>, (String, ExponentialBackoff)>>,
}

impl Context {
    /// The shared state for controllers run with `settings`.
    pub fn new(
        kube: Client,
        platforms: Arc<Platforms>,
        settings: &Settings,
        record_keys: RecordKeys,
        stores: Vec<Store<Group>>,
        tenancy: Arc<Tenancy>,
        metrics: ReconcileMetrics,
    ) -> Arc<Self> {
        let reporter = Reporter {
            controller: "igz-operator".into(),
            instance: settings.instance.clone(),
        };
        Arc::new(Self {
            events: Events::new(kube.clone(), reporter),
            platforms,
            record_keys,
            kube,
            stores,
            tenancy,
            metrics,
            timing: settings.timing.clone(),
            failures: Mutex::default(),
        })
    }

    pub fn rival_owner(&self, group: &Group) -> Option<String> {
        // Only the Groups naming the same platform group leave the caches. Copying out every
        // cached Group (and its uid and name) on each reconcile was two thirds of the operator's
        // CPU at 5,000 Groups, and delayed every change behind the resyncs.
        let namesakes: Vec<Arc<Group>> = self
            .stores
            .iter()
            .flat_map(|s| s.state_filter(|other| rivals::names_the_same_group(group, other)))
            .collect();
        rivals::rival_owner(group, namesakes.iter().map(Arc::as_ref))
    }

    /// The platform of the connection `name`, or why it cannot be used now.
    pub async fn platform(&self, name: &str) -> Result<Arc<Platform>, Error> {
        self.platforms.get(name).await.map_err(Error::Connection)
    }

    /// The delay before retrying a Group whose reconcile failed; grows with each failure.
    pub fn next_error_delay(&self, group: &Group) -> Duration {
        let mut failures = self.failures.lock().expect("backoff map lock");
        let key = ObjectRef::from_obj(group);
        let (_, backoff) = failures.entry(key).or_insert_with(|| {
            let backoff = ExponentialBuilder::default()
                .with_jitter()
                .with_min_delay(self.timing.error_backoff_min)
                .with_max_delay(self.timing.error_backoff_max)
                .without_max_times()
                .build();
            (group.connection_name().to_owned(), backoff)
        });
        backoff.next().unwrap_or(self.timing.error_backoff_max)
    }

    /// The Groups on `connection` whose last reconcile failed (in `namespace`, or all),
    /// forgetting their backoff: called when that platform answers again, or its connection
    /// got new credentials, to retry them now rather than after a backoff that grew meanwhile.
    pub fn take_failing(&self, namespace: Option<&str>, connection: &str) -> Vec<ObjectRef<Group>> {
        let mut failures = self.failures.lock().expect("backoff map lock");
        let taken: Vec<ObjectRef<Group>> = failures
            .iter()
            .filter(|(r, (on, _))| {
                on == connection && (namespace.is_none() || r.namespace.as_deref() == namespace)
            })
            .map(|(r, _)| r.clone())
            .collect();
        for r in &taken {
            failures.remove(r);
        }
        taken
    }

    /// A successful reconcile starts the Group's error backoff afresh.
    pub fn reset_error_delay(&self, group: &ObjectRef<Group>) {
        self.failures
            .lock()
            .expect("backoff map lock")
            .remove(group);
    }
}
