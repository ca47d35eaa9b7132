//! Fault injection for `/api/*`: latency, 500/503 with `Retry-After`, 429 beyond a rate limit,
//! and dropped answers (the request is processed, then its connection is closed without a
//! response, as when a reply is lost on the network).
//!
//! Tests that rely on a fault need it to happen: `script` injects given faults into the next
//! matching requests, in order, and `seed` makes the random draws of `error_rate` and
//! `drop_rate` repeatable (the n-th request after the faults were set always draws the same).

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The fault knobs; 0 (or empty) turns a fault off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every `/api` request before it is handled.
    pub latency_ms: u64,
    /// Share (0..=1) of requests answered 500 or 503 with `Retry-After` without being handled.
    pub error_rate: f64,
    /// Share (0..=1) of requests handled and then left without an answer.
    pub drop_rate: f64,
    /// Requests per second beyond which the answer is 429 with `Retry-After`.
    pub rate_limit_rps: u64,
    /// Seed of the random draws for `error_rate` and `drop_rate`; none: a fresh random seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Faults for the next matching requests, each used once, before any random draw. What is
    /// left of it is reported by `GET /__emulator/faults`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub script: Vec<ScriptedFault>,
    /// Every `/api` request waits, once counted in the stats and before it is authenticated or
    /// handled, until this is turned off: a test holds requests in flight, changes something
    /// (revokes a key, rotates credentials), then lets them go. No clock involved.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hold: bool,
}

/// One fault for the next request that matches `route`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedFault {
    /// `METHOD /route/{template}` as in the stats (e.g. `POST /api/user_groups`); none: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    pub fault: Fault,
}

/// What a scripted fault does to its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Answer 503 with `Retry-After` without handling the request.
    Error,
    /// Handle the request, then close the connection without an answer.
    Drop,
    /// Answer 429 with `Retry-After: 1` without handling the request.
    RateLimit,
}

/// A partial update from `PUT /__emulator/faults`; absent fields keep their value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_rps: Option<u64>,
    /// Restarts the random draws from this seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Replaces the script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<Vec<ScriptedFault>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<bool>,
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if self.rate_limit_rps > u64::from(u32::MAX) {
            return Err("rate_limit_rps is too large".into());
        }
        Ok(())
    }

    pub fn patched(mut self, patch: FaultsPatch) -> Self {
        self.latency_ms = patch.latency_ms.unwrap_or(self.latency_ms);
        self.error_rate = patch.error_rate.unwrap_or(self.error_rate);
        self.drop_rate = patch.drop_rate.unwrap_or(self.drop_rate);
        self.rate_limit_rps = patch.rate_limit_rps.unwrap_or(self.rate_limit_rps);
        self.seed = patch.seed.or(self.seed);
        if let Some(script) = patch.script {
            self.script = script;
        }
        self.hold = patch.hold.unwrap_or(self.hold);
        self
    }
}

/// What the fault layer decided for one request, before it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answer 429; retry after this many seconds.
    RateLimited(u64),
    /// Answer this status (500 or 503) without handling the request.
    Fail(u16),
    /// Handle the request; then answer, or drop the connection if `drop` is set.
    Proceed { drop: bool },
}

/// The live fault settings, shared by all connections.
pub struct FaultControl {
    state: Mutex<State>,
    /// Whether requests are held (see [`Faults::hold`]); waiters watch it.
    held: tokio::sync::watch::Sender<bool>,
    /// Requests held right now.
    waiting: Arc<AtomicU64>,
}

struct State {
    faults: Faults,
    script: VecDeque<ScriptedFault>,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    rng: StdRng,
}

fn limiter_for(rps: u64) -> Option<Arc<DefaultDirectRateLimiter>> {
    let rps = NonZeroU32::new(u32::try_from(rps).unwrap_or(u32::MAX))?;
    // Burst of one second's worth: the limit reads as "N per second".
    Some(Arc::new(RateLimiter::direct(Quota::per_second(rps))))
}

fn rng_for(seed: Option<u64>) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    }
}

impl FaultControl {
    pub fn new(faults: Faults) -> Self {
        Self {
            held: tokio::sync::watch::Sender::new(faults.hold),
            waiting: Arc::default(),
            state: Mutex::new(State {
                script: faults.script.iter().cloned().collect(),
                limiter: limiter_for(faults.rate_limit_rps),
                rng: rng_for(faults.seed),
                faults,
            }),
        }
    }

    /// The settings, with what is left of the script.
    pub fn current(&self) -> Faults {
        let state = self.state.lock();
        Faults {
            script: state.script.iter().cloned().collect(),
            ..state.faults.clone()
        }
    }

    /// Replaces the settings: a changed rate limit starts a fresh bucket, the script starts
    /// over, and the random draws restart from the seed.
    pub fn set(&self, faults: Faults) {
        let mut state = self.state.lock();
        if state.faults.rate_limit_rps != faults.rate_limit_rps {
            state.limiter = limiter_for(faults.rate_limit_rps);
        }
        state.script = faults.script.iter().cloned().collect();
        state.rng = rng_for(faults.seed);
        self.held.send_replace(faults.hold);
        state.faults = faults;
    }

    /// Returns once requests are not held (at once when they are not).
    pub async fn released(&self) {
        let mut held = self.held.subscribe();
        if !*held.borrow_and_update() {
            return;
        }
        // Counted while waiting; the guard also uncounts a request whose connection is dropped.
        struct Waiting(Arc<AtomicU64>);
        impl Drop for Waiting {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(self.waiting.clone());
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = held.wait_for(|held| !*held).await;
    }

    /// Requests held right now.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Decides the fate of one request to `route` (`METHOD /template`); also returns the
    /// latency to add.
    pub fn judge(&self, route: &str) -> (Verdict, u64) {
        let mut state = self.state.lock();
        let latency = state.faults.latency_ms;
        if let Some(at) = state
            .script
            .iter()
            .position(|s| s.route.as_deref().is_none_or(|r| r == route))
        {
            let scripted = state.script.remove(at).map(|s| s.fault);
            let verdict = match scripted {
                Some(Fault::Error) => Verdict::Fail(503),
                Some(Fault::Drop) => Verdict::Proceed { drop: true },
                Some(Fault::RateLimit) | None => Verdict::RateLimited(1),
            };
            return (verdict, latency);
        }
        if let Some(limiter) = state.limiter.clone()
            && let Err(not_until) = limiter.check()
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return (Verdict::RateLimited(seconds.max(1)), latency);
        }
        let (error_rate, drop_rate) = (state.faults.error_rate, state.faults.drop_rate);
        // Both draws happen for every request, so the n-th request's verdict depends only on
        // the seed and n.
        let error_draw: f64 = state.rng.random();
        let status_draw: bool = state.rng.random();
        let drop_draw: f64 = state.rng.random();
        if error_draw < error_rate {
            let status = if status_draw { 500 } else { 503 };
            return (Verdict::Fail(status), latency);
        }
        (
            Verdict::Proceed {
                drop: drop_draw < drop_rate,
            },
            latency,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_keeps_absent_fields_and_zero_turns_off() {
        let base = Faults {
            latency_ms: 5,
            error_rate: 0.5,
            drop_rate: 0.1,
            rate_limit_rps: 10,
            ..Default::default()
        };
        let patched = base.clone().patched(FaultsPatch {
            error_rate: Some(0.0),
            ..Default::default()
        });
        assert_eq!(
            patched,
            Faults {
                error_rate: 0.0,
                ..base
            }
        );
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert!(
            Faults {
                error_rate: 1.5,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Faults {
                drop_rate: -0.1,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Faults {
                error_rate: 1.0,
                drop_rate: 0.0,
                ..Default::default()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn certain_faults_always_fire_and_off_never_does() {
        let control = FaultControl::new(Faults {
            error_rate: 1.0,
            ..Default::default()
        });
        assert!(matches!(
            control.judge("GET /api/x").0,
            Verdict::Fail(500 | 503)
        ));
        control.set(Faults {
            drop_rate: 1.0,
            ..Default::default()
        });
        assert_eq!(
            control.judge("GET /api/x").0,
            Verdict::Proceed { drop: true }
        );
        control.set(Faults::default());
        assert_eq!(
            control.judge("GET /api/x").0,
            Verdict::Proceed { drop: false }
        );
    }

    #[test]
    fn rate_limit_refuses_beyond_the_burst() {
        let control = FaultControl::new(Faults {
            rate_limit_rps: 3,
            ..Default::default()
        });
        let verdicts: Vec<_> = (0..4).map(|_| control.judge("GET /api/x").0).collect();
        assert!(
            verdicts[..3]
                .iter()
                .all(|v| matches!(v, Verdict::Proceed { .. }))
        );
        assert!(matches!(verdicts[3], Verdict::RateLimited(s) if s >= 1));
    }

    #[test]
    fn a_seed_repeats_the_same_verdicts() {
        let faults = Faults {
            error_rate: 0.3,
            drop_rate: 0.2,
            seed: Some(42),
            ..Default::default()
        };
        let run = |control: &FaultControl| -> Vec<Verdict> {
            (0..200).map(|_| control.judge("GET /api/x").0).collect()
        };
        let control = FaultControl::new(faults.clone());
        let first = run(&control);
        control.set(faults.clone());
        assert_eq!(
            run(&control),
            first,
            "set() restarts the draws from the seed"
        );
        assert_eq!(run(&FaultControl::new(faults)), first);
        assert!(first.iter().any(|v| matches!(v, Verdict::Fail(_))));
        assert!(first.contains(&Verdict::Proceed { drop: true }));
        assert!(first.contains(&Verdict::Proceed { drop: false }));
    }

    #[test]
    fn scripted_faults_hit_the_next_matching_requests_once_each() {
        let control = FaultControl::new(Faults {
            script: vec![
                ScriptedFault {
                    route: Some("POST /api/user_groups".into()),
                    fault: Fault::Drop,
                },
                ScriptedFault {
                    route: None,
                    fault: Fault::Error,
                },
            ],
            ..Default::default()
        });
        // The unrouted entry matches anything; the routed one waits for its route.
        assert_eq!(control.judge("GET /api/users").0, Verdict::Fail(503));
        assert_eq!(
            control.judge("GET /api/users").0,
            Verdict::Proceed { drop: false }
        );
        assert_eq!(control.current().script.len(), 1);
        assert_eq!(
            control.judge("POST /api/user_groups").0,
            Verdict::Proceed { drop: true }
        );
        assert_eq!(
            control.judge("POST /api/user_groups").0,
            Verdict::Proceed { drop: false }
        );
        assert!(control.current().script.is_empty());
    }
}
