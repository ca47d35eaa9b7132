//! Kubernetes Events (events.k8s.io) for every platform change and every failure, in plain
//! sentences. Publishing is best effort: a lost Event must never fail a reconcile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};

use crate::crd::Group;
use crate::plan::Action;

/// How long a repeat of the same sentence still joins the earlier Event's series.
const SERIES_WINDOW: Duration = Duration::from_secs(300);

/// (object uid, reason, note): what makes two Events the same Event.
type SentenceKey = (String, String, String);

pub struct Events {
    client: Client,
    reporter: Reporter,
    /// kube's Recorder folds every Event with the same reason into one series for minutes,
    /// keeping the first note: "Added member bob" would be counted as a repeat of "Added member
    /// alice". One Recorder per distinct (object, reason, note) keeps each different sentence its
    /// own Event, while true repeats (the same failure again) still become a series.
    recorders: Mutex<HashMap<SentenceKey, (Recorder, Instant)>>,
}

impl Events {
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self {
            client,
            reporter,
            recorders: Mutex::default(),
        }
    }

    pub async fn normal(&self, group: &Group, reason: &str, note: String) {
        self.publish(group, EventType::Normal, reason, note).await
    }

    pub async fn warning(&self, group: &Group, reason: &str, note: String) {
        self.publish(group, EventType::Warning, reason, note).await
    }

    /// The Event for a platform change that succeeded.
    pub async fn action_done(&self, group: &Group, action: &Action) {
        self.normal(group, action_reason(action), format!("{action}."))
            .await
    }

    async fn publish(&self, group: &Group, type_: EventType, reason: &str, note: String) {
        // Events carry at most 1 kB of text.
        let note = truncate(note, 1000);
        let recorder = self.recorder_for(group, reason, &note);
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &group.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "could not publish an Event");
        }
    }

    fn recorder_for(&self, group: &Group, reason: &str, note: &str) -> Recorder {
        let mut recorders = self.recorders.lock().expect("recorders lock");
        recorders.retain(|_, (_, used)| used.elapsed() < SERIES_WINDOW);
        let key = (
            group.uid().unwrap_or_default(),
            reason.to_owned(),
            note.to_owned(),
        );
        let (recorder, used) = recorders.entry(key).or_insert_with(|| {
            (
                Recorder::new(self.client.clone(), self.reporter.clone()),
                Instant::now(),
            )
        });
        *used = Instant::now();
        recorder.clone()
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
mod tests {
    use super::*;

    #[test]
    fn long_notes_are_cut_on_a_char_boundary() {
        let text = "é".repeat(800);
        let cut = truncate(text, 1000);
        assert!(cut.len() <= 1000);
        assert!(cut.ends_with("..."));
        assert_eq!(truncate("short".into(), 1000), "short");
    }
}
