//! Kubernetes Events (events.k8s.io) for every platform change and every failure, in plain
//! sentences. Publishing is best effort: a lost Event must never fail a reconcile.

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};

use crate::crd::Group;
use crate::plan::Action;

pub struct Events {
    recorder: Recorder,
}

impl Events {
    pub fn new(recorder: Recorder) -> Self {
        Self { recorder }
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
        let event = Event {
            type_,
            reason: reason.to_owned(),
            // Events carry at most 1 kB of text.
            note: Some(truncate(note, 1000)),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &group.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "could not publish an Event");
        }
    }
}

/// The Event reason for each kind of platform change.
pub fn action_reason(action: &Action) -> &'static str {
    match action {
        Action::CreateGroup { .. } => "Created",
        Action::AdoptGroup { .. } => "Adopted",
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
