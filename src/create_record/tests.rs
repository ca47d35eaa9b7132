//! The create record's life: sealed, verified, settled, cleared.

use super::*;
use crate::crd::{GroupSpec, GroupStatus};
use crate::plan::Action;
use std::collections::BTreeMap;
use std::time::Duration;

fn create() -> Action {
    Action::CreateGroup {
        name: "team".into(),
        description: None,
        gid: None,
        assigned_policies: ["Data".to_string()].into(),
        members: BTreeMap::from([("alice".into(), "uid-alice".into())]),
    }
}

fn made_by_create() -> PlatformGroup {
    PlatformGroup {
        id: "g1".into(),
        name: "team".into(),
        description: None,
        gid: 4242,
        assigned_policies: ["Data".to_string()].into(),
        member_ids: ["uid-alice".to_string()].into(),
        project_roles: BTreeMap::new(),
    }
}

fn group(uid: &str, status_group: Option<&str>) -> Group {
    let mut g = Group::new("team", GroupSpec::default());
    g.metadata.uid = Some(uid.into());
    g.status = status_group.map(|id| GroupStatus {
        group_id: Some(id.into()),
        ..Default::default()
    });
    g
}

fn with_record(mut g: Group, value: &str) -> Group {
    g.metadata
        .annotations
        .get_or_insert_default()
        .insert(ANNOTATION.into(), value.into());
    g
}

fn at(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn sent() -> Sent {
    Sent::of(&create()).unwrap()
}

#[test]
fn the_group_a_create_made_matches_what_it_sent_and_nothing_else_does() {
    assert!(sent().matches(&made_by_create()));
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
        assert!(!sent().matches(&group), "{group:?}");
    }
    let delete = Action::DeleteGroup {
        id: "x".into(),
        name: "x".into(),
    };
    assert_eq!(Sent::of(&delete), None);
}

#[test]
fn a_gid_counts_only_when_it_was_sent() {
    let mut with_gid = create();
    if let Action::CreateGroup { gid, .. } = &mut with_gid {
        *gid = Some(5001);
    }
    let sent_gid = Sent::of(&with_gid).unwrap();
    let mut group = made_by_create();
    assert!(!sent_gid.matches(&group));
    group.gid = 5001;
    assert!(sent_gid.matches(&group));
    assert!(
        sent().matches(&group),
        "no gid sent: any assigned one is fine"
    );
}

#[test]
fn a_record_sealed_by_the_operator_proves_what_it_sent() {
    let keys = RecordKeys::generate();
    let g = group("uid-1", None);
    let value = seal(&keys, &g, &sent(), at(0));
    let g = with_record(g, &value);
    let standing = standing(&g, &keys).expect("pending");
    assert_eq!(standing, Standing::Pending(sent()));
    assert!(standing.proves(&made_by_create()));
    assert_eq!(written_at(&g), Some(at(0)));
}

#[test]
fn a_record_that_does_not_verify_proves_nothing() {
    let keys = RecordKeys::generate();
    let sealed = seal(&keys, &group("uid-1", None), &sent(), at(0));
    // Copied onto another Group (another uid), sealed with another key, edited, forged by hand,
    // or not a record at all: each is unproven, never a proof.
    let edited = sealed.replace(&sent().sha256, &"0".repeat(64));
    let mut forged: serde_json::Value = serde_json::from_str(&sealed).unwrap();
    forged["mac"] = serde_json::json!("00".repeat(32));
    let cases = [
        with_record(group("uid-2", None), &sealed),
        with_record(group("uid-1", None), &edited),
        with_record(group("uid-1", None), &forged.to_string()),
        with_record(group("uid-1", None), "2026-11-28T10:00:00Z"),
        with_record(group("uid-1", None), ""),
    ];
    for g in cases {
        assert_eq!(standing(&g, &keys), Some(Standing::Unproven), "{g:?}");
        assert!(!Standing::Unproven.proves(&made_by_create()));
    }
    let other_keys = RecordKeys::generate();
    let g = with_record(group("uid-1", None), &sealed);
    assert_eq!(standing(&g, &other_keys), Some(Standing::Unproven));
    assert_eq!(standing(&group("uid-1", None), &keys), None, "no record");
}

#[test]
fn the_previous_key_still_verifies_after_a_rotation() {
    let old = RecordKeys::generate();
    let g = group("uid-1", None);
    let sealed = seal(&old, &g, &sent(), at(0));
    let rotated = RecordKeys::from_secret(
        &key_secret(&[("key", &[9; 32]), ("previous", old.current())]),
        "ns",
    )
    .unwrap();
    assert_eq!(rotated.all().count(), 2);
    let g = with_record(g, &sealed);
    assert_eq!(standing(&g, &rotated), Some(Standing::Pending(sent())));
}

#[test]
fn a_record_is_settled_once_status_names_another_group_than_it_replaced() {
    let keys = RecordKeys::generate();
    // A first create: pending until status names the group it made.
    let first = with_record(
        group("uid-1", None),
        &seal(&keys, &group("uid-1", None), &sent(), at(0)),
    );
    assert!(standing(&first, &keys).is_some());
    let mut answered = first.clone();
    answered.status = group("uid-1", Some("g1")).status;
    assert_eq!(standing(&answered, &keys), None, "settled: ignored");
    // A re-create of g1 (deleted outside Kubernetes): pending while status names g1.
    let before = group("uid-1", Some("g1"));
    let again = with_record(before.clone(), &seal(&keys, &before, &sent(), at(0)));
    assert!(again.annotations()[ANNOTATION].contains("\"replaces\":\"g1\""));
    assert_eq!(standing(&again, &keys), Some(Standing::Pending(sent())));
    let mut recreated = again.clone();
    recreated.status = group("uid-1", Some("g2")).status;
    assert_eq!(standing(&recreated, &keys), None);
}

#[test]
fn only_a_settled_record_half_a_resync_old_is_due_for_clearing() {
    let keys = RecordKeys::generate();
    let half = Duration::from_secs(150);
    let fresh = group("uid-1", None);
    let pending = with_record(fresh.clone(), &seal(&keys, &fresh, &sent(), at(0)));
    assert!(!clearing_due(&pending, at(1000), half), "still pending");
    let mut settled = pending.clone();
    settled.status = group("uid-1", Some("g1")).status;
    assert!(!clearing_due(&settled, at(149), half));
    assert!(clearing_due(&settled, at(150), half));
    assert!(!clearing_due(&fresh, at(1000), half), "no record");
}

fn key_secret(entries: &[(&str, &[u8])]) -> k8s_openapi::api::core::v1::Secret {
    k8s_openapi::api::core::v1::Secret {
        data: Some(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), k8s_openapi::ByteString(v.to_vec())))
                .collect(),
        ),
        ..Default::default()
    }
}

#[test]
fn the_key_secret_must_hold_a_long_enough_key_and_may_hold_the_previous_one() {
    let err = RecordKeys::from_secret(&key_secret(&[]), "ns").unwrap_err();
    assert!(
        err.contains("has no `key`") && err.contains("ns/igz-operator-record-key"),
        "{err}"
    );
    let err = RecordKeys::from_secret(&key_secret(&[("key", b"short")]), "ns").unwrap_err();
    assert!(err.contains("shorter than 16 bytes"), "{err}");
    let keys = RecordKeys::from_secret(&key_secret(&[("key", &[7; 32])]), "ns").unwrap();
    assert_eq!(keys.all().count(), 1);
    assert_eq!(format!("{keys:?}"), "RecordKeys(redacted)");
}
