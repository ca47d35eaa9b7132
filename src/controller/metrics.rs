//! Reconcile metrics. Labels are bounded (outcome, reason): never a Group's name.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::group_metrics::GroupMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// "success" or "error".
    pub outcome: &'static str,
    /// The condition reason the reconcile ended with.
    pub reason: &'static str,
}

#[derive(Clone, Debug)]
pub struct ReconcileMetrics {
    reconciles: Family<OutcomeLabels, Counter>,
    duration: Histogram,
    /// The Groups as they are now.
    pub groups: GroupMetrics,
}

impl Default for ReconcileMetrics {
    fn default() -> Self {
        Self {
            reconciles: Family::default(),
            duration: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            groups: GroupMetrics::default(),
        }
    }
}

impl ReconcileMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("igz_operator");
        sub.register(
            "reconciles",
            "Group reconciles, by outcome and condition reason",
            self.reconciles.clone(),
        );
        sub.register(
            "reconcile_duration_seconds",
            "Time spent in one Group reconcile",
            self.duration.clone(),
        );
        self.groups.register(registry);
    }

    pub fn observe(&self, outcome: &'static str, reason: &'static str, seconds: f64) {
        self.reconciles
            .get_or_create(&OutcomeLabels { outcome, reason })
            .inc();
        self.duration.observe(seconds);
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KubeRequestLabels {
    /// get, list, watch, create, update, patch, delete.
    pub verb: &'static str,
    /// The resource as the API path names it (`groups`, `groups/status`, `events`): bounded,
    /// never an object's name.
    pub resource: String,
}

/// Kubernetes API requests the operator sends, by verb and resource. The apiserver is shared
/// (and on small clusters its CPU is what limits how fast Groups converge): this says what the
/// operator costs it, per reconcile.
#[derive(Clone, Debug, Default)]
pub struct KubeRequestMetrics {
    requests: Family<KubeRequestLabels, Counter>,
}

impl KubeRequestMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("igz_operator");
        sub.register(
            "kube_requests",
            "Kubernetes API requests sent, by verb and resource",
            self.requests.clone(),
        );
    }

    pub fn count(&self, method: &http::Method, uri: &http::Uri) {
        let (verb, resource) = classify(method, uri.path(), uri.query().unwrap_or_default());
        self.requests
            .get_or_create(&KubeRequestLabels { verb, resource })
            .inc();
    }
}

/// The verb and resource of a Kubernetes API request, from its method and path
/// (`/api/v1/...` or `/apis/GROUP/VERSION/...`, optionally `namespaces/NS/`, then
/// `RESOURCE[/NAME[/SUBRESOURCE]]`).
pub fn classify(method: &http::Method, path: &str, query: &str) -> (&'static str, String) {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => &[][..],
    };
    // `namespaces/NS/RESOURCE...` is a namespaced resource; `namespaces[/NS]` alone is the
    // Namespace resource itself.
    let rest = match rest {
        ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let (resource, named) = match rest {
        [] => ("other".to_owned(), false),
        [resource] => ((*resource).to_owned(), false),
        [resource, _name] => ((*resource).to_owned(), true),
        [resource, _name, sub, ..] => (format!("{resource}/{sub}"), true),
    };
    let watch = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let verb = match *method {
        http::Method::GET if watch => "watch",
        http::Method::GET if named => "get",
        http::Method::GET => "list",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    };
    (verb, resource)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn requests_are_classified_by_verb_and_resource_never_by_name() {
        let cases = [
            (
                Method::PATCH,
                "/apis/igz-operator.io/v1alpha1/namespaces/a/groups/g1/status",
                "",
                ("patch", "groups/status"),
            ),
            (
                Method::PATCH,
                "/apis/igz-operator.io/v1alpha1/namespaces/a/groups/g1",
                "",
                ("patch", "groups"),
            ),
            (
                Method::GET,
                "/apis/igz-operator.io/v1alpha1/groups",
                "watch=true&resourceVersion=5",
                ("watch", "groups"),
            ),
            (
                Method::GET,
                "/apis/igz-operator.io/v1alpha1/groups",
                "limit=500",
                ("list", "groups"),
            ),
            (
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/a/events",
                "",
                ("create", "events"),
            ),
            (
                Method::GET,
                "/api/v1/namespaces",
                "",
                ("list", "namespaces"),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a",
                "",
                ("get", "namespaces"),
            ),
            (
                Method::PUT,
                "/apis/coordination.k8s.io/v1/namespaces/a/leases/l",
                "",
                ("update", "leases"),
            ),
            (Method::GET, "/version", "", ("list", "other")),
        ];
        for (method, path, query, (verb, resource)) in cases {
            assert_eq!(
                classify(&method, path, query),
                (verb, resource.to_owned()),
                "{path}"
            );
        }
    }
}
