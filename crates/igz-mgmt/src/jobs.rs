//! Platform jobs: polled with jittered exponential backoff until terminal or the configured
//! timeout; a failed job's message is surfaced in the error.

use std::time::Instant;

use backon::BackoffBuilder as _;

use super::client::MgmtClient;
use super::error::{ErrorKind, MgmtError};
use super::jsonapi::{Document, Resource};
use super::model::JobAttributes;
use super::routes;
use super::transport::Request;

#[derive(Debug, PartialEq, Eq)]
enum JobOutcome {
    Completed,
    Failed(String),
    Running,
}

impl MgmtClient {
    /// Waits for a job to reach a terminal state.
    pub(crate) async fn wait_job(&self, job_id: &str) -> Result<(), MgmtError> {
        let polling = &self.inner.job_polling;
        let deadline = Instant::now() + polling.timeout;
        let mut delays = backon::ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(polling.min_interval)
            .with_max_delay(polling.max_interval)
            .without_max_times()
            .build();
        loop {
            let doc: Document<Resource<JobAttributes>> =
                self.fetch(Request::get(routes::JOB, &[job_id])).await?;
            let state = doc.data.attributes.state.clone();
            match job_outcome(&doc.data.attributes) {
                JobOutcome::Completed => return Ok(()),
                JobOutcome::Failed(message) => {
                    return Err(MgmtError::new(
                        ErrorKind::JobFailed,
                        "GET /api/jobs/{id}",
                        format!("job {job_id} {message}"),
                    ));
                }
                JobOutcome::Running => {}
            }
            let delay = delays.next().unwrap_or(polling.max_interval);
            if Instant::now() + delay > deadline {
                return Err(MgmtError::new(
                    ErrorKind::Timeout,
                    "GET /api/jobs/{id}",
                    format!("job {job_id} still {state:?} after {:?}", polling.timeout),
                ));
            }
            tracing::debug!(job = job_id, state = %state, delay_ms = delay.as_millis() as u64, "job still running");
            tokio::time::sleep(delay).await;
        }
    }
}

/// Reads a job's state; the failure message comes from `result` (JSON text with `message`
/// and an optional `status`), or the raw text when it is not JSON.
fn job_outcome(job: &JobAttributes) -> JobOutcome {
    match job.state.as_str() {
        "completed" => JobOutcome::Completed,
        "failed" | "canceled" => {
            #[derive(serde::Deserialize)]
            struct JobResult {
                message: Option<serde_json::Value>,
                status: Option<serde_json::Value>,
            }
            let mut text = format!("ended {}", job.state);
            match serde_json::from_str::<JobResult>(&job.result) {
                Ok(JobResult { message, status }) => {
                    if let Some(status) = status {
                        text.push_str(&format!(
                            " (status {})",
                            status.to_string().trim_matches('"')
                        ));
                    }
                    if let Some(message) = message {
                        let message = message
                            .as_str()
                            .map_or_else(|| message.to_string(), str::to_owned);
                        text.push_str(&format!(": {message}"));
                    }
                }
                Err(_) if !job.result.trim().is_empty() => {
                    text.push_str(&format!(": {}", job.result.trim()))
                }
                Err(_) => {}
            }
            JobOutcome::Failed(text)
        }
        _ => JobOutcome::Running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: &str, result: &str) -> JobAttributes {
        JobAttributes {
            state: state.into(),
            result: result.into(),
        }
    }

    #[test]
    fn states_map_to_outcomes() {
        assert_eq!(job_outcome(&job("completed", "")), JobOutcome::Completed);
        for running in [
            "created",
            "dispatched",
            "in_progress",
            "republishing",
            "",
            "weird",
        ] {
            assert_eq!(job_outcome(&job(running, "")), JobOutcome::Running);
        }
        assert_eq!(
            job_outcome(&job(
                "failed",
                r#"{"message":"role not found","status":404}"#
            )),
            JobOutcome::Failed("ended failed (status 404): role not found".into())
        );
        assert_eq!(
            job_outcome(&job("canceled", "operator stopped it")),
            JobOutcome::Failed("ended canceled: operator stopped it".into())
        );
        assert_eq!(
            job_outcome(&job("failed", "")),
            JobOutcome::Failed("ended failed".into())
        );
    }
}
