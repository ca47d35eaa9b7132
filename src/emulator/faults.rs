//! Fault injection for `/api/*`: latency, random 500/503 with `Retry-After`, 429 beyond a rate
//! limit, and dropped answers (the request is processed, then its connection is closed without
//! a response, as when a reply is lost on the network).

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The fault knobs; 0 turns a fault off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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
}

/// A partial update from `PUT /__emulator/faults`; absent fields keep their value.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    pub latency_ms: Option<u64>,
    pub error_rate: Option<f64>,
    pub drop_rate: Option<f64>,
    pub rate_limit_rps: Option<u64>,
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
    state: Mutex<(Faults, Option<Arc<DefaultDirectRateLimiter>>)>,
}

fn limiter_for(rps: u64) -> Option<Arc<DefaultDirectRateLimiter>> {
    let rps = NonZeroU32::new(u32::try_from(rps).unwrap_or(u32::MAX))?;
    // Burst of one second's worth: the limit reads as "N per second".
    Some(Arc::new(RateLimiter::direct(Quota::per_second(rps))))
}

impl FaultControl {
    pub fn new(faults: Faults) -> Self {
        Self {
            state: Mutex::new((faults, limiter_for(faults.rate_limit_rps))),
        }
    }

    pub fn current(&self) -> Faults {
        self.state.lock().0
    }

    /// Replaces the settings; a changed rate limit starts a fresh bucket.
    pub fn set(&self, faults: Faults) {
        let mut state = self.state.lock();
        if state.0.rate_limit_rps != faults.rate_limit_rps {
            state.1 = limiter_for(faults.rate_limit_rps);
        }
        state.0 = faults;
    }

    /// Decides the fate of one request.
    pub fn judge(&self) -> (Verdict, Faults) {
        let (faults, limiter) = {
            let state = self.state.lock();
            (state.0, state.1.clone())
        };
        if let Some(limiter) = limiter
            && let Err(not_until) = limiter.check()
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return (Verdict::RateLimited(seconds.max(1)), faults);
        }
        let mut rng = rand::rng();
        if faults.error_rate > 0.0 && rng.random_bool(faults.error_rate) {
            let status = if rng.random_bool(0.5) { 500 } else { 503 };
            return (Verdict::Fail(status), faults);
        }
        let drop = faults.drop_rate > 0.0 && rng.random_bool(faults.drop_rate);
        (Verdict::Proceed { drop }, faults)
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
        };
        let patched = base.patched(FaultsPatch {
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
        assert!(matches!(control.judge().0, Verdict::Fail(500 | 503)));
        control.set(Faults {
            drop_rate: 1.0,
            ..Default::default()
        });
        assert_eq!(control.judge().0, Verdict::Proceed { drop: true });
        control.set(Faults::default());
        assert_eq!(control.judge().0, Verdict::Proceed { drop: false });
    }

    #[test]
    fn rate_limit_refuses_beyond_the_burst() {
        let control = FaultControl::new(Faults {
            rate_limit_rps: 3,
            ..Default::default()
        });
        let verdicts: Vec<_> = (0..4).map(|_| control.judge().0).collect();
        assert!(
            verdicts[..3]
                .iter()
                .all(|v| matches!(v, Verdict::Proceed { .. }))
        );
        assert!(matches!(verdicts[3], Verdict::RateLimited(s) if s >= 1));
    }
}
