//! Group commit for project role changes. A project's roles are rewritten read-modify-write under
//! its lock; while one transaction is in flight, changes for the same project queue up here, and
//! the next lock holder sends all of them in one transaction. N groups given roles in one project
//! at once cost a few transactions instead of N, with the same guarantees (fresh read, every
//! other principal untouched).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use super::error::MgmtError;
use super::model::ProjectRole;

/// One group's wanted role in a project (`None`: no role), and who waits for the outcome.
pub(crate) struct RoleChange {
    pub group_id: String,
    pub role: Option<ProjectRole>,
    pub done: oneshot::Sender<Result<(), MgmtError>>,
}

#[derive(Default)]
pub(crate) struct RoleQueue {
    pending: Mutex<HashMap<String, Vec<RoleChange>>>,
}

impl RoleQueue {
    pub fn push(&self, project: &str, change: RoleChange) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.entry(project.to_owned()).or_default().push(change);
    }

    /// Everything queued for `project` (empty when an earlier lock holder took ours already).
    pub fn take(&self, project: &str) -> Vec<RoleChange> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.remove(project).unwrap_or_default()
    }
}

impl std::fmt::Debug for RoleQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("RoleQueue")
            .field("projects", &pending.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(group: &str) -> (RoleChange, oneshot::Receiver<Result<(), MgmtError>>) {
        let (done, rx) = oneshot::channel();
        (
            RoleChange {
                group_id: group.into(),
                role: Some(ProjectRole::Viewer),
                done,
            },
            rx,
        )
    }

    #[test]
    fn take_returns_each_projects_changes_once() {
        let queue = RoleQueue::default();
        let (a, _ra) = change("a");
        let (b, _rb) = change("b");
        let (c, _rc) = change("c");
        queue.push("p1", a);
        queue.push("p1", b);
        queue.push("p2", c);
        let p1: Vec<String> = queue.take("p1").into_iter().map(|c| c.group_id).collect();
        assert_eq!(p1, ["a", "b"]);
        assert!(queue.take("p1").is_empty());
        assert_eq!(queue.take("p2").len(), 1);
    }
}
