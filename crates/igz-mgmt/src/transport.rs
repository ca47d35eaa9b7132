//! The one place that sends a request: rate limit, authentication (a request refused with
//! credentials replaced since, or on a login session that ended, is sent once more), bounded
//! retries with jittered backoff, a tracing span, metrics and error mapping.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use backon::Retryable as _;
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Certificate, Method};
use serde::Serialize;
use tracing::Instrument as _;
use url::Url;

use super::auth::{Auth, Sent};
use super::breaker::{Admit, Breaker, Health, Transition};
use super::config::{MgmtConfig, RetryPolicy};
use super::error::{ErrorKind, MgmtError};
use super::observer::Observer;
use super::routes;

/// One API call: a route template, its arguments and an optional JSON body. No `Debug`: the
/// login body holds a password.
pub(crate) struct Request {
    method: Method,
    route: &'static str,
    args: Vec<String>,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    idempotent: bool,
    /// Sent while the breaker is open, to check whether the platform is back.
    probe: bool,
}

impl Request {
    fn new(method: Method, route: &'static str, args: &[&str]) -> Self {
        Self {
            idempotent: method != Method::POST,
            method,
            route,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            query: Vec::new(),
            body: None,
            probe: false,
        }
    }

    pub fn get(route: &'static str, args: &[&str]) -> Self {
        Self::new(Method::GET, route, args)
    }

    pub fn put(route: &'static str, args: &[&str]) -> Self {
        Self::new(Method::PUT, route, args)
    }

    pub fn post(route: &'static str) -> Self {
        Self::new(Method::POST, route, &[])
    }

    pub fn delete(route: &'static str, args: &[&str]) -> Self {
        Self::new(Method::DELETE, route, args)
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub fn json(mut self, body: &impl Serialize) -> Self {
        // Serializing our own plain structs cannot fail; an empty body would be rejected loudly.
        self.body = Some(serde_json::to_vec(body).unwrap_or_default());
        self
    }

    /// Marks a POST that is safe to repeat (a read, or a login).
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Marks the breaker's probe: it goes although the breaker is open.
    pub fn probe(mut self) -> Self {
        self.probe = true;
        self
    }

    /// `GET /api/user_groups/{id}`: how the request is named in errors, logs and metrics.
    pub fn context(&self) -> String {
        format!("{} {}", self.method, self.route)
    }

    fn url(&self, base: &Url) -> Result<Url, MgmtError> {
        let mut url = base.clone();
        url.set_query(None);
        {
            let mut segments = url.path_segments_mut().map_err(|()| {
                MgmtError::new(
                    ErrorKind::Invalid,
                    self.context(),
                    "endpoint cannot carry a path",
                )
            })?;
            segments.pop_if_empty();
            let mut args = self.args.iter();
            for part in self.route.trim_start_matches('/').split('/') {
                if part.starts_with('{') {
                    let arg = args.next().ok_or_else(|| {
                        MgmtError::new(ErrorKind::Invalid, self.context(), "missing route argument")
                    })?;
                    if arg.is_empty() {
                        return Err(MgmtError::new(
                            ErrorKind::Invalid,
                            self.context(),
                            "empty id",
                        ));
                    }
                    segments.push(arg);
                } else {
                    segments.push(part);
                }
            }
        }
        Ok(url)
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    base: Url,
    /// The connection's name, in log lines and metrics.
    connection: String,
    limiter: DefaultDirectRateLimiter,
    /// Requests on the wire at once; a slow platform gets fewer new ones.
    in_flight: tokio::sync::Semaphore,
    retry: RetryPolicy,
    observer: Observer,
    auth: Auth,
    breaker: Mutex<Breaker>,
    /// Set when the breaker opened and nobody probes yet (the client starts the prober).
    probe_wanted: AtomicBool,
    /// Counts the times the platform came back after the breaker opened.
    recoveries: tokio::sync::watch::Sender<u64>,
}

impl Transport {
    pub fn new(cfg: &MgmtConfig) -> Result<Self, MgmtError> {
        cfg.validate()?;
        let settings_error =
            |msg: String| MgmtError::new(ErrorKind::Invalid, "management API settings", msg);
        let mut builder = reqwest::Client::builder()
            .user_agent(cfg.user_agent.as_str())
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            // A redirect could carry our cookie elsewhere; the API never needs one.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &cfg.ca_bundle_pem {
            let certs = Certificate::from_pem_bundle(pem).map_err(|e| {
                MgmtError::tls_settings(format!("the CA bundle is not valid PEM: {e}"))
            })?;
            if certs.is_empty() {
                return Err(MgmtError::tls_settings(
                    "the CA bundle holds no certificate",
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        if cfg.insecure_skip_tls_verify {
            tracing::warn!(
                endpoint = %cfg.base_url,
                "TLS certificate verification of the management API is DISABLED by configuration"
            );
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| settings_error(format!("cannot build the HTTP client: {e}")))?;
        let auth = Auth::new(cfg.credentials.clone())?;

        let period = Duration::from_secs_f64(1.0 / cfg.rate_limit.qps);
        let quota = Quota::with_period(period)
            .ok_or_else(|| settings_error("rate limit QPS is too high".into()))?
            .allow_burst(cfg.rate_limit.burst);

        Ok(Self {
            http,
            base: cfg.base_url.clone(),
            connection: cfg.connection.clone(),
            limiter: RateLimiter::direct(quota),
            in_flight: tokio::sync::Semaphore::new(cfg.max_in_flight.max(1)),
            retry: cfg.retry.clone(),
            observer: cfg.observer.clone(),
            auth,
            breaker: Mutex::new(Breaker::new(cfg.breaker.clone())),
            probe_wanted: AtomicBool::new(false),
            recoveries: tokio::sync::watch::Sender::new(0),
        })
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True once after the breaker opened: the caller starts probing.
    pub fn take_probe_wanted(&self) -> bool {
        self.probe_wanted.swap(false, Ordering::Relaxed)
    }

    pub fn breaker_open(&self) -> bool {
        self.breaker().is_open()
    }

    /// A failed probe: how long until the next one.
    pub fn probe_failed(&self) -> Duration {
        self.breaker().probe_failed(Instant::now())
    }

    pub fn recoveries(&self) -> tokio::sync::watch::Receiver<u64> {
        self.recoveries.subscribe()
    }

    /// Tells the breaker what an attempt found, and acts on what changed.
    fn record_health(&self, health: Health) {
        let transition = self.breaker().record(health, Instant::now());
        match transition {
            Transition::None => {}
            Transition::Opened(pause) => {
                tracing::warn!(
                    connection = %self.connection,
                    pause_ms = pause.as_millis() as u64,
                    "the management API keeps failing; holding requests back and probing it"
                );
                self.probe_wanted.store(true, Ordering::Relaxed);
            }
            Transition::Closed => {
                tracing::info!(connection = %self.connection, "the management API answers again");
                self.recoveries.send_modify(|n| *n += 1);
            }
        }
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    pub fn connection(&self) -> &str {
        &self.connection
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Sends a request, retrying what is safe to retry within the policy's bounds.
    pub async fn send(&self, req: &Request) -> Result<Response, MgmtError> {
        let attempts = AtomicU32::new(0);
        let max_retry_after = self.retry.max_retry_after;
        let backoff = self.retry.backoff();
        (|| self.authenticated(req, attempts.fetch_add(1, Ordering::Relaxed) + 1))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e: &MgmtError| e.is_retryable(req.idempotent))
            // The server's Retry-After wins over our own guess, within reason; `None` means
            // the policy is exhausted and must stay so.
            .adjust(move |e: &MgmtError, planned: Option<Duration>| {
                planned.map(|ours| {
                    e.retry_after()
                        .map_or(ours, |theirs| theirs.min(max_retry_after))
                })
            })
            .notify(|e: &MgmtError, delay: Duration| {
                self.observer
                    .retry(&self.connection, req.method.as_str(), req.route);
                tracing::warn!(
                    connection = %self.connection,
                    route = req.route,
                    method = %req.method,
                    error = %e,
                    delay_ms = delay.as_millis() as u64,
                    "management API request failed, retrying"
                );
            })
            .await
    }

    /// One attempt, no retries (the breaker's probe).
    pub async fn send_once(&self, req: &Request) -> Result<Response, MgmtError> {
        self.authenticated(req, 1).await
    }

    /// One attempt with credentials. A refusal (401, 403) of a request sent with credentials
    /// that were replaced while it was on its way is not an answer about the current ones: the
    /// request goes once more with them. So does a request refused (401) on a login session the
    /// platform ended, after a new login. Never more than once: a second refusal is final.
    async fn authenticated(&self, req: &Request, attempt: u32) -> Result<Response, MgmtError> {
        let mut resent = false;
        loop {
            let generation = self.auth.generation();
            let sent = match self.credentials_for(req, attempt).await {
                Ok(sent) => sent,
                // The login itself was refused, but with credentials replaced meanwhile.
                Err(e) if is_refusal(&e) && !resent && self.auth.generation() != generation => {
                    resent = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match self.exchange(req, Some(&sent.headers), attempt).await {
                Err(e) if is_refusal(&e) && !resent => {
                    resent = true;
                    if sent.generation != self.auth.generation() {
                        tracing::info!(
                            connection = %self.connection,
                            route = req.route,
                            status = e.status(),
                            "request refused with credentials replaced since; sending it again with the current ones"
                        );
                        continue;
                    }
                    match sent.session {
                        Some(number) if e.status() == Some(401) => {
                            self.login(Some(number), attempt).await?;
                        }
                        _ => return Err(e),
                    }
                }
                other => return other,
            }
        }
    }

    /// Headers for a request, after a login when the credentials need one and have none.
    async fn credentials_for(&self, req: &Request, attempt: u32) -> Result<Sent, MgmtError> {
        // Twice at most: the credentials may be replaced while the first login is on its way.
        for _ in 0..2 {
            if let Some(sent) = self.auth.headers() {
                return Ok(sent);
            }
            self.login(None, attempt).await?;
        }
        self.auth.headers().ok_or_else(|| {
            MgmtError::new(
                ErrorKind::Unauthorized,
                req.context(),
                "no login session: the credentials kept changing while logging in",
            )
        })
    }

    /// Logs in unless another task already did (since the session numbered `ended` was refused,
    /// or for the current credentials).
    async fn login(&self, ended: Option<u64>, attempt: u32) -> Result<(), MgmtError> {
        let Some(_guard) = self.auth.begin_login(ended).await else {
            return Ok(());
        };
        let Some(login) = self.auth.login_request() else {
            // Access keys: nothing to log in with (credentials replaced meanwhile).
            return Ok(());
        };
        // A login is rare and needed by the probe itself: the breaker does not hold it back.
        let req = Request::post(routes::SESSIONS)
            .json(&login.body)
            .idempotent()
            .probe();
        let generation = login.generation;
        drop(login);
        let resp = self.exchange(&req, None, attempt).await?;
        self.auth.store_session(generation, &resp.headers)?;
        if ended.is_some() {
            self.observer.relogin(&self.connection);
            tracing::info!(connection = %self.connection, "management API session ended; logged in again");
        }
        Ok(())
    }

    /// Sends one request on the wire under the rate limiter, inside its own span.
    async fn exchange(
        &self,
        req: &Request,
        auth: Option<&HeaderMap>,
        attempt: u32,
    ) -> Result<Response, MgmtError> {
        let url = req.url(&self.base)?;
        if !req.probe
            && let Admit::Refuse(wait) = self.breaker().admit(Instant::now())
        {
            return Err(MgmtError::held_back(req.context(), wait));
        }
        self.limiter.until_ready().await;
        let _slot = self.in_flight.acquire().await;
        let span = tracing::info_span!(
            "mgmt_request",
            connection = %self.connection,
            method = %req.method,
            route = req.route,
            attempt,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let mut builder = self.http.request(req.method.clone(), url);
            if !req.query.is_empty() {
                builder = builder.query(&req.query);
            }
            if let Some(headers) = auth {
                builder = builder.headers(headers.clone());
            }
            if let Some(body) = &req.body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = match builder.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    resp.bytes()
                        .await
                        .map(|body| Response {
                            status,
                            headers,
                            body,
                        })
                        .map_err(|e| MgmtError::from_transport(req.context(), &e.without_url()))
                }
                // Without the URL: the route template names the request, and an id in the path
                // has no business in an error message.
                Err(e) => Err(MgmtError::from_transport(req.context(), &e.without_url())),
            };
            let elapsed = started.elapsed();
            let status = outcome.as_ref().ok().map(|r| r.status);
            self.record_health(match &outcome {
                Ok(r) if r.status == 429 || r.status >= 500 => Health::Down,
                Ok(_) => Health::Answered,
                Err(_) => Health::Down,
            });
            self.observer.request(
                &self.connection,
                req.method.as_str(),
                req.route,
                status,
                elapsed.as_secs_f64(),
            );
            let span = tracing::Span::current();
            span.record("duration_ms", elapsed.as_millis() as u64);
            match status {
                Some(code) => span.record("status", code),
                None => span.record("status", "error"),
            };
            let resp = outcome.inspect_err(|e| tracing::debug!(error = %e, "no answer"))?;
            if (200..300).contains(&resp.status) {
                tracing::debug!("answered");
                Ok(resp)
            } else {
                tracing::debug!("answered with an error status");
                Err(MgmtError::from_status(
                    req.context(),
                    resp.status,
                    &resp.body,
                    retry_after(&resp.headers),
                ))
            }
        }
        .instrument(span)
        .await
    }
}

/// The platform refused the credentials (401) or what they may do (403).
fn is_refusal(e: &MgmtError) -> bool {
    matches!(e.status(), Some(401 | 403))
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = jiff::Timestamp::now().duration_until(when);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn urls_fill_and_encode_route_arguments() {
        let base = Url::parse("https://dash.example/prefix/").unwrap();
        let url = Request::get(routes::GROUP, &["a/b?c"]).url(&base).unwrap();
        assert_eq!(
            url.as_str(),
            "https://dash.example/prefix/api/user_groups/a%2Fb%3Fc"
        );
        let url = Request::get(routes::GROUPS, &[])
            .url(&Url::parse("http://127.0.0.1:9").unwrap())
            .unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/api/user_groups");
        assert!(Request::get(routes::GROUP, &[""]).url(&base).is_err());
        assert!(Request::get(routes::GROUP, &[]).url(&base).is_err());
    }

    #[test]
    fn posts_are_not_idempotent_unless_said() {
        assert!(!Request::post(routes::GROUPS).idempotent);
        assert!(
            Request::post(routes::SESSION_VERIFY)
                .idempotent()
                .idempotent
        );
        assert!(Request::put(routes::GROUP, &["x"]).idempotent);
        assert!(Request::delete(routes::GROUP, &["x"]).idempotent);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("-4"));
        assert_eq!(retry_after(&h), None);
    }
}
