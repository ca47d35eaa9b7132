//! Connection metrics: whether each connection works, and when its credentials expire. Labelled
//! by connection name only (a handful per cluster).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    pub connection: String,
}

#[derive(Clone, Debug, Default)]
pub struct ConnectionMetrics {
    up: Family<ConnectionLabels, Gauge>,
    expiry: Family<ConnectionLabels, Gauge>,
}

impl ConnectionMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("igz_operator");
        sub.register(
            "connection_up",
            "1 when the connection's platform answers and accepts its credentials (Ready), else 0",
            self.up.clone(),
        );
        sub.register(
            "connection_credentials_expiry_timestamp_seconds",
            "When the connection's access key expires (Unix time), when the platform tells it",
            self.expiry.clone(),
        );
    }

    fn labels(connection: &str) -> ConnectionLabels {
        ConnectionLabels {
            connection: connection.to_owned(),
        }
    }

    /// Records whether `connection` works and when its credentials expire (none: unknown).
    pub fn observe(&self, connection: &str, up: bool, expire: Option<jiff::Timestamp>) {
        let labels = Self::labels(connection);
        self.up.get_or_create(&labels).set(i64::from(up));
        match expire {
            Some(at) => {
                self.expiry.get_or_create(&labels).set(at.as_second());
            }
            None => {
                self.expiry.remove(&labels);
            }
        }
    }

    /// Drops the series of a connection that is gone.
    pub fn forget(&self, connection: &str) {
        let labels = Self::labels(connection);
        self.up.remove(&labels);
        self.expiry.remove(&labels);
    }

    /// These metrics in the text exposition format (what /metrics shows of them).
    pub fn text(&self) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_follow_the_connection_and_vanish_with_it() {
        let metrics = ConnectionMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let at: jiff::Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        metrics.observe("prod", true, Some(at));
        metrics.observe("dev", false, None);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("igz_operator_connection_up{connection=\"prod\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("igz_operator_connection_up{connection=\"dev\"} 0"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "igz_operator_connection_credentials_expiry_timestamp_seconds{{connection=\"prod\"}} {}",
                at.as_second()
            )),
            "{text}"
        );
        assert!(
            !text.contains("expiry_timestamp_seconds{connection=\"dev\"}"),
            "{text}"
        );
        assert_eq!(metrics.text(), text);
        metrics.forget("prod");
        let text = metrics.text();
        assert!(!text.contains("connection=\"prod\""), "{text}");
    }
}
