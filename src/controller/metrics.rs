//! Reconcile metrics. Labels are bounded (outcome, reason): never a Group's name.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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
}

impl Default for ReconcileMetrics {
    fn default() -> Self {
        Self {
            reconciles: Family::default(),
            duration: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
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
    }

    pub fn observe(&self, outcome: &'static str, reason: &'static str, seconds: f64) {
        self.reconciles
            .get_or_create(&OutcomeLabels { outcome, reason })
            .inc();
        self.duration.observe(seconds);
    }
}
