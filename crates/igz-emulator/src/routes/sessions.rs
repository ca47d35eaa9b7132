//! Login, session verification and the version probe.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::respond;
use crate::App;
use crate::auth::{Identity, session_cookie_value};
use crate::jsonapi::{ApiError, ApiResult, parse_request, required_string};

/// `POST /api/sessions` with username/password: answers 201 and sets the `session` cookie.
pub async fn login(State(app): State<App>, body: Bytes) -> ApiResult {
    let req = parse_request(&body)?;
    let username = required_string(&req.attributes, "username")?;
    let password = required_string(&req.attributes, "password")?;
    let token = app.with_model(|m| m.login(&username, &password, std::time::Instant::now()))?;
    let doc = json!({
        "data": {
            "type": "session",
            "id": token,
            "attributes": {
                "username": username,
                "plane": "control",
                "tenant_id": app.config().tenant_id,
            }
        }
    });
    let mut response = respond(StatusCode::CREATED, &doc);
    let cookie = format!("session={}; Path=/; HttpOnly", session_cookie_value(&token));
    let value = HeaderValue::from_str(&cookie)
        .map_err(|_| ApiError::bad_request("unusable session token"))?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(response)
}

/// `POST /api/sessions/verifications/planes/{plane}/internal`
pub async fn verify(State(app): State<App>, Extension(identity): Extension<Identity>) -> Response {
    let user_id = app.with_model(|m| m.user_by_name(&identity.username).map(|u| u.id.to_string()));
    let doc = json!({
        "data": {
            "type": "session_verification",
            "attributes": {
                "username": identity.username,
                "context": {
                    "authentication": {
                        "tenant_id": app.config().tenant_id,
                        "user_id": user_id.unwrap_or_default(),
                        "mode": "normal",
                    }
                }
            }
        }
    });
    respond(StatusCode::OK, &doc)
}

/// `GET /api/tunnel/{node}.version.0/external_versions/{node}`; 404 when the platform is set
/// not to tell its version.
pub async fn version(
    State(app): State<App>,
    Path((tunnel, node)): Path<(String, String)>,
) -> ApiResult {
    let version = app.version();
    let Some(version) =
        version.filter(|_| tunnel == format!("{node}.version.0") && node.starts_with("igz"))
    else {
        return Err(ApiError::not_found(format!(
            "no version service at {tunnel}"
        )));
    };
    let doc = json!({
        "data": {
            "type": "external_version",
            "attributes": { "external": version }
        }
    });
    Ok(respond(StatusCode::OK, &doc))
}
