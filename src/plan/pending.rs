//! The record of a create whose outcome may be unknown (`igz-operator.io/external-create-pending`).
//!
//! Written before every create. A refusal clears it at once. It also names the group status named
//! when it was written (none for a first create, the deleted group for a re-create), so it is
//! over as soon as status names another: the create was answered and written down ([`over`]);
//! it is then ignored, and cleared later. While it is not over, a platform group with the resource's name may be the answer to our own create whose
//! reply was lost, or someone else's. It is taken as ours only when it carries exactly what the
//! create sent: the record keeps the gid (when one was sent) and a SHA-256 digest of the name,
//! description, policies and member ids, which stays small whatever the group's size
//! (annotations are bounded) and proves the match.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Action, PlatformGroup};

/// What a create sent, reduced to what identifies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentGroup {
    /// The gid, when the create chose one (otherwise the platform assigned any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<i64>,
    /// SHA-256 (hex) of the name, description, policies and member ids as sent.
    pub sha256: String,
}

impl SentGroup {
    /// The record of `action` when it is a create.
    pub fn of(action: &Action) -> Option<Self> {
        let Action::CreateGroup {
            name,
            description,
            gid,
            assigned_policies,
            members,
        } = action
        else {
            return None;
        };
        let member_ids: BTreeSet<&str> = members.values().map(String::as_str).collect();
        Some(SentGroup {
            gid: *gid,
            sha256: digest(
                name,
                description.as_deref().unwrap_or_default(),
                assigned_policies,
                &member_ids,
            ),
        })
    }

    /// Whether `group` carries exactly what was sent. The platform stores an empty
    /// description as none, so the two are the same here.
    pub fn matches(&self, group: &PlatformGroup) -> bool {
        let member_ids: BTreeSet<&str> = group.member_ids.iter().map(String::as_str).collect();
        self.gid.is_none_or(|gid| gid == group.gid)
            && self.sha256
                == digest(
                    &group.name,
                    group.description.as_deref().unwrap_or_default(),
                    &group.assigned_policies,
                    &member_ids,
                )
    }
}

/// A pending create as recorded on the resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCreate {
    /// What it sent; `None` for a record that does not say (written by an older version, or
    /// damaged): then no group can be proven to be ours.
    pub sent: Option<SentGroup>,
}

impl PendingCreate {
    /// Whether `group` is provably the one this pending create made.
    pub fn made(&self, group: &PlatformGroup) -> bool {
        self.sent.as_ref().is_some_and(|sent| sent.matches(group))
    }

    /// Reads the annotation's value.
    pub fn parse(value: &str) -> Self {
        let sent = Record::read(value).map(|r| r.sent);
        PendingCreate { sent }
    }
}

/// The annotation's value: when the create was sent (for people), what it sent, and the group
/// status named then (the one a re-create replaces).
#[derive(Serialize, Deserialize)]
struct Record {
    since: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replaces: Option<String>,
    #[serde(flatten)]
    sent: SentGroup,
}

impl Record {
    /// The record in the annotation's `value`; `None` when it is not one (an older version's
    /// bare time, or damaged).
    fn read(value: &str) -> Option<Self> {
        serde_json::from_str(value).ok()
    }
}

/// Whether the record `value` is over for a resource whose status now names `status_group`:
/// status names another group than it did when the record was written, so the create was
/// answered and written down. A record that does not say (older or damaged) is over once status
/// names any group.
pub fn over(value: &str, status_group: Option<&str>) -> bool {
    let replaces = Record::read(value).and_then(|r| r.replaces);
    replaces.as_deref() != status_group
}

/// When the record `value` says its create was sent; `None` when it does not say.
pub fn recorded_at(value: &str) -> Option<jiff::Timestamp> {
    Record::read(value)?.since.parse().ok()
}

/// The annotation's value for a create of `sent` at `since` (an RFC 3339 time), written while
/// status names `replaces` (a re-create's deleted group; `None` for a first create).
pub fn record(sent: &SentGroup, since: &str, replaces: Option<&str>) -> String {
    let record = Record {
        since: since.to_owned(),
        replaces: replaces.map(str::to_owned),
        sent: sent.clone(),
    };
    // A struct of strings and an integer always serializes.
    serde_json::to_string(&record).expect("a pending-create record serializes")
}

fn digest(
    name: &str,
    description: &str,
    policies: &BTreeSet<String>,
    member_ids: &BTreeSet<&str>,
) -> String {
    // A JSON array is an unambiguous encoding of the four fields (no separator collisions);
    // sets are sorted, so equal sets give equal digests.
    let canonical = serde_json::json!([name, description, policies, member_ids]).to_string();
    let hash = Sha256::digest(canonical.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use std::collections::BTreeMap;

    fn create() -> Action {
        Action::CreateGroup {
            name: "team".into(),
            description: None,
            gid: None,
            assigned_policies: names(&["Data"]),
            members: BTreeMap::from([("alice".into(), user_id("alice"))]),
        }
    }

    fn made_by_create() -> PlatformGroup {
        let mut group = platform_group("g1", "team");
        group.assigned_policies = names(&["Data"]);
        group.member_ids = names(&["uid-alice"]);
        group
    }

    #[test]
    fn the_group_a_create_made_matches_its_record() {
        let sent = SentGroup::of(&create()).unwrap();
        assert!(sent.matches(&made_by_create()));
        assert_eq!(
            SentGroup::of(&Action::DeleteGroup {
                id: "x".into(),
                name: "x".into()
            }),
            None
        );
    }

    #[test]
    fn any_difference_in_what_was_sent_means_not_ours() {
        let sent = SentGroup::of(&create()).unwrap();
        let changes: [fn(&mut PlatformGroup); 5] = [
            |g| g.name = "other".into(),
            |g| g.description = Some("hand-made".into()),
            |g| {
                g.assigned_policies.insert("IT Admin".into());
            },
            |g| {
                g.member_ids.insert("uid-bob".into());
            },
            |g| g.member_ids.clear(),
        ];
        for change in changes {
            let mut group = made_by_create();
            change(&mut group);
            assert!(!sent.matches(&group), "{group:?}");
        }
    }

    #[test]
    fn a_gid_counts_only_when_it_was_sent() {
        let mut with_gid = create();
        if let Action::CreateGroup { gid, .. } = &mut with_gid {
            *gid = Some(5001);
        }
        let sent = SentGroup::of(&with_gid).unwrap();
        let mut group = made_by_create();
        assert!(!sent.matches(&group));
        group.gid = 5001;
        assert!(sent.matches(&group));
        // Without a gid in the create, whatever the platform assigned is fine.
        assert!(SentGroup::of(&create()).unwrap().matches(&group));
    }

    #[test]
    fn records_round_trip_and_unreadable_ones_prove_nothing() {
        let sent = SentGroup::of(&create()).unwrap();
        let value = record(&sent, "2026-11-29T00:00:00Z", None);
        assert!(
            value.contains("\"since\":\"2026-11-29T00:00:00Z\""),
            "{value}"
        );
        let pending = PendingCreate::parse(&value);
        assert_eq!(pending.sent.as_ref(), Some(&sent));
        assert_eq!(
            recorded_at(&value),
            Some("2026-11-29T00:00:00Z".parse().unwrap())
        );
        assert!(pending.made(&made_by_create()));
        for legacy in ["2026-11-28T10:00:00Z", "", "{\"since\":\"x\"}"] {
            let pending = PendingCreate::parse(legacy);
            assert_eq!(pending.sent, None, "{legacy}");
            assert!(!pending.made(&made_by_create()));
            assert_eq!(recorded_at(legacy), None, "{legacy}");
        }
    }

    #[test]
    fn a_record_is_over_once_status_names_another_group_than_when_it_was_written() {
        let sent = SentGroup::of(&create()).unwrap();
        // A first create: pending until status names the group it made.
        let first = record(&sent, "2026-11-29T00:00:00Z", None);
        assert!(!over(&first, None));
        assert!(over(&first, Some("g1")));
        // A re-create of a group deleted outside Kubernetes: status still names the deleted
        // one until the answer is written down.
        let again = record(&sent, "2026-11-29T00:00:00Z", Some("g1"));
        assert!(again.contains("\"replaces\":\"g1\""), "{again}");
        assert!(!over(&again, Some("g1")));
        assert!(over(&again, Some("g2")));
        assert!(over(&again, None));
        // Records that do not say (older versions, damaged): over once status names any group.
        for legacy in ["2026-11-28T10:00:00Z", "{\"since\":\"x\"}"] {
            assert!(!over(legacy, None), "{legacy}");
            assert!(over(legacy, Some("g1")), "{legacy}");
        }
    }
}
