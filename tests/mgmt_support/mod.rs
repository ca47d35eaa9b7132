//! Shared set-up for the management client tests: an in-process emulator on an ephemeral
//! port with a few seeded users and a project, and client settings tuned for fast tests.
#![allow(dead_code)]

use std::num::NonZeroU32;
use std::time::Duration;

use igz_operator::emulator::{EmulatorConfig, RunningEmulator, Seed, SeedProject, SeedUser, spawn};
use igz_operator::mgmt::{Credentials, JobPolling, MgmtClient, MgmtConfig, RateLimit, RetryPolicy};
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

pub const ACCESS_KEY: &str = "ak-7f3e2c1b-test-secret";
pub const PASSWORD: &str = "alice-pw-4b8d0e-secret";
pub const PROJECT: &str = "proj-a";
pub const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

pub struct Env {
    pub emulator: RunningEmulator,
    pub base: Url,
    admin: reqwest::Client,
}

pub async fn start() -> Env {
    start_with(Duration::ZERO).await
}

/// Starts an emulator whose jobs take `job_delay` to complete.
pub async fn start_with(job_delay: Duration) -> Env {
    let seed = Seed {
        users: USERS
            .iter()
            .map(|name| SeedUser {
                username: (*name).to_owned(),
                password: (*name == "alice").then(|| PASSWORD.to_owned()),
                ..Default::default()
            })
            .collect(),
        projects: vec![SeedProject {
            name: PROJECT.to_owned(),
            owner: Some("alice".to_owned()),
            ..Default::default()
        }],
        groups: Vec::new(),
    };
    let config = EmulatorConfig {
        access_keys: vec![ACCESS_KEY.to_owned()],
        job_delay,
        seed: Some(seed),
        ..Default::default()
    };
    let emulator = spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts");
    let base = Url::parse(&emulator.base_url()).unwrap();
    Env {
        emulator,
        base,
        admin: reqwest::Client::new(),
    }
}

pub fn access_key() -> Credentials {
    Credentials::AccessKey {
        username: None,
        key: SecretString::from(ACCESS_KEY),
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
        cfg
    }

    pub fn client(&self) -> MgmtClient {
        MgmtClient::new(self.config(access_key())).expect("client builds")
    }

    fn admin_url(&self, path: &str) -> Url {
        self.base.join(&format!("/__emulator/{path}")).unwrap()
    }

    /// `GET /__emulator/{path}` as JSON.
    async fn admin_json(&self, path: &str) -> Value {
        let resp = self.admin.get(self.admin_url(path)).send().await.unwrap();
        resp.json().await.unwrap()
    }

    pub async fn set_faults(&self, faults: Value) {
        let resp = self
            .admin
            .put(self.admin_url("faults"))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "faults accepted: {}",
            resp.status()
        );
    }

    pub async fn stats(&self) -> Value {
        self.admin_json("stats").await
    }

    /// Requests the emulator received for one route, e.g. `POST /api/user_groups`.
    pub async fn route_count(&self, route: &str) -> u64 {
        let stats = self.stats().await;
        find_count(&stats, route)
    }

    pub async fn state(&self) -> Value {
        self.admin_json("state").await
    }

    pub async fn reset(&self) {
        let resp = self
            .admin
            .post(self.admin_url("reset"))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
}

/// Finds a per-route counter wherever the stats document keeps it.
fn find_count(stats: &Value, route: &str) -> u64 {
    match stats {
        Value::Object(map) => map.get(route).and_then(Value::as_u64).unwrap_or_else(|| {
            map.values()
                .map(|v| find_count(v, route))
                .max()
                .unwrap_or(0)
        }),
        _ => 0,
    }
}

/// The number reported under `key` anywhere in the stats document.
pub fn stat(stats: &Value, key: &str) -> u64 {
    find_count(stats, key)
}

pub fn ids(v: &[String]) -> std::collections::BTreeSet<String> {
    v.iter().cloned().collect()
}
