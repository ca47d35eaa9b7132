//! Shared set-up for the management client tests: an in-process emulator on an ephemeral
//! port with a few seeded users and a project, client settings tuned for fast tests, and the
//! test kit's typed client for the emulator's admin routes.

use std::num::NonZeroU32;
use std::time::Duration;

use igz_emulator::{EmulatorConfig, FaultsPatch, RunningEmulator, Seed, SeedProject, SeedUser};
use igz_mgmt::{Credentials, JobPolling, MgmtClient, MgmtConfig, RateLimit, RetryPolicy};
use igz_testkit::emulator::Admin;
use secrecy::SecretString;
use url::Url;

pub const ACCESS_KEY: &str = "ak-7f3e2c1b-test-secret";
pub const PASSWORD: &str = "alice-pw-4b8d0e-secret";
pub const PROJECT: &str = "proj-a";
pub const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

pub struct Env {
    /// Kept so the server lives as long as the test.
    pub _emulator: RunningEmulator,
    pub base: Url,
    pub admin: Admin,
}

pub async fn start() -> Env {
    start_with(Duration::ZERO).await
}

/// Starts an emulator whose jobs take `job_delay` to complete.
pub async fn start_with(job_delay: Duration) -> Env {
    start_custom(job_delay, &[], |_| {}).await
}

/// Like [`start_with`], with more projects and the emulator's settings changed by `tune`.
pub async fn start_custom(
    job_delay: Duration,
    extra_projects: &[&str],
    tune: impl FnOnce(&mut EmulatorConfig),
) -> Env {
    // Every test of this binary logs into one buffer, so the redaction test sees them all.
    igz_testkit::logs::capture("igz_mgmt=trace,reqwest=trace,hyper=debug");
    let seed = Seed {
        users: USERS
            .iter()
            .map(|name| SeedUser {
                username: (*name).to_owned(),
                password: (*name == "alice").then(|| PASSWORD.to_owned()),
                ..Default::default()
            })
            .collect(),
        projects: std::iter::once(SeedProject {
            name: PROJECT.to_owned(),
            owner: Some("alice".to_owned()),
            ..Default::default()
        })
        .chain(extra_projects.iter().map(|name| SeedProject {
            name: (*name).to_owned(),
            ..Default::default()
        }))
        .collect(),
        groups: Vec::new(),
    };
    let mut config = EmulatorConfig {
        access_keys: vec![ACCESS_KEY.to_owned()],
        job_delay,
        seed: Some(seed),
        ..Default::default()
    };
    tune(&mut config);
    let emulator = igz_testkit::emulator::start(config).await;
    let base = Url::parse(&emulator.base_url()).unwrap();
    Env {
        admin: Admin::for_emulator(&emulator),
        _emulator: emulator,
        base,
    }
}

pub fn access_key() -> Credentials {
    Credentials::AccessKey {
        username: None,
        key: SecretString::from(ACCESS_KEY),
    }
}

/// An access key other than the start-up one (issued through the emulator's admin routes).
pub fn key(secret: &str) -> Credentials {
    Credentials::AccessKey {
        username: None,
        key: SecretString::from(secret.to_owned()),
    }
}

pub fn login(password: &str) -> Credentials {
    Credentials::Login {
        username: "alice".to_owned(),
        password: SecretString::from(password.to_owned()),
    }
}

impl Env {
    /// Settings with short, bounded retries and fast job polling.
    pub fn config(&self, credentials: Credentials) -> MgmtConfig {
        let mut cfg = MgmtConfig::new(self.base.clone(), credentials);
        cfg.request_timeout = Duration::from_secs(5);
        cfg.connect_timeout = Duration::from_secs(2);
        cfg.retry = RetryPolicy {
            max_attempts: 10,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_total_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(2),
        };
        cfg.rate_limit = RateLimit {
            qps: 2000.0,
            burst: NonZeroU32::new(2000).unwrap(),
        };
        cfg.job_polling = JobPolling {
            min_interval: Duration::from_millis(10),
            max_interval: Duration::from_millis(50),
            timeout: Duration::from_secs(10),
        };
        cfg.page_size = 2;
        // These tests are about retries of single requests: the breaker stays out of the way
        // (its own test sets it).
        cfg.breaker.threshold = u32::MAX;
        cfg
    }

    pub fn client(&self) -> MgmtClient {
        MgmtClient::new(self.config(access_key())).expect("client builds")
    }

    pub async fn set_faults(&self, patch: FaultsPatch) {
        self.admin.set_faults(patch).await;
    }

    /// Requests the emulator received for one route, e.g. `POST /api/user_groups`.
    pub async fn route_count(&self, route: &str) -> u64 {
        self.admin.stats().await.route(route)
    }
}

pub fn ids(v: &[String]) -> std::collections::BTreeSet<String> {
    v.iter().cloned().collect()
}

/// Polls `check` until it holds, within the test kit's generous deadline (never a fixed sleep).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    igz_testkit::wait::until(what, igz_testkit::wait::DEFAULT_DEADLINE, || {
        let holds = check();
        async move {
            if holds.await {
                Ok(())
            } else {
                Err("not yet".to_owned())
            }
        }
    })
    .await
}

impl Env {
    /// Waits until `n` requests are held by the emulator (see `Admin::hold`): in flight with
    /// whatever credentials they were sent with, neither authenticated nor handled yet.
    pub async fn wait_held(&self, n: u64) {
        eventually(&format!("{n} requests held"), || async {
            self.admin.stats().await.held == n
        })
        .await;
    }
}
