//! The controller's view of tenancy: GroupGrants and namespace labels, cached by watches; the
//! decision for one Group; a signal when either changes (every Group is then reconciled again,
//! so a withdrawn grant freezes its Groups within seconds); and the admission policy, kept in
//! line with the grants.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;

use super::status::FIELD_MANAGER;
use crate::crd::{Group, GroupGrant};
use crate::plan::PlatformGroup;
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

/// What tenancy says about one Group.
pub enum Verdict {
    /// Covered by these grants (each covers all of it).
    Permitted(Vec<CompiledGrant>),
    /// Not covered: the sentence says what is not granted.
    NotGranted(String),
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

    /// Whether one grant covers all of `group`. Waits for the first full read of grants and
    /// namespaces: judged from a cache still filling, every Group would look ungranted at start.
    pub async fn decide(&self, group: &Group) -> Verdict {
        if !self.wait_until_ready().await {
            return Verdict::NotGranted(
                "the operator cannot read GroupGrants or namespaces (it is shutting down?)".into(),
            );
        }
        let request = Request::of(group);
        let grants = self.compiled();
        let labels = self.labels(&request.namespace);
        match tenancy::check(&grants, &labels, &request) {
            Decision::Permitted(covering) => {
                Verdict::Permitted(covering.into_iter().cloned().collect())
            }
            Decision::NotGranted(message) => Verdict::NotGranted(message),
        }
    }
}

/// Adoption of `existing` under the grants that permit the Group.
pub fn adoption_allowed(
    covering: &[CompiledGrant],
    namespace: &str,
    existing: &PlatformGroup,
) -> Result<(), String> {
    let covering: Vec<&CompiledGrant> = covering.iter().collect();
    tenancy::check_adoption(&covering, namespace, existing)
}

/// Writes the admission policy for `grants` and its binding (server-side apply: creates them or
/// brings them in line).
pub async fn apply_admission_policy(
    client: &Client,
    grants: &[CompiledGrant],
) -> Result<(), kube::Error> {
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let name = tenancy::admission::POLICY_NAME;
    let policy = tenancy::admission::policy(grants);
    policies
        .patch(name, &params, &Patch::Apply(&policy))
        .await?;
    let binding = tenancy::admission::binding();
    bindings
        .patch(name, &params, &Patch::Apply(&binding))
        .await?;
    Ok(())
}

/// Watches GroupGrants and keeps the admission policy in line with them, on its own (what
/// `keep_admission_policy` does inside the controller).
pub async fn admission_policy_keeper(client: Client) {
    let (tenancy, watches) = Tenancy::start(client.clone());
    futures::join!(watches, keep_admission_policy(client, tenancy));
}

/// How often the policy is written again although no grant changed: it heals edits, deletions
/// and a `helm upgrade` that restored the chart's placeholder (an unchanged apply is a no-op).
const POLICY_REFRESH: Duration = Duration::from_secs(60);

/// Keeps the ValidatingAdmissionPolicy (and its binding) equal to what the grants say. Applied
/// at start, after every change and every minute; a failed apply is retried.
pub async fn keep_admission_policy(client: Client, tenancy: Arc<Tenancy>) {
    // Never write a policy from a half-read cache: it would refuse Groups that are granted.
    if !tenancy.wait_until_ready().await {
        return;
    }
    let mut changes = std::pin::pin!(tenancy.changes());
    loop {
        // Let a burst of grant changes settle into one write.
        tokio::time::sleep(Duration::from_millis(200)).await;
        match apply_admission_policy(&client, &tenancy.compiled()).await {
            Ok(()) => {
                tracing::debug!(
                    grants = tenancy.compiled().len(),
                    "admission policy in line with the GroupGrants"
                );
                // Next round on a change, or after POLICY_REFRESH; done when the changes end.
                if let Ok(None) = tokio::time::timeout(POLICY_REFRESH, changes.next()).await {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot apply the GroupGrant admission policy; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}
