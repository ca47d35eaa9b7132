//! Authentication state: the headers that prove who we are, and the login session that is
//! renewed once when the server answers 401. Header values holding secrets are marked
//! sensitive so they print as `Sensitive` in any `Debug` output.

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, RwLock};

use super::config::Credentials;
use super::error::{ErrorKind, MgmtError};

/// The login session currently in use; `generation` tells concurrent 401s apart so that only
/// one of them logs in again.
#[derive(Clone)]
pub(crate) struct Session {
    cookie: SecretString,
    pub generation: u64,
}

pub(crate) struct Auth {
    credentials: Credentials,
    session: RwLock<Option<Session>>,
    login_lock: Mutex<()>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Headers for one request plus the session generation they came from.
pub(crate) struct AuthHeaders {
    pub headers: HeaderMap,
    pub generation: u64,
}

impl Auth {
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            session: RwLock::new(None),
            login_lock: Mutex::new(()),
        }
    }

    /// Whether a 401 can be cured by logging in again.
    pub fn can_relogin(&self) -> bool {
        matches!(self.credentials, Credentials::Login { .. })
    }

    /// The login request body (`POST /api/sessions`), or `None` for access keys.
    pub fn login_body(&self) -> Option<serde_json::Value> {
        match &self.credentials {
            Credentials::Login { username, password } => Some(serde_json::json!({
                "data": {
                    "type": "session",
                    "attributes": {
                        "username": username,
                        "password": password.expose_secret(),
                        "plane": "control",
                    },
                    "relationships": {},
                }
            })),
            Credentials::AccessKey { .. } => None,
        }
    }

    /// Headers for the next request. `None` means a login is needed first.
    pub async fn headers(&self) -> Result<Option<AuthHeaders>, MgmtError> {
        match &self.credentials {
            Credentials::AccessKey { username, key } => {
                let mut headers = HeaderMap::new();
                let cookie = format!("session=j:{{\"sid\": \"{}\"}}", key.expose_secret());
                headers.insert(COOKIE, sensitive(&cookie)?);
                if let Some(user) = username {
                    let basic = base64::engine::general_purpose::STANDARD
                        .encode(format!("{user}:{}", key.expose_secret()));
                    headers.insert(AUTHORIZATION, sensitive(&format!("Basic {basic}"))?);
                }
                Ok(Some(AuthHeaders {
                    headers,
                    generation: 0,
                }))
            }
            Credentials::Login { .. } => {
                let session = self.session.read().await;
                let Some(session) = session.as_ref() else {
                    return Ok(None);
                };
                let mut headers = HeaderMap::new();
                let cookie = format!("session={}", session.cookie.expose_secret());
                headers.insert(COOKIE, sensitive(&cookie)?);
                Ok(Some(AuthHeaders {
                    headers,
                    generation: session.generation,
                }))
            }
        }
    }

    /// Serializes logins: returns `None` when another task already replaced the session seen
    /// at `seen_generation` (so no new login is needed), otherwise the guard to log in under.
    pub async fn begin_login(
        &self,
        seen_generation: Option<u64>,
    ) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let guard = self.login_lock.lock().await;
        let current = self.session.read().await.as_ref().map(|s| s.generation);
        match (current, seen_generation) {
            // A session appeared or changed while we waited: use it.
            (Some(now), Some(seen)) if now != seen => None,
            (Some(_), None) => None,
            _ => Some(guard),
        }
    }

    /// Stores the session cookie from a login response's `Set-Cookie` headers.
    pub async fn store_session(&self, response_headers: &HeaderMap) -> Result<(), MgmtError> {
        let cookie = session_cookie(response_headers).ok_or_else(|| {
            MgmtError::new(
                ErrorKind::Unauthorized,
                "POST /api/sessions",
                "login answered without a session cookie",
            )
        })?;
        let mut session = self.session.write().await;
        let generation = session.as_ref().map_or(1, |s| s.generation + 1);
        *session = Some(Session { cookie, generation });
        Ok(())
    }
}

fn sensitive(value: &str) -> Result<HeaderValue, MgmtError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        // Never echo the value: it holds the credential.
        MgmtError::new(
            ErrorKind::Invalid,
            "management API credentials",
            "credential contains characters not allowed in an HTTP header",
        )
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// The value of the `session` cookie in `Set-Cookie` headers.
fn session_cookie(headers: &HeaderMap) -> Option<SecretString> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let pair = v.split(';').next()?.trim();
            let value = pair.strip_prefix("session=")?;
            (!value.is_empty()).then(|| SecretString::from(value.to_owned()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access_key(username: Option<&str>) -> Auth {
        Auth::new(Credentials::AccessKey {
            username: username.map(str::to_owned),
            key: SecretString::from("AK-secret-123"),
        })
    }

    #[tokio::test]
    async fn access_key_headers_match_the_sdk() {
        let h = access_key(Some("admin"))
            .headers()
            .await
            .unwrap()
            .unwrap()
            .headers;
        assert_eq!(
            h[COOKIE].to_str().unwrap(),
            r#"session=j:{"sid": "AK-secret-123"}"#
        );
        let expected = base64::engine::general_purpose::STANDARD.encode("admin:AK-secret-123");
        assert_eq!(
            h[AUTHORIZATION].to_str().unwrap(),
            format!("Basic {expected}")
        );
        assert!(h[COOKIE].is_sensitive() && h[AUTHORIZATION].is_sensitive());
        assert!(!format!("{h:?}").contains("AK-secret-123"));

        let h = access_key(None).headers().await.unwrap().unwrap().headers;
        assert!(!h.contains_key(AUTHORIZATION));
    }

    #[tokio::test]
    async fn login_session_comes_from_set_cookie() {
        let auth = Auth::new(Credentials::Login {
            username: "admin".into(),
            password: SecretString::from("pw"),
        });
        assert!(auth.headers().await.unwrap().is_none());
        assert!(auth.begin_login(None).await.is_some());

        let mut resp = HeaderMap::new();
        resp.append(
            reqwest::header::SET_COOKIE,
            HeaderValue::from_static("other=1; Path=/"),
        );
        resp.append(
            reqwest::header::SET_COOKIE,
            HeaderValue::from_static("session=s%3Aabc.def; Path=/; HttpOnly"),
        );
        auth.store_session(&resp).await.unwrap();
        let got = auth.headers().await.unwrap().unwrap();
        assert_eq!(got.headers[COOKIE].to_str().unwrap(), "session=s%3Aabc.def");
        assert_eq!(got.generation, 1);

        // A 401 seen on generation 1 triggers a login; one seen on an older generation does not.
        assert!(auth.begin_login(Some(1)).await.is_some());
        assert!(auth.begin_login(Some(0)).await.is_none());

        let err = auth.store_session(&HeaderMap::new()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
    }

    #[tokio::test]
    async fn header_unsafe_keys_do_not_leak_in_errors() {
        let auth = Auth::new(Credentials::AccessKey {
            username: None,
            key: SecretString::from("bad\nkey-secret"),
        });
        let err = auth.headers().await.err().unwrap();
        assert!(!err.to_string().contains("key-secret"));
    }
}
