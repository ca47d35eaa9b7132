//! The PlatformConnection controller: watches connections, the Secrets of the operator's
//! namespace and the Groups (for usage), keeps the registry's clients in line with them (see
//! `binder`), and reconciles each connection: its finalizer, a probe when one is due, its status
//! (written only when it changes), Events on transitions and its metrics.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt as _, Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::{mpsc, watch};

use super::health::{self, Health, LastProbe};
use super::metrics::ConnectionMetrics;
use super::registry::{Registry, UnavailableReason};
use super::settings::ClientDefaults;
use super::status::{self, Notice, Observed};
use super::usage::{Changed, UsageSet};
use super::{FIELD_MANAGER, admission, binder, builtin};
use crate::crd::{CONNECTION_FINALIZER, ConnectionReason, Group, PlatformConnection};

/// How the connection controller runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The operator's namespace: the only one whose Secrets it reads.
    pub namespace: String,
    /// Namespaces whose Groups count as users of connections (empty: all), as the Group
    /// controller watches them.
    pub group_namespaces: Vec<String>,
    /// Rate limit and timeouts of connections that do not set their own.
    pub defaults: ClientDefaults,
    /// Reporting instance of Events (the Pod's name in a Pod).
    pub instance: Option<String>,
    /// Keep the admission policy on Secret namespaces (the operator does; tests that run
    /// several operators against one API server leave it to one keeper).
    pub admission_policy: bool,
    /// Only PlatformConnections with these labels (a label selector); none: all. Tests run
    /// several operators against one API server, each with its own connections.
    pub selector: Option<String>,
    /// How long Group changes are gathered before the connections they use are reconciled
    /// (their `groups` count): creating 1,000 Groups costs a few status writes, not 1,000.
    pub usage_flush: Duration,
    /// How often an idle connection is probed (`PROBE_INTERVAL`; tests shorten it).
    pub probe_interval: Duration,
}

impl Settings {
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            group_namespaces: Vec::new(),
            defaults: ClientDefaults::default(),
            instance: None,
            admission_policy: true,
            selector: None,
            usage_flush: Duration::from_secs(2),
            probe_interval: health::PROBE_INTERVAL,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Kube {
        what: &'static str,
        #[source]
        source: kube::Error,
    },
}

fn kube_error(what: &'static str) -> impl FnOnce(kube::Error) -> Error {
    move |source| Error::Kube { what, source }
}

/// What every reconcile of a connection shares.
struct Context<P> {
    kube: Client,
    registry: Arc<Registry<P>>,
    usage: Arc<Mutex<UsageSet>>,
    metrics: ConnectionMetrics,
    recorder: Recorder,
    settings: Settings,
    /// The last probe of each connection.
    probes: Mutex<HashMap<String, LastProbe>>,
    /// True once connections, Secrets and Groups have been read.
    ready: watch::Receiver<bool>,
}

/// Runs until `shutdown` resolves: the watches, the controller, the prober of the built-in
/// `default`, and (when asked) the admission policy keeper.
pub async fn run<P: Send + Sync + 'static>(
    kube: Client,
    registry: Arc<Registry<P>>,
    settings: Settings,
    metrics: ConnectionMetrics,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let shutdown = shutdown.shared();
    let builtin = builtin::probe_loop(registry.clone(), metrics.clone());
    let policy = async {
        if settings.admission_policy {
            admission::keep(kube.clone(), settings.namespace.clone()).await;
        }
    };
    let connections = async {
        if crd_installed(&kube).await {
            controller(
                kube.clone(),
                registry.clone(),
                settings.clone(),
                metrics.clone(),
                shutdown.clone(),
            )
            .await;
        } else {
            // Installs upgraded without applying the new CRD keep working on the flags.
            tracing::warn!(
                "the PlatformConnection CRD (platformconnections.igz-operator.io) is not installed: only the \
                 connection default from the operator's flags is served; apply crds/ and restart the operator"
            );
            registry.mark_ready();
            shutdown.clone().await;
        }
    };
    futures::select_biased! {
        _ = shutdown.clone().fuse() => {}
        _ = futures::future::join3(connections, builtin, policy).fuse() => {}
    }
}

async fn crd_installed(kube: &Client) -> bool {
    let api: Api<PlatformConnection> = Api::all(kube.clone());
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Err(kube::Error::Api(status)) if status.code == 404 => false,
        // Anything else is for the watch to retry (and say).
        _ => true,
    }
}

/// The watches feeding the registry and the controller.
async fn controller<P: Send + Sync + 'static>(
    kube: Client,
    registry: Arc<Registry<P>>,
    settings: Settings,
    metrics: ConnectionMetrics,
    shutdown: futures::future::Shared<impl std::future::Future<Output = ()> + Send + 'static>,
) {
    let (connections, connection_writer) = reflector::store::<PlatformConnection>();
    let (secrets, secret_writer) = reflector::store::<Secret>();
    let (trigger, triggered) = mpsc::unbounded_channel::<String>();
    let connections_synced = Arc::new(AtomicBool::new(false));
    let secrets_synced = Arc::new(AtomicBool::new(false));

    // Every event of either watch brings the registry in line with both caches, once both are
    // in: a connection judged before its Secret was read would look as if the Secret were
    // missing.
    let bind = {
        let registry = registry.clone();
        let (connections, secrets) = (connections.clone(), secrets.clone());
        let (c_synced, s_synced) = (connections_synced.clone(), secrets_synced.clone());
        let trigger = trigger.clone();
        let metrics = metrics.clone();
        let settings = settings.clone();
        move || {
            if !(c_synced.load(Ordering::Acquire) && s_synced.load(Ordering::Acquire)) {
                return;
            }
            let changed = binder::refresh(
                &registry,
                &connections,
                &secrets,
                &settings.namespace,
                &settings.defaults,
            );
            for name in changed {
                if registry.view(&name).is_none() {
                    metrics.forget(&name);
                }
                let _ = trigger.send(name);
            }
            registry.mark_ready();
        }
    };

    let mut connection_config = watcher::Config::default();
    if let Some(selector) = &settings.selector {
        connection_config = connection_config.labels(selector);
    }
    let connection_stream = {
        let bind = bind.clone();
        let synced = connections_synced.clone();
        watcher(Api::<PlatformConnection>::all(kube.clone()), connection_config)
            .default_backoff()
            .modify(|c| c.metadata.managed_fields = None)
            .reflect(connection_writer)
            .inspect(move |event| {
                match event {
                    Ok(watcher::Event::InitDone) => synced.store(true, Ordering::Release),
                    Err(e) => tracing::warn!(error = %e, "watching PlatformConnections failed; retrying with backoff"),
                    _ => {}
                }
                bind();
            })
            .touched_objects()
            // Our own status and finalizer writes do not come back as reconciles; spec changes
            // and deletion (both bump the generation) do.
            .predicate_filter(predicates::generation, Default::default())
            .boxed()
    };

    // Helm keeps every release revision as a Secret in the release namespace: not ours to read.
    let secret_config = watcher::Config::default().fields("type!=helm.sh/release.v1");
    let secret_events = {
        let synced = secrets_synced.clone();
        let namespace = settings.namespace.clone();
        watcher(Api::<Secret>::namespaced(kube.clone(), &settings.namespace), secret_config)
            .default_backoff()
            .modify(|s| s.metadata.managed_fields = None)
            .reflect(secret_writer)
            .for_each(move |event| {
                match &event {
                    Ok(watcher::Event::InitDone) => synced.store(true, Ordering::Release),
                    Err(e) => tracing::warn!(error = %e, namespace = %namespace, "watching Secrets failed; retrying with backoff"),
                    _ => {}
                }
                bind();
                async {}
            })
    };

    let watches = settings.group_namespaces.len().max(1);
    let usage = Arc::new(Mutex::new(UsageSet::new(watches)));
    let (usage_synced_tx, mut usage_synced) = watch::channel(false);
    let (ready_tx, ready) = watch::channel(false);
    let usage_events = usage_task(
        kube.clone(),
        settings.clone(),
        usage.clone(),
        usage_synced_tx,
        connections.clone(),
        trigger.clone(),
    );
    let readiness = {
        let registry = registry.clone();
        async move {
            if registry.wait_until_ready().await && usage_synced.wait_for(|s| *s).await.is_ok() {
                let _ = ready_tx.send(true);
            }
            // The receivers wait on this sender for as long as the controller runs.
            futures::future::pending::<()>().await;
        }
    };

    let reporter = Reporter {
        controller: "igz-operator".into(),
        instance: settings.instance.clone(),
    };
    let ctx = Arc::new(Context {
        recorder: Recorder::new(kube.clone(), reporter),
        kube,
        registry,
        usage,
        metrics,
        settings,
        probes: Mutex::default(),
        ready,
    });
    let triggers =
        tokio_stream_of(triggered).map(|name| ObjectRef::<PlatformConnection>::new(&name));
    let controller = Controller::for_stream(connection_stream, connections)
        .with_config(ControllerConfig::default().concurrency(4))
        .reconcile_on(triggers)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            use kube::runtime::controller::Error as ControllerError;
            match result {
                Ok(_)
                | Err(ControllerError::ReconcilerFailed(..))
                | Err(ControllerError::ObjectNotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the PlatformConnection controller failed; retrying")
                }
            }
        });
    futures::select_biased! {
        _ = controller.fuse() => {}
        _ = futures::future::join3(secret_events, usage_events, readiness).fuse() => {}
    }
}

fn tokio_stream_of<T: Send + 'static>(
    mut rx: mpsc::UnboundedReceiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Keeps the usage index from the Group watch, and every `usage_flush` asks for a reconcile of
/// the connections whose users changed.
async fn usage_task(
    kube: Client,
    settings: Settings,
    usage: Arc<Mutex<UsageSet>>,
    synced: watch::Sender<bool>,
    connections: Store<PlatformConnection>,
    trigger: mpsc::UnboundedSender<String>,
) {
    let apis: Vec<Api<Group>> = if settings.group_namespaces.is_empty() {
        vec![Api::all(kube)]
    } else {
        settings
            .group_namespaces
            .iter()
            .map(|ns| Api::namespaced(kube.clone(), ns))
            .collect()
    };
    let streams = apis.into_iter().enumerate().map(|(part, api)| {
        watcher(api, watcher::Config::default().any_semantic())
            .default_backoff()
            .map(move |event| (part, event))
            .boxed()
    });
    let mut events = futures::stream::select_all(streams);
    let mut dirty: BTreeSet<String> = BTreeSet::new();
    let mut flush = tokio::time::interval(settings.usage_flush);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.next() => match event {
                None => return,
                Some((_, Err(e))) => tracing::warn!(error = %e, "watching Groups (for connection usage) failed; retrying with backoff"),
                Some((part, Ok(event))) => {
                    let mut usage = usage.lock().expect("usage lock");
                    match usage.apply(part, event) {
                        Changed::None => {}
                        Changed::Some(names) => dirty.extend(names),
                        Changed::All => {
                            dirty.extend(connections.state().iter().map(|c| c.name_any()));
                            if usage.is_synced() {
                                synced.send_replace(true);
                            }
                        }
                    }
                }
            },
            _ = flush.tick() => {
                for name in std::mem::take(&mut dirty) {
                    let _ = trigger.send(name);
                }
            }
        }
    }
}

fn error_policy<P>(
    connection: Arc<PlatformConnection>,
    error: &Error,
    _ctx: Arc<Context<P>>,
) -> Action {
    tracing::warn!(connection = %connection.name_any(), %error, "PlatformConnection reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile<P: Send + Sync + 'static>(
    connection: Arc<PlatformConnection>,
    ctx: Arc<Context<P>>,
) -> Result<Action, Error> {
    if ctx.ready.clone().wait_for(|r| *r).await.is_err() {
        return Ok(Action::await_change());
    }
    let name = connection.name_any();
    let api: Api<PlatformConnection> = Api::all(ctx.kube.clone());
    let holders = ctx.usage.lock().expect("usage lock").holders(&name);
    let deleting = connection.metadata.deletion_timestamp.is_some();
    let has_finalizer = connection
        .finalizers()
        .iter()
        .any(|f| f == CONNECTION_FINALIZER);
    if deleting && holders.count == 0 {
        if has_finalizer {
            set_finalizer(&api, &connection, false).await?;
            tracing::info!(connection = %name, "no Group uses the connection any more; it goes");
        }
        return Ok(Action::await_change());
    }
    if !deleting && !has_finalizer {
        set_finalizer(&api, &connection, true).await?;
    }

    let Some(view) = ctx.registry.view(&name) else {
        // The binder has not seen it yet: it triggers a reconcile when it has.
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    let mut next = None;
    let health = match (&view.problem, &view.connection) {
        (Some(problem), _) => Health::Failed {
            reason: match problem.reason {
                UnavailableReason::NotReady(reason) => reason,
                UnavailableReason::ConnectionNotFound => ConnectionReason::InvalidSpec,
            },
            message: problem.message.clone(),
        },
        (None, Some(client)) => {
            let last = ctx.probes.lock().expect("probe book").get(&name).cloned();
            let interval = ctx.settings.probe_interval;
            let due = health::probe_due(last.as_ref(), view.generation, Instant::now(), interval);
            if due.is_zero() {
                let endpoint = client.client().endpoint().clone();
                let answer =
                    tokio::time::timeout(health::PROBE_TIMEOUT, client.client().probe()).await;
                let health = match answer {
                    Ok(answer) => Health::of_probe(answer, &endpoint),
                    Err(_) => Health::timed_out(&endpoint),
                };
                ctx.probes.lock().expect("probe book").insert(
                    name.clone(),
                    LastProbe {
                        at: Instant::now(),
                        generation: view.generation,
                    },
                );
                if !ctx
                    .registry
                    .set_health(&name, view.generation, health.clone())
                {
                    // New credentials or a new client arrived meanwhile: probe those.
                    return Ok(Action::requeue(Duration::from_millis(10)));
                }
                next = Some(interval);
                health
            } else {
                next = Some(due);
                view.health.clone()
            }
        }
        (None, None) => Health::Unknown,
    };

    let now = jiff::Timestamp::now();
    let secret = format!(
        "{}/{}",
        ctx.settings.namespace, connection.spec.secret_ref.name
    );
    let observed = Observed {
        generation: connection.metadata.generation,
        health: &health,
        secret_version: view.secret_version.clone(),
        holders: &holders,
        deleting,
        secret: &secret,
    };
    let old = connection.status.as_ref();
    let new = status::build(old, &observed, now);
    if old != Some(&new) {
        write_status(&api, &name, &new).await?;
    }
    for notice in status::notices(old, &new) {
        publish(&ctx, &connection, notice).await;
    }
    let up = new
        .conditions
        .iter()
        .any(|c| c.type_ == crate::crd::connection_conditions::READY && c.status == "True");
    ctx.metrics
        .observe(&name, up, new.credentials_expire.as_ref().map(|t| t.0));

    let expiry_change =
        health::next_expiry_change(new.credentials_expire.as_ref().map(|t| t.0), now);
    let wake = [next, expiry_change].into_iter().flatten().min();
    Ok(match wake {
        Some(after) => Action::requeue(after.max(Duration::from_millis(100))),
        None => Action::await_change(),
    })
}

/// Adds (`on`) or removes our finalizer, under the object's resourceVersion.
async fn set_finalizer(
    api: &Api<PlatformConnection>,
    connection: &PlatformConnection,
    on: bool,
) -> Result<(), Error> {
    let mut finalizers: Vec<String> = connection
        .finalizers()
        .iter()
        .filter(|f| *f != CONNECTION_FINALIZER)
        .cloned()
        .collect();
    if on {
        finalizers.push(CONNECTION_FINALIZER.to_owned());
    }
    let patch = serde_json::json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": connection.resource_version(),
    }});
    match api
        .patch(
            &connection.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Gone already: nothing to hold.
        Err(kube::Error::Api(s)) if s.code == 404 && !on => Ok(()),
        Err(e) => Err(kube_error(if on {
            "adding the finalizer"
        } else {
            "removing the finalizer"
        })(e)),
    }
}

async fn write_status(
    api: &Api<PlatformConnection>,
    name: &str,
    status: &crate::crd::PlatformConnectionStatus,
) -> Result<(), Error> {
    let patch = serde_json::json!({
        "apiVersion": "igz-operator.io/v1alpha1",
        "kind": "PlatformConnection",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(kube_error("writing the status"))?;
    Ok(())
}

/// Publishes an Event about `connection`; best effort (a lost Event fails nothing).
async fn publish<P>(ctx: &Context<P>, connection: &PlatformConnection, notice: Notice) {
    let event = Event {
        type_: if notice.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: notice.reason.clone(),
        note: Some(truncate(notice.note, 1000)),
        action: "Connect".into(),
        secondary: None,
    };
    let reference = connection.object_ref(&());
    match tokio::time::timeout(
        Duration::from_secs(10),
        ctx.recorder.publish(&event, &reference),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, reason = notice.reason, "could not publish an Event")
        }
        Err(_) => tracing::warn!(reason = notice.reason, "could not publish an Event in time"),
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}
