//! The client's hook for request accounting. Programs that want metrics implement
//! [`RequestObserver`] (or use [`crate::MgmtMetrics`] with the `prometheus` feature); without one
//! the client records nothing.

use std::sync::Arc;

/// Told about every request the client sends, every retry and every re-login. Labels are
/// bounded: the client's connection name ([`MgmtConfig::connection`](crate::MgmtConfig)), a
/// method, a route template (`/api/user_groups/{id}`) and a status, never an id. One observer
/// may serve the clients of several connections.
pub trait RequestObserver: Send + Sync + 'static {
    /// One request got an answer (`status`) or none (`None`) after `seconds`.
    fn request(
        &self,
        _connection: &str,
        _method: &str,
        _route: &'static str,
        _status: Option<u16>,
        _seconds: f64,
    ) {
    }
    /// A failed request is about to be sent again.
    fn retry(&self, _connection: &str, _method: &str, _route: &'static str) {}
    /// The login session expired and was renewed.
    fn relogin(&self, _connection: &str) {}
    /// A client for `connection` was built (its series can be shown at zero from now on).
    fn client_built(&self, _connection: &str) {}
}

/// A shareable observer, or none. Debug-printable, so settings can be logged whole.
#[derive(Clone, Default)]
pub struct Observer(Option<Arc<dyn RequestObserver>>);

impl Observer {
    pub fn new(observer: impl RequestObserver) -> Self {
        Self(Some(Arc::new(observer)))
    }

    pub(crate) fn request(
        &self,
        connection: &str,
        method: &str,
        route: &'static str,
        status: Option<u16>,
        seconds: f64,
    ) {
        if let Some(o) = &self.0 {
            o.request(connection, method, route, status, seconds);
        }
    }

    pub(crate) fn retry(&self, connection: &str, method: &str, route: &'static str) {
        if let Some(o) = &self.0 {
            o.retry(connection, method, route);
        }
    }

    pub(crate) fn relogin(&self, connection: &str) {
        if let Some(o) = &self.0 {
            o.relogin(connection);
        }
    }

    pub(crate) fn client_built(&self, connection: &str) {
        if let Some(o) = &self.0 {
            o.client_built(connection);
        }
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Observer(set)"
        } else {
            "Observer(none)"
        })
    }
}
