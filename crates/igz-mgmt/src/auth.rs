//! Authentication state: the credentials in use, which can be replaced at run time, the headers
//! that prove who we are, and the login session that is renewed when the platform ends it.
//! Header values holding secrets are marked sensitive so they print as `Sensitive` in any
//! `Debug` output.
//!
//! Every set of credentials has a generation number. A request remembers the generation (and the
//! login session) it was sent with, so that a refusal can be told apart: sent with credentials
//! replaced since (send it again with the current ones), sent on a session that ended (log in
//! again), or a refusal of the current credentials (final). Reading the current headers is a
//! clone under a lock that is never held across an await.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use super::config::Credentials;
use super::error::{ErrorKind, MgmtError};

/// The credentials in use, with everything derived from them.
struct Current {
    generation: u64,
    credentials: Credentials,
    /// For an access key, the headers of every request, built once; `None` for a login.
    key_headers: Option<HeaderMap>,
}

/// A login session: its cookie, and the credentials generation it was obtained with.
struct Session {
    /// Tells sessions apart, so that of many requests refused on one ended session only one
    /// logs in again.
    number: u64,
    generation: u64,
    headers: HeaderMap,
}

pub(crate) struct Auth {
    current: RwLock<Arc<Current>>,
    session: RwLock<Option<Arc<Session>>>,
    /// One login at a time; the others wait and use its session.
    login_lock: tokio::sync::Mutex<()>,
    sessions_started: AtomicU64,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current();
        f.debug_struct("Auth")
            .field("credentials", &current.credentials)
            .field("generation", &current.generation)
            .finish_non_exhaustive()
    }
}

/// What one request is sent with.
pub(crate) struct Sent {
    pub headers: HeaderMap,
    /// The generation of the credentials behind `headers`.
    pub generation: u64,
    /// The login session behind `headers`, if any.
    pub session: Option<u64>,
}

/// A login to make: the body of `POST /api/sessions` and the generation of its credentials.
/// No `Debug`: the body holds the password.
pub(crate) struct LoginRequest {
    pub body: serde_json::Value,
    pub generation: u64,
}

impl Auth {
    /// Fails (without echoing the secret) when the credentials cannot be sent at all.
    pub fn new(credentials: Credentials) -> Result<Self, MgmtError> {
        let current = Current::new(credentials, 1)?;
        Ok(Self {
            current: RwLock::new(Arc::new(current)),
            session: RwLock::new(None),
            login_lock: tokio::sync::Mutex::new(()),
            sessions_started: AtomicU64::new(0),
        })
    }

    fn current(&self) -> Arc<Current> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn session(&self) -> Option<Arc<Session>> {
        self.session
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The generation of the credentials in use (starts at 1, grows with each replacement).
    pub fn generation(&self) -> u64 {
        self.current().generation
    }

    /// The credentials in use.
    pub fn credentials(&self) -> Credentials {
        self.current().credentials.clone()
    }

    /// Uses `credentials` for every request from now on; requests already sent keep theirs.
    /// Returns `false` (and changes nothing, the login session included) when they are the
    /// credentials in use already.
    pub fn replace(&self, credentials: Credentials) -> Result<bool, MgmtError> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.credentials.same_as(&credentials) {
            return Ok(false);
        }
        let generation = current.generation + 1;
        *current = Arc::new(Current::new(credentials, generation)?);
        drop(current);
        // A session of older credentials is never used again: let it go (one of the new
        // credentials may be there already, logged in by a request since).
        let mut session = self.session.write().unwrap_or_else(PoisonError::into_inner);
        if session.as_ref().is_some_and(|s| s.generation != generation) {
            *session = None;
        }
        Ok(true)
    }

    /// Headers for the next request; `None` when a login is needed first.
    pub fn headers(&self) -> Option<Sent> {
        let current = self.current();
        if let Some(headers) = &current.key_headers {
            return Some(Sent {
                headers: headers.clone(),
                generation: current.generation,
                session: None,
            });
        }
        let session = self
            .session()
            .filter(|s| s.generation == current.generation)?;
        Some(Sent {
            headers: session.headers.clone(),
            generation: current.generation,
            session: Some(session.number),
        })
    }

    /// Waits for any login in progress, then tells whether this task must log in: `None` when
    /// a session of the current credentials exists that is not the ended one (`ended`: the
    /// session a request was refused on), otherwise the guard to log in under.
    pub async fn begin_login(&self, ended: Option<u64>) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let guard = self.login_lock.lock().await;
        let generation = self.generation();
        let usable = self
            .session()
            .is_some_and(|s| s.generation == generation && Some(s.number) != ended);
        (!usable).then_some(guard)
    }

    /// The login to make for the current credentials; `None` for an access key.
    pub fn login_request(&self) -> Option<LoginRequest> {
        let current = self.current();
        match &current.credentials {
            Credentials::Login { username, password } => Some(LoginRequest {
                body: serde_json::json!({
                    "data": {
                        "type": "session",
                        "attributes": {
                            "username": username,
                            "password": password.expose_secret(),
                            "plane": "control",
                        },
                        "relationships": {},
                    }
                }),
                generation: current.generation,
            }),
            Credentials::AccessKey { .. } => None,
        }
    }

    /// Stores the session cookie from the `Set-Cookie` headers of a login made with the
    /// credentials of `generation`; a login of credentials replaced meanwhile is dropped.
    pub fn store_session(
        &self,
        generation: u64,
        response_headers: &HeaderMap,
    ) -> Result<(), MgmtError> {
        let cookie = session_cookie(response_headers).ok_or_else(|| {
            MgmtError::new(
                ErrorKind::Unauthorized,
                "POST /api/sessions",
                "login answered without a session cookie",
            )
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            sensitive(&format!("session={}", cookie.expose_secret()))?,
        );
        let session = Session {
            number: self.sessions_started.fetch_add(1, Ordering::Relaxed) + 1,
            generation,
            headers,
        };
        if generation == self.generation() {
            *self.session.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(session));
        }
        Ok(())
    }
}

impl Current {
    fn new(credentials: Credentials, generation: u64) -> Result<Self, MgmtError> {
        credentials.validate()?;
        let key_headers = match &credentials {
            Credentials::AccessKey { username, key } => {
                let mut headers = HeaderMap::new();
                let cookie = format!("session=j:{{\"sid\": \"{}\"}}", key.expose_secret());
                headers.insert(COOKIE, sensitive(&cookie)?);
                if let Some(user) = username {
                    let basic = base64::engine::general_purpose::STANDARD
                        .encode(format!("{user}:{}", key.expose_secret()));
                    headers.insert(AUTHORIZATION, sensitive(&format!("Basic {basic}"))?);
                }
                Some(headers)
            }
            Credentials::Login { .. } => None,
        };
        Ok(Self {
            generation,
            credentials,
            key_headers,
        })
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

    fn key(secret: &str, username: Option<&str>) -> Credentials {
        Credentials::AccessKey {
            username: username.map(str::to_owned),
            key: SecretString::from(secret.to_owned()),
        }
    }

    fn login(password: &str) -> Credentials {
        Credentials::Login {
            username: "admin".into(),
            password: SecretString::from(password.to_owned()),
        }
    }

    fn set_cookie(value: &'static str) -> HeaderMap {
        let mut resp = HeaderMap::new();
        resp.append(
            reqwest::header::SET_COOKIE,
            HeaderValue::from_static("other=1; Path=/"),
        );
        resp.append(reqwest::header::SET_COOKIE, HeaderValue::from_static(value));
        resp
    }

    #[test]
    fn access_key_headers_match_the_sdk() {
        let auth = Auth::new(key("AK-secret-123", Some("admin"))).unwrap();
        let h = auth.headers().unwrap().headers;
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
        assert!(!format!("{h:?} {auth:?}").contains("AK-secret-123"));

        let h = Auth::new(key("AK-secret-123", None))
            .unwrap()
            .headers()
            .unwrap()
            .headers;
        assert!(!h.contains_key(AUTHORIZATION));
    }

    #[tokio::test]
    async fn login_session_comes_from_set_cookie_and_one_renewal_serves_all() {
        let auth = Auth::new(login("pw")).unwrap();
        assert!(auth.headers().is_none());
        assert!(auth.begin_login(None).await.is_some());
        let request = auth.login_request().unwrap();
        assert_eq!(request.body["data"]["attributes"]["password"], "pw");
        auth.store_session(
            request.generation,
            &set_cookie("session=s%3Aabc.def; Path=/; HttpOnly"),
        )
        .unwrap();
        let sent = auth.headers().unwrap();
        assert_eq!(
            sent.headers[COOKIE].to_str().unwrap(),
            "session=s%3Aabc.def"
        );
        assert_eq!((sent.generation, sent.session), (1, Some(1)));

        // A refusal on session 1 needs a login; once it is renewed, a refusal on the old one
        // does not (another task already renewed it).
        assert!(auth.begin_login(Some(1)).await.is_some());
        auth.store_session(1, &set_cookie("session=second"))
            .unwrap();
        assert!(auth.begin_login(Some(1)).await.is_none());
        assert!(auth.begin_login(None).await.is_none());

        let err = auth.store_session(1, &HeaderMap::new()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
    }

    #[tokio::test]
    async fn replacing_credentials_moves_the_generation_and_retires_the_session() {
        let auth = Auth::new(login("old")).unwrap();
        auth.store_session(1, &set_cookie("session=s1")).unwrap();
        assert_eq!(auth.headers().unwrap().generation, 1);

        assert!(!auth.replace(login("old")).unwrap(), "same credentials");
        assert!(auth.headers().is_some(), "the session survives a no-op");

        assert!(auth.replace(login("new")).unwrap());
        assert_eq!(auth.generation(), 2);
        assert!(auth.headers().is_none(), "the old session is not used");
        assert!(auth.begin_login(None).await.is_some());
        let request = auth.login_request().unwrap();
        assert_eq!(
            (
                request.generation,
                request.body["data"]["attributes"]["password"].as_str()
            ),
            (2, Some("new"))
        );
        // A login of the old credentials that finishes late is never used, nor does it push
        // out a session of the new ones.
        auth.store_session(1, &set_cookie("session=late")).unwrap();
        assert!(auth.headers().is_none());
        auth.store_session(2, &set_cookie("session=s2")).unwrap();
        auth.store_session(1, &set_cookie("session=late")).unwrap();
        assert_eq!(
            auth.headers().unwrap().headers[COOKIE].to_str().unwrap(),
            "session=s2"
        );

        assert!(auth.replace(key("AK-2", None)).unwrap());
        let sent = auth.headers().unwrap();
        assert_eq!((sent.generation, sent.session), (3, None));
        assert!(auth.login_request().is_none());
    }

    #[test]
    fn unusable_credentials_are_refused_without_leaking_and_keep_the_old_ones() {
        let err = Auth::new(key("bad\nkey-secret", None)).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(!err.to_string().contains("key-secret"));

        let auth = Auth::new(key("good-key", None)).unwrap();
        for bad in [key("bad\nkey-secret", None), key("", None), login("")] {
            let err = auth.replace(bad).unwrap_err();
            assert!(!err.to_string().contains("key-secret"), "{err}");
        }
        assert_eq!(auth.generation(), 1);
        assert!(auth.headers().is_some());
    }
}
