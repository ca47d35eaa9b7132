//! The client handle shared by all reconciles, and the plumbing its operations share:
//! decoding, paging and one-time notices about server limitations.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backon::ExponentialBuilder;
use serde::de::DeserializeOwned;
use url::Url;

use super::batch::RoleQueue;
use super::config::{JobPolling, MgmtConfig};
use super::error::MgmtError;
use super::jsonapi::{Document, Resource, decode};
use super::locks::KeyedLocks;
use super::model::{SessionAttributes, SessionInfo};
use super::routes;
use super::transport::{Request, Response, Transport};

/// Safety stop for list paging against a server that never returns a short page.
const MAX_PAGES: u32 = 10_000;
/// Per-item GETs in flight at once when a list route ignored `include`.
pub(crate) const FALLBACK_CONCURRENCY: usize = 4;

/// The management API client. Cheap to clone; clones share connections, the rate limiter,
/// the login session and the per-object write locks.
#[derive(Clone)]
pub struct MgmtClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub transport: Transport,
    pub page_size: u32,
    pub group_side_membership: bool,
    pub job_polling: JobPolling,
    pub retry_backoff: ExponentialBuilder,
    /// Serializes read-modify-write of one project's roles.
    pub project_locks: KeyedLocks,
    /// Role changes waiting for their project's next transaction.
    pub role_queue: RoleQueue,
    /// Serializes read-modify-write of one user's groups.
    pub user_locks: KeyedLocks,
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
    /// No request is sent; call [`MgmtClient::verify`] to check the credentials.
    pub fn new(cfg: MgmtConfig) -> Result<Self, MgmtError> {
        let transport = Transport::new(&cfg)?;
        let retry_backoff = cfg.retry.backoff();
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                page_size: cfg.page_size,
                group_side_membership: cfg.group_side_membership,
                job_polling: cfg.job_polling,
                retry_backoff,
                project_locks: KeyedLocks::default(),
                role_queue: RoleQueue::default(),
                user_locks: KeyedLocks::default(),
                notices: Default::default(),
            }),
        })
    }

    /// The platform endpoint this client talks to.
    pub fn endpoint(&self) -> &Url {
        self.inner.transport.base_url()
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
        self.inner.transport.send(&req).await
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
    pub(crate) async fn list_all<A>(
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
            let doc: Document<Vec<Resource<A>>> = self.fetch(req).await?;
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
