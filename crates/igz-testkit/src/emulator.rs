//! An in-process emulator for tests, and [`Admin`]: a typed client for its `/__emulator/`
//! routes, speaking the very types the emulator serves them with.

use std::time::Duration;

use igz_emulator::{
    EmulatorConfig, Faults, FaultsPatch, RunningEmulator, StateReport, StatsReport,
};
use serde::de::DeserializeOwned;

/// Starts an emulator on an ephemeral loopback port with `config`.
pub async fn start(config: EmulatorConfig) -> RunningEmulator {
    igz_emulator::spawn(config, "127.0.0.1:0".parse().expect("loopback address"))
        .await
        .expect("start the emulator")
}

/// The emulator's admin routes: fault knobs, request accounting, state dump and reset.
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
}
