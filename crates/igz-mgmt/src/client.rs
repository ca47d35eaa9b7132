//! The client handle shared by all reconciles, and the plumbing its operations share:
//! decoding, paging and one-time notices about server limitations.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use backon::ExponentialBuilder;
use serde::de::DeserializeOwned;
use url::Url;

use super::batch::Batcher;
use super::config::{Credentials, JobPolling, MgmtConfig, RoleBatching};
use super::error::MgmtError;
use super::jobs::JobPace;
use super::jsonapi::{Document, Keep, Resource, decode};
use super::model::{SessionAttributes, SessionInfo};
use super::projects::RoleChange;
use super::routes;
use super::transport::{Request, Response, Transport};
use super::users::MemberChange;

/// Safety stop for list paging against a server that never returns a short page.
const MAX_PAGES: u32 = 10_000;
/// Per-item GETs in flight at once when a list route ignored `include`.
pub(crate) const FALLBACK_CONCURRENCY: usize = 4;

/// The management API client for one platform connection. Cheap to clone; clones share
/// connections, the rate limiter, the circuit breaker, the credentials and login session, and
/// the queues of changes to one platform object. Separate clients (`MgmtClient::new` twice)
/// share nothing: one platform's outage or credentials never touch another's client.
#[derive(Clone)]
pub struct MgmtClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub transport: Transport,
    pub page_size: u32,
    pub group_side_membership: bool,
    pub job_polling: JobPolling,
    /// What jobs of each kind took lately: when to poll the next one first.
    pub job_pace: JobPace,
    pub breaker_min_pause: std::time::Duration,
    pub retry_backoff: ExponentialBuilder,
    pub role_batching: RoleBatching,
    /// Role changes by project, waiting for or in their project's transaction.
    pub roles: Batcher<RoleChange>,
    /// Whether a transaction may span projects (until the platform refuses one that does).
    pub span_projects: AtomicBool,
    /// Projects seen in the last full list: decides whether a many-project read lists them all.
    pub project_count: AtomicUsize,
    /// Membership changes by user, waiting for or in that user's read-modify-write.
    pub memberships: Batcher<MemberChange, bool>,
    notices: [AtomicBool; Notice::COUNT],
}

/// Server limitations worth one log line each, not one per request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Notice {
    GroupListWithoutMembers,
    UserListWithoutGroups,
    ProjectListWithoutRoles,
}

impl Notice {
    const COUNT: usize = 3;

    fn text(self) -> &'static str {
        match self {
            Notice::GroupListWithoutMembers => {
                "the group list ignored include=users; fetching each group's members separately"
            }
            Notice::UserListWithoutGroups => {
                "the user list ignored include=user_groups; fetching each user's groups separately"
            }
            Notice::ProjectListWithoutRoles => {
                "the project list ignored include=project_authorization_roles; fetching each project separately"
            }
        }
    }
}

impl std::fmt::Debug for MgmtClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MgmtClient")
            .field("endpoint", &self.endpoint().as_str())
            .finish_non_exhaustive()
    }
}

/// The items of every page of a list route plus everything they included.
pub(crate) struct Listing<A> {
    pub items: Vec<Resource<A>>,
    pub included: Vec<Resource<serde_json::Value>>,
}

impl MgmtClient {
    /// Builds the HTTP client (TLS settings, timeouts), the rate limiter and the auth state.
    /// No request is sent; call [`MgmtClient::verify`] or [`MgmtClient::probe`] to check the
    /// credentials.
    pub fn new(cfg: MgmtConfig) -> Result<Self, MgmtError> {
        let transport = Transport::new(&cfg)?;
        cfg.observer.client_built(&cfg.connection);
        let retry_backoff = cfg.retry.backoff();
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                page_size: cfg.page_size,
                group_side_membership: cfg.group_side_membership,
                job_polling: cfg.job_polling,
                job_pace: JobPace::default(),
                breaker_min_pause: cfg.breaker.min_pause,
                retry_backoff,
                span_projects: AtomicBool::new(cfg.role_batching.max_projects > 1),
                role_batching: cfg.role_batching,
                roles: Batcher::default(),
                project_count: AtomicUsize::new(0),
                memberships: Batcher::default(),
                notices: Default::default(),
            }),
        })
    }

    /// The platform endpoint this client talks to.
    pub fn endpoint(&self) -> &Url {
        self.inner.transport.base_url()
    }

    /// The connection name this client was built with (its metrics' `connection` label).
    pub fn connection(&self) -> &str {
        self.inner.transport.connection()
    }

    /// Uses `credentials` for every request from now on, in every clone of this client.
    /// Requests already on their way finish with the credentials they started with; one of them
    /// that the platform refuses (401, 403) is sent once more with the new ones, so a rotation
    /// fails no call. A login session of the old credentials is not used again. The same
    /// credentials as those in use change nothing (the login session is kept). Credentials that
    /// cannot be sent at all (empty, or not valid in an HTTP header) are refused, and the ones
    /// in use stay.
    pub fn replace_credentials(&self, credentials: Credentials) -> Result<(), MgmtError> {
        let auth = self.inner.transport.auth();
        if auth.replace(credentials)? {
            tracing::info!(
                connection = self.connection(),
                generation = auth.generation(),
                "management API credentials replaced"
            );
        }
        Ok(())
    }

    /// Checks the credentials and tells whom they belong to.
    pub async fn verify(&self) -> Result<SessionInfo, MgmtError> {
        let req = Request::post(routes::SESSION_VERIFY).idempotent();
        let doc: Document<Resource<SessionAttributes>> = self.fetch(req).await?;
        let attrs = doc.data.attributes;
        Ok(SessionInfo {
            username: attrs.username,
            tenant_id: attrs.context.authentication.tenant_id,
        })
    }

    pub(crate) async fn send(&self, req: Request) -> Result<Response, MgmtError> {
        let outcome = self.inner.transport.send(&req).await;
        if outcome.is_err() && self.inner.transport.take_probe_wanted() {
            self.start_probing();
        }
        outcome
    }

    /// Counts the times the platform came back after a run of failures held requests back;
    /// wait on it (`changed()`) to retry promptly what failed meanwhile.
    pub fn recoveries(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.transport.recoveries()
    }

    /// While the breaker is open: one probe (a session check) per pause, until one is answered.
    fn start_probing(&self) {
        let client = self.clone();
        tokio::spawn(async move {
            let mut pause = client.inner.breaker_min_pause;
            loop {
                tokio::time::sleep(pause).await;
                if !client.inner.transport.breaker_open() {
                    return;
                }
                let probe = Request::post(routes::SESSION_VERIFY).idempotent().probe();
                match client.inner.transport.send_once(&probe).await {
                    Ok(_) => return,
                    // Any answer from the platform itself closes the breaker (in the transport).
                    Err(e) if !client.inner.transport.breaker_open() => {
                        tracing::debug!(error = %e, "probe answered");
                        return;
                    }
                    Err(e) => {
                        pause = client.inner.transport.probe_failed();
                        tracing::debug!(error = %e, next_ms = pause.as_millis() as u64, "probe failed");
                    }
                }
            }
        });
    }

    /// Sends a request and decodes its answer.
    pub(crate) async fn fetch<T: DeserializeOwned>(&self, req: Request) -> Result<T, MgmtError> {
        let context = req.context();
        let resp = self.send(req).await?;
        decode(&context, &resp.body)
    }

    /// Fetches every page of a list route. Paging is 0-based; the walk stops at a short page,
    /// and also when the server evidently ignores paging (a page larger than asked for, or one
    /// with nothing new), so a server without paging support costs one request, not a loop.
    /// Of the included resources only those `K` keeps are kept (see [`Document`]).
    pub(crate) async fn list_all<A, K: Keep>(
        &self,
        route: &'static str,
        query: &[(&'static str, &str)],
    ) -> Result<Listing<A>, MgmtError>
    where
        A: DeserializeOwned + Default,
    {
        let size = self.inner.page_size as usize;
        let mut seen = HashSet::new();
        let mut listing = Listing {
            items: Vec::new(),
            included: Vec::new(),
        };
        for page in 0..MAX_PAGES {
            let mut req = Request::get(route, &[]);
            for (key, value) in query {
                req = req.query(key, *value);
            }
            let req = req
                .query("page[number]", page.to_string())
                .query("page[size]", size.to_string());
            let doc: Document<Vec<Resource<A>>, K> = self.fetch(req).await?;
            let returned = doc.data.len();
            let before = listing.items.len();
            listing.items.extend(
                doc.data
                    .into_iter()
                    .filter(|item| seen.insert(item.id.clone())),
            );
            listing.included.extend(doc.included);
            if returned != size || listing.items.len() == before {
                return Ok(listing);
            }
        }
        tracing::warn!(
            route,
            pages = MAX_PAGES,
            "list paging stopped at the page limit"
        );
        Ok(listing)
    }

    /// Logs a server limitation the first time it is seen.
    pub(crate) fn notice_once(&self, notice: Notice) {
        if !self.inner.notices[notice as usize].swap(true, Ordering::Relaxed) {
            tracing::info!("{}", notice.text());
        }
    }
}
