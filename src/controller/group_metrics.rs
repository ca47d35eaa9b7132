//! What the Groups look like now, as gauges by connection (never by Group): how many have each
//! Ready reason, how many are Stalled, how many temporary members are active; and how late
//! ended temporary memberships were removed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::crd::{ConditionType, Group, TemporaryMemberState};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub connection: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    pub connection: String,
}

/// What one Group counts for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Counted {
    connection: String,
    /// The Ready condition's reason ("" before the first status).
    reason: String,
    /// The Stalled condition's reason when it is True.
    stalled: Option<String>,
    active_temporary: i64,
}

impl Counted {
    fn of(group: &Group) -> Self {
        let status = group.status.clone().unwrap_or_default();
        let condition = |kind: ConditionType| {
            status
                .conditions
                .iter()
                .find(|c| c.type_ == kind.as_str())
                .cloned()
        };
        Counted {
            connection: group.connection_name().to_owned(),
            reason: condition(ConditionType::Ready)
                .map(|c| c.reason)
                .unwrap_or_default(),
            stalled: condition(ConditionType::Stalled)
                .filter(|c| c.status == "True")
                .map(|c| c.reason),
            active_temporary: status
                .temporary_members
                .iter()
                .filter(|m| m.state == TemporaryMemberState::Active)
                .count() as i64,
        }
    }
}

#[derive(Clone, Debug)]
pub struct GroupMetrics {
    groups: Family<ReasonLabels, Gauge>,
    stalled: Family<ReasonLabels, Gauge>,
    temporary: Family<ConnectionLabels, Gauge>,
    expiry_lag: Histogram,
    counted: Arc<Mutex<HashMap<String, Counted>>>,
}

impl Default for GroupMetrics {
    fn default() -> Self {
        Self {
            groups: Family::default(),
            stalled: Family::default(),
            temporary: Family::default(),
            expiry_lag: Histogram::new([
                0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
            ]),
            counted: Arc::default(),
        }
    }
}

impl GroupMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let sub = registry.sub_registry_with_prefix("igz_operator");
        sub.register(
            "groups",
            "Groups by connection and the reason of their Ready condition",
            self.groups.clone(),
        );
        sub.register(
            "groups_stalled",
            "Groups whose Stalled condition is True (a person must act), by connection and reason",
            self.stalled.clone(),
        );
        sub.register(
            "temporary_members",
            "Active temporary members, by connection",
            self.temporary.clone(),
        );
        sub.register(
            "member_expiry_lag_seconds",
            "Time from a temporary membership's end to its removal landing on the platform",
            self.expiry_lag.clone(),
        );
    }

    /// Counts `group` as it is now (after a reconcile's writes).
    pub fn record(&self, key: String, group: &Group) {
        self.replace(key, Some(Counted::of(group)));
    }

    /// Stops counting a Group that is gone.
    pub fn forget(&self, key: String) {
        self.replace(key, None);
    }

    /// A removal of a membership that ended at `ended` landed at `landed`.
    pub fn expiry_removed(&self, ended: jiff::Timestamp, landed: jiff::Timestamp) {
        let lag = landed.duration_since(ended).as_secs_f64().max(0.0);
        self.expiry_lag.observe(lag);
    }

    fn replace(&self, key: String, now: Option<Counted>) {
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        let before = match &now {
            Some(now) => counted.insert(key, now.clone()),
            None => counted.remove(&key),
        };
        if before == now {
            return;
        }
        for (counts, sign) in [(before, -1), (now, 1)] {
            let Some(c) = counts else { continue };
            let labels = |reason: &str| ReasonLabels {
                connection: c.connection.clone(),
                reason: reason.to_owned(),
            };
            self.groups.get_or_create(&labels(&c.reason)).inc_by(sign);
            if let Some(reason) = &c.stalled {
                self.stalled.get_or_create(&labels(reason)).inc_by(sign);
            }
            let connection = ConnectionLabels {
                connection: c.connection.clone(),
            };
            self.temporary
                .get_or_create(&connection)
                .inc_by(sign * c.active_temporary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{GroupSpec, GroupStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use prometheus_client::encoding::text::encode;

    fn group(reason: &str, stalled: bool) -> Group {
        let condition = |type_: &str, status: &str| Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        };
        let mut g = Group::new("g", GroupSpec::default());
        let mut conditions = vec![condition("Ready", "False")];
        if stalled {
            conditions.push(condition("Stalled", "True"));
        }
        g.status = Some(GroupStatus {
            conditions,
            ..Default::default()
        });
        g
    }

    #[test]
    fn each_group_counts_once_under_its_current_reason() {
        let metrics = GroupMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        metrics.record("a/one".into(), &group("ApiUnavailable", false));
        metrics.record("a/two".into(), &group("ApiUnavailable", false));
        metrics.record("a/one".into(), &group("CredentialsInvalid", true));
        metrics.forget("a/two".into());
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(
            has(r#"igz_operator_groups{connection="default",reason="CredentialsInvalid"} 1"#),
            "{text}"
        );
        assert!(
            has(r#"igz_operator_groups{connection="default",reason="ApiUnavailable"} 0"#),
            "{text}"
        );
        assert!(
            has(
                r#"igz_operator_groups_stalled{connection="default",reason="CredentialsInvalid"} 1"#
            ),
            "{text}"
        );
    }
}
