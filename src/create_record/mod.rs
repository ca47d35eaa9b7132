//! The create record: what the operator writes on a Group (with its finalizer, in one patch)
//! right before it asks the platform to create the group, so that a create whose answer is lost
//! is neither sent twice nor mistaken for someone else's group.
//!
//! Its whole life is here:
//! - **written** before every create ([`CreateRecord::seal`]), naming what the create sends (the
//!   gid when one is sent, and a SHA-256 digest of the name, description, policies and member
//!   ids: small whatever the group's size) and the group status names then (none for a first
//!   create, the deleted group for a re-create);
//! - **sealed** with the record key ([`RecordKeys`]): an HMAC over its content, the Group's uid
//!   and the group it replaces. Anyone who may write a Group can write an annotation; only the
//!   operator can write one that verifies, so a hand-written or copied record proves nothing;
//! - **ended** by a definite answer: a refusal clears it at once, a success is written to status;
//! - **settled** once status names another group than the one it replaced (the create was
//!   answered and written down): it is then ignored, and cleared later ([`clearing_due`]);
//! - while **pending** it forces a picture read after it (only such a picture can show what the
//!   create made), and a platform group with the Group's name is taken as the create's result
//!   only when it carries exactly what the record says was sent.

mod key;
mod sent;

pub use key::{KEY_SECRET, RecordKeys};
pub use sent::Sent;

use hmac::{Hmac, Mac};
use kube::ResourceExt;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::crd::Group;
use crate::plan::PlatformGroup;

/// The annotation that holds the record.
pub const ANNOTATION: &str = "igz-operator.io/external-create-pending";

/// The record as written in the annotation (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct CreateRecord {
    /// When the create was sent (RFC 3339; for people, and for clearing a settled record).
    since: String,
    /// The group status named when the record was written: the one a re-create replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replaces: Option<String>,
    #[serde(flatten)]
    sent: Sent,
    /// HMAC-SHA256 (hex) of the rest, the Group's uid, keyed by the record key.
    mac: String,
}

/// What the record on a Group says to a reconcile (a settled record says nothing: see
/// [`standing`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Written by this operator for this Group and not settled: the create may have succeeded
    /// unseen, and `Sent` proves what it sent.
    Pending(Sent),
    /// Not settled, and it does not verify: written by hand, copied from another Group, or
    /// sealed with a key the operator no longer has. It proves nothing; the create's outcome
    /// stays unknown.
    Unproven,
}

impl Standing {
    /// Whether `group` is provably what the recorded create made.
    pub fn proves(&self, group: &PlatformGroup) -> bool {
        matches!(self, Standing::Pending(sent) if sent.matches(group))
    }
}

/// The annotation's value for a create of `sent` by `group`, sent at `since` (RFC 3339).
pub fn seal(keys: &RecordKeys, group: &Group, sent: &Sent, since: jiff::Timestamp) -> String {
    let mut record = CreateRecord {
        since: since.to_string(),
        replaces: status_group(group).map(str::to_owned),
        sent: sent.clone(),
        mac: String::new(),
    };
    record.mac = hex(&mac(keys.current(), &record, &uid(group))
        .finalize()
        .into_bytes());
    // A struct of strings and an integer always serializes.
    serde_json::to_string(&record).expect("a create record serializes")
}

/// What the record on `group` says now; `None` when it has none, or when it is settled.
pub fn standing(group: &Group, keys: &RecordKeys) -> Option<Standing> {
    let value = group.annotations().get(ANNOTATION)?;
    let Some(record) = read(value) else {
        return Some(Standing::Unproven);
    };
    if settled(&record, group) {
        return None;
    }
    let verifies = keys.all().any(|key| {
        let expected = mac(key, &record, &uid(group));
        unhex(&record.mac).is_some_and(|tag| expected.verify_slice(&tag).is_ok())
    });
    Some(if verifies {
        Standing::Pending(record.sent)
    } else {
        Standing::Unproven
    })
}

/// Whether the record on `group` is settled and was written at least `min_age` before `now`:
/// nothing needs it any more, and it is old enough that clearing it costs no extra write in the
/// middle of the burst that creating many Groups is (normally the Group's first resync clears it).
pub fn clearing_due(group: &Group, now: jiff::Timestamp, min_age: std::time::Duration) -> bool {
    let Some(record) = group.annotations().get(ANNOTATION).and_then(|v| read(v)) else {
        return false;
    };
    let written: Option<jiff::Timestamp> = record.since.parse().ok();
    let min_age = jiff::SignedDuration::try_from(min_age).unwrap_or(jiff::SignedDuration::MAX);
    settled(&record, group) && written.is_none_or(|at| now.duration_since(at) >= min_age)
}

/// When the record on `group` says its create was sent.
pub fn written_at(group: &Group) -> Option<jiff::Timestamp> {
    read(group.annotations().get(ANNOTATION)?)?
        .since
        .parse()
        .ok()
}

/// Settled: status names another group than the record replaced, so its create was answered
/// and written down. Exact and clock-free: a lingering record of an answered create can never make
/// an identical group someone else made later look like ours.
fn settled(record: &CreateRecord, group: &Group) -> bool {
    record.replaces.as_deref() != status_group(group)
}

fn read(value: &str) -> Option<CreateRecord> {
    serde_json::from_str(value).ok()
}

fn status_group(group: &Group) -> Option<&str> {
    group.status.as_ref()?.group_id.as_deref()
}

fn uid(group: &Group) -> String {
    group.uid().unwrap_or_default()
}

/// The MAC of a record for the Group with `uid`: over an unambiguous encoding (a JSON array) of
/// everything the record says, so no field can be moved into another.
fn mac(key: &[u8], record: &CreateRecord, uid: &str) -> Hmac<Sha256> {
    let content = serde_json::json!([
        "igz-operator create record v1",
        uid,
        record.since,
        record.replaces,
        record.sent.gid,
        record.sent.sha256,
    ]);
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(content.to_string().as_bytes());
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests;
