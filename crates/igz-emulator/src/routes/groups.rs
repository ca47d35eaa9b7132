//! `/api/user_groups`

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{list_route, show_route, write_route};
use crate::App;
use crate::jsonapi::{
    ApiError, ApiResult, linkage_many, opt_int, opt_string, opt_string_list, parse_request,
    path_id, required_string,
};
use crate::model::{NewUserGroup, UserGroupPatch};
use crate::render::Kind;

pub async fn list(State(app): State<App>, RawQuery(query): RawQuery) -> ApiResult {
    list_route(
        &app,
        Kind::UserGroup,
        query.as_deref(),
        |m, params| match params.filter("name") {
            Some(name) => m.group_by_name(name).map(|g| g.id).into_iter().collect(),
            None => m.groups().iter().map(|g| g.id).collect(),
        },
    )
}

pub async fn show(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    show_route(&app, Kind::UserGroup, &id, query.as_deref())
}

/// `gid: null` asks the platform to pick one; `relationships.users` are the initial members.
pub async fn create(State(app): State<App>, body: Bytes) -> ApiResult {
    let req = parse_request(&body)?;
    let (a, r) = (&req.attributes, &req.relationships);
    let new = NewUserGroup {
        name: required_string(a, "name")?,
        description: opt_string(a, "description")?.unwrap_or_default(),
        gid: opt_int(a, "gid")?,
        assigned_policies: opt_string_list(a, "assigned_policies")?.unwrap_or_default(),
        members: linkage_many(r, "users", "user")?.unwrap_or_default(),
    };
    write_route(&app, Kind::UserGroup, StatusCode::CREATED, |m| {
        m.create_group(new)
    })
}

/// Merges writable attributes (`kind`, `system_provided`, timestamps are read-only and
/// ignored); `relationships.users`, when present, replaces the membership.
pub async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let id = path_id(&id, "user_group")?;
    let req = parse_request(&body)?;
    let (a, r) = (&req.attributes, &req.relationships);
    let patch = UserGroupPatch {
        name: opt_string(a, "name")?,
        description: opt_string(a, "description")?,
        gid: opt_int(a, "gid")?,
        assigned_policies: opt_string_list(a, "assigned_policies")?,
        members: linkage_many(r, "users", "user")?,
    };
    write_route(&app, Kind::UserGroup, StatusCode::OK, |m| {
        m.update_group(id, patch).map(|()| id)
    })
}

pub async fn delete(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = path_id(&id, "user_group")?;
    app.with_model(|m| m.delete_group(id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
