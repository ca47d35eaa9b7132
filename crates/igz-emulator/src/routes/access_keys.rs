//! `/api/access_keys` and `/api/self/get_or_create_access_key`: the caller's own access keys, as
//! the vendor SDK's `AccessKey` reads them (`ttl` in seconds, `expires_at` in epoch seconds).
//! The id of a key is its secret, so a caller sees and manages only the keys of its own user,
//! and no answer ever echoes an id it was given.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{query_pairs, respond};
use crate::App;
use crate::auth::Identity;
use crate::jsonapi::{ApiError, ApiResult, opt_int, opt_string, opt_string_list, parse_request};
use crate::keys::{ALL_PLANES, AccessKey, KeyError, NewKey};

/// The label the SDK's `get_or_create` uses when given none.
const SDK_LABEL: &str = "for-sdk-mgmt";

fn not_found() -> ApiError {
    ApiError::not_found("access key not found")
}

/// `GET /api/access_keys`: the caller's keys, oldest first, paged when asked (0-based).
pub async fn list(
    State(app): State<App>,
    Extension(identity): Extension<Identity>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(query.as_deref());
    let param = |name: &str| -> ApiResult<Option<usize>> {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| {
                v.parse::<usize>()
                    .map_err(|_| ApiError::bad_request(format!("{name} must be a number")))
            })
            .transpose()
    };
    let (number, size) = (param("page[number]")?, param("page[size]")?);
    let keys: Vec<AccessKey> = app.with_keys(|keys| {
        keys.owned_by(&identity.owner)
            .into_iter()
            .cloned()
            .collect()
    });
    let page: Vec<&AccessKey> = match size {
        Some(size) if size > 0 => keys
            .iter()
            .skip(number.unwrap_or(0).saturating_mul(size))
            .take(size)
            .collect(),
        _ => keys.iter().collect(),
    };
    let data: Vec<Value> = page.into_iter().map(|k| render(&app, k)).collect();
    Ok(respond(StatusCode::OK, &json!({ "data": data })))
}

/// `GET /api/access_keys/{id}`: one of the caller's keys.
pub async fn show(
    State(app): State<App>,
    Extension(identity): Extension<Identity>,
    Path(id): Path<String>,
) -> ApiResult {
    let key = app
        .with_keys(|keys| keys.get(&id).cloned())
        .filter(|k| k.owner == identity.owner)
        .ok_or_else(not_found)?;
    Ok(respond(
        StatusCode::OK,
        &json!({ "data": render(&app, &key) }),
    ))
}

/// `POST /api/access_keys`: a new key for the caller (`planes`, `label`, optional `ttl`).
pub async fn create(
    State(app): State<App>,
    Extension(identity): Extension<Identity>,
    body: Bytes,
) -> ApiResult {
    let new = new_key(&identity, &body)?;
    let key = issue(&app, new)?;
    Ok(respond(
        StatusCode::CREATED,
        &json!({ "data": render(&app, &key) }),
    ))
}

/// `POST /api/self/get_or_create_access_key`: the caller's usable key with this label and these
/// planes, made when there is none (201) and returned as it is otherwise (200).
pub async fn get_or_create(
    State(app): State<App>,
    Extension(identity): Extension<Identity>,
    body: Bytes,
) -> ApiResult {
    let mut new = new_key(&identity, &body)?;
    let label = new
        .label
        .get_or_insert_with(|| SDK_LABEL.to_owned())
        .clone();
    let planes = new
        .planes
        .get_or_insert_with(|| ALL_PLANES.iter().map(|p| (*p).to_owned()).collect())
        .clone();
    let found = app.with_keys(|keys| {
        keys.find_like(&identity.owner, &label, &planes, Timestamp::now())
            .cloned()
    });
    let (status, key) = match found {
        Some(key) => (StatusCode::OK, key),
        None => (StatusCode::CREATED, issue(&app, new)?),
    };
    Ok(respond(status, &json!({ "data": render(&app, &key) })))
}

/// `DELETE /api/access_keys/{id}`: revokes one of the caller's keys (it may be the one in use:
/// the next request with it gets 401).
pub async fn delete(
    State(app): State<App>,
    Extension(identity): Extension<Identity>,
    Path(id): Path<String>,
) -> ApiResult {
    let revoked = app.with_keys(|keys| {
        let owned = keys.get(&id).is_some_and(|k| k.owner == identity.owner);
        owned && keys.revoke(&id)
    });
    if !revoked {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn new_key(identity: &Identity, body: &[u8]) -> ApiResult<NewKey> {
    let req = parse_request(body)?;
    let a = &req.attributes;
    let ttl = match opt_int(a, "ttl")? {
        Some(ttl) if ttl <= 0 => {
            return Err(ApiError::bad_request(
                "attribute 'ttl' must be a positive number of seconds",
            ));
        }
        ttl => ttl.map(|t| t as u64),
    };
    Ok(NewKey {
        owner: identity.owner.clone(),
        key: None,
        label: opt_string(a, "label")?,
        planes: opt_string_list(a, "planes")?,
        ttl,
        expires_at: None,
    })
}

pub(crate) fn issue(app: &App, new: NewKey) -> ApiResult<AccessKey> {
    app.with_keys(|keys| keys.issue(new, Timestamp::now()))
        .map_err(|e| match e {
            KeyError::Invalid(detail) => ApiError::bad_request(detail),
            KeyError::Taken => ApiError::new(StatusCode::CONFLICT, "the access key exists"),
        })
}

/// The resource as the SDK's `AccessKey` reads it; every typed attribute has a value.
fn render(app: &App, key: &AccessKey) -> Value {
    let (uid, group_ids, gids) = app.with_model(|m| match m.user_by_name(&key.owner) {
        Some(user) => {
            let groups: Vec<_> = user.groups.iter().filter_map(|g| m.group(g)).collect();
            (
                user.uid,
                groups.iter().map(|g| g.id.to_string()).collect::<Vec<_>>(),
                groups.iter().map(|g| g.gid).collect::<Vec<_>>(),
            )
        }
        None => (0, Vec::new(), Vec::new()),
    });
    let created = key.created_at.to_string();
    json!({
        "type": "access_key",
        "id": key.key,
        "attributes": {
            "tenant_id": app.config().tenant_id,
            "ttl": key.ttl,
            "created_at": created,
            "updated_at": created,
            "group_ids": group_ids,
            "uid": uid,
            "gids": gids,
            "expires_at": key.expires_at,
            "interface_kind": "web",
            "label": key.label,
            "kind": "accessKey",
            "planes": key.planes,
        },
        "relationships": {},
    })
}
