//! The permit stage: may this Group have what it asks for? Tenancy is decided by the grants
//! (the tenancy watch caches and compiles them); here is what the driver asks of them: the
//! decision for the whole Group, whether a planned adoption stays within the grants, and what a
//! Group may still do on deletion once it is no longer granted.

use crate::crd::{Group, GroupOrigin};
use crate::plan::{Action, Observed, Plan, PlatformGroup};
use crate::tenancy::{self, CompiledGrant};

/// Adoption needs a grant that allows it and covers what the platform group holds now, so
/// adopting can never hand a namespace more than it was granted. (Recovering our own lost
/// create is not adoption: the group is ours.)
pub fn adoption(
    covering: &[CompiledGrant],
    namespace: &str,
    plan: &Plan,
    observed: &Observed,
) -> Result<(), String> {
    match adopted_by(plan, observed) {
        Some(existing) => tenancy::check_adoption(covering, namespace, existing),
        None => Ok(()),
    }
}

/// The platform group the plan takes over with adoptExisting.
fn adopted_by<'a>(plan: &Plan, observed: &'a Observed) -> Option<&'a PlatformGroup> {
    plan.actions.iter().find_map(|action| match action {
        Action::AdoptGroup {
            id,
            lost_create: false,
            ..
        } => observed.group_by_name.as_ref().filter(|g| &g.id == id),
        _ => None,
    })
}

/// Whether a Group that is no longer granted may still clean up on deletion: deleting a group
/// this resource created only takes access away; one it adopted, or whose origin it does not
/// know, is left alone. `Err` says why, for the Event.
pub fn cleanup_when_not_granted(group: &Group, why: &str) -> Result<(), String> {
    let status = group.status.clone().unwrap_or_default();
    let created = status.origin == Some(GroupOrigin::Created) || status.group_id.is_none();
    if created {
        return Ok(());
    }
    Err(format!(
        "Left platform group \"{}\" (id {}) untouched: this resource did not create it, and it \
         is no longer granted ({why}).",
        group.effective_group_name(),
        status.group_id.unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{GroupSpec, GroupStatus};

    fn group(origin: Option<GroupOrigin>, id: Option<&str>) -> Group {
        let mut g = Group::new("team", GroupSpec::default());
        g.status = Some(GroupStatus {
            origin,
            group_id: id.map(str::to_owned),
            ..Default::default()
        });
        g
    }

    #[test]
    fn an_ungranted_group_cleans_up_only_what_it_created() {
        assert!(
            cleanup_when_not_granted(&group(Some(GroupOrigin::Created), Some("g1")), "x").is_ok()
        );
        assert!(cleanup_when_not_granted(&group(None, None), "x").is_ok());
        let adopted =
            cleanup_when_not_granted(&group(Some(GroupOrigin::Adopted), Some("g1")), "no grant");
        let message = adopted.unwrap_err();
        assert!(
            message.contains("(id g1)") && message.contains("no grant"),
            "{message}"
        );
        assert!(cleanup_when_not_granted(&group(None, Some("g1")), "x").is_err());
    }
}
