//! Request accounting for `/__emulator/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::{Map, Value, json};

#[derive(Default)]
pub struct Stats {
    requests_total: AtomicU64,
    writes_total: AtomicU64,
    rate_limited: AtomicU64,
    errors_injected: AtomicU64,
    dropped: AtomicU64,
    /// "METHOD /route/{template}" -> requests received.
    routes: Mutex<BTreeMap<String, u64>>,
}

/// Which injected fault to count.
#[derive(Debug, Clone, Copy)]
pub enum Injected {
    RateLimited,
    Error,
    Dropped,
}

impl Stats {
    /// Counts one received `/api` request against its route template.
    pub fn request(&self, route: String) {
        self.requests_total.fetch_add(1, Ordering::Relaxed);
        *self.routes.lock().entry(route).or_default() += 1;
    }

    /// Counts one write that a handler accepted (2xx), whether or not its answer was delivered.
    pub fn write(&self) {
        self.writes_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn injected(&self, what: Injected) {
        let counter = match what {
            Injected::RateLimited => &self.rate_limited,
            Injected::Error => &self.errors_injected,
            Injected::Dropped => &self.dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        for counter in [
            &self.requests_total,
            &self.writes_total,
            &self.rate_limited,
            &self.errors_injected,
            &self.dropped,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        self.routes.lock().clear();
    }

    /// `{"requests_total", "writes_total", "faults": {...}, "routes": {route: n}}`; the route
    /// counts also appear as top-level keys so `stats["GET /api/jobs/{id}"]` works.
    pub fn snapshot(&self) -> Value {
        let routes: Map<String, Value> = self
            .routes
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let mut doc = Map::new();
        for (route, count) in &routes {
            doc.insert(route.clone(), count.clone());
        }
        doc.insert(
            "requests_total".into(),
            json!(self.requests_total.load(Ordering::Relaxed)),
        );
        doc.insert(
            "writes_total".into(),
            json!(self.writes_total.load(Ordering::Relaxed)),
        );
        doc.insert(
            "faults".into(),
            json!({
                "rate_limited": self.rate_limited.load(Ordering::Relaxed),
                "errors_injected": self.errors_injected.load(Ordering::Relaxed),
                "dropped": self.dropped.load(Ordering::Relaxed),
            }),
        );
        doc.insert("routes".into(), Value::Object(routes));
        Value::Object(doc)
    }
}
