//! What a look at a connection found, and when to look again. Pure: the probe's answer and the
//! clock come in as values.

use std::time::{Duration, Instant};

use igz_mgmt::{HealthProblem, MgmtError, PlatformIdentity};
use jiff::{SignedDuration, Timestamp};
use url::Url;

use crate::crd::ConnectionReason;

/// An idle connection is probed at most this often.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(60);
/// A probe that takes longer counts as unanswered: the status must not wait on a platform that
/// swallows requests (the client's own retries could take minutes).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long before the credentials expire the CredentialsExpiring condition and Warning come.
pub const EXPIRY_WARNING: SignedDuration = SignedDuration::from_hours(7 * 24);

/// Who the credentials act as, as the platform said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub tenant: String,
    pub platform_version: Option<String>,
    pub credentials_expire: Option<Timestamp>,
}

impl From<PlatformIdentity> for Identity {
    fn from(id: PlatformIdentity) -> Self {
        Self {
            user: id.username,
            tenant: id.tenant_id,
            platform_version: id.platform_version,
            credentials_expire: id.credentials_expire,
        }
    }
}

/// The state of a connection as last seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Not probed since its client or credentials last changed.
    Unknown,
    /// The platform answered and accepted the credentials.
    Connected(Identity),
    /// It cannot be used: why, and what to fix.
    Failed {
        reason: ConnectionReason,
        message: String,
    },
}

impl Health {
    /// The health a probe's answer shows; `endpoint` is named in the message.
    pub fn of_probe(answer: Result<PlatformIdentity, MgmtError>, endpoint: &Url) -> Self {
        match answer {
            Ok(identity) => Health::Connected(identity.into()),
            Err(e) => Health::Failed {
                reason: reason_of(e.health()),
                message: e.health_message(endpoint),
            },
        }
    }

    /// The health of a probe that got no answer within `PROBE_TIMEOUT`.
    pub fn timed_out(endpoint: &Url) -> Self {
        Health::Failed {
            reason: ConnectionReason::Unreachable,
            message: format!(
                "The management API at {} did not answer within {}s. Check the URL, DNS and \
                 network policies between the operator and the platform, and that the platform \
                 is up.",
                endpoint_text(endpoint),
                PROBE_TIMEOUT.as_secs()
            ),
        }
    }

    pub fn is_connected(&self) -> bool {
        matches!(self, Health::Connected(_))
    }

    /// The platform refused the credentials: nothing can be done with them until they change.
    pub fn rejects_credentials(&self) -> bool {
        matches!(
            self,
            Health::Failed {
                reason: ConnectionReason::CredentialsInvalid,
                ..
            }
        )
    }
}

/// The condition reason of a client's health classification.
pub fn reason_of(problem: HealthProblem) -> ConnectionReason {
    match problem {
        HealthProblem::Unreachable => ConnectionReason::Unreachable,
        HealthProblem::TlsError => ConnectionReason::TlsError,
        HealthProblem::CredentialsInvalid => ConnectionReason::CredentialsInvalid,
        HealthProblem::PermissionDenied => ConnectionReason::PermissionDenied,
        HealthProblem::Other => ConnectionReason::PlatformError,
    }
}

/// Scheme, host and port of an endpoint (never a path, query or user info).
pub fn endpoint_text(endpoint: &Url) -> String {
    match (endpoint.host_str(), endpoint.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", endpoint.scheme()),
        (Some(host), None) => format!("{}://{host}", endpoint.scheme()),
        _ => "the endpoint".to_owned(),
    }
}

/// The last probe of one connection: when, and of which client and credentials.
#[derive(Clone, Debug)]
pub struct LastProbe {
    pub at: Instant,
    /// The connection's generation (see `Registry`) the probe was made with.
    pub generation: u64,
}

/// How long until the next probe is due: zero when the client or credentials changed since the
/// last one (or there was none), else what is left of `interval` (`PROBE_INTERVAL`).
pub fn probe_due(
    last: Option<&LastProbe>,
    generation: u64,
    now: Instant,
    interval: Duration,
) -> Duration {
    match last {
        Some(last) if last.generation == generation => {
            interval.saturating_sub(now.saturating_duration_since(last.at))
        }
        _ => Duration::ZERO,
    }
}

/// Where the credentials stand against their expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// More than `EXPIRY_WARNING` left.
    Valid(Timestamp),
    /// Within `EXPIRY_WARNING` of it.
    Expiring(Timestamp),
    Expired(Timestamp),
}

/// `expire` seen at `now`; none when the platform does not tell it.
pub fn expiry(expire: Option<Timestamp>, now: Timestamp) -> Option<Expiry> {
    let at = expire?;
    let left = at.duration_since(now);
    Some(if left <= SignedDuration::ZERO {
        Expiry::Expired(at)
    } else if left <= EXPIRY_WARNING {
        Expiry::Expiring(at)
    } else {
        Expiry::Valid(at)
    })
}

/// How long until the expiry state of `expire` next changes (the warning starts, or the
/// credentials expire), so the status says it on time without a probe in between.
pub fn next_expiry_change(expire: Option<Timestamp>, now: Timestamp) -> Option<Duration> {
    let at = expire?;
    let warn_at = at.checked_sub(EXPIRY_WARNING).ok()?;
    [warn_at, at]
        .into_iter()
        .map(|t| t.duration_since(now))
        .filter(|d| d.is_positive())
        .min()
        .and_then(|d| Duration::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_probe_is_due_after_a_change_or_a_minute() {
        let t0 = Instant::now();
        let probe_due = |last, generation, now| probe_due(last, generation, now, PROBE_INTERVAL);
        assert_eq!(probe_due(None, 1, t0), Duration::ZERO);
        let last = LastProbe {
            at: t0,
            generation: 1,
        };
        assert_eq!(
            probe_due(Some(&last), 1, t0 + Duration::from_secs(20)),
            Duration::from_secs(40)
        );
        assert_eq!(
            probe_due(Some(&last), 1, t0 + Duration::from_secs(90)),
            Duration::ZERO
        );
        assert_eq!(
            probe_due(Some(&last), 2, t0),
            Duration::ZERO,
            "new credentials"
        );
    }

    #[test]
    fn expiry_warns_seven_days_ahead() {
        let now = ts("2026-01-10T00:00:00Z");
        assert_eq!(expiry(None, now), None);
        let far = ts("2026-02-01T00:00:00Z");
        assert_eq!(expiry(Some(far), now), Some(Expiry::Valid(far)));
        let soon = ts("2026-01-16T23:00:00Z");
        assert_eq!(expiry(Some(soon), now), Some(Expiry::Expiring(soon)));
        let exactly = ts("2026-01-17T00:00:00Z");
        assert_eq!(expiry(Some(exactly), now), Some(Expiry::Expiring(exactly)));
        let gone = ts("2026-01-09T00:00:00Z");
        assert_eq!(expiry(Some(gone), now), Some(Expiry::Expired(gone)));
    }

    #[test]
    fn the_next_expiry_change_is_the_warning_then_the_expiry() {
        let now = ts("2026-01-10T00:00:00Z");
        let at = ts("2026-01-20T00:00:00Z");
        assert_eq!(
            next_expiry_change(Some(at), now),
            Some(Duration::from_secs(3 * 86400))
        );
        let inside = ts("2026-01-12T00:00:00Z");
        assert_eq!(
            next_expiry_change(Some(inside), now),
            Some(Duration::from_secs(2 * 86400))
        );
        assert_eq!(
            next_expiry_change(Some(ts("2026-01-01T00:00:00Z")), now),
            None
        );
        assert_eq!(next_expiry_change(None, now), None);
    }

    #[test]
    fn every_client_health_class_has_a_reason() {
        for (problem, reason) in [
            (HealthProblem::Unreachable, "Unreachable"),
            (HealthProblem::TlsError, "TLSError"),
            (HealthProblem::CredentialsInvalid, "CredentialsInvalid"),
            (HealthProblem::PermissionDenied, "PermissionDenied"),
            (HealthProblem::Other, "PlatformError"),
        ] {
            assert_eq!(reason_of(problem).as_str(), reason);
            assert_eq!(problem.reason(), reason, "the client's own word agrees");
        }
    }

    #[test]
    fn endpoints_are_named_without_path_or_user_info() {
        let url: Url = "https://u:p@dash.example:8443/x?y=1".parse().unwrap();
        assert_eq!(endpoint_text(&url), "https://dash.example:8443");
        let timed_out = Health::timed_out(&url);
        assert!(matches!(
            timed_out,
            Health::Failed {
                reason: ConnectionReason::Unreachable,
                ..
            }
        ));
    }
}
