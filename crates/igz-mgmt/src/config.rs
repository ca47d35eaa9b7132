//! Connection settings for the management API. Secrets live in `SecretString`, whose `Debug`
//! prints `[REDACTED]`, so a config can be logged whole.

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

pub use super::breaker::BreakerPolicy;
use super::error::{ErrorKind, MgmtError};
use super::observer::Observer;

/// How the client proves who it is. Replaceable at run time
/// ([`MgmtClient::replace_credentials`](crate::MgmtClient::replace_credentials)).
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A control-plane access key, sent as the `session` cookie; with a username the vendor SDK
    /// also sends HTTP Basic auth, and so do we.
    AccessKey {
        username: Option<String>,
        key: SecretString,
    },
    /// Username and password exchanged for a session cookie; the session is renewed when the
    /// platform ends it (401).
    Login {
        username: String,
        password: SecretString,
    },
}

impl Credentials {
    /// Whether both are the same credentials (secrets compared too).
    pub fn same_as(&self, other: &Credentials) -> bool {
        use secrecy::ExposeSecret as _;
        match (self, other) {
            (
                Credentials::AccessKey { username, key },
                Credentials::AccessKey {
                    username: u2,
                    key: k2,
                },
            ) => username == u2 && key.expose_secret() == k2.expose_secret(),
            (
                Credentials::Login { username, password },
                Credentials::Login {
                    username: u2,
                    password: p2,
                },
            ) => username == u2 && password.expose_secret() == p2.expose_secret(),
            _ => false,
        }
    }

    /// Checks what can be checked without the platform.
    pub(crate) fn validate(&self) -> Result<(), MgmtError> {
        use secrecy::ExposeSecret as _;
        let invalid = |msg: &str| {
            Err(MgmtError::new(
                ErrorKind::Invalid,
                "management API credentials",
                msg,
            ))
        };
        match self {
            Credentials::Login { username, .. } if username.is_empty() => {
                invalid("login needs a username")
            }
            Credentials::Login { password, .. } if password.expose_secret().is_empty() => {
                invalid("login needs a password")
            }
            Credentials::AccessKey { key, .. } if key.expose_secret().is_empty() => {
                invalid("the access key is empty")
            }
            Credentials::AccessKey {
                username: Some(u), ..
            } if u.is_empty() => invalid("an access key's username, when given, must not be empty"),
            _ => Ok(()),
        }
    }
}

/// Bounded exponential backoff with jitter for retryable failures.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included.
    pub max_attempts: u32,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Upper bound on the time spent sleeping between attempts of one request.
    pub max_total_delay: Duration,
    /// Upper bound on a server's `Retry-After` that we honour.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The backoff schedule: exponential with jitter, bounded in attempts and total delay.
    pub(crate) fn backoff(&self) -> backon::ExponentialBuilder {
        backon::ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_total_delay(Some(self.max_total_delay))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_total_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// Token bucket shared by every request to one platform endpoint.
#[derive(Debug, Clone)]
pub struct RateLimit {
    /// Sustained requests per second (fractions allowed).
    pub qps: f64,
    /// Requests that may go out at once after a quiet period.
    pub burst: NonZeroU32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            qps: 20.0,
            burst: NonZeroU32::new(40).expect("non-zero"),
        }
    }
}

/// How long and how often to poll a platform job. The first poll waits about as long as the
/// previous job of the same kind took (learned, within these bounds); later polls back off.
#[derive(Debug, Clone)]
pub struct JobPolling {
    /// The shortest wait before any poll, the first included.
    pub min_interval: Duration,
    /// The longest wait between two polls.
    pub max_interval: Duration,
    pub timeout: Duration,
}

impl Default for JobPolling {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_millis(50),
            max_interval: Duration::from_secs(15),
            timeout: Duration::from_secs(600),
        }
    }
}

/// How project role changes are batched: changes arriving within `linger` of the first one
/// (and all that arrive while a transaction for their projects is in flight, and for a while
/// after it, see `busy_linger_max`) share one transaction, which may span up to
/// `max_projects` projects.
#[derive(Debug, Clone)]
pub struct RoleBatching {
    /// How long the first change of an idle client waits for companions. Short: it is added to
    /// the time a lone change takes to reach the platform.
    pub linger: Duration,
    /// While changes keep coming (some queued up behind the transaction that just ended), the
    /// next one waits as long as that one took, up to this, for more companions. A burst (Groups
    /// applied together, each reconciled when the apiserver gets to it) then needs about half
    /// the transactions, each change waiting at most about two transactions' time; a lone
    /// change never waits more than `linger`. Zero: the next transaction goes at once.
    pub busy_linger_max: Duration,
    /// Projects one transaction may carry (1: one transaction per project, as the vendor SDK
    /// sends them). The platform's transaction names its projects in a list; should it refuse
    /// several, the client falls back to one project per transaction by itself.
    pub max_projects: usize,
    /// Transactions in flight at once (on different projects). One: everything that arrives
    /// while a transaction is in flight goes in the next one, whatever its projects; more lets
    /// a slow job on one project hold back fewer changes elsewhere, at the price of more, smaller
    /// transactions.
    pub rounds_in_flight: usize,
}

impl RoleBatching {
    /// How long the changes queued behind a transaction that took `took` wait for companions
    /// before the next one goes.
    pub fn linger_after(&self, took: Duration) -> Duration {
        took.min(self.busy_linger_max)
    }
}

impl Default for RoleBatching {
    fn default() -> Self {
        Self {
            linger: Duration::from_millis(10),
            busy_linger_max: Duration::from_millis(250),
            max_projects: 20,
            rounds_in_flight: 1,
        }
    }
}

/// Everything the client needs to reach and use the management API.
#[derive(Debug, Clone)]
pub struct MgmtConfig {
    /// The name of this platform connection (e.g. `default`, `prod`): the `connection` label of
    /// the client's metrics and a field of its log lines, so that one process can talk to
    /// several platforms and tell them apart.
    pub connection: String,
    /// Base URL of the dashboard, e.g. `https://datanode-dashboard.default-tenant.svc.cluster.local`.
    pub base_url: Url,
    pub credentials: Credentials,
    /// Extra PEM CA certificates trusted in addition to the system roots.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Accept any server certificate. Only by explicit opt-in; logged as a warning.
    pub insecure_skip_tls_verify: bool,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    pub rate_limit: RateLimit,
    pub job_polling: JobPolling,
    pub role_batching: RoleBatching,
    /// When to stop sending requests to a platform that keeps failing, and how to probe it.
    pub breaker: BreakerPolicy,
    /// Requests on the wire at once, whatever the rate limit allows: when the platform slows
    /// down, fewer new requests reach it.
    pub max_in_flight: usize,
    /// Page size for list routes.
    pub page_size: u32,
    /// Write a group's membership with one group-side PUT instead of per-user PUTs. Off by
    /// default: only the user-side route is proven on real systems.
    pub group_side_membership: bool,
    /// Sent as `User-Agent` with every request, so the platform's logs name the program
    /// (e.g. `igz-operator/0.1.0`). Set it to your program's name and version.
    pub user_agent: String,
    /// Told about every request, retry and re-login (metrics); none by default.
    pub observer: Observer,
}

impl MgmtConfig {
    /// Settings with defaults for everything but the endpoint and the credentials.
    pub fn new(base_url: Url, credentials: Credentials) -> Self {
        Self {
            connection: "default".to_owned(),
            base_url,
            credentials,
            ca_bundle_pem: None,
            insecure_skip_tls_verify: false,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            rate_limit: RateLimit::default(),
            job_polling: JobPolling::default(),
            role_batching: RoleBatching::default(),
            breaker: BreakerPolicy::default(),
            max_in_flight: 8,
            page_size: 100,
            group_side_membership: false,
            user_agent: concat!("igz-mgmt/", env!("CARGO_PKG_VERSION")).to_owned(),
            observer: Observer::default(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), MgmtError> {
        let invalid = |msg: &str| {
            Err(MgmtError::new(
                ErrorKind::Invalid,
                "management API settings",
                msg,
            ))
        };
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.host().is_none() {
            return invalid("the endpoint must be an http(s) URL with a host");
        }
        if !(self.rate_limit.qps.is_finite() && self.rate_limit.qps > 0.0) {
            return invalid("rate limit QPS must be a positive number");
        }
        if self.retry.max_attempts == 0 {
            return invalid("retry attempts must be at least 1");
        }
        if self.page_size == 0 {
            return invalid("page size must be at least 1");
        }
        if self.connection.is_empty() {
            return invalid("the connection name must not be empty");
        }
        self.credentials.validate()
    }
}

const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The endpoint to use: the explicit one when given (an `https://` scheme is assumed when it
/// has none), otherwise the in-cluster dashboard of the pod's namespace, as the vendor SDK does.
pub fn resolve_endpoint(explicit: Option<&str>) -> Result<Url, MgmtError> {
    match explicit.map(str::trim).filter(|s| !s.is_empty()) {
        Some(given) => parse_endpoint(given),
        None => {
            let namespace = running_namespace(Path::new(SERVICE_ACCOUNT_DIR)).ok_or_else(|| {
                MgmtError::new(
                    ErrorKind::Invalid,
                    "management API settings",
                    "no endpoint given and not running in a Kubernetes pod",
                )
            })?;
            in_cluster_endpoint(&namespace)
        }
    }
}

/// `https://datanode-dashboard.<namespace>.svc.cluster.local`.
pub fn in_cluster_endpoint(namespace: &str) -> Result<Url, MgmtError> {
    parse_endpoint(&format!(
        "https://datanode-dashboard.{namespace}.svc.cluster.local"
    ))
}

fn parse_endpoint(given: &str) -> Result<Url, MgmtError> {
    let with_scheme = if given.starts_with("http://") || given.starts_with("https://") {
        given.to_owned()
    } else {
        format!("https://{given}")
    };
    Url::parse(with_scheme.trim_end_matches('/')).map_err(|e| {
        MgmtError::new(
            ErrorKind::Invalid,
            "management API settings",
            format!("invalid endpoint: {e}"),
        )
    })
}

/// The pod's namespace, when the process runs in a pod (service host set, namespace file readable).
fn running_namespace(service_account_dir: &Path) -> Option<String> {
    std::env::var_os("KUBERNETES_SERVICE_HOST")?;
    let namespace = std::fs::read_to_string(service_account_dir.join("namespace")).ok()?;
    let namespace = namespace.trim();
    (!namespace.is_empty()).then(|| namespace.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn a_busy_client_lingers_as_long_as_the_last_transaction_took_within_the_cap() {
        let batching = RoleBatching::default();
        let ms = Duration::from_millis;
        assert_eq!(batching.linger_after(ms(120)), ms(120));
        assert_eq!(batching.linger_after(ms(0)), ms(0));
        assert_eq!(
            batching.linger_after(Duration::from_secs(3)),
            batching.busy_linger_max
        );
        let eager = RoleBatching {
            busy_linger_max: Duration::ZERO,
            ..RoleBatching::default()
        };
        assert_eq!(eager.linger_after(ms(120)), Duration::ZERO);
    }

    #[test]
    fn explicit_endpoints_get_a_scheme_and_lose_trailing_slashes() {
        assert_eq!(
            resolve_endpoint(Some("dash.example")).unwrap().as_str(),
            "https://dash.example/"
        );
        assert_eq!(
            resolve_endpoint(Some("http://127.0.0.1:8080/"))
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/"
        );
        assert!(resolve_endpoint(Some("https://")).is_err());
    }

    #[test]
    fn in_cluster_default_follows_the_sdk() {
        assert_eq!(
            in_cluster_endpoint("default-tenant").unwrap().as_str(),
            "https://datanode-dashboard.default-tenant.svc.cluster.local/"
        );
    }

    #[test]
    fn namespace_is_read_from_the_service_account() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("namespace"), "tenant-a\n").unwrap();
        // KUBERNETES_SERVICE_HOST decides whether we are in a pod; the test process may or may
        // not have it, so only the file half is asserted when it is absent.
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
            assert_eq!(running_namespace(dir.path()).as_deref(), Some("tenant-a"));
        } else {
            assert_eq!(running_namespace(dir.path()), None);
        }
        assert_eq!(running_namespace(&dir.path().join("missing")), None);
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let cfg = MgmtConfig::new(
            Url::parse("https://dash.example").unwrap(),
            Credentials::Login {
                username: "admin".into(),
                password: SecretString::from("hunter2-very-secret"),
            },
        );
        let text = format!("{cfg:?}");
        assert!(text.contains("admin"));
        assert!(!text.contains("hunter2-very-secret"));
        let key = Credentials::AccessKey {
            username: None,
            key: SecretString::from("ak-0123456789"),
        };
        assert!(!format!("{key:?}").contains("ak-0123456789"));
    }

    #[test]
    fn validation_rejects_nonsense() {
        let mut cfg = MgmtConfig::new(
            Url::parse("https://dash.example").unwrap(),
            Credentials::AccessKey {
                username: None,
                key: SecretString::from("k"),
            },
        );
        assert!(cfg.validate().is_ok());
        cfg.rate_limit.qps = 0.0;
        assert_eq!(cfg.validate().unwrap_err().kind(), ErrorKind::Invalid);
        cfg.rate_limit.qps = 5.0;
        cfg.page_size = 0;
        assert!(cfg.validate().is_err());
    }
}
