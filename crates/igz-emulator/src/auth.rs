//! Who is calling: the `session` cookie (`j:{"sid": "<access key or session token>"}`, raw or
//! URL-encoded) and/or `Authorization: Basic base64(user:access_key)`. Credentials are only
//! compared, never logged or echoed.

use axum::http::{HeaderMap, header};
use base64::Engine;
use percent_encoding::percent_decode_str;
use serde_json::Value;

/// Name reported for callers that authenticate with a bare access key.
pub const ACCESS_KEY_USERNAME: &str = "admin";

/// The authenticated caller, stored in request extensions for handlers that need it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The name session verification reports (a Basic auth username wins, as on the platform).
    pub username: String,
    /// The user whose credentials these are: the owner of the access key or of the session.
    pub owner: String,
}

/// What a request presents; the secret half is compared and then dropped.
pub struct Presented {
    /// Access key or login session token.
    pub secret: Option<String>,
    /// Username from Basic auth, if any.
    pub basic_username: Option<String>,
    /// Access key from Basic auth, if any.
    pub basic_secret: Option<String>,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("basic_username", &self.basic_username)
            .field(
                "basic_secret",
                &self.basic_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The `sid` inside a `session` cookie value, or the value itself when it is not `j:{...}`.
pub fn sid_from_cookie_value(raw: &str) -> Option<String> {
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    let value = decoded.trim().trim_matches('"');
    match value.strip_prefix("j:") {
        Some(json) => serde_json::from_str::<Value>(json)
            .ok()?
            .get("sid")?
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        None => (!value.is_empty()).then(|| value.to_owned()),
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "session")
        .and_then(|(_, value)| sid_from_cookie_value(value))
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, secret) = text.split_once(':')?;
    Some((user.to_owned(), secret.to_owned()))
}

pub fn presented(headers: &HeaderMap) -> Presented {
    let basic = basic_auth(headers);
    Presented {
        secret: session_cookie(headers),
        basic_username: basic
            .as_ref()
            .map(|(u, _)| u.clone())
            .filter(|u| !u.is_empty()),
        basic_secret: basic.map(|(_, s)| s).filter(|s| !s.is_empty()),
    }
}

/// The session cookie value the emulator sets after a password login, in the platform's format.
pub fn session_cookie_value(token: &str) -> String {
    let raw = format!("j:{{\"sid\": \"{token}\"}}");
    percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_the_sdk_cookie_raw_and_encoded() {
        assert_eq!(
            sid_from_cookie_value(r#"j:{"sid": "k1"}"#).as_deref(),
            Some("k1")
        );
        assert_eq!(
            sid_from_cookie_value(&session_cookie_value("tok")).as_deref(),
            Some("tok")
        );
        assert_eq!(sid_from_cookie_value("plain").as_deref(), Some("plain"));
        assert_eq!(sid_from_cookie_value(r#"j:{"sid": ""}"#), None);
        assert_eq!(sid_from_cookie_value("j:{not json"), None);
    }

    #[test]
    fn reads_cookie_and_basic_auth_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static(r#"a=b; session=j:{"sid": "key=1"}"#),
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("bob:key=1");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
        );
        let p = presented(&headers);
        assert_eq!(p.secret.as_deref(), Some("key=1"));
        assert_eq!(p.basic_username.as_deref(), Some("bob"));
        assert_eq!(p.basic_secret.as_deref(), Some("key=1"));
        assert!(!format!("{p:?}").contains("key=1"));
    }
}
