//! `/api/users`

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::json;

use super::{list_route, respond, show_route, write_route};
use crate::App;
use crate::auth::Identity;
use crate::jsonapi::{
    ApiError, ApiResult, linkage_many, linkage_one, opt_int, opt_string, opt_string_list,
    parse_request, path_id, required_string,
};
use crate::model::{NewUser, UserPatch};
use crate::render::Kind;

pub async fn list(State(app): State<App>, RawQuery(query): RawQuery) -> ApiResult {
    list_route(
        &app,
        Kind::User,
        query.as_deref(),
        |m, params| match params.filter("username") {
            Some(name) => m.user_by_name(name).map(|u| u.id).into_iter().collect(),
            None => m.users().iter().map(|u| u.id).collect(),
        },
    )
}

pub async fn show(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    show_route(&app, Kind::User, &id, query.as_deref())
}

/// `GET /api/self`: the user behind the session (the vendor SDK's `User.self`). A bare access key
/// belongs to no user resource here, so it answers 404 naming the session's username.
pub async fn current(
    State(app): State<App>,
    Extension(identity): Extension<Identity>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let id = app.with_model(|m| m.user_by_name(&identity.username).map(|u| u.id.to_string()));
    match id {
        Some(id) => show_route(&app, Kind::User, &id, query.as_deref()),
        None => Err(ApiError::not_found(format!(
            "the session's user {:?} has no user resource",
            identity.username
        ))),
    }
}

pub async fn create(State(app): State<App>, body: Bytes) -> ApiResult {
    let req = parse_request(&body)?;
    let (a, r) = (&req.attributes, &req.relationships);
    let new = NewUser {
        username: required_string(a, "username")?,
        first_name: opt_string(a, "first_name")?.unwrap_or_default(),
        last_name: opt_string(a, "last_name")?.unwrap_or_default(),
        email: opt_string(a, "email")?.unwrap_or_default(),
        phone_number: opt_string(a, "phone_number")?.unwrap_or_default(),
        job_title: opt_string(a, "job_title")?.unwrap_or_default(),
        department: opt_string(a, "department")?.unwrap_or_default(),
        uid: opt_int(a, "uid")?,
        password: opt_string(a, "password")?.filter(|p| !p.is_empty()),
        assigned_policies: opt_string_list(a, "assigned_policies")?.unwrap_or_default(),
        authentication_methods: opt_string_list(a, "authentication_methods")?.unwrap_or_default(),
        primary_group: linkage_one(r, "primary_group", "user_group")?.flatten(),
        groups: linkage_many(r, "user_groups", "user_group")?.unwrap_or_default(),
    };
    write_route(&app, Kind::User, StatusCode::CREATED, |m| {
        m.create_user(new)
    })
}

/// Merges writable attributes (the SDK echoes every attribute it read; read-only ones such as
/// `uid`, `created_at` or `operational_status` are ignored) and, when present, replaces the
/// user's groups and primary group.
pub async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let id = path_id(&id, "user")?;
    let req = parse_request(&body)?;
    let (a, r) = (&req.attributes, &req.relationships);
    let patch = UserPatch {
        username: opt_string(a, "username")?,
        first_name: opt_string(a, "first_name")?,
        last_name: opt_string(a, "last_name")?,
        email: opt_string(a, "email")?,
        phone_number: opt_string(a, "phone_number")?,
        job_title: opt_string(a, "job_title")?,
        department: opt_string(a, "department")?,
        password: opt_string(a, "password")?.filter(|p| !p.is_empty()),
        assigned_policies: opt_string_list(a, "assigned_policies")?,
        authentication_methods: opt_string_list(a, "authentication_methods")?,
        admin_status: opt_string(a, "admin_status")?,
        groups: linkage_many(r, "user_groups", "user_group")?,
        primary_group: linkage_one(r, "primary_group", "user_group")?,
    };
    write_route(&app, Kind::User, StatusCode::OK, |m| {
        m.update_user(id, patch).map(|()| id)
    })
}

/// 202 with a `deletion_response` naming the clean-up job, as the platform answers.
pub async fn delete(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let id = path_id(&id, "user")?;
    let job = app.with_model(|m| m.delete_user(id, std::time::Instant::now()))?;
    let doc = json!({
        "data": {
            "type": "deletion_response",
            "id": id,
            "attributes": {},
            "relationships": { "jobs": { "data": [{ "type": "job", "id": job }] } },
        }
    });
    Ok(respond(StatusCode::ACCEPTED, &doc))
}
