//! Platform jobs: polled until terminal or the configured timeout; a failed job's message is
//! surfaced in the error.
//!
//! Polling is paced by what jobs of the same kind took before: the first poll waits about as long
//! as the last job needed (so a job is usually read once, when it is done), later polls back off
//! exponentially. The estimate shrinks while first polls keep finding jobs done, and jumps to the
//! observed duration when one was not, so it follows the platform up and down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::client::MgmtClient;
use super::config::JobPolling;
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

/// The kinds of job the client waits for; each learns its own pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    RoleTransaction = 0,
    Deletion = 1,
}

/// The learned first-poll delay of each job kind, in microseconds (0: nothing learned yet).
#[derive(Debug, Default)]
pub(crate) struct JobPace {
    estimates: [AtomicU64; 2],
}

impl JobPace {
    fn first_delay(&self, kind: JobKind, polling: &JobPolling) -> Duration {
        let learned = self.estimates[kind as usize].load(Ordering::Relaxed);
        clamp(Duration::from_micros(learned), polling)
    }

    fn learn(&self, kind: JobKind, polling: &JobPolling, first: Duration, seen_done: Seen) {
        let next = next_estimate(first, seen_done, polling);
        self.estimates[kind as usize].store(next.as_micros() as u64, Ordering::Relaxed);
    }
}

/// When a job was seen terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// At the first poll.
    AtFirstPoll,
    /// At a later poll, this long after the job was submitted.
    After(Duration),
}

fn clamp(delay: Duration, polling: &JobPolling) -> Duration {
    delay.clamp(
        polling.min_interval,
        polling.max_interval.max(polling.min_interval),
    )
}

/// The next first-poll delay: a little shorter when the first poll found the job done (probe
/// downwards, the job may be quicker now), the observed time when it took longer.
fn next_estimate(first: Duration, seen: Seen, polling: &JobPolling) -> Duration {
    match seen {
        Seen::AtFirstPoll => clamp(first.mul_f64(0.8), polling),
        Seen::After(elapsed) => clamp(elapsed, polling),
    }
}

/// The delay before poll number `n` (1-based, after the first): a quarter of the first delay,
/// doubling each time, within the configured interval bounds.
fn later_delay(first: Duration, n: u32, polling: &JobPolling) -> Duration {
    let base = (first / 4).max(polling.min_interval);
    clamp(
        base.saturating_mul(1u32 << n.saturating_sub(1).min(16)),
        polling,
    )
}

impl MgmtClient {
    /// Waits for a job to reach a terminal state.
    pub(crate) async fn wait_job(&self, job_id: &str, kind: JobKind) -> Result<(), MgmtError> {
        let polling = &self.inner.job_polling;
        let pace = &self.inner.job_pace;
        let submitted = Instant::now();
        let deadline = submitted + polling.timeout;
        let first = pace.first_delay(kind, polling);
        tracing::debug!(
            job = job_id,
            first_poll_ms = first.as_millis() as u64,
            "waiting for job"
        );
        let mut delay = first;
        let mut polls = 0u32;
        loop {
            if Instant::now() + delay > deadline {
                return Err(MgmtError::new(
                    ErrorKind::Timeout,
                    "GET /api/jobs/{id}",
                    format!("job {job_id} not finished after {:?}", polling.timeout),
                ));
            }
            tokio::time::sleep(delay).await;
            polls += 1;
            let doc: Document<Resource<JobAttributes>> = self
                .fetch(Request::get(routes::JOB, &[job_id]))
                .await
                .map_err(|e| match e.kind() {
                    // The write behind the job was accepted: a refusal of its poll (credentials
                    // revoked meanwhile) says nothing of how it ended, so it is no definite
                    // failure either.
                    ErrorKind::Unauthorized => e.after_lost_answer(),
                    _ => e,
                })?;
            let outcome = job_outcome(&doc.data.attributes);
            if outcome != JobOutcome::Running {
                let seen = if polls == 1 {
                    Seen::AtFirstPoll
                } else {
                    Seen::After(submitted.elapsed())
                };
                pace.learn(kind, polling, first, seen);
            }
            match outcome {
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
            delay = later_delay(first, polls, polling);
            tracing::debug!(job = job_id, state = %doc.data.attributes.state, delay_ms = delay.as_millis() as u64, "job still running");
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

    fn polling() -> JobPolling {
        JobPolling {
            min_interval: Duration::from_millis(50),
            max_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(600),
        }
    }

    #[test]
    fn the_first_poll_follows_what_jobs_took_before() {
        let p = polling();
        let pace = JobPace::default();
        let kind = JobKind::RoleTransaction;
        // Nothing learned: the shortest wait.
        assert_eq!(pace.first_delay(kind, &p), Duration::from_millis(50));
        // A job that needed 1.2 s: the next first poll waits that long.
        pace.learn(
            kind,
            &p,
            Duration::from_millis(50),
            Seen::After(Duration::from_millis(1200)),
        );
        assert_eq!(pace.first_delay(kind, &p), Duration::from_millis(1200));
        // Found done at once: probe a little shorter next time, never below the minimum.
        pace.learn(kind, &p, Duration::from_millis(1200), Seen::AtFirstPoll);
        assert_eq!(pace.first_delay(kind, &p), Duration::from_millis(960));
        for _ in 0..50 {
            let first = pace.first_delay(kind, &p);
            pace.learn(kind, &p, first, Seen::AtFirstPoll);
        }
        assert_eq!(pace.first_delay(kind, &p), Duration::from_millis(50));
        // Never beyond the maximum; other kinds keep their own pace.
        pace.learn(
            kind,
            &p,
            Duration::from_millis(50),
            Seen::After(Duration::from_secs(99)),
        );
        assert_eq!(pace.first_delay(kind, &p), Duration::from_secs(10));
        assert_eq!(
            pace.first_delay(JobKind::Deletion, &p),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn later_polls_back_off_from_a_quarter_of_the_first_wait() {
        let p = polling();
        let first = Duration::from_millis(800);
        let delays: Vec<u128> = (1..=8)
            .map(|n| later_delay(first, n, &p).as_millis())
            .collect();
        assert_eq!(delays, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        // A short first wait backs off from the minimum.
        assert_eq!(
            later_delay(Duration::from_millis(50), 1, &p),
            Duration::from_millis(50)
        );
        assert_eq!(
            later_delay(Duration::from_millis(50), 40, &p),
            Duration::from_secs(10)
        );
    }

    /// Simulated jobs of a fixed duration: after a few jobs the pace settles near it, with
    /// about one poll per job and never a poll more than double the job's duration late.
    #[test]
    fn the_pace_settles_on_the_job_duration() {
        let p = polling();
        for job_ms in [30u64, 400, 1500, 7000] {
            let job = Duration::from_millis(job_ms);
            let pace = JobPace::default();
            let mut polls_total = 0;
            for round in 0..40 {
                let first = pace.first_delay(JobKind::Deletion, &p);
                let (mut at, mut polls) = (first, 1);
                while at < job {
                    at += later_delay(first, polls, &p);
                    polls += 1;
                }
                let seen = if polls == 1 {
                    Seen::AtFirstPoll
                } else {
                    Seen::After(at)
                };
                pace.learn(JobKind::Deletion, &p, first, seen);
                if round >= 20 {
                    polls_total += polls;
                    assert!(
                        at <= (job * 2).max(p.min_interval),
                        "{job_ms} ms job seen at {at:?}"
                    );
                }
            }
            let mean = polls_total as f64 / 20.0;
            assert!(mean <= 2.0, "{job_ms} ms jobs: {mean} polls each");
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
