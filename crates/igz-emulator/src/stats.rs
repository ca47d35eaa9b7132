//! Request accounting for `/__emulator/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

#[derive(Default)]
pub struct Stats {
    requests_total: AtomicU64,
    writes_total: AtomicU64,
    rate_limited: AtomicU64,
    errors_injected: AtomicU64,
    dropped: AtomicU64,
    unauthorized: AtomicU64,
    unauthorized_writes: AtomicU64,
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

    /// Counts one request refused for its credentials (401: unknown, revoked or expired key,
    /// ended session, none), and whether it was a write.
    pub fn unauthorized(&self, write: bool) {
        self.unauthorized.fetch_add(1, Ordering::Relaxed);
        if write {
            self.unauthorized_writes.fetch_add(1, Ordering::Relaxed);
        }
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
            &self.unauthorized,
            &self.unauthorized_writes,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        self.routes.lock().clear();
    }

    /// The counters as `GET /__emulator/stats` reports them.
    pub fn report(&self) -> StatsReport {
        StatsReport {
            requests_total: self.requests_total.load(Ordering::Relaxed),
            writes_total: self.writes_total.load(Ordering::Relaxed),
            unauthorized: self.unauthorized.load(Ordering::Relaxed),
            unauthorized_writes: self.unauthorized_writes.load(Ordering::Relaxed),
            held: 0,
            faults: FaultCounts {
                rate_limited: self.rate_limited.load(Ordering::Relaxed),
                errors_injected: self.errors_injected.load(Ordering::Relaxed),
                dropped: self.dropped.load(Ordering::Relaxed),
            },
            routes: self.routes.lock().clone(),
        }
    }
}

/// `GET /__emulator/stats`: what the emulator received since start-up or the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReport {
    /// `/api` requests received, whatever their fate.
    pub requests_total: u64,
    /// Writes a handler accepted (2xx), whether or not the answer was delivered. Reads sent as
    /// POST (session verification) are not writes.
    pub writes_total: u64,
    /// Requests refused for their credentials (401): unknown, revoked or expired access keys,
    /// ended login sessions, none at all.
    #[serde(default)]
    pub unauthorized: u64,
    /// Of those, writes (any method but GET, HEAD, OPTIONS; login and session verification are
    /// not writes): what a client tried to change with rejected credentials. None of them
    /// changed anything.
    #[serde(default)]
    pub unauthorized_writes: u64,
    /// Requests held right now by the `hold` fault (a gauge, not a count since the reset).
    #[serde(default)]
    pub held: u64,
    pub faults: FaultCounts,
    /// `METHOD /route/{template}` -> requests received.
    pub routes: BTreeMap<String, u64>,
}

/// Injected faults, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    pub rate_limited: u64,
    pub errors_injected: u64,
    pub dropped: u64,
}

impl StatsReport {
    /// Requests received for one route, e.g. `POST /api/user_groups` (0 when none were).
    pub fn route(&self, route: &str) -> u64 {
        self.routes.get(route).copied().unwrap_or(0)
    }

    /// The wire form: the fields, plus each route count as a top-level key too (so
    /// `stats["GET /api/jobs/{id}"]` works for scripts).
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        for (route, count) in &self.routes {
            doc.insert(route.clone(), json!(count));
        }
        if let Value::Object(fields) = json!(self) {
            doc.extend(fields);
        }
        Value::Object(doc)
    }
}
