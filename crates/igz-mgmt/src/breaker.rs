//! A circuit breaker for the whole platform endpoint: when the platform stops answering (5xx,
//! 429, no connection, timeouts) for several requests in a row, further requests fail at once
//! without reaching it, and one probe at a time checks whether it is back, with growing pauses.
//!
//! Why: every reconcile, resync and retry of every Group would otherwise keep asking a platform
//! that is down or overloaded, each with its own backoff: thousands of Groups make a steady
//! stream of requests exactly when the platform can least take them. With the breaker open,
//! the request rate during an outage is one probe per pause (at most one per `max_pause`),
//! whatever the number of Groups; when a probe succeeds, everyone is told (see
//! [`MgmtClient::recoveries`](crate::MgmtClient::recoveries)).
//!
//! This module is the pure state machine; `transport` consults it around every request.

use std::time::{Duration, Instant};

/// When to open and how long to pause.
#[derive(Debug, Clone)]
pub struct BreakerPolicy {
    /// Failed requests in a row (without a success between) that open the breaker.
    pub threshold: u32,
    /// The first pause before a probe; doubled after each failed probe.
    pub min_pause: Duration,
    /// The longest pause between two probes.
    pub max_pause: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            min_pause: Duration::from_secs(1),
            max_pause: Duration::from_secs(30),
        }
    }
}

/// What the breaker says about sending a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    Send,
    /// The platform is taken to be down: fail at once; the next probe is due in this long.
    Refuse(Duration),
}

/// What a request's answer says about the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    /// It answered (any status below 500 but 429, including errors about the request itself).
    Answered,
    /// It did not, or said it is overloaded.
    Down,
}

/// A change the caller must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    None,
    /// Just opened: start probing, the first probe after this pause.
    Opened(Duration),
    /// A probe got an answer: the platform is back.
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { since: Instant, pause: Duration },
}

#[derive(Debug)]
pub(crate) struct Breaker {
    policy: BreakerPolicy,
    state: State,
}

impl Breaker {
    pub fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            state: State::Closed { failures: 0 },
        }
    }

    /// May a (non-probe) request go now?
    pub fn admit(&self, now: Instant) -> Admit {
        match &self.state {
            State::Closed { .. } => Admit::Send,
            State::Open { since, pause } => {
                Admit::Refuse((*since + *pause).saturating_duration_since(now))
            }
        }
    }

    /// Records what a request (or a probe) found.
    pub fn record(&mut self, health: Health, now: Instant) -> Transition {
        match (&mut self.state, health) {
            (State::Closed { failures }, Health::Answered) => {
                *failures = 0;
                Transition::None
            }
            (State::Closed { failures }, Health::Down) => {
                *failures += 1;
                if *failures >= self.policy.threshold.max(1) {
                    let pause = self.policy.min_pause;
                    self.state = State::Open { since: now, pause };
                    Transition::Opened(pause)
                } else {
                    Transition::None
                }
            }
            (State::Open { .. }, Health::Answered) => {
                self.state = State::Closed { failures: 0 };
                Transition::Closed
            }
            // A request that was already on its way when the breaker opened, or a failed probe:
            // only a probe lengthens the pause (see `probe_failed`).
            (State::Open { .. }, Health::Down) => Transition::None,
        }
    }

    /// A probe found the platform still down: the next probe waits twice as long.
    pub fn probe_failed(&mut self, now: Instant) -> Duration {
        let pause = match &self.state {
            State::Open { pause, .. } => (*pause * 2).min(self.policy.max_pause),
            State::Closed { .. } => return Duration::ZERO,
        };
        self.state = State::Open { since: now, pause };
        pause
    }

    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            threshold: 3,
            min_pause: Duration::from_secs(1),
            max_pause: Duration::from_secs(8),
        }
    }

    #[test]
    fn opens_after_failures_in_a_row_only() {
        let t = Instant::now();
        let mut b = Breaker::new(policy());
        assert_eq!(b.record(Health::Down, t), Transition::None);
        assert_eq!(b.record(Health::Down, t), Transition::None);
        // An answer in between starts the count again.
        assert_eq!(b.record(Health::Answered, t), Transition::None);
        assert_eq!(b.record(Health::Down, t), Transition::None);
        assert_eq!(b.record(Health::Down, t), Transition::None);
        assert_eq!(b.admit(t), Admit::Send);
        assert_eq!(
            b.record(Health::Down, t),
            Transition::Opened(Duration::from_secs(1))
        );
        assert_eq!(b.admit(t), Admit::Refuse(Duration::from_secs(1)));
        assert_eq!(
            b.admit(t + Duration::from_millis(400)),
            Admit::Refuse(Duration::from_millis(600))
        );
    }

    #[test]
    fn failed_probes_double_the_pause_up_to_the_limit_and_an_answer_closes() {
        let t = Instant::now();
        let mut b = Breaker::new(policy());
        for _ in 0..3 {
            b.record(Health::Down, t);
        }
        assert!(b.is_open());
        let pauses: Vec<u64> = (0..5).map(|_| b.probe_failed(t).as_secs()).collect();
        assert_eq!(pauses, [2, 4, 8, 8, 8]);
        // Late failures of requests sent before it opened change nothing.
        assert_eq!(b.record(Health::Down, t), Transition::None);
        assert_eq!(b.admit(t), Admit::Refuse(Duration::from_secs(8)));
        assert_eq!(b.record(Health::Answered, t), Transition::Closed);
        assert_eq!(b.admit(t), Admit::Send);
        assert!(!b.is_open());
    }

    /// The bound docs/architecture.md states: during an outage the platform sees the `threshold`
    /// failures, the requests already on the wire (at most `max_in_flight`, 8 by default) and one
    /// probe per pause: under 20 requests in the first minute, then 2 a minute.
    #[test]
    fn probes_during_an_outage_stay_within_the_stated_bound() {
        let p = BreakerPolicy::default();
        let mut b = Breaker::new(p.clone());
        let start = Instant::now();
        for _ in 0..p.threshold {
            b.record(Health::Down, start);
        }
        let probes_within = |b: &mut Breaker, from: Duration, to: Duration| {
            let (mut at, mut probes) = (from, 0);
            while at <= to {
                probes += 1;
                at += b.probe_failed(start + at);
            }
            (probes, at)
        };
        // Probes at 1, 3, 7, 15 and 31 s; the next at 61 s.
        let (first_minute, next) = probes_within(&mut b, p.min_pause, Duration::from_secs(60));
        assert_eq!(first_minute, 5);
        assert!(p.threshold + 8 + first_minute < 20);
        let (second_minute, _) = probes_within(&mut b, next, Duration::from_secs(120));
        assert_eq!(second_minute, 2, "then one every 30 s");
    }
}
