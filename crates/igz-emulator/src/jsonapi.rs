//! JSON:API on the wire: error bodies, request documents, typed attribute and linkage readers.
//! Every reader refuses a wrong shape with a 400 instead of guessing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::model::{ErrorKind, Id, ModelError};

/// An error answered as `{"errors": [{"status", "detail"}]}` with the matching status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication required: unknown or missing access key",
        )
    }
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        let status = match e.kind {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        };
        Self::new(status, e.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.status, &self.detail)
    }
}

pub fn error_response(status: StatusCode, detail: &str) -> Response {
    let body = json!({ "errors": [{ "status": status.as_u16(), "detail": detail }] });
    json_response(status, &body)
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub type ApiResult<T = Response> = Result<T, ApiError>;

/// The `data` of a request document, split into attributes and relationships.
#[derive(Debug, Default)]
pub struct RequestData {
    pub attributes: Map<String, Value>,
    pub relationships: Map<String, Value>,
}

/// Parses `{"data": {"attributes": {...}, "relationships": {...}}}`.
pub fn parse_request(body: &[u8]) -> ApiResult<RequestData> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
    let data = doc
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("request body must be {\"data\": {...}}"))?;
    Ok(RequestData {
        attributes: object_member(data, "attributes")?,
        relationships: object_member(data, "relationships")?,
    })
}

fn object_member(data: &Map<String, Value>, key: &str) -> ApiResult<Map<String, Value>> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(ApiError::bad_request(format!(
            "data.{key} must be an object"
        ))),
    }
}

/// A string attribute; absent and `null` both read as `None`.
pub fn opt_string(attrs: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match attrs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!(
            "attribute '{key}' must be a string"
        ))),
    }
}

pub fn required_string(attrs: &Map<String, Value>, key: &str) -> ApiResult<String> {
    opt_string(attrs, key)?
        .ok_or_else(|| ApiError::bad_request(format!("attribute '{key}' is required")))
}

pub fn opt_int(attrs: &Map<String, Value>, key: &str) -> ApiResult<Option<i64>> {
    match attrs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("attribute '{key}' must be an integer"))),
    }
}

pub fn opt_string_list(attrs: &Map<String, Value>, key: &str) -> ApiResult<Option<Vec<String>>> {
    let bad = || ApiError::bad_request(format!("attribute '{key}' must be a list of strings"));
    match attrs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

pub fn opt_list(attrs: &Map<String, Value>, key: &str) -> ApiResult<Option<Vec<Value>>> {
    match attrs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(_) => Err(ApiError::bad_request(format!(
            "attribute '{key}' must be a list"
        ))),
    }
}

/// Reads one `{"type", "id"}` identifier; an id that is not a uuid names nothing (404).
fn identifier(value: &Value, rel: &str, expected_type: &str) -> ApiResult<Id> {
    let obj = value.as_object().ok_or_else(|| {
        ApiError::bad_request(format!("relationships.{rel} items must be {{type, id}}"))
    })?;
    if let Some(kind) = obj.get("type")
        && kind.as_str() != Some(expected_type)
    {
        return Err(ApiError::bad_request(format!(
            "relationships.{rel} must reference '{expected_type}' resources"
        )));
    }
    let id = obj.get("id").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request(format!("relationships.{rel} items need a string id"))
    })?;
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(format!("{expected_type} {id} not found")))
}

/// A to-many relationship: `Some(ids)` when `relationships.{rel}` is present.
pub fn linkage_many(
    rels: &Map<String, Value>,
    rel: &str,
    expected_type: &str,
) -> ApiResult<Option<Vec<Id>>> {
    let Some(relationship) = rels.get(rel) else {
        return Ok(None);
    };
    match relationship.get("data") {
        // An empty id names nothing; the SDK sends one when it unsets a primary group.
        Some(Value::Array(items)) => items
            .iter()
            .filter(|item| item.get("id").and_then(Value::as_str) != Some(""))
            .map(|item| identifier(item, rel, expected_type))
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(Value::Null) => Ok(Some(Vec::new())),
        _ => Err(ApiError::bad_request(format!(
            "relationships.{rel}.data must be a list"
        ))),
    }
}

/// A to-one relationship: `Some(None)` when present but empty (`null` or an empty id).
pub fn linkage_one(
    rels: &Map<String, Value>,
    rel: &str,
    expected_type: &str,
) -> ApiResult<Option<Option<Id>>> {
    let Some(relationship) = rels.get(rel) else {
        return Ok(None);
    };
    match relationship.get("data") {
        None | Some(Value::Null) => Ok(Some(None)),
        Some(value) if value.get("id").and_then(Value::as_str) == Some("") => Ok(Some(None)),
        Some(value) => identifier(value, rel, expected_type).map(|id| Some(Some(id))),
    }
}

/// Parses a path id; anything that is not a uuid cannot exist.
pub fn path_id(raw: &str, what: &str) -> ApiResult<Id> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(format!("{what} {raw} not found")))
}
