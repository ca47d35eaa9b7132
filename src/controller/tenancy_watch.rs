//! The tenancy watch: GroupGrants and namespace labels, cached by watches, compiled, and the
//! tenancy decision for one Group from them; a signal when either changes (every Group is then
//! reconciled again, so a withdrawn grant freezes its Groups within seconds).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;

use crate::crd::GroupGrant;
use crate::plan::Desired;
use crate::tenancy::{self, CompiledGrant, Decision, Request};

/// Until both watches have read their resources once, no Group is reconciled (the operator is
/// not Ready either): a watch that fails, for example for want of RBAC, must say so.
fn log_watch_error<K>(event: Result<K, watcher::Error>, what: &str) {
    if let Err(e) = event {
        tracing::warn!(error = %e, "watching {what} failed; retrying with backoff");
    }
}

/// Grants and namespace labels as last seen, and the grants compiled.
pub struct Tenancy {
    grants: Store<GroupGrant>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
    compiled: Mutex<CompiledCache>,
    /// Bumped whenever a grant or a namespace's labels change.
    changes: watch::Receiver<u64>,
    /// True once both caches have synced. A watch channel, not the stores' own readiness:
    /// kube's `Store::wait_until_ready` wakes only the last of several tasks waiting at once,
    /// and every reconcile waits here.
    synced: watch::Receiver<bool>,
}

/// Compiled grants, with the (name, resourceVersion) list they were compiled from.
#[derive(Default)]
struct CompiledCache {
    versions: Vec<(String, String)>,
    grants: Arc<Vec<CompiledGrant>>,
}

impl Tenancy {
    /// Starts the watches (GroupGrants, namespace metadata) and returns the view plus the task
    /// that drives them.
    pub fn start(client: Client) -> (Arc<Self>, impl std::future::Future<Output = ()> + Send) {
        let (grants, grant_writer) = reflector::store();
        let (namespaces, namespace_writer) = reflector::store();
        let (tx, changes) = watch::channel(0u64);
        let bump = move || {
            tx.send_modify(|n| *n += 1);
        };
        let grant_events = watcher(Api::<GroupGrant>::all(client.clone()), Default::default())
            .default_backoff()
            .reflect(grant_writer)
            // Deletions too: a withdrawn grant must reach the Groups and the admission policy.
            .touched_objects()
            .map(|event| log_watch_error(event, "GroupGrants"))
            .boxed();
        // Only label changes matter; namespaces come and go often in big clusters.
        let namespaces_api = Api::<PartialObjectMeta<Namespace>>::all(client);
        let namespace_events = watcher(namespaces_api, Default::default())
            .default_backoff()
            .reflect(namespace_writer)
            .applied_objects()
            .predicate_filter(kube::runtime::predicates::labels, Default::default())
            .map(|event| log_watch_error(event, "namespaces"))
            .boxed();
        let (synced_tx, synced) = watch::channel(false);
        let (grants_synced, namespaces_synced) = (grants.clone(), namespaces.clone());
        let driver = async move {
            let events = async {
                let mut events = futures::stream::select(grant_events, namespace_events);
                while events.next().await.is_some() {
                    bump();
                }
            };
            // One waiter per store (this task), so their single-waiter readiness is enough.
            let ready = async {
                if grants_synced.wait_until_ready().await.is_ok()
                    && namespaces_synced.wait_until_ready().await.is_ok()
                {
                    let _ = synced_tx.send(true);
                }
            };
            futures::join!(events, ready);
        };
        let tenancy = Arc::new(Self {
            grants,
            namespaces,
            compiled: Mutex::default(),
            changes,
            synced,
        });
        (tenancy, driver)
    }

    /// A tenancy of `grants` and the labels of `namespaces`, as if read by the watches, and the
    /// writer that changes the grants (for the driver's tests, which have no API server to
    /// watch).
    #[cfg(test)]
    pub fn fixed(
        grants: Vec<GroupGrant>,
        namespaces: Vec<(&str, BTreeMap<String, String>)>,
    ) -> (Arc<Self>, reflector::store::Writer<GroupGrant>) {
        use kube::runtime::watcher::Event;
        let (grant_store, mut grant_writer) = reflector::store();
        let (namespace_store, mut namespace_writer) = reflector::store();
        grant_writer.apply_watcher_event(&Event::Init);
        for grant in grants {
            grant_writer.apply_watcher_event(&Event::InitApply(grant));
        }
        grant_writer.apply_watcher_event(&Event::InitDone);
        namespace_writer.apply_watcher_event(&Event::Init);
        for (name, labels) in namespaces {
            let mut meta = PartialObjectMeta::<Namespace>::default();
            meta.metadata.name = Some(name.to_owned());
            meta.metadata.labels = Some(labels);
            namespace_writer.apply_watcher_event(&Event::InitApply(meta));
        }
        namespace_writer.apply_watcher_event(&Event::InitDone);
        // The senders may go: the values stay, and nothing waits for a change.
        let tenancy = Arc::new(Self {
            grants: grant_store,
            namespaces: namespace_store,
            compiled: Mutex::default(),
            changes: watch::channel(0).1,
            synced: watch::channel(true).1,
        });
        (tenancy, grant_writer)
    }

    /// Waits until both caches hold the cluster's state.
    pub async fn wait_until_ready(&self) -> bool {
        self.synced.clone().wait_for(|synced| *synced).await.is_ok()
    }

    /// A stream that yields once per change of grants or namespace labels.
    pub fn changes(&self) -> impl Stream<Item = ()> + Send + 'static {
        futures::stream::unfold(self.changes.clone(), |mut rx| async move {
            rx.changed().await.ok()?;
            Some(((), rx))
        })
    }

    /// The valid grants, compiled (cached until a grant changes). Invalid ones grant nothing and
    /// are logged.
    pub fn compiled(&self) -> Arc<Vec<CompiledGrant>> {
        let mut grants = self.grants.state();
        grants.sort_by_key(|g| g.name_any());
        let versions: Vec<(String, String)> = grants
            .iter()
            .map(|g| (g.name_any(), g.resource_version().unwrap_or_default()))
            .collect();
        let mut cache = self.compiled.lock().expect("compiled grants lock");
        if cache.versions != versions {
            let compiled = grants
                .iter()
                .filter_map(|g| match tenancy::compile(g) {
                    Ok(grant) => Some(grant),
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring an invalid GroupGrant");
                        None
                    }
                })
                .collect();
            *cache = CompiledCache {
                versions,
                grants: Arc::new(compiled),
            };
        }
        cache.grants.clone()
    }

    /// The namespace's labels (none when it is not known: then only `{}` selectors match).
    fn labels(&self, namespace: &str) -> BTreeMap<String, String> {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .and_then(|ns| ns.metadata.labels.clone())
            .unwrap_or_default()
    }

    /// The tenancy decision for a Group in `namespace` that desires `desired`: which grants
    /// cover all of it. Waits for the first full read of grants and namespaces: judged from a
    /// cache still filling, every Group would look ungranted at start.
    pub async fn decide(&self, namespace: &str, desired: &Desired) -> Decision {
        if !self.wait_until_ready().await {
            return Decision::NotGranted(
                "the operator cannot read GroupGrants or namespaces (it is shutting down?)".into(),
            );
        }
        let request = Request::of(namespace, desired);
        let grants = self.compiled();
        tenancy::check(&grants, &self.labels(namespace), &request)
    }
}
