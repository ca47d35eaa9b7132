//! One error type for every management API failure, classified so callers (and the retry
//! policy) can act on the category instead of parsing messages.

use std::time::Duration;

/// What went wrong, in terms a reconcile loop can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Credentials rejected (401) or not allowed (403), after the one permitted re-login.
    Unauthorized,
    /// The resource does not exist (404).
    NotFound,
    /// The platform refused because of existing state (409), e.g. a duplicate group name.
    Conflict,
    /// The request or configuration is invalid (400, 422, other 4xx, bad settings).
    Invalid,
    /// The platform is unavailable or rate limiting (429, 5xx, connection failures).
    Unavailable,
    /// A request or a job did not finish in time.
    Timeout,
    /// A platform job ended in `failed` or `canceled`.
    JobFailed,
    /// The platform answered with a body that does not match the contract.
    Decode,
}

/// When a failed request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Never: the answer is final.
    Never,
    /// Always: the server certainly did not act on it (429, connection never established).
    Always,
    /// Only when repeating the request is harmless: the server may or may not have acted.
    IfIdempotent,
}

/// Why a request got no answer at all, as far as the HTTP stack tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoAnswer {
    /// TLS failed: the handshake, the server's certificate, or our TLS settings (CA bundle).
    Tls,
    /// No connection: DNS, refused, unreachable.
    Connect,
    Timeout,
    /// Held back by the open breaker: the platform has been failing.
    HeldBack,
    /// The connection broke while the request or its answer was on the wire.
    Other,
}

/// A management API failure. Its text never contains credentials: requests are described by
/// method and route template, and response bodies are reduced to the server's error details.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{context}: {message}")]
pub struct MgmtError {
    kind: ErrorKind,
    status: Option<u16>,
    context: String,
    message: String,
    retry: Retry,
    retry_after: Option<Duration>,
    /// The answer to an earlier attempt of the same call was lost: whatever this error says,
    /// the server may have acted on the call.
    answer_lost: bool,
    /// Set when the request got no HTTP answer (or could not be sent): why.
    no_answer: Option<NoAnswer>,
}

/// What a failure says about the connection to the platform, for a health report: the reason of
/// a `Ready=False` condition. See [`MgmtError::health`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthProblem {
    /// No answer: the platform cannot be reached (DNS, connection refused, timeouts), answers
    /// only with gateway errors, or has failed so often that requests are held back.
    Unreachable,
    /// TLS failed: the server's certificate is not trusted or does not match, or the CA bundle
    /// is unusable.
    TlsError,
    /// The platform refused the credentials (401): unknown, revoked or expired access key, wrong
    /// username or password.
    CredentialsInvalid,
    /// The credentials are valid but not allowed to do this (403).
    PermissionDenied,
    /// Anything else: an answer the client does not understand, a refusal of the request itself.
    Other,
}

impl HealthProblem {
    /// The condition reason: `Unreachable`, `TLSError`, `CredentialsInvalid`,
    /// `PermissionDenied` or `PlatformError`.
    pub fn reason(self) -> &'static str {
        match self {
            HealthProblem::Unreachable => "Unreachable",
            HealthProblem::TlsError => "TLSError",
            HealthProblem::CredentialsInvalid => "CredentialsInvalid",
            HealthProblem::PermissionDenied => "PermissionDenied",
            HealthProblem::Other => "PlatformError",
        }
    }
}

impl std::fmt::Display for HealthProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

/// Longest server-provided detail kept in an error, so a misbehaving server cannot flood logs.
const MAX_DETAIL: usize = 300;

impl MgmtError {
    pub(crate) fn new(
        kind: ErrorKind,
        context: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            status: None,
            context: context.into(),
            message: message.into(),
            retry: Retry::Never,
            retry_after: None,
            answer_lost: false,
            no_answer: None,
        }
    }

    /// TLS settings that cannot work (an unusable CA bundle).
    pub(crate) fn tls_settings(message: impl Into<String>) -> Self {
        Self {
            no_answer: Some(NoAnswer::Tls),
            ..Self::new(ErrorKind::Invalid, "management API settings", message)
        }
    }

    /// Marks that an earlier attempt of this call lost its answer (see [`MgmtError::outcome_unknown`]).
    pub(crate) fn after_lost_answer(mut self) -> Self {
        self.answer_lost = true;
        self
    }

    /// An error for a non-success HTTP status, with the server's JSON:API error details if any.
    pub(crate) fn from_status(
        context: impl Into<String>,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> Self {
        let (kind, retry) = classify_status(status);
        let detail = error_detail(body);
        let message = if detail.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {detail}")
        };
        Self {
            kind,
            status: Some(status),
            retry,
            retry_after,
            ..Self::new(kind, context, message)
        }
    }

    /// An error for a request that got no HTTP answer.
    pub(crate) fn from_transport(context: impl Into<String>, err: &reqwest::Error) -> Self {
        // A connection that was never established cannot have reached the server.
        let (kind, retry, why) = if err.is_connect() {
            let why = if is_tls_failure(err) {
                NoAnswer::Tls
            } else {
                NoAnswer::Connect
            };
            (ErrorKind::Unavailable, Retry::Always, why)
        } else if err.is_timeout() {
            (ErrorKind::Timeout, Retry::IfIdempotent, NoAnswer::Timeout)
        } else {
            (ErrorKind::Unavailable, Retry::IfIdempotent, NoAnswer::Other)
        };
        Self {
            retry,
            no_answer: Some(why),
            ..Self::new(kind, context, describe_chain(err))
        }
    }

    /// A request not sent because the breaker is open (the platform has been failing). Definite:
    /// nothing reached the platform, and retrying before the next probe is pointless.
    pub(crate) fn held_back(context: impl Into<String>, next_probe: Duration) -> Self {
        Self {
            no_answer: Some(NoAnswer::HeldBack),
            ..Self::new(
                ErrorKind::Unavailable,
                context,
                format!(
                    "not sent: the management API has been failing, so requests are held back; it is checked again in {:.1}s",
                    next_probe.as_secs_f64()
                ),
            )
        }
    }

    pub(crate) fn decode(
        context: impl Into<String>,
        path: &str,
        message: impl std::fmt::Display,
    ) -> Self {
        let message = if path.is_empty() || path == "." {
            format!("malformed response: {message}")
        } else {
            format!("malformed response at `{path}`: {message}")
        };
        Self::new(ErrorKind::Decode, context, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// True for failures that may go away by themselves (unavailable, rate limited, timeouts).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Unavailable | ErrorKind::Timeout)
    }

    /// True when the server may have acted on the request although no success was seen.
    pub(crate) fn is_ambiguous(&self) -> bool {
        self.retry == Retry::IfIdempotent
    }

    /// True when the server may have carried out the call although it failed: this attempt got
    /// no clear answer (a lost answer, a timeout, a gateway error), or an earlier attempt of the
    /// same call did not. False means the failure is definite: the call changed nothing.
    pub fn outcome_unknown(&self) -> bool {
        self.is_ambiguous() || self.answer_lost
    }

    pub(crate) fn is_retryable(&self, idempotent: bool) -> bool {
        match self.retry {
            Retry::Never => false,
            Retry::Always => true,
            Retry::IfIdempotent => idempotent,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// What this failure says about the connection to the platform.
    pub fn health(&self) -> HealthProblem {
        match (self.no_answer, self.status) {
            (Some(NoAnswer::Tls), _) => HealthProblem::TlsError,
            (Some(_), _) => HealthProblem::Unreachable,
            (None, Some(401)) => HealthProblem::CredentialsInvalid,
            (None, Some(403)) => HealthProblem::PermissionDenied,
            (None, Some(502..=504)) => HealthProblem::Unreachable,
            _ => HealthProblem::Other,
        }
    }

    /// One sentence on what is wrong and what to fix, for a condition message: the failure
    /// itself (route and status, or the network's cause; never a credential) and the fix.
    /// `endpoint` is the platform URL the client talks to (see `MgmtClient::endpoint`).
    pub fn health_message(&self, endpoint: &url::Url) -> String {
        let what = self.to_string();
        let at = endpoint_text(endpoint);
        match self.health() {
            HealthProblem::TlsError if self.kind == ErrorKind::Invalid => format!(
                "The TLS settings are unusable ({what}). Give a CA bundle of PEM certificates."
            ),
            HealthProblem::TlsError => format!(
                "TLS with {at} failed ({what}). If the platform's certificate comes from a \
                 private CA, add that CA to the CA bundle; check that the URL names a host the \
                 certificate is for, and that the endpoint serves HTTPS at all."
            ),
            HealthProblem::Unreachable => format!(
                "The management API at {at} does not answer ({what}). Check the URL, DNS and \
                 network policies between the operator and the platform, and that the platform \
                 is up."
            ),
            HealthProblem::CredentialsInvalid => format!(
                "The platform at {at} refused the credentials ({what}). The access key is \
                 unknown, revoked or expired, or the username or password is wrong: put valid \
                 credentials in the Secret."
            ),
            HealthProblem::PermissionDenied => format!(
                "The platform at {at} accepts the credentials but does not allow this ({what}). \
                 Give the platform user they act as a tenant-management policy that allows it \
                 (e.g. IT Admin), or use another user's credentials."
            ),
            HealthProblem::Other if self.kind == ErrorKind::Decode || self.status == Some(404) => {
                format!(
                    "{at} does not answer like the Iguazio management API ({what}). Check that \
                     the URL is the platform dashboard's, without a path."
                )
            }
            HealthProblem::Other => format!("The management API at {at} failed: {what}."),
        }
    }
}

/// Scheme, host and port of the endpoint: never a path, a query or user info.
fn endpoint_text(endpoint: &url::Url) -> String {
    match (endpoint.host_str(), endpoint.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", endpoint.scheme()),
        (Some(host), None) => format!("{}://{host}", endpoint.scheme()),
        _ => "the endpoint".to_owned(),
    }
}

/// Whether TLS is why a connection failed: a `rustls` error anywhere in the chain (also inside
/// an `io::Error`, whose `source` skips the error it wraps).
fn is_tls_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && is_tls_failure(inner)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Maps a status to its kind and to whether sending the request again can help.
fn classify_status(status: u16) -> (ErrorKind, Retry) {
    match status {
        401 | 403 => (ErrorKind::Unauthorized, Retry::Never),
        404 => (ErrorKind::NotFound, Retry::Never),
        409 => (ErrorKind::Conflict, Retry::Never),
        408 => (ErrorKind::Timeout, Retry::IfIdempotent),
        // 429 means the request was turned away before it was processed.
        429 => (ErrorKind::Unavailable, Retry::Always),
        // A server or gateway error may hide a request the backend did process: repeat only
        // what is harmless to repeat. (The platform answers transient overload with 500 too.)
        500 | 502 | 503 => (ErrorKind::Unavailable, Retry::IfIdempotent),
        504 => (ErrorKind::Timeout, Retry::IfIdempotent),
        // 501 Not Implemented, 505 ...: asking again changes nothing.
        500..=599 => (ErrorKind::Unavailable, Retry::Never),
        _ => (ErrorKind::Invalid, Retry::Never),
    }
}

/// Extracts `errors[].detail` from a JSON:API error body; empty when there is none.
fn error_detail(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        detail: Option<serde_json::Value>,
    }
    let Ok(parsed) = serde_json::from_slice::<Body>(body) else {
        return String::new();
    };
    let details: Vec<String> = parsed
        .errors
        .into_iter()
        .filter_map(|item| match item.detail? {
            serde_json::Value::String(s) => Some(s),
            other => Some(other.to_string()),
        })
        .collect();
    truncate(details.join("; "))
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_DETAIL {
        let mut cut = MAX_DETAIL;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// The error and its causes on one line ("error sending request: connection refused").
fn describe_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    truncate(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classification() {
        let cases = [
            (400, ErrorKind::Invalid, false, false),
            (401, ErrorKind::Unauthorized, false, false),
            (403, ErrorKind::Unauthorized, false, false),
            (404, ErrorKind::NotFound, false, false),
            (409, ErrorKind::Conflict, false, false),
            (422, ErrorKind::Invalid, false, false),
            (429, ErrorKind::Unavailable, true, true),
            (500, ErrorKind::Unavailable, true, false),
            (501, ErrorKind::Unavailable, false, false),
            (502, ErrorKind::Unavailable, true, false),
            (503, ErrorKind::Unavailable, true, false),
            (504, ErrorKind::Timeout, true, false),
        ];
        for (status, kind, idempotent_retry, create_retry) in cases {
            let err = MgmtError::from_status("GET /api/x", status, b"", None);
            assert_eq!(err.kind(), kind, "status {status}");
            assert_eq!(err.status(), Some(status));
            assert_eq!(
                err.is_retryable(true),
                idempotent_retry,
                "status {status} idempotent"
            );
            assert_eq!(
                err.is_retryable(false),
                create_retry,
                "status {status} create"
            );
        }
    }

    #[test]
    fn gateway_errors_are_ambiguous_for_creates() {
        assert!(MgmtError::from_status("POST /api/user_groups", 503, b"", None).is_ambiguous());
        assert!(!MgmtError::from_status("POST /api/user_groups", 429, b"", None).is_ambiguous());
        assert!(!MgmtError::from_status("POST /api/user_groups", 409, b"", None).is_ambiguous());
    }

    #[test]
    fn an_outcome_is_unknown_after_any_lost_answer() {
        let conflict = MgmtError::from_status("POST /api/user_groups", 409, b"", None);
        assert!(!conflict.outcome_unknown(), "a plain 409 is definite");
        assert!(conflict.after_lost_answer().outcome_unknown());
        assert!(MgmtError::from_status("POST /api/user_groups", 502, b"", None).outcome_unknown());
        assert!(!MgmtError::from_status("POST /api/user_groups", 429, b"", None).outcome_unknown());
        assert!(!MgmtError::from_status("POST /api/user_groups", 400, b"", None).outcome_unknown());
    }

    #[test]
    fn server_details_are_kept_and_bounded() {
        let body = br#"{"errors":[{"status":409,"detail":"group exists"},{"detail":"second"}]}"#;
        let err = MgmtError::from_status("POST /api/user_groups", 409, body, None);
        assert_eq!(
            err.to_string(),
            "POST /api/user_groups: HTTP 409: group exists; second"
        );

        let long = format!(r#"{{"errors":[{{"detail":"{}"}}]}}"#, "é".repeat(400));
        let err = MgmtError::from_status("GET /api/x", 400, long.as_bytes(), None);
        assert!(err.to_string().len() < 400);
    }

    #[test]
    fn garbage_error_bodies_are_ignored() {
        for body in [
            &b"<html>bad gateway</html>"[..],
            b"",
            b"{\"errors\": 5}",
            b"\xff\xfe",
        ] {
            let err = MgmtError::from_status("GET /api/x", 502, body, None);
            assert_eq!(err.to_string(), "GET /api/x: HTTP 502");
        }
    }

    #[test]
    fn decode_errors_name_the_field() {
        let err = MgmtError::decode(
            "GET /api/user_groups/{id}",
            "data.attributes.gid",
            "invalid type",
        );
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.to_string().contains("`data.attributes.gid`"));
    }

    #[test]
    fn health_follows_the_status_and_never_leaks_the_endpoint_path() {
        let endpoint =
            url::Url::parse("https://user:pw@dash.example:8443/secret-path?k=v").unwrap();
        let cases = [
            (
                401,
                HealthProblem::CredentialsInvalid,
                "refused the credentials",
            ),
            (403, HealthProblem::PermissionDenied, "does not allow this"),
            (502, HealthProblem::Unreachable, "does not answer"),
            (503, HealthProblem::Unreachable, "does not answer"),
            (504, HealthProblem::Unreachable, "does not answer"),
            (
                404,
                HealthProblem::Other,
                "does not answer like the Iguazio management API",
            ),
            (500, HealthProblem::Other, "failed"),
            (409, HealthProblem::Other, "failed"),
        ];
        for (status, problem, says) in cases {
            let err = MgmtError::from_status(
                "POST /api/sessions/verifications/planes/any/internal",
                status,
                b"",
                None,
            );
            assert_eq!(err.health(), problem, "{status}");
            let message = err.health_message(&endpoint);
            assert!(message.contains(says), "{status}: {message}");
            assert!(message.contains("https://dash.example:8443"), "{message}");
            for hidden in ["secret-path", "k=v", "pw", "user:"] {
                assert!(!message.contains(hidden), "{status}: {message}");
            }
        }
        assert_eq!(HealthProblem::TlsError.reason(), "TLSError");
        assert_eq!(HealthProblem::Other.to_string(), "PlatformError");
    }

    #[test]
    fn health_of_failures_without_an_answer() {
        let endpoint = url::Url::parse("https://dash.example").unwrap();
        let held = MgmtError::held_back("GET /api/user_groups", Duration::from_secs(3));
        assert_eq!(held.health(), HealthProblem::Unreachable);
        let ca = MgmtError::tls_settings("the CA bundle holds no certificate");
        assert_eq!(ca.health(), HealthProblem::TlsError);
        assert!(ca.health_message(&endpoint).contains("CA bundle"));
        let decode = MgmtError::decode("GET /api/user_groups", "data", "expected a list");
        assert_eq!(decode.health(), HealthProblem::Other);
        assert!(decode.health_message(&endpoint).contains("dashboard"));
    }
}
