//! The controller's edge: the resource's and planner's types mapped to the management client's,
//! and back. The CRD owns its types (its schema is a public API); the client's follow the wire.

use crate::crd::ProjectRole;

impl From<ProjectRole> for igz_mgmt::ProjectRole {
    fn from(role: ProjectRole) -> Self {
        match role {
            ProjectRole::Admin => igz_mgmt::ProjectRole::Admin,
            ProjectRole::Editor => igz_mgmt::ProjectRole::Editor,
            ProjectRole::Viewer => igz_mgmt::ProjectRole::Viewer,
        }
    }
}

impl From<igz_mgmt::ProjectRole> for ProjectRole {
    fn from(role: igz_mgmt::ProjectRole) -> Self {
        match role {
            igz_mgmt::ProjectRole::Admin => ProjectRole::Admin,
            igz_mgmt::ProjectRole::Editor => ProjectRole::Editor,
            igz_mgmt::ProjectRole::Viewer => ProjectRole::Viewer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_both_ways_by_name() {
        for role in ProjectRole::ALL {
            let client: igz_mgmt::ProjectRole = role.into();
            assert_eq!(client.as_str(), role.as_str());
            assert_eq!(ProjectRole::from(client), role);
        }
    }
}
