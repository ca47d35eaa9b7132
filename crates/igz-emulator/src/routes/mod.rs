//! The HTTP surface: `/api/*` (faults, accounting, authentication, then the handlers) and
//! `/__emulator/*` (admin, none of the above).

mod access_keys;
mod admin;
mod groups;
mod jobs;
mod projects;
mod sessions;
mod users;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::App;
use super::auth::{Identity, Presented, presented};
use super::faults::Verdict;
use super::jsonapi::{ApiError, error_response};
use super::server::ConnectionKill;
use super::stats::Injected;

pub(crate) fn router(app: App) -> Router {
    let api = Router::new()
        .route("/api/sessions", post(sessions::login))
        .route(
            "/api/sessions/verifications/planes/{plane}/internal",
            post(sessions::verify),
        )
        .route(
            "/api/tunnel/{tunnel}/external_versions/{node}",
            get(sessions::version),
        )
        .route(
            "/api/access_keys",
            get(access_keys::list).post(access_keys::create),
        )
        .route(
            "/api/access_keys/{id}",
            get(access_keys::show).delete(access_keys::delete),
        )
        .route(
            "/api/self/get_or_create_access_key",
            post(access_keys::get_or_create),
        )
        .route("/api/users", get(users::list).post(users::create))
        .route("/api/self", get(users::current))
        .route(
            "/api/users/{id}",
            get(users::show).put(users::update).delete(users::delete),
        )
        .route("/api/user_groups", get(groups::list).post(groups::create))
        .route(
            "/api/user_groups/{id}",
            get(groups::show).put(groups::update).delete(groups::delete),
        )
        .route(
            "/api/projects",
            get(projects::list)
                .post(projects::create)
                .delete(projects::delete_by_name),
        )
        .route(
            "/api/projects/{id}",
            get(projects::show)
                .put(projects::update)
                .delete(projects::delete),
        )
        .route(
            "/api/project_authorization_roles",
            get(projects::list_roles),
        )
        .route(
            "/api/project_authorization_roles/{id}",
            get(projects::show_role).put(projects::update_role),
        )
        .route("/api/async_transactions", post(projects::transaction))
        .route("/api/jobs", get(jobs::list))
        .route("/api/jobs/{id}", get(jobs::show))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), authenticate))
        .layer(middleware::from_fn_with_state(app.clone(), inject_faults));
    Router::new()
        .nest("/__emulator", admin::router())
        .merge(api)
        .with_state(app)
}

/// `?a=b&c=d` as pairs; a malformed query never fails the request, it just yields less.
pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Answers a rendered document as JSON with `status`.
pub(super) fn respond(status: StatusCode, doc: &serde_json::Value) -> Response {
    super::jsonapi::json_response(status, doc)
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "no such route")
}

async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route",
    )
}

/// POST routes that change nothing on the platform: the login and the session check.
const READS_BY_POST: [&str; 2] = [
    "/api/sessions",
    "/api/sessions/verifications/planes/{plane}/internal",
];

/// Whether a request to `route` (a template) may change the platform.
fn is_write(method: &Method, route: &str) -> bool {
    let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let read_by_post = *method == Method::POST && READS_BY_POST.contains(&route);
    !read && !read_by_post
}

fn matched_route(request: &Request) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", MatchedPath::as_str)
}

fn with_retry_after(status: StatusCode, seconds: u64, detail: &str) -> Response {
    let mut response = error_response(status, detail);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Outermost `/api` layer: counts the request, then applies the active faults.
async fn inject_faults(State(app): State<App>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let write = is_write(&method, matched_route(&request));
    let route = format!("{method} {}", matched_route(&request));
    let (verdict, latency_ms) = app.faults().judge(&route);
    app.stats().request(route);
    app.faults().released().await;
    if let Verdict::RateLimited(seconds) = verdict {
        app.stats().injected(Injected::RateLimited);
        return with_retry_after(
            StatusCode::TOO_MANY_REQUESTS,
            seconds,
            "rate limit exceeded",
        );
    }
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    let drop = match verdict {
        Verdict::Fail(status) => {
            app.stats().injected(Injected::Error);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return with_retry_after(
                status,
                1,
                "injected fault: service unavailable, retry later",
            );
        }
        Verdict::Proceed { drop } => drop,
        Verdict::RateLimited(_) => false,
    };
    let kill = request.extensions().get::<ConnectionKill>().cloned();
    let response = next.run(request).await;
    if write && response.status().is_success() {
        app.stats().write();
    }
    match (drop, kill) {
        (true, Some(ConnectionKill(kill))) => {
            app.stats().injected(Injected::Dropped);
            kill.cancel();
            // The connection task drops this future together with the connection.
            std::future::pending::<Response>().await
        }
        _ => response,
    }
}

/// Every `/api` route except login needs a usable access key (known, not expired) or a login
/// session that has not ended. A refusal is counted, writes apart.
async fn authenticate(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let is_login = request.method() == Method::POST && request.uri().path() == "/api/sessions";
    if is_login {
        return next.run(request).await;
    }
    match identify(&app, &presented(request.headers())) {
        Some(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        None => {
            let write = is_write(request.method(), matched_route(&request));
            app.stats().unauthorized(write);
            ApiError::unauthorized().into_response()
        }
    }
}

/// Who presents these credentials: an access key in the cookie or in Basic auth, else a login
/// session in the cookie.
fn identify(app: &App, presented: &Presented) -> Option<Identity> {
    let keyed = [&presented.secret, &presented.basic_secret]
        .into_iter()
        .flatten()
        .find_map(|secret| app.access_key_owner(secret));
    if let Some(owner) = keyed {
        return Some(Identity {
            username: presented
                .basic_username
                .clone()
                .unwrap_or_else(|| owner.clone()),
            owner,
        });
    }
    let token = presented.secret.as_deref()?;
    let username = app.with_model(|m| m.session_user(token, Instant::now()).map(str::to_owned))?;
    Some(Identity {
        username: username.clone(),
        owner: username,
    })
}

/// `GET /api/<kind>`: `candidates` narrows the ids (e.g. through a name index) before the generic
/// filter, sort and paging run over the rendered resources.
pub(super) fn list_route(
    app: &App,
    kind: super::render::Kind,
    raw_query: Option<&str>,
    candidates: impl FnOnce(&super::model::Model, &super::query::ListParams) -> Vec<super::model::Id>,
) -> super::jsonapi::ApiResult {
    let params = super::query::parse(kind, &query_pairs(raw_query))?;
    let doc = app.with_model(|m| {
        let ids = candidates(m, &params);
        super::query::list(m, kind, &ids, &params)
    });
    Ok(respond(StatusCode::OK, &doc))
}

/// `GET /api/<kind>/{id}?include=...`
pub(super) fn show_route(
    app: &App,
    kind: super::render::Kind,
    raw_id: &str,
    raw_query: Option<&str>,
) -> super::jsonapi::ApiResult {
    let id = super::jsonapi::path_id(raw_id, kind.type_name())?;
    let includes = super::query::includes(&query_pairs(raw_query));
    let doc = app.with_model(|m| super::render::single(m, kind, &id, &includes))?;
    Ok(respond(StatusCode::OK, &doc))
}

/// A write that answers with the resource it touched, rendered without includes.
pub(super) fn write_route(
    app: &App,
    kind: super::render::Kind,
    status: StatusCode,
    write: impl FnOnce(&mut super::model::Model) -> super::model::ModelResult<super::model::Id>,
) -> super::jsonapi::ApiResult {
    let doc = app.with_model(|m| {
        let id = write(m)?;
        super::render::single(m, kind, &id, &[])
    })?;
    Ok(respond(status, &doc))
}
