//! Jobs: the platform's long-running operations. A job stays `in_progress` for the configured
//! delay and its effect applies when it completes. Time only moves when a request calls
//! [`Model::advance`], so there is no background task and no timer to race with.

use std::time::Instant;

use uuid::Uuid;

use super::{Id, Model, RoleUpdate, now_rfc3339};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    InProgress,
    Completed,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::InProgress => "in_progress",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
        }
    }
}

/// What a job does to the state when it completes.
#[derive(Debug, Clone)]
pub enum Effect {
    Nothing,
    ProjectReady(Id),
    SetRoles(Vec<RoleUpdate>),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: Id,
    pub(super) seq: u64,
    pub kind: String,
    /// JSON text, as the platform stores it.
    pub params: String,
    pub state: JobState,
    /// JSON text; on failure `{"message", "status"}`.
    pub result: String,
    pub created_at: String,
    pub updated_at: String,
    due: Instant,
    effect: Effect,
}

impl Model {
    /// Queues a job due `job_delay` after `now`. Its effect applies on the next
    /// [`Model::advance`] at or after that time.
    pub(super) fn submit_job(
        &mut self,
        kind: &str,
        params: String,
        effect: Effect,
        now: Instant,
    ) -> Id {
        let id = Uuid::new_v4();
        let created = now_rfc3339();
        let job = Job {
            id,
            seq: self.next_seq(),
            kind: kind.to_owned(),
            params,
            state: JobState::InProgress,
            result: String::new(),
            created_at: created.clone(),
            updated_at: created,
            due: now + self.job_delay,
            effect,
        };
        self.jobs.insert(id, job);
        self.pending_jobs.push_back(id);
        id
    }

    /// Completes every job due at `now`, applying effects in submission order.
    pub fn advance(&mut self, now: Instant) {
        while let Some(id) = self.pending_jobs.front().copied() {
            let Some(job) = self.jobs.get(&id) else {
                self.pending_jobs.pop_front();
                continue;
            };
            if job.due > now {
                break;
            }
            self.pending_jobs.pop_front();
            let effect = job.effect.clone();
            let failure = self.apply_effect(&effect);
            if let Some(job) = self.jobs.get_mut(&id) {
                job.updated_at = now_rfc3339();
                job.effect = Effect::Nothing;
                match failure {
                    None => {
                        job.state = JobState::Completed;
                        job.result = serde_json::json!({ "message": "completed" }).to_string();
                    }
                    Some(message) => {
                        job.state = JobState::Failed;
                        job.result =
                            serde_json::json!({ "message": message, "status": 404 }).to_string();
                    }
                }
            }
        }
    }

    /// Applies an effect; returns why it failed, if it did.
    fn apply_effect(&mut self, effect: &Effect) -> Option<String> {
        match effect {
            Effect::Nothing => None,
            Effect::ProjectReady(project) => match self.projects.get_mut(project) {
                Some(p) => {
                    p.operational_status = "online".to_owned();
                    None
                }
                None => Some(format!("project {project} was deleted before it was ready")),
            },
            Effect::SetRoles(updates) => {
                let missing = self.apply_role_updates(updates);
                (!missing.is_empty())
                    .then(|| format!("project_authorization_role {} no longer exists", missing[0]))
            }
        }
    }
}
