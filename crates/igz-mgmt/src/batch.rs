//! Group commit, keyed: changes to one platform object (a project's roles, a user's groups) that
//! arrive while a read-modify-write of that object is in flight wait for it to finish and then go
//! together in the next one. Several keys may go in one round (a transaction may span projects);
//! rounds on disjoint keys run side by side, and a key is never in two rounds at once, so each
//! round reads what the previous one wrote.
//!
//! This module is the pure bookkeeping (which changes go in the next round); `projects` and
//! `users` run the rounds. The senders travel with the changes, so every caller learns the
//! outcome of its own change, whichever task carried it.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::error::MgmtError;

/// One queued change and who waits for its outcome (`O`: what the change reports back).
pub(crate) struct Pending<C, O = ()> {
    pub change: C,
    pub done: oneshot::Sender<Result<O, MgmtError>>,
}

impl<C, O> Pending<C, O> {
    pub fn new(change: C) -> (Self, oneshot::Receiver<Result<O, MgmtError>>) {
        let (done, outcome) = oneshot::channel();
        (Self { change, done }, outcome)
    }
}

/// The changes of one round, by key, keys in arrival order.
pub(crate) type Round<C, O = ()> = Vec<(String, Vec<Pending<C, O>>)>;

/// Queued changes and the keys whose round is in flight.
pub(crate) struct Queue<C, O = ()> {
    /// Keys in the order their first queued change arrived.
    order: Vec<String>,
    queued: HashMap<String, Vec<Pending<C, O>>>,
    busy: HashSet<String>,
    /// Rounds in flight now.
    rounds: usize,
    /// A dispatch is scheduled (lingering or about to run): no need to schedule another.
    pub scheduled: bool,
}

impl<C, O> Default for Queue<C, O> {
    fn default() -> Self {
        Self {
            order: Vec::new(),
            queued: HashMap::new(),
            busy: HashSet::new(),
            rounds: 0,
            scheduled: false,
        }
    }
}

impl<C, O> Queue<C, O> {
    pub fn push(&mut self, key: &str, pending: Pending<C, O>) {
        match self.queued.get_mut(key) {
            Some(changes) => changes.push(pending),
            None => {
                self.order.push(key.to_owned());
                self.queued.insert(key.to_owned(), vec![pending]);
            }
        }
    }

    /// The next round: every queued change of up to `max_keys` keys that are not in flight, in
    /// arrival order. Those keys are in flight from now until [`Queue::finish`]. `None` when no
    /// queued key is free, or when `max_rounds` rounds are in flight already: what arrives
    /// meanwhile waits and goes in one round later, which is the point of batching.
    pub fn take(&mut self, max_keys: usize, max_rounds: usize) -> Option<Round<C, O>> {
        if self.rounds >= max_rounds.max(1) {
            return None;
        }
        let mut round = Vec::new();
        let mut rest = Vec::new();
        for key in std::mem::take(&mut self.order) {
            if round.len() < max_keys.max(1) && !self.busy.contains(&key) {
                let changes = self.queued.remove(&key).unwrap_or_default();
                self.busy.insert(key.clone());
                round.push((key, changes));
            } else {
                rest.push(key);
            }
        }
        self.order = rest;
        if round.is_empty() {
            return None;
        }
        self.rounds += 1;
        Some(round)
    }

    /// The round on `keys` is over: their next queued changes may go.
    pub fn finish<'a>(&mut self, keys: impl IntoIterator<Item = &'a String>) {
        for key in keys {
            self.busy.remove(key);
        }
        self.rounds = self.rounds.saturating_sub(1);
    }

    /// Whether [`Queue::take`] (with these limits) would return a round now.
    pub fn has_free_work(&self, max_rounds: usize) -> bool {
        self.rounds < max_rounds.max(1) && self.order.iter().any(|key| !self.busy.contains(key))
    }

    #[cfg(test)]
    fn queued_len(&self) -> usize {
        self.queued.values().map(Vec::len).sum()
    }
}

/// A [`Queue`] shared between the callers that fill it and the tasks that run its rounds.
pub(crate) struct Batcher<C, O = ()> {
    queue: Mutex<Queue<C, O>>,
}

impl<C, O> Default for Batcher<C, O> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
        }
    }
}

impl<C, O> Batcher<C, O> {
    /// The queue, locked. Never held across an await.
    pub fn lock(&self) -> MutexGuard<'_, Queue<C, O>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C, O> std::fmt::Debug for Batcher<C, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queue = self.lock();
        f.debug_struct("Batcher")
            .field("queued_keys", &queue.order.len())
            .field("busy_keys", &queue.busy.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn push(queue: &mut Queue<u32>, key: &str, change: u32) {
        queue.push(key, Pending::new(change).0);
    }

    fn keys(round: &Round<u32>) -> Vec<(&str, Vec<u32>)> {
        round
            .iter()
            .map(|(k, changes)| (k.as_str(), changes.iter().map(|p| p.change).collect()))
            .collect()
    }

    #[test]
    fn a_round_takes_every_change_of_free_keys_in_arrival_order() {
        let mut q = Queue::default();
        push(&mut q, "p2", 1);
        push(&mut q, "p1", 2);
        push(&mut q, "p2", 3);
        let round = q.take(10, 1).unwrap();
        assert_eq!(keys(&round), [("p2", vec![1, 3]), ("p1", vec![2])]);
        assert!(q.take(10, 9).is_none());
    }

    #[test]
    fn a_busy_key_waits_for_its_round_and_then_goes_with_everything_queued_meanwhile() {
        let mut q = Queue::default();
        push(&mut q, "p1", 1);
        let first = q.take(10, 2).unwrap();
        push(&mut q, "p1", 2);
        push(&mut q, "p1", 3);
        push(&mut q, "p2", 4);
        // p1 is in flight: only p2 may go (two rounds may be in flight).
        assert!(q.has_free_work(2));
        assert!(!q.has_free_work(1), "one round at a time: p2 waits too");
        assert!(q.take(10, 1).is_none());
        assert_eq!(keys(&q.take(10, 2).unwrap()), [("p2", vec![4])]);
        assert!(!q.has_free_work(9));
        assert!(q.take(10, 9).is_none());
        q.finish(first.iter().map(|(k, _)| k));
        assert_eq!(keys(&q.take(10, 2).unwrap()), [("p1", vec![2, 3])]);
    }

    #[test]
    fn max_keys_splits_rounds() {
        let mut q = Queue::default();
        for (i, key) in ["a", "b", "c"].iter().enumerate() {
            push(&mut q, key, i as u32);
        }
        assert_eq!(
            keys(&q.take(2, 9).unwrap()),
            [("a", vec![0]), ("b", vec![1])]
        );
        assert_eq!(keys(&q.take(2, 9).unwrap()), [("c", vec![2])]);
        // Zero is taken as one: a round always makes progress.
        push(&mut q, "d", 3);
        assert_eq!(q.take(0, 9).unwrap().len(), 1);
    }

    proptest! {
        /// Whatever the interleaving of arrivals, rounds and completions: every change goes in
        /// exactly one round, in arrival order per key, a key is never in two rounds at once, and
        /// no more rounds are in flight than allowed.
        #[test]
        fn every_change_goes_once_in_order_and_keys_never_overlap(
            ops in proptest::collection::vec((0u8..4, 0u8..3, 1usize..3), 1..80),
            max_rounds in 1usize..4,
        ) {
            let mut q = Queue::default();
            let mut next = 0u32;
            let mut in_flight: Vec<Round<u32>> = Vec::new();
            let mut seen: HashMap<String, Vec<u32>> = HashMap::new();
            let mut sent: HashMap<String, Vec<u32>> = HashMap::new();
            for (op, key, max) in ops {
                let key = format!("k{key}");
                match op {
                    0 | 1 => {
                        push(&mut q, &key, next);
                        sent.entry(key).or_default().push(next);
                        next += 1;
                    }
                    2 => {
                        if let Some(round) = q.take(max, max_rounds) {
                            prop_assert!(in_flight.len() < max_rounds, "too many rounds");
                            for (k, _) in &round {
                                prop_assert!(
                                    !in_flight.iter().flatten().any(|(other, _)| other == k),
                                    "{k} in two rounds"
                                );
                            }
                            in_flight.push(round);
                        }
                    }
                    _ => {
                        if !in_flight.is_empty() {
                            let round = in_flight.remove(0);
                            q.finish(round.iter().map(|(k, _)| k));
                            for (k, changes) in round {
                                seen.entry(k).or_default().extend(changes.iter().map(|p| p.change));
                            }
                        }
                    }
                }
            }
            // Drain.
            for round in in_flight.drain(..) {
                q.finish(round.iter().map(|(k, _)| k));
                for (k, changes) in round {
                    seen.entry(k).or_default().extend(changes.iter().map(|p| p.change));
                }
            }
            while let Some(round) = q.take(usize::MAX, 1) {
                q.finish(round.iter().map(|(k, _)| k));
                for (k, changes) in round {
                    seen.entry(k).or_default().extend(changes.iter().map(|p| p.change));
                }
            }
            prop_assert_eq!(q.queued_len(), 0);
            prop_assert_eq!(seen, sent);
        }
    }
}
