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
        let (kind, retry) = if err.is_connect() {
            (ErrorKind::Unavailable, Retry::Always)
        } else if err.is_timeout() {
            (ErrorKind::Timeout, Retry::IfIdempotent)
        } else {
            (ErrorKind::Unavailable, Retry::IfIdempotent)
        };
        Self {
            retry,
            ..Self::new(kind, context, describe_chain(err))
        }
    }

    /// A request not sent because the breaker is open (the platform has been failing). Definite:
    /// nothing reached the platform, and retrying before the next probe is pointless.
    pub(crate) fn held_back(context: impl Into<String>, next_probe: Duration) -> Self {
        Self::new(
            ErrorKind::Unavailable,
            context,
            format!(
                "not sent: the management API has been failing, so requests are held back; it is checked again in {:.1}s",
                next_probe.as_secs_f64()
            ),
        )
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
}
