//! `/__emulator/*`: fault knobs, counters, reset and a state dump. No faults, no auth.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::respond;
use crate::App;
use crate::faults::FaultsPatch;
use crate::jsonapi::{ApiError, ApiResult, error_response};
use crate::model::Model;
use crate::render;
use crate::state::StateReport;

pub fn router() -> Router<App> {
    Router::new()
        .route("/faults", get(faults).put(set_faults))
        .route("/stats", get(stats))
        .route("/reset", post(reset))
        .route("/state", get(state))
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "no such admin route") })
}

async fn faults(State(app): State<App>) -> Response {
    respond(StatusCode::OK, &json!(app.faults().current()))
}

async fn set_faults(State(app): State<App>, body: Bytes) -> ApiResult {
    let patch: FaultsPatch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid faults: {e}")))?;
    let faults = app.faults().current().patched(patch);
    faults.validate().map_err(ApiError::bad_request)?;
    tracing::info!(?faults, "faults changed");
    app.faults().set(faults);
    Ok(respond(StatusCode::OK, &json!(app.faults().current())))
}

async fn stats(State(app): State<App>) -> Response {
    respond(StatusCode::OK, &app.stats().report().to_json())
}

async fn reset(State(app): State<App>) -> ApiResult {
    app.reset()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Every resource as the API renders it, plus the invariant check. Passwords never appear.
fn dump(m: &Model) -> StateReport {
    let all = ["*".to_owned()];
    StateReport {
        users: m
            .users()
            .into_iter()
            .map(|u| render::user(u, &all))
            .collect(),
        user_groups: m
            .groups()
            .into_iter()
            .map(|g| render::group(g, &all))
            .collect(),
        projects: m
            .projects()
            .into_iter()
            .map(|p| render::project(p, &all))
            .collect(),
        project_authorization_roles: m.roles().into_iter().map(render::role).collect(),
        jobs: m.jobs().into_iter().map(render::job).collect(),
        invariants: match m.check_invariants() {
            Ok(()) => "ok".to_owned(),
            Err(e) => e,
        },
    }
}

async fn state(State(app): State<App>) -> Response {
    respond(StatusCode::OK, &json!(app.with_model(|m| dump(m))))
}
