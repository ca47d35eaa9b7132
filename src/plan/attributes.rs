//! Group attributes: name, description, gid, assigned policies.

use super::{Desired, GroupUpdate, PlatformGroup};

pub(super) struct AttributePlan {
    pub update: Option<GroupUpdate>,
    pub drift: Vec<String>,
}

/// Compares the managed attributes; fields the spec leaves unset (`None`) are not managed.
pub(super) fn plan(desired: &Desired, group: &PlatformGroup) -> AttributePlan {
    let mut update = GroupUpdate::default();
    let mut drift = Vec::new();

    if group.name != desired.group_name {
        drift.push(format!(
            "the group was renamed to \"{}\" outside Kubernetes",
            group.name
        ));
        update.name = Some(desired.group_name.clone());
    }
    if let Some(description) = &desired.description {
        // The platform stores an empty description as null; treat both as "no description" so
        // the two never cause an endless update.
        if group.description.as_deref().unwrap_or_default() != description {
            drift.push("the group's description was changed outside Kubernetes".to_owned());
            update.description = Some(description.clone());
        }
    }
    if let Some(gid) = desired.gid
        && group.gid != gid
    {
        drift.push(format!(
            "the group's gid was changed to {} outside Kubernetes",
            group.gid
        ));
        update.gid = Some(gid);
    }
    if let Some(policies) = &desired.assigned_policies
        && &group.assigned_policies != policies
    {
        drift.push("the group's assigned policies were changed outside Kubernetes".to_owned());
        update.assigned_policies = Some(policies.clone());
    }

    AttributePlan {
        update: (!update.is_empty()).then_some(update),
        drift,
    }
}
