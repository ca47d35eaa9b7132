//! The operator's own HTTP endpoint: Prometheus metrics and health probes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// What the probes report. `ready` turns true once the controller's caches are synced.
#[derive(Default)]
pub struct Health {
    ready: AtomicBool,
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    health: Arc<Health>,
}

pub fn router(registry: Arc<Registry>, health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(AppState { registry, health })
}

/// Binds first (so a taken port fails start-up with a clear error), then serves in the background.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    health: Arc<Health>,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on --metrics-addr {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let app = router(registry, health);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok((bound, task))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics failed: {e}"),
        )
            .into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.health.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced yet")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::ReconcileMetrics;
    use igz_mgmt::MgmtMetrics;

    #[tokio::test]
    async fn serves_metrics_and_probes() {
        let mut registry = Registry::default();
        let mgmt = MgmtMetrics::default();
        mgmt.register(&mut registry);
        igz_mgmt::RequestObserver::client_built(&mgmt, "default");
        let reconciles = ReconcileMetrics::default();
        reconciles.register(&mut registry);
        reconciles.observe("success", "None", 0.1);
        let health = Arc::new(Health::default());
        let (addr, server) = serve(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(registry),
            health.clone(),
        )
        .await
        .unwrap();
        let get = |path: &'static str| async move {
            let resp = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        };

        let (status, body) = get("/metrics").await;
        assert_eq!(status, 200);
        assert!(
            body.contains("igz_operator_reconciles_total{outcome=\"success\",reason=\"None\"} 1"),
            "{body}"
        );
        assert!(
            body.contains(r#"igz_mgmt_relogins_total{connection="default"} 0"#),
            "{body}"
        );
        assert_eq!(get("/healthz").await.0, 200);
        assert_eq!(
            get("/readyz").await.0,
            503,
            "not ready before the caches sync"
        );
        health.set_ready(true);
        assert_eq!(get("/readyz").await.0, 200);
        server.abort();
    }

    #[tokio::test]
    async fn a_taken_port_fails_with_the_flag_name() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = serve(
            addr,
            Arc::new(Registry::default()),
            Arc::new(Health::default()),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("--metrics-addr"), "{err}");
    }
}
