//! What a create sent, reduced to what identifies the group it made.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::{Action, PlatformGroup};

/// The gid (when the create chose one) and a digest of the rest: a group carrying exactly this
/// is the one the create made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The gid, when the create chose one (otherwise the platform assigned any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<i64>,
    /// SHA-256 (hex) of the name, description, policies and member ids as sent.
    pub sha256: String,
}

impl Sent {
    /// What `action` sends, when it is a create.
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
        Some(Sent {
            gid: *gid,
            sha256: digest(
                name,
                description.as_deref().unwrap_or_default(),
                assigned_policies,
                &member_ids,
            ),
        })
    }

    /// Whether `group` carries exactly what was sent. The platform stores an empty description
    /// as none, so the two are the same here.
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

fn digest(
    name: &str,
    description: &str,
    policies: &BTreeSet<String>,
    member_ids: &BTreeSet<&str>,
) -> String {
    // A JSON array is an unambiguous encoding of the four fields (no separator collisions);
    // sets are sorted, so equal sets give equal digests.
    let canonical = serde_json::json!([name, description, policies, member_ids]).to_string();
    super::hex(&Sha256::digest(canonical.as_bytes()))
}
