//! The Group controller: watches Group resources and reconciles each against the platform.
//!
//! `reconcile` is the driver, one stage after another (`cleanup` the same for a deletion): `permit` (tenancy, decided from the
//! grants the `tenancy_watch` caches) -> `observe` (from the shared `picture` of the platform) ->
//! the pure planner (`crate::plan`) -> `execute` (the step runner; `perform` makes each platform
//! call) -> `report` (status and Events, built purely). `group_writer` performs every write to
//! the Group object; `events` sends Events. `admission_policy` keeps the admission policy in line
//! with the grants; `rivals` decides which Group owns a contested name.

mod admission_policy;
mod cleanup;
mod context;
mod convert;
pub(crate) mod error;
mod events;
pub(crate) mod execute;
mod group_metrics;
mod group_writer;
mod metrics;
mod observe;
mod perform;
mod permit;
mod picture;
mod platforms;
mod reconcile;
mod report;
mod rivals;
mod tenancy_watch;

pub use admission_policy::{admission_policy_keeper, apply_admission_policy};
pub use context::{Context, Timing};
pub use error::Error;
pub use events::Events;
pub use metrics::{KubeRequestMetrics, ReconcileMetrics};
pub use picture::{Picture, SharedPicture};
pub use platforms::{Platform, Platforms, Recoveries};
pub use report::Note;

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt as _, StreamExt};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, predicates, watcher};
use kube::{Api, Client};

use crate::crd::Group;
use crate::create_record::RecordKeys;

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Namespaces to watch; empty = all.
    pub namespaces: Vec<String>,
    /// Reconciles at the same time, per watch (one watch per namespace, or one for all).
    pub concurrency: u16,
    pub timing: Timing,
    /// How old the platform picture may be for a Group waiting for missing users or projects
    /// (they are picked up about this long after they appear).
    pub fresh_picture_age: Duration,
    /// The platforms' recoveries; [`Settings::picture_factory`] feeds it.
    pub recoveries: Recoveries,
    /// The operator's own namespace: the record key's Secret lives there.
    pub namespace: String,
    /// Reporting instance for Events (the pod name when in a pod).
    pub instance: Option<String>,
    /// Keep the GroupGrant admission policy in line with the grants (the operator does; tests
    /// that run many controllers in one cluster leave it to one keeper).
    pub admission_policy: bool,
}

impl Settings {
    /// What the platforms registry makes for each connection's client: its picture (see
    /// [`Recoveries::picture_factory`]).
    pub fn picture_factory(
        &self,
    ) -> impl Fn(&str, &igz_mgmt::MgmtClient) -> SharedPicture + Send + Sync + 'static {
        self.recoveries.picture_factory(self.fresh_picture_age)
    }
}

/// A Group watch per namespace (or one for all), each feeding its own cache.
struct Watch {
    store: Store<Group>,
    stream: futures::stream::BoxStream<'static, Result<Group, watcher::Error>>,
}

fn watch(api: Api<Group>) -> Watch {
    let (store, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        // The cache keeps every Group for the process's life: only what reconciles read.
        .modify(slim)
        .reflect(writer)
        .applied_objects()
        // Our own writes (status, annotations, our finalizer) must not trigger reconciles:
        // only spec changes do (generation, which deletion also bumps). Our finalizer is added
        // by the reconcile that needs it, which goes on at once (see `reconcile`); should
        // someone remove it, the next resync puts it back.
        .predicate_filter(predicates::generation, Default::default())
        .boxed();
    Watch { store, stream }
}

/// Says what the controller itself could not do. A failed reconcile is logged (and reported
/// in status) by `reconcile::error_policy`; a watch that fails (for example RBAC that does not
/// let the operator list Groups) would otherwise retry with backoff in silence.
fn log_controller_error<T>(
    result: Result<T, kube::runtime::controller::Error<Error, watcher::Error>>,
) {
    use kube::runtime::controller::Error as ControllerError;
    match result {
        Ok(_) | Err(ControllerError::ReconcilerFailed(..)) => {}
        Err(ControllerError::ObjectNotFound(object)) => {
            tracing::debug!(%object, "a queued Group was deleted before its reconcile");
        }
        Err(e) => tracing::warn!(error = %e, "watching Groups failed; retrying with backoff"),
    }
}

/// Each time a platform answers again after an outage (its client's breaker closed), or its
/// connection got new credentials or a new client: the Groups on that connection whose reconcile
/// failed meanwhile, to retry them now instead of when their grown backoff would.
fn recovered(
    ctx: Arc<Context>,
    recoveries: Recoveries,
    namespace: Option<String>,
) -> impl futures::Stream<Item = ObjectRef<Group>> + Send + 'static {
    let breakers = futures::stream::unfold(recoveries.subscribe(), |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(name) => return Some((name, rx)),
                // Fell behind: the names that were missed come again with the next recovery.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let connections = ctx.platforms.recoveries();
    futures::stream::select(breakers, connections)
        .map(move |connection| {
            let failing = ctx.take_failing(namespace.as_deref(), &connection);
            if !failing.is_empty() {
                tracing::info!(
                    connection,
                    groups = failing.len(),
                    "the platform answers again; retrying the Groups that failed meanwhile"
                );
            }
            futures::stream::iter(failing)
        })
        .flatten()
}

/// Drops what no reconcile reads from a cached Group: `managedFields` (often larger than the
/// rest of the object: one entry per writer, each a tree of field names) and the copy of the
/// whole object a client-side `kubectl apply` leaves in an annotation. Every write we make is a
/// patch of our own fields (status, finalizer, our annotation), so nothing is lost.
pub fn slim(group: &mut Group) {
    group.metadata.managed_fields = None;
    if let Some(annotations) = group.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            group.metadata.annotations = None;
        }
    }
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The record key (see `create_record`), read or created in `namespace`; retried with backoff,
/// saying why, until it can be had: no Group is reconciled without it (a create could not be
/// recorded, and no record could be trusted).
async fn load_record_keys(kube: &Client, namespace: &str) -> RecordKeys {
    let mut delay = Duration::from_secs(1);
    loop {
        match RecordKeys::load_or_create(kube, namespace).await {
            Ok(keys) => return keys,
            Err(why) => tracing::error!(retry_in_s = delay.as_secs(), "{why}"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}

/// Runs until `shutdown` resolves. `on_ready` is called once every Group cache has synced.
pub async fn run(
    kube: Client,
    platforms: Arc<Platforms>,
    settings: Settings,
    metrics: ReconcileMetrics,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce() + Send + 'static,
) {
    let apis: Vec<Api<Group>> = if settings.namespaces.is_empty() {
        vec![Api::all(kube.clone())]
    } else {
        settings
            .namespaces
            .iter()
            .map(|ns| Api::namespaced(kube.clone(), ns))
            .collect()
    };
    let namespaces: Vec<Option<String>> = if settings.namespaces.is_empty() {
        vec![None]
    } else {
        settings.namespaces.iter().cloned().map(Some).collect()
    };
    let watches: Vec<Watch> = apis.into_iter().map(watch).collect();
    let stores: Vec<Store<Group>> = watches.iter().map(|w| w.store.clone()).collect();
    let (tenancy, tenancy_watches) = tenancy_watch::Tenancy::start(kube.clone());

    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let record_keys = futures::select_biased! {
        _ = shutdown.clone().fuse() => return,
        keys = load_record_keys(&kube, &settings.namespace).fuse() => keys,
    };
    let ctx = Context::new(
        kube.clone(),
        platforms,
        &settings,
        record_keys,
        stores.clone(),
        tenancy.clone(),
        metrics,
    );

    let controllers: Vec<_> = watches
        .into_iter()
        .zip(namespaces)
        .map(|(w, namespace)| {
            let reader = w.store.clone();
            let ctx = ctx.clone();
            let shutdown = shutdown.clone();
            let config =
                kube::runtime::controller::Config::default().concurrency(settings.concurrency);
            Controller::for_stream(w.stream, reader)
                .with_config(config)
                // A grant or a namespace's labels changed: every Group is judged again at once.
                .reconcile_all_on(tenancy.changes())
                // The platform is back after an outage: what failed meanwhile, at once.
                .reconcile_on(recovered(
                    ctx.clone(),
                    settings.recoveries.clone(),
                    namespace,
                ))
                .graceful_shutdown_on(shutdown)
                .run(reconcile::reconcile, reconcile::error_policy, ctx)
                .for_each(|result| async move { log_controller_error(result) })
        })
        .collect();
    // Ready once every watched namespace's cache and the tenancy caches have synced.
    let ready_tenancy = tenancy.clone();
    let ready = async move {
        for store in &stores {
            if store.wait_until_ready().await.is_err() {
                return;
            }
        }
        if !ready_tenancy.wait_until_ready().await {
            return;
        }
        tracing::info!("Group, GroupGrant and Namespace caches synced; reconciling");
        on_ready();
    };
    // The watches and the admission policy live as long as the controllers.
    let admission_policy = settings.admission_policy;
    let background = async move {
        let policy = async {
            if admission_policy {
                admission_policy::keep_admission_policy(kube, tenancy).await;
            }
        };
        futures::join!(tenancy_watches, policy);
    };
    futures::select_biased! {
        _ = futures::future::join(futures::future::join_all(controllers), ready).fuse() => {}
        _ = background.fuse() => {}
    }
}

#[cfg(test)]
mod tests;
