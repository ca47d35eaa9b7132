//! `/__emulator/*`: fault knobs, counters, reset, a state dump, access keys (issue, revoke,
//! list), login sessions (lifetime, end them all) and the platform version. No faults, no auth.

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
use crate::keys::{AccessKeyInfo, IssueAccessKey, NewKey};
use crate::model::Model;
use crate::render;
use crate::settings::{PlatformVersion, RevokeAccessKey, SessionSettings, SessionsExpired};
use crate::state::StateReport;

pub fn router() -> Router<App> {
    Router::new()
        .route("/faults", get(faults).put(set_faults))
        .route("/stats", get(stats))
        .route("/reset", post(reset))
        .route("/state", get(state))
        .route("/access_keys", get(access_keys).post(issue_access_key))
        .route("/access_keys/revoke", post(revoke_access_key))
        .route("/sessions", get(sessions).put(set_sessions))
        .route("/sessions/expire", post(expire_sessions))
        .route("/version", get(version).put(set_version))
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
    let mut report = app.stats().report();
    report.held = app.faults().waiting();
    respond(StatusCode::OK, &report.to_json())
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

/// A body of type `T`, or a 400 that says why not.
fn body<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

async fn access_keys(State(app): State<App>) -> Response {
    let now = jiff::Timestamp::now();
    let keys: Vec<AccessKeyInfo> = app.with_keys(|keys| {
        keys.all()
            .into_iter()
            .map(|k| AccessKeyInfo::of(k, now))
            .collect()
    });
    respond(StatusCode::OK, &json!(keys))
}

async fn issue_access_key(State(app): State<App>, raw: Bytes) -> ApiResult {
    let req: IssueAccessKey = body("access key", &raw)?;
    let new = NewKey {
        owner: req
            .username
            .unwrap_or_else(|| crate::auth::ACCESS_KEY_USERNAME.to_owned()),
        key: req.key,
        label: req.label,
        planes: None,
        ttl: req.ttl,
        expires_at: req.expires_at,
    };
    let key = super::access_keys::issue(&app, new)?;
    tracing::info!(owner = %key.owner, expires_at = key.expires_at, "access key issued");
    let info = AccessKeyInfo::of(&key, jiff::Timestamp::now());
    Ok(respond(StatusCode::CREATED, &json!(info)))
}

async fn revoke_access_key(State(app): State<App>, raw: Bytes) -> ApiResult {
    let req: RevokeAccessKey = body("revocation", &raw)?;
    if !app.with_keys(|keys| keys.revoke(&req.key)) {
        return Err(ApiError::not_found("no such access key"));
    }
    tracing::info!("access key revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn session_settings(app: &App) -> SessionSettings {
    SessionSettings {
        ttl_ms: app.with_model(|m| m.session_ttl().map(|t| t.as_millis() as u64)),
    }
}

async fn sessions(State(app): State<App>) -> Response {
    respond(StatusCode::OK, &json!(session_settings(&app)))
}

async fn set_sessions(State(app): State<App>, raw: Bytes) -> ApiResult {
    let req: SessionSettings = body("session settings", &raw)?;
    if req.ttl_ms == Some(0) {
        return Err(ApiError::bad_request(
            "ttl_ms must be positive (or null: no limit)",
        ));
    }
    app.with_model(|m| m.set_session_ttl(req.ttl_ms.map(std::time::Duration::from_millis)));
    Ok(respond(StatusCode::OK, &json!(session_settings(&app))))
}

async fn expire_sessions(State(app): State<App>) -> Response {
    let expired = app.with_model(|m| m.expire_sessions());
    respond(StatusCode::OK, &json!(SessionsExpired { expired }))
}

async fn version(State(app): State<App>) -> Response {
    respond(
        StatusCode::OK,
        &json!(PlatformVersion {
            version: app.version()
        }),
    )
}

async fn set_version(State(app): State<App>, raw: Bytes) -> ApiResult {
    let req: PlatformVersion = body("version", &raw)?;
    app.set_version(req.version);
    Ok(respond(
        StatusCode::OK,
        &json!(PlatformVersion {
            version: app.version()
        }),
    ))
}
