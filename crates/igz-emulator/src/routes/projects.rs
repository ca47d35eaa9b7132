//! `/api/projects`, `/api/project_authorization_roles` and `/api/async_transactions`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{list_route, respond, show_route, write_route};
use crate::App;
use crate::jsonapi::{
    ApiError, ApiResult, RequestData, linkage_many, linkage_one, opt_list, opt_string,
    parse_request, path_id, required_string,
};
use crate::model::{Id, NewProject, RoleName, RoleUpdate};
use crate::render::Kind;

const ROLE_TYPE: &str = "project_authorization_role";

pub async fn list(State(app): State<App>, RawQuery(query): RawQuery) -> ApiResult {
    list_route(
        &app,
        Kind::Project,
        query.as_deref(),
        |m, params| match params.filter("name") {
            Some(name) => m.project_by_name(name).map(|p| p.id).into_iter().collect(),
            None => m.projects().iter().map(|p| p.id).collect(),
        },
    )
}

pub async fn show(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    show_route(&app, Kind::Project, &id, query.as_deref())
}

/// 202: the project is `creating` until the job in `relationships.last_job` completes.
pub async fn create(State(app): State<App>, body: Bytes) -> ApiResult {
    let req = parse_request(&body)?;
    let (a, r) = (&req.attributes, &req.relationships);
    let new = NewProject {
        name: required_string(a, "name")?,
        description: opt_string(a, "description")?.unwrap_or_default(),
        labels: opt_list(a, "labels")?.unwrap_or_default(),
        annotations: opt_list(a, "annotations")?.unwrap_or_default(),
        default_function_node_selector: opt_list(a, "default_function_node_selector")?
            .unwrap_or_default(),
        owner: linkage_one(r, "owner", "user")?.flatten(),
    };
    write_route(&app, Kind::Project, StatusCode::ACCEPTED, |m| {
        m.create_project(new, Instant::now())
    })
}

pub async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let id = path_id(&id, "project")?;
    let req = parse_request(&body)?;
    let (a, r) = (&req.attributes, &req.relationships);
    let description = opt_string(a, "description")?;
    let labels = opt_list(a, "labels")?;
    let annotations = opt_list(a, "annotations")?;
    let owner = linkage_one(r, "owner", "user")?;
    write_route(&app, Kind::Project, StatusCode::OK, |m| {
        m.update_project(id, description, labels, annotations, owner)
            .map(|()| id)
    })
}

fn deletion_job(
    app: &App,
    find: impl FnOnce(&crate::model::Model) -> Option<Id>,
    what: &str,
) -> ApiResult {
    let job = app.with_model(|m| {
        let id = find(m).ok_or_else(|| ApiError::not_found(format!("project {what} not found")))?;
        m.delete_project(id, Instant::now()).map_err(ApiError::from)
    })?;
    Ok(respond(
        StatusCode::ACCEPTED,
        &json!({ "data": { "type": "job", "id": job } }),
    ))
}

/// `DELETE /api/projects` with `data.attributes.name`: how the SDK deletes a project.
pub async fn delete_by_name(State(app): State<App>, body: Bytes) -> ApiResult {
    let req = parse_request(&body)?;
    let name = required_string(&req.attributes, "name")?;
    deletion_job(&app, |m| m.project_by_name(&name).map(|p| p.id), &name)
}

pub async fn delete(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let id = path_id(&id, "project")?;
    deletion_job(&app, |m| m.project(&id).map(|p| p.id), &id.to_string())
}

pub async fn list_roles(State(app): State<App>, RawQuery(query): RawQuery) -> ApiResult {
    list_route(&app, Kind::Role, query.as_deref(), |m, _| {
        m.roles().iter().map(|r| r.id).collect()
    })
}

pub async fn show_role(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    show_route(&app, Kind::Role, &id, query.as_deref())
}

/// Reads a role document: `attributes.name`, `relationships.{project, principal_users,
/// principal_user_groups}`; an absent principal list keeps the current one.
fn role_update(role: Id, req: &RequestData) -> ApiResult<RoleUpdate> {
    let name = opt_string(&req.attributes, "name")?
        .map(|n| RoleName::parse(&n))
        .transpose()?;
    Ok(RoleUpdate {
        role,
        name,
        project: linkage_one(&req.relationships, "project", "project")?.flatten(),
        users: linkage_many(&req.relationships, "principal_users", "user")?,
        groups: linkage_many(&req.relationships, "principal_user_groups", "user_group")?,
    })
}

/// A direct, synchronous role update.
pub async fn update_role(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let id = path_id(&id, ROLE_TYPE)?;
    let update = role_update(id, &parse_request(&body)?)?;
    write_route(&app, Kind::Role, StatusCode::OK, |m| {
        m.update_role(update).map(|()| id)
    })
}

/// One request of a transaction: `{"method": "put", "resource": "project_authorization_roles/ID",
/// "body": {"data": ...}}`.
fn transaction_request(request: &Value) -> ApiResult<RoleUpdate> {
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !method.eq_ignore_ascii_case("put") {
        return Err(ApiError::bad_request(format!(
            "unsupported transaction method '{method}'"
        )));
    }
    let resource = request
        .get("resource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let raw_id = resource
        .trim_start_matches('/')
        .strip_prefix("project_authorization_roles/")
        .ok_or_else(|| {
            ApiError::bad_request(format!("unsupported transaction resource '{resource}'"))
        })?;
    let id = path_id(raw_id, ROLE_TYPE)?;
    let body = request.get("body").cloned().unwrap_or(Value::Null);
    let req = parse_request(body.to_string().as_bytes())?;
    role_update(id, &req)
}

/// Validates every request, queues them as one job and answers with the job's id.
pub async fn transaction(State(app): State<App>, body: Bytes) -> ApiResult {
    let req = parse_request(&body)?;
    let metadata = req
        .attributes
        .get("metadata")
        .cloned()
        .unwrap_or(Value::Null);
    let project_ids = match metadata.get("project_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|v| {
                let raw = v
                    .as_str()
                    .ok_or_else(|| ApiError::bad_request("project_ids must be strings"))?;
                Uuid::parse_str(raw)
                    .map_err(|_| ApiError::not_found(format!("project {raw} not found")))
            })
            .collect::<ApiResult<Vec<_>>>()?,
        Some(_) => return Err(ApiError::bad_request("metadata.project_ids must be a list")),
    };
    if app.config().single_project_transactions && project_ids.len() > 1 {
        return Err(ApiError::bad_request(
            "a transaction may name only one project in metadata.project_ids",
        ));
    }
    let requests = match req.attributes.get("requests") {
        Some(Value::Array(items)) => items
            .iter()
            .map(transaction_request)
            .collect::<ApiResult<Vec<_>>>()?,
        _ => return Err(ApiError::bad_request("attributes.requests must be a list")),
    };
    let job = app.with_model(|m| m.submit_transaction(&project_ids, requests, Instant::now()))?;
    let doc = json!({ "data": { "type": "async_transaction", "id": job, "attributes": {} } });
    Ok(respond(StatusCode::ACCEPTED, &doc))
}
