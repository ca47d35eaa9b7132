//! The built-in connection `default` (the operator's flags, as before connections existed): no
//! resource to report on, so its health goes to the log and the metrics, probed like any other
//! connection (at once, then once a minute) while no PlatformConnection named default replaces
//! it.

use std::sync::Arc;

use super::health::{self, Health};
use super::metrics::ConnectionMetrics;
use super::registry::Registry;
use crate::crd::DEFAULT_CONNECTION;

/// Probes the built-in `default` for as long as it runs (returns at once when there is none).
pub async fn probe_loop<P: Send + Sync + 'static>(
    registry: Arc<Registry<P>>,
    metrics: ConnectionMetrics,
) {
    let Some(connection) = registry.builtin() else {
        return;
    };
    let endpoint = connection.client().endpoint().clone();
    let mut last: Option<Health> = None;
    loop {
        if registry.builtin_serves() {
            let answer =
                tokio::time::timeout(health::PROBE_TIMEOUT, connection.client().probe()).await;
            let health = match answer {
                Ok(answer) => Health::of_probe(answer, &endpoint),
                Err(_) => Health::timed_out(&endpoint),
            };
            log_transition(last.as_ref(), &health);
            let (up, expire) = match &health {
                Health::Connected(id) => (true, id.credentials_expire),
                _ => (false, None),
            };
            metrics.observe(DEFAULT_CONNECTION, up, expire);
            registry.set_builtin_health(health.clone());
            last = Some(health);
        } else {
            last = None;
        }
        tokio::time::sleep(health::PROBE_INTERVAL).await;
    }
}

fn log_transition(before: Option<&Health>, now: &Health) {
    let same = match (before, now) {
        (Some(Health::Connected(_)), Health::Connected(_)) => true,
        (Some(Health::Failed { reason: a, .. }), Health::Failed { reason: b, .. }) => a == b,
        _ => false,
    };
    if same {
        return;
    }
    match now {
        Health::Connected(id) => tracing::info!(
            connection = DEFAULT_CONNECTION,
            user = %id.user,
            tenant = %id.tenant,
            version = id.platform_version.as_deref().unwrap_or("unknown"),
            "connected (the operator's flags serve as the connection default)"
        ),
        Health::Failed { reason, message } => tracing::warn!(
            connection = DEFAULT_CONNECTION,
            reason = reason.as_str(),
            "{message}"
        ),
        Health::Unknown => {}
    }
}
