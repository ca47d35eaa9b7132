//! An in-process emulator for tests, and [`Admin`]: a typed client for its `/__emulator/`
//! routes, speaking the very types the emulator serves them with.

use std::time::Duration;

use igz_emulator::{
    AccessKeyInfo, EmulatorConfig, Faults, FaultsPatch, IssueAccessKey, PlatformVersion,
    RevokeAccessKey, RunningEmulator, SessionSettings, SessionsExpired, StateReport, StatsReport,
};
use serde::de::DeserializeOwned;

/// Starts an emulator on an ephemeral loopback port with `config`.
pub async fn start(config: EmulatorConfig) -> RunningEmulator {
    igz_emulator::spawn(config, "127.0.0.1:0".parse().expect("loopback address"))
        .await
        .expect("start the emulator")
}

/// The emulator's admin routes: fault knobs, request accounting, state dump, reset, access keys,
/// login sessions and the platform version.
#[derive(Clone, Debug)]
pub struct Admin {
    http: reqwest::Client,
    base: String,
}

impl Admin {
    /// For the emulator at `base_url` (`http://127.0.0.1:PORT`).
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .no_proxy()
            .build()
            .expect("http client");
        Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn for_emulator(emulator: &RunningEmulator) -> Self {
        Self::new(&emulator.base_url())
    }

    fn url(&self, route: &str) -> String {
        format!("{}/__emulator/{route}", self.base)
    }

    async fn decode<T: DeserializeOwned>(what: &str, resp: reqwest::Response) -> T {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{what}: HTTP {status}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"))
    }

    /// `GET /__emulator/faults`: the active faults, with what is left of the script.
    pub async fn faults(&self) -> Faults {
        let resp = self.http.get(self.url("faults")).send().await;
        Self::decode("GET faults", resp.expect("GET faults")).await
    }

    /// `PUT /__emulator/faults`: changes the given knobs (absent ones keep their value) and
    /// returns the faults now active.
    pub async fn set_faults(&self, patch: FaultsPatch) -> Faults {
        let resp = self.http.put(self.url("faults")).json(&patch).send().await;
        Self::decode("PUT faults", resp.expect("PUT faults")).await
    }

    /// Turns every fault off.
    pub async fn clear_faults(&self) -> Faults {
        self.set_faults(FaultsPatch {
            latency_ms: Some(0),
            error_rate: Some(0.0),
            drop_rate: Some(0.0),
            rate_limit_rps: Some(0),
            script: Some(Vec::new()),
            seed: None,
            hold: Some(false),
        })
        .await
    }

    /// `GET /__emulator/stats`.
    pub async fn stats(&self) -> StatsReport {
        let resp = self.http.get(self.url("stats")).send().await;
        Self::decode("GET stats", resp.expect("GET stats")).await
    }

    /// `GET /__emulator/state`.
    pub async fn state(&self) -> StateReport {
        let resp = self.http.get(self.url("state")).send().await;
        Self::decode("GET state", resp.expect("GET state")).await
    }

    /// `POST /__emulator/reset`: seed content, start-up faults, zero counters.
    pub async fn reset(&self) {
        let resp = self
            .http
            .post(self.url("reset"))
            .send()
            .await
            .expect("POST reset");
        assert!(resp.status().is_success(), "POST reset: {}", resp.status());
    }

    /// Holds every `/api` request (counted, not yet authenticated or handled) until
    /// [`Admin::release`].
    pub async fn hold(&self) -> Faults {
        self.set_faults(FaultsPatch {
            hold: Some(true),
            ..FaultsPatch::default()
        })
        .await
    }

    /// Lets held requests go.
    pub async fn release(&self) -> Faults {
        self.set_faults(FaultsPatch {
            hold: Some(false),
            ..FaultsPatch::default()
        })
        .await
    }

    /// `POST /__emulator/access_keys`: issues a key (owner `admin`, ten years, unless told).
    pub async fn issue_access_key(&self, request: &IssueAccessKey) -> AccessKeyInfo {
        let resp = self
            .http
            .post(self.url("access_keys"))
            .json(request)
            .send()
            .await;
        Self::decode("POST access_keys", resp.expect("POST access_keys")).await
    }

    /// `POST /__emulator/access_keys/revoke`: every later request with the key gets 401. Panics
    /// when there is no such key.
    pub async fn revoke_access_key(&self, key: &str) {
        let resp = self
            .http
            .post(self.url("access_keys/revoke"))
            .json(&RevokeAccessKey {
                key: key.to_owned(),
            })
            .send()
            .await
            .expect("POST access_keys/revoke");
        assert!(
            resp.status().is_success(),
            "revoke access key: {}",
            resp.status()
        );
    }

    /// `GET /__emulator/access_keys`: every key, with its expiry.
    pub async fn access_keys(&self) -> Vec<AccessKeyInfo> {
        let resp = self.http.get(self.url("access_keys")).send().await;
        Self::decode("GET access_keys", resp.expect("GET access_keys")).await
    }

    /// `PUT /__emulator/sessions`: how long login sessions last (none: no limit).
    pub async fn set_session_ttl(&self, ttl: Option<Duration>) -> SessionSettings {
        let settings = SessionSettings {
            ttl_ms: ttl.map(|t| t.as_millis() as u64),
        };
        let resp = self
            .http
            .put(self.url("sessions"))
            .json(&settings)
            .send()
            .await;
        Self::decode("PUT sessions", resp.expect("PUT sessions")).await
    }

    /// `POST /__emulator/sessions/expire`: ends every login session; returns how many.
    pub async fn expire_sessions(&self) -> usize {
        let resp = self.http.post(self.url("sessions/expire")).send().await;
        let expired: SessionsExpired =
            Self::decode("POST sessions/expire", resp.expect("POST sessions/expire")).await;
        expired.expired
    }

    /// `PUT /__emulator/version`: what the version route reports (none: 404).
    pub async fn set_version(&self, version: Option<&str>) -> PlatformVersion {
        let body = PlatformVersion {
            version: version.map(str::to_owned),
        };
        let resp = self.http.put(self.url("version")).json(&body).send().await;
        Self::decode("PUT version", resp.expect("PUT version")).await
    }
}
