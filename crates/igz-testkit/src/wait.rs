//! Waiting for a condition: poll with a generous deadline, never a fixed sleep.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long [`until`] waits unless told otherwise: generous, because a loaded CI machine can be
/// ten times slower than a laptop; a passing test returns as soon as its condition holds.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// Polls `check` every 100 ms until it returns `Ok`, and returns that. Panics after `deadline`,
/// naming `what` and showing the last `Err` (what was seen instead).
pub async fn until<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    loop {
        let last = match check().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        if started.elapsed() > deadline {
            panic!("{what}: not reached within {deadline:?}; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
