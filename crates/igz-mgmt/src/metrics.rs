//! Prometheus metrics for management API traffic (feature `prometheus`). Labels are bounded:
//! the client's connection name, method, route template and status class; never an object id or
//! name. One `MgmtMetrics` serves every client of a process, each under its own `connection`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::observer::RequestObserver;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub connection: String,
    pub method: String,
    pub route: &'static str,
    /// `2xx`, `4xx`, `5xx`, ... or `error` when no answer arrived.
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetryLabels {
    pub connection: String,
    pub method: String,
    pub route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    pub connection: String,
}

type LatencyFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// Request counters and latency histogram. Cheap to clone: clones share the same series.
#[derive(Clone, Debug)]
pub struct MgmtMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    retries: Family<RetryLabels, Counter>,
    relogins: Family<ConnectionLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 5 ms .. ~80 s
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

impl Default for MgmtMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            retries: Family::default(),
            relogins: Family::default(),
        }
    }
}

impl MgmtMetrics {
    /// Adds these metrics to the operator's registry (served on /metrics).
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("igz_mgmt");
        sub.register(
            "requests",
            "Management API requests sent, by connection, method, route template and status class",
            self.requests.clone(),
        );
        sub.register(
            "request_duration_seconds",
            "Management API request latency, by connection, method, route template and status class",
            self.latency.clone(),
        );
        sub.register(
            "retries",
            "Management API requests retried after a transient failure, by connection",
            self.retries.clone(),
        );
        sub.register(
            "relogins",
            "Login sessions renewed after the platform ended them (401), by connection",
            self.relogins.clone(),
        );
    }

    /// Requests counted so far for one label set (for tests and diagnostics).
    pub fn requests_sent(
        &self,
        connection: &str,
        method: &str,
        route: &'static str,
        status_class: &'static str,
    ) -> u64 {
        self.requests
            .get_or_create(&RequestLabels {
                connection: connection.to_owned(),
                method: method.to_owned(),
                route,
                status: status_class,
            })
            .get()
    }

    /// Login sessions renewed so far by one connection's client.
    pub fn relogins(&self, connection: &str) -> u64 {
        self.relogins
            .get_or_create(&ConnectionLabels {
                connection: connection.to_owned(),
            })
            .get()
    }
}

impl RequestObserver for MgmtMetrics {
    fn request(
        &self,
        connection: &str,
        method: &str,
        route: &'static str,
        status: Option<u16>,
        seconds: f64,
    ) {
        let labels = RequestLabels {
            connection: connection.to_owned(),
            method: method.to_owned(),
            route,
            status: status_class(status),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    fn retry(&self, connection: &str, method: &str, route: &'static str) {
        self.retries
            .get_or_create(&RetryLabels {
                connection: connection.to_owned(),
                method: method.to_owned(),
                route,
            })
            .inc();
    }

    fn relogin(&self, connection: &str) {
        self.relogins
            .get_or_create(&ConnectionLabels {
                connection: connection.to_owned(),
            })
            .inc();
    }

    /// Shows the connection's re-login count at zero before anything happens, so that dashboards
    /// and alerts see the connection from the start.
    fn client_built(&self, connection: &str) {
        let _ = self.relogins.get_or_create(&ConnectionLabels {
            connection: connection.to_owned(),
        });
    }
}

fn status_class(status: Option<u16>) -> &'static str {
    match status {
        None => "error",
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn exposition_uses_route_templates_and_status_classes() {
        let metrics = MgmtMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.request("prod", "GET", "/api/user_groups/{id}", Some(404), 0.01);
        metrics.request("prod", "GET", "/api/user_groups/{id}", Some(200), 0.02);
        metrics.request("dev", "GET", "/api/user_groups/{id}", Some(200), 0.02);
        metrics.request("prod", "POST", "/api/user_groups", None, 0.5);
        metrics.retry("prod", "POST", "/api/user_groups");
        metrics.client_built("idle");
        metrics.relogin("dev");

        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(text.contains(
            r#"igz_mgmt_requests_total{connection="prod",method="GET",route="/api/user_groups/{id}",status="4xx"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"igz_mgmt_requests_total{connection="prod",method="POST",route="/api/user_groups",status="error"} 1"#
        ));
        assert!(text.contains("igz_mgmt_request_duration_seconds_bucket"));
        assert!(text.contains(
            r#"igz_mgmt_retries_total{connection="prod",method="POST",route="/api/user_groups"} 1"#
        ));
        assert!(text.contains(r#"igz_mgmt_relogins_total{connection="idle"} 0"#));
        assert!(text.contains(r#"igz_mgmt_relogins_total{connection="dev"} 1"#));
        for connection in ["prod", "dev"] {
            assert_eq!(
                metrics.requests_sent(connection, "GET", "/api/user_groups/{id}", "2xx"),
                1,
                "{connection}: each connection counts its own"
            );
        }
        assert_eq!(metrics.relogins("prod"), 0);
    }
}
