//! A PlatformConnection's status from what the operator knows of it, and the Events its changes
//! deserve. Pure: the previous status, the health, the holders and the clock come in as values,
//! so a status is rewritten only when something in it changes (unchanged conditions keep their
//! transition time) and an Event is sent once per transition, also across restarts.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::health::{Expiry, Health, expiry};
use super::usage::Holders;
use crate::crd::{ConnectionReason, PlatformConnectionStatus, connection_conditions as types};

/// What goes into a status besides the previous one.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    pub generation: Option<i64>,
    pub health: &'a Health,
    /// resourceVersion of the Secret whose credentials are in use (none: none are).
    pub secret_version: Option<String>,
    pub holders: &'a Holders,
    /// The connection is being deleted.
    pub deleting: bool,
    /// `namespace/name` of its Secret, for messages.
    pub secret: &'a str,
}

/// The status for `observed`, keeping from `old` what has not changed (transition times, and
/// the identity while the platform is merely out of reach).
pub fn build(
    old: Option<&PlatformConnectionStatus>,
    observed: &Observed<'_>,
    now: Timestamp,
) -> PlatformConnectionStatus {
    let old_conditions = old.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let condition = |type_: &str, status: bool, reason: &str, message: String| {
        let status = if status { "True" } else { "False" };
        let since = old_conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message,
            observed_generation: observed.generation,
            last_transition_time: since,
        }
    };

    let mut status = PlatformConnectionStatus {
        observed_generation: observed.generation,
        secret_resource_version: observed.secret_version.clone(),
        groups: Some(i32::try_from(observed.holders.count).unwrap_or(i32::MAX)),
        ..Default::default()
    };
    match observed.health {
        Health::Connected(id) => {
            status.user = Some(id.user.clone());
            status.tenant = Some(id.tenant.clone());
            status.platform_version = id.platform_version.clone();
            status.credentials_expire = id.credentials_expire.map(Time);
            let mut message = format!(
                "Connected as platform user {} (tenant {})",
                id.user, id.tenant
            );
            if let Some(version) = &id.platform_version {
                message.push_str(&format!(", platform version {version}"));
            }
            message.push('.');
            status.conditions.push(condition(
                types::READY,
                true,
                ConnectionReason::Connected.as_str(),
                message,
            ));
        }
        Health::Failed { reason, message } => {
            // Out of reach is not news about the credentials: what was learned of them stays.
            if matches!(
                reason,
                ConnectionReason::Unreachable
                    | ConnectionReason::TlsError
                    | ConnectionReason::PlatformError
            ) && let Some(old) = old
            {
                status.user = old.user.clone();
                status.tenant = old.tenant.clone();
                status.platform_version = old.platform_version.clone();
                status.credentials_expire = old.credentials_expire.clone();
            } else {
                status.platform_version = old.and_then(|o| o.platform_version.clone());
            }
            status.conditions.push(condition(
                types::READY,
                false,
                reason.as_str(),
                message.clone(),
            ));
        }
        // Nothing new to say: the previous Ready stands until the next probe.
        Health::Unknown => {
            if let Some(old) = old {
                status.user = old.user.clone();
                status.tenant = old.tenant.clone();
                status.platform_version = old.platform_version.clone();
                status.credentials_expire = old.credentials_expire.clone();
                status.conditions.extend(
                    old_conditions
                        .iter()
                        .filter(|c| c.type_ == types::READY)
                        .cloned(),
                );
            }
        }
    }

    let expire = status.credentials_expire.as_ref().map(|t| t.0);
    if let Some(state) = expiry(expire, now) {
        let fix = format!(
            "put a new access key in Secret {} (key access-key)",
            observed.secret
        );
        let (on, reason, message) = match state {
            Expiry::Valid(at) => (
                false,
                "CredentialsValid",
                format!("The access key expires at {at}."),
            ),
            Expiry::Expiring(at) => (
                true,
                "CredentialsExpiring",
                format!(
                    "The access key expires at {at}, in {}: {fix}.",
                    days_left(at, now)
                ),
            ),
            Expiry::Expired(at) => (
                true,
                "CredentialsExpired",
                format!("The access key expired at {at}: {fix}."),
            ),
        };
        status
            .conditions
            .push(condition(types::CREDENTIALS_EXPIRING, on, reason, message));
    }

    if observed.deleting && observed.holders.count > 0 {
        let holders = observed.holders;
        let message = format!(
            "Deletion waits for {} Group{} that use{} this connection: {}. Delete them first \
             (spec.connection cannot be changed); their platform groups are cleaned up through \
             this connection.",
            holders.count,
            if holders.count == 1 { "" } else { "s" },
            if holders.count == 1 { "s" } else { "" },
            holders.describe()
        );
        status
            .conditions
            .push(condition(types::DELETING, true, "InUse", message));
        status.used_by = holders.first.clone();
    }
    status
}

/// "3 days" or "5 hours".
fn days_left(at: Timestamp, now: Timestamp) -> String {
    let hours = at.duration_since(now).as_hours().max(0);
    match hours {
        0..=47 => format!("{hours} hour{}", if hours == 1 { "" } else { "s" }),
        _ => format!("{} days", hours / 24),
    }
}

/// An Event a status change deserves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub warning: bool,
    pub reason: String,
    pub note: String,
}

/// The Events for the change from `old` to `new`: Ready changing (Connected, or the reason it
/// is not), the credentials starting to expire, a deletion starting to wait for Groups.
pub fn notices(
    old: Option<&PlatformConnectionStatus>,
    new: &PlatformConnectionStatus,
) -> Vec<Notice> {
    let find = |s: Option<&PlatformConnectionStatus>, type_: &str| -> Option<Condition> {
        s?.conditions.iter().find(|c| c.type_ == type_).cloned()
    };
    let mut out = Vec::new();
    if let Some(ready) = find(Some(new), types::READY) {
        let before = find(old, types::READY);
        let changed = before
            .as_ref()
            .is_none_or(|b| b.status != ready.status || b.reason != ready.reason);
        if changed {
            out.push(Notice {
                warning: ready.status != "True",
                reason: ready.reason.clone(),
                note: ready.message.clone(),
            });
        }
    }
    if let Some(expiring) = find(Some(new), types::CREDENTIALS_EXPIRING)
        && expiring.status == "True"
    {
        let before = find(old, types::CREDENTIALS_EXPIRING);
        if before.is_none_or(|b| b.status != "True" || b.reason != expiring.reason) {
            out.push(Notice {
                warning: true,
                reason: expiring.reason.clone(),
                note: expiring.message.clone(),
            });
        }
    }
    if let Some(deleting) = find(Some(new), types::DELETING)
        && find(old, types::DELETING).is_none()
    {
        out.push(Notice {
            warning: true,
            reason: deleting.reason.clone(),
            note: deleting.message.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::health::Identity;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn connected(expire: Option<&str>) -> Health {
        Health::Connected(Identity {
            user: "admin".into(),
            tenant: "t-1".into(),
            platform_version: Some("3.6.0".into()),
            credentials_expire: expire.map(ts),
        })
    }

    fn failed(reason: ConnectionReason) -> Health {
        Health::Failed {
            reason,
            message: format!("{} happened", reason.as_str()),
        }
    }

    fn observe<'a>(health: &'a Health, holders: &'a Holders, deleting: bool) -> Observed<'a> {
        Observed {
            generation: Some(3),
            health,
            secret_version: Some("41".into()),
            holders,
            deleting,
            secret: "igz-system/prod",
        }
    }

    fn ready(s: &PlatformConnectionStatus) -> (&str, &str) {
        let c = s.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        (c.status.as_str(), c.reason.as_str())
    }

    #[test]
    fn connected_says_who_and_which_secret_version_and_generation() {
        let now = ts("2026-01-01T00:00:00Z");
        let holders = Holders {
            count: 2,
            first: vec!["a/x".into(), "a/y".into()],
        };
        let health = connected(Some("2027-01-01T00:00:00Z"));
        let status = build(None, &observe(&health, &holders, false), now);
        assert_eq!(ready(&status), ("True", "Connected"));
        assert_eq!(status.user.as_deref(), Some("admin"));
        assert_eq!(status.tenant.as_deref(), Some("t-1"));
        assert_eq!(status.platform_version.as_deref(), Some("3.6.0"));
        assert_eq!(status.groups, Some(2));
        assert!(status.used_by.is_empty(), "named only while deleting");
        assert_eq!(status.secret_resource_version.as_deref(), Some("41"));
        assert_eq!(status.observed_generation, Some(3));
        let expiring = status
            .conditions
            .iter()
            .find(|c| c.type_ == "CredentialsExpiring")
            .unwrap();
        assert_eq!(
            (expiring.status.as_str(), expiring.reason.as_str()),
            ("False", "CredentialsValid")
        );
    }

    #[test]
    fn an_unchanged_status_is_equal_so_it_is_not_written_again() {
        let holders = Holders::default();
        let health = connected(None);
        let first = build(
            None,
            &observe(&health, &holders, false),
            ts("2026-01-01T00:00:00Z"),
        );
        let later = build(
            Some(&first),
            &observe(&health, &holders, false),
            ts("2026-01-01T01:00:00Z"),
        );
        assert_eq!(first, later);
        assert!(notices(Some(&first), &later).is_empty());
        assert!(
            !first
                .conditions
                .iter()
                .any(|c| c.type_ == "CredentialsExpiring"),
            "no expiry told, no condition"
        );
    }

    #[test]
    fn failures_keep_what_is_still_true_and_say_why() {
        let holders = Holders::default();
        let now = ts("2026-01-01T00:00:00Z");
        let ok = build(None, &observe(&connected(None), &holders, false), now);
        let out_of_reach = failed(ConnectionReason::Unreachable);
        let down = build(Some(&ok), &observe(&out_of_reach, &holders, false), now);
        assert_eq!(ready(&down), ("False", "Unreachable"));
        assert_eq!(
            down.user.as_deref(),
            Some("admin"),
            "still who the credentials are"
        );
        let rejected = failed(ConnectionReason::CredentialsInvalid);
        let refused = build(Some(&ok), &observe(&rejected, &holders, false), now);
        assert_eq!(ready(&refused), ("False", "CredentialsInvalid"));
        assert_eq!(refused.user, None, "refused credentials act as nobody");
        assert_eq!(refused.platform_version.as_deref(), Some("3.6.0"));
        let notes = notices(Some(&ok), &refused);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].warning);
        assert_eq!(notes[0].reason, "CredentialsInvalid");
        let back = build(
            Some(&refused),
            &observe(&connected(None), &holders, false),
            now,
        );
        assert_eq!(notices(Some(&refused), &back)[0].reason, "Connected");
        assert!(!notices(Some(&refused), &back)[0].warning);
    }

    #[test]
    fn expiry_within_seven_days_is_a_condition_and_one_warning() {
        let holders = Holders::default();
        let health = connected(Some("2026-01-05T00:00:00Z"));
        let early = build(
            None,
            &observe(&health, &holders, false),
            ts("2025-12-01T00:00:00Z"),
        );
        let warned = build(
            Some(&early),
            &observe(&health, &holders, false),
            ts("2026-01-01T00:00:00Z"),
        );
        let c = warned
            .conditions
            .iter()
            .find(|c| c.type_ == "CredentialsExpiring")
            .unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", "CredentialsExpiring")
        );
        assert!(
            c.message.contains("in 4 days") && c.message.contains("igz-system/prod"),
            "{}",
            c.message
        );
        let notes = notices(Some(&early), &warned);
        assert_eq!(
            notes
                .iter()
                .filter(|n| n.reason == "CredentialsExpiring")
                .count(),
            1
        );
        let again = build(
            Some(&warned),
            &observe(&health, &holders, false),
            ts("2026-01-01T00:00:00Z"),
        );
        assert!(
            notices(Some(&warned), &again).is_empty(),
            "once per transition"
        );
        let expired = build(
            Some(&warned),
            &observe(&health, &holders, false),
            ts("2026-01-06T00:00:00Z"),
        );
        let c = expired
            .conditions
            .iter()
            .find(|c| c.type_ == "CredentialsExpiring")
            .unwrap();
        assert_eq!(c.reason, "CredentialsExpired");
    }

    #[test]
    fn a_deletion_held_by_groups_names_them() {
        let holders = Holders {
            count: 12,
            first: (0..10).map(|i| format!("ns/g{i}")).collect(),
        };
        let health = connected(None);
        let status = build(
            None,
            &observe(&health, &holders, true),
            ts("2026-01-01T00:00:00Z"),
        );
        let c = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Deleting")
            .unwrap();
        assert_eq!(c.reason, "InUse");
        assert!(
            c.message
                .starts_with("Deletion waits for 12 Groups that use this connection: ns/g0"),
            "{}",
            c.message
        );
        assert!(c.message.contains("and 2 more"), "{}", c.message);
        assert_eq!(status.used_by.len(), 10);
        let notes = notices(None, &status);
        assert!(notes.iter().any(|n| n.reason == "InUse" && n.warning));
        let none = Holders::default();
        let free = build(
            Some(&status),
            &observe(&health, &none, true),
            ts("2026-01-01T00:00:00Z"),
        );
        assert!(free.conditions.iter().all(|c| c.type_ != "Deleting"));
    }

    #[test]
    fn transition_times_change_only_with_the_status() {
        let holders = Holders::default();
        let t0 = ts("2026-01-01T00:00:00Z");
        let t1 = ts("2026-01-01T00:05:00Z");
        let a = failed(ConnectionReason::Unreachable);
        let b = failed(ConnectionReason::CredentialsInvalid);
        let first = build(None, &observe(&a, &holders, false), t0);
        let second = build(Some(&first), &observe(&b, &holders, false), t1);
        let time = |s: &PlatformConnectionStatus| s.conditions[0].last_transition_time.0;
        assert_eq!(time(&second), t0, "still False: the same transition");
        let third = build(
            Some(&second),
            &observe(&connected(None), &holders, false),
            t1,
        );
        assert_eq!(time(&third), t1);
    }
}
