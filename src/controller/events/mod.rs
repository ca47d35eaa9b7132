//! Kubernetes Events (events.k8s.io) for every platform change and every failure, in plain
//! sentences. Publishing is best effort: a lost Event must never fail a reconcile.
//!
//! A reconcile never waits for its Events: they join a bounded queue that one task sends in
//! order, as client-go's broadcaster does (it too keeps 1,000 and drops beyond that). In order,
//! because a repeat patches the Event its first occurrence created, and people read "Created"
//! before "RoleSet". One at a time, so that the operator's most numerous writes (one per platform
//! change) add at most one request at a time to a shared API server, however many Groups change
//! at once.
//!
//! Series are kept the way kube's `Recorder` keeps them (a repeat within the window patches the
//! first Event's `series` instead of creating another), but told apart by the whole sentence:
//! kube's `Recorder` folds every Event of one reason into one series, so "Added member bob"
//! would count as a repeat of "Added member alice". What is remembered per sentence is a hash,
//! the Event's name, a count and a time: at 5,000 Groups with a few changes each, keeping a
//! `Recorder` (and its copy of the Event) per sentence cost more memory than the Groups.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::Reporter;
use kube::{Client, Resource, ResourceExt};
use tokio::sync::mpsc;

use super::report::Note;
use crate::crd::Group;
use crate::plan::Action;

/// How long a repeat of the same sentence still joins the earlier Event's series.
const SERIES_WINDOW: Duration = Duration::from_secs(300);
/// How often forgotten series are swept out (not on every Event: the map can be large).
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Events waiting to be sent, at most (about 1 kB each); more are dropped and counted.
const QUEUE_LEN: usize = 1000;
/// A send that takes longer is given up, so a hung API server cannot hold the queue forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What is remembered of one sentence's Event, to count its repeats.
struct Series {
    name: Box<str>,
    count: i32,
    last: Instant,
}

struct Book {
    /// Hash of (object uid, type, reason, note) -> its series. A collision of two 64-bit
    /// hashes within five minutes would at worst count one sentence as a repeat of another.
    series: HashMap<u64, Series>,
    swept: Instant,
}

pub struct Events {
    client: Client,
    reporter: Reporter,
    hasher: RandomState,
    book: Mutex<Book>,
    queue: mpsc::Sender<Outgoing>,
    dropped: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Normal,
    Warning,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Normal => "Normal",
            Kind::Warning => "Warning",
        }
    }
}

/// The API request that publishes one Event.
enum Request {
    Create(Box<K8sEvent>),
    Patch(String, serde_json::Value),
}

/// One queued Event: where it goes, the request, and its reason (for the log if it fails).
struct Outgoing {
    api: Api<K8sEvent>,
    request: Request,
    reason: String,
}

impl Outgoing {
    async fn send(self) {
        let Outgoing {
            api,
            request,
            reason,
        } = self;
        let sent = async {
            match request {
                Request::Create(event) => {
                    api.create(&PostParams::default(), &event).await.map(|_| ())
                }
                Request::Patch(name, patch) => api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| ()),
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, sent).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, reason, "could not publish an Event"),
            Err(_) => {
                tracing::warn!(reason, timeout = ?SEND_TIMEOUT, "could not publish an Event in time")
            }
        }
    }
}

/// Sends the queued Events one after the other until every sender is gone.
async fn send_in_order(mut queue: mpsc::Receiver<Outgoing>) {
    while let Some(outgoing) = queue.recv().await {
        outgoing.send().await;
    }
}

/// What to do for one Event: create it, or count one more repeat of an existing one.
#[derive(Debug, PartialEq, Eq)]
enum Publish {
    Create { name: String },
    Repeat { name: String, count: i32 },
}

impl Book {
    fn new() -> Self {
        Self {
            series: HashMap::new(),
            swept: Instant::now(),
        }
    }

    /// Forgets the sentence with hash `key`: its next occurrence is a new Event.
    fn forget(&mut self, key: u64) {
        self.series.remove(&key);
    }

    /// Decides how to publish the sentence with hash `key`, named `fresh_name` if it is new.
    fn publish(&mut self, key: u64, fresh_name: impl FnOnce() -> String, now: Instant) -> Publish {
        if now.duration_since(self.swept) >= SWEEP_EVERY {
            self.series
                .retain(|_, s| now.duration_since(s.last) < SERIES_WINDOW);
            self.swept = now;
        }
        match self.series.get_mut(&key) {
            Some(series) if now.duration_since(series.last) < SERIES_WINDOW => {
                series.count += 1;
                series.last = now;
                Publish::Repeat {
                    name: series.name.to_string(),
                    count: series.count,
                }
            }
            _ => {
                let name = fresh_name();
                self.series.insert(
                    key,
                    Series {
                        name: name.clone().into_boxed_str(),
                        count: 1,
                        last: now,
                    },
                );
                Publish::Create { name }
            }
        }
    }
}

impl Events {
    /// Starts the task that sends the Events (so this must run inside a Tokio runtime).
    pub fn new(client: Client, reporter: Reporter) -> Self {
        let (queue, queued) = mpsc::channel(QUEUE_LEN);
        tokio::spawn(send_in_order(queued));
        Self {
            client,
            reporter,
            hasher: RandomState::new(),
            book: Mutex::new(Book::new()),
            queue,
            dropped: AtomicU64::new(0),
        }
    }

    fn lock_book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends the Event the report stage decided on.
    pub async fn send(&self, group: &Group, note: Note) {
        let kind = if note.warning {
            Kind::Warning
        } else {
            Kind::Normal
        };
        self.publish(group, kind, &note.reason, note.message).await
    }

    /// The Event for a platform change that succeeded.
    pub async fn action_done(&self, group: &Group, action: &Action) {
        let reason = action_reason(action);
        self.publish(group, Kind::Normal, reason, format!("{action}."))
            .await
    }

    async fn publish(&self, group: &Group, kind: Kind, reason: &str, note: String) {
        // Events carry at most 1 kB of text.
        let note = truncate(note, 1000);
        let uid = group.uid().unwrap_or_default();
        let key = self.hasher.hash_one((&uid, kind, reason, &note));
        let regarding = group.object_ref(&());
        let now = jiff::Timestamp::now();
        let fresh_name = || {
            let object = regarding.name.as_deref();
            let object = object.unwrap_or(&self.reporter.controller);
            format!("{object}.{:x}", now.as_nanosecond())
        };
        let decision = self.lock_book().publish(key, fresh_name, Instant::now());
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let request = match decision {
            Publish::Create { name } => {
                let event = self.event(name, namespace, regarding, kind, reason, note, now);
                Request::Create(Box::new(event))
            }
            Publish::Repeat { name, count } => Request::Patch(
                name,
                serde_json::json!({"series": EventSeries {
                    count,
                    last_observed_time: MicroTime(now),
                }}),
            ),
        };
        let outgoing = Outgoing {
            api,
            request,
            reason: reason.to_owned(),
        };
        if let Err(refused) = self.queue.try_send(outgoing) {
            // Full (the API server is slow or down) or closed (shutting down). A dropped first
            // occurrence is forgotten, so that the next repeat creates the Event instead of
            // patching one that was never made. Logged at the 1st, 2nd, 4th, 8th... drop: a long
            // outage must not flood the log either.
            let outgoing = refused.into_inner();
            if matches!(outgoing.request, Request::Create(_)) {
                self.lock_book().forget(key);
            }
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, reason, "Event queue full: dropped Events so far");
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        name: String,
        namespace: String,
        regarding: ObjectReference,
        kind: Kind,
        reason: &str,
        note: String,
        now: jiff::Timestamp,
    ) -> K8sEvent {
        K8sEvent {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace),
                ..Default::default()
            },
            action: Some("Reconcile".to_owned()),
            reason: Some(reason.to_owned()),
            note: Some(note),
            type_: Some(kind.as_str().to_owned()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding),
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            ..Default::default()
        }
    }
}

/// The Event reason for each kind of platform change.
pub fn action_reason(action: &Action) -> &'static str {
    match action {
        Action::CreateGroup { .. } => "Created",
        Action::AdoptGroup {
            lost_create: false, ..
        } => "Adopted",
        Action::AdoptGroup {
            lost_create: true, ..
        } => "Recovered",
        Action::UpdateGroup(_) => "Updated",
        Action::AddMember { .. } => "MemberAdded",
        Action::RemoveMember { .. } => "MemberRemoved",
        Action::SetProjectRole { .. } => "RoleSet",
        Action::RemoveProjectRole { .. } => "RoleRemoved",
        Action::DeleteGroup { .. } => "Deleted",
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max - 3;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests;
