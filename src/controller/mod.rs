//! The Group controller: watches Group resources and reconciles each against the platform.
//!
//! `reconcile` holds the flow (observe -> plan -> execute -> status, inside the finalizer);
//! `snapshot` the shared bulk picture of the platform; `observe`, `rivals` and `status` are pure
//! helpers; `execute` and `events` are the I/O edges.

mod context;
mod convert;
mod error;
mod events;
mod execute;
mod metrics;
mod observe;
mod reconcile;
mod rivals;
mod snapshot;
mod status;

pub use context::{Context, Timing};
pub use error::Error;
pub use events::Events;
pub use metrics::ReconcileMetrics;
pub use snapshot::{PlatformView, Snapshot};

use std::time::Duration;

use futures::StreamExt;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, Store};
use kube::runtime::utils::Predicate;
use kube::runtime::{Controller, WatchStreamExt, predicates, watcher};
use kube::{Api, Client};

use crate::crd::Group;
use igz_mgmt::MgmtClient;

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Namespaces to watch; empty = all.
    pub namespaces: Vec<String>,
    /// Reconciles at the same time, per watch (one watch per namespace, or one for all).
    pub concurrency: u16,
    pub timing: Timing,
    /// How old the shared platform picture may get before a reconcile reads it again.
    pub snapshot_ttl: Duration,
    /// Reporting instance for Events (the pod name when in a pod).
    pub instance: Option<String>,
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
        .reflect(writer)
        .applied_objects()
        // Our own status and annotation writes must not trigger reconciles: only spec changes
        // (generation, which deletion also bumps) and finalizer changes do.
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers),
            Default::default(),
        )
        .boxed();
    Watch { store, stream }
}

/// Runs until `shutdown` resolves. `on_ready` is called once every Group cache has synced.
pub async fn run(
    kube: Client,
    mgmt: MgmtClient,
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
    let watches: Vec<Watch> = apis.into_iter().map(watch).collect();
    let stores: Vec<Store<Group>> = watches.iter().map(|w| w.store.clone()).collect();

    let reporter = Reporter {
        controller: "igz-operator".into(),
        instance: settings.instance.clone(),
    };
    let ctx = Context::new(
        kube.clone(),
        mgmt.clone(),
        Snapshot::new(mgmt, settings.snapshot_ttl),
        stores.clone(),
        Events::new(kube, reporter),
        metrics,
        settings.timing.clone(),
    );

    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let controllers = watches.into_iter().map(|w| {
        let reader = w.store.clone();
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        let config = kube::runtime::controller::Config::default().concurrency(settings.concurrency);
        Controller::for_stream(w.stream, reader)
            .with_config(config)
            .graceful_shutdown_on(shutdown)
            .run(reconcile::reconcile, reconcile::error_policy, ctx)
            .for_each(|_| async {})
    });
    // Ready once every watched namespace's cache has synced.
    let ready = async move {
        for store in &stores {
            if store.wait_until_ready().await.is_err() {
                return;
            }
        }
        tracing::info!("Group caches synced; reconciling");
        on_ready();
    };
    futures::join!(futures::future::join_all(controllers), ready);
}
