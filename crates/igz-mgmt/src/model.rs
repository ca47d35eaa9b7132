//! Typed platform resources, as the controller sees them, and the attribute shapes they are
//! decoded from.

use serde::{Deserialize, Serialize};

use super::jsonapi::{Resource, nullable};

/// A platform user group with its members' user ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub gid: i64,
    pub assigned_policies: Vec<String>,
    pub member_ids: Vec<String>,
    /// Made and owned by the platform itself (such as `all_users`): not for tools to manage.
    pub system_provided: bool,
}

/// What to create. `gid: None` lets the platform assign one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUserGroup {
    pub name: String,
    pub description: Option<String>,
    pub gid: Option<i64>,
    pub assigned_policies: Vec<String>,
    pub member_ids: Vec<String>,
}

impl NewUserGroup {
    /// Whether `group` carries everything this create sends: the name, the description (unset
    /// and empty are the same to the platform), the gid when one is given, the policies and the
    /// members (both as sets). Only such a group may be taken for the answer to a lost create.
    pub fn describes(&self, group: &UserGroup) -> bool {
        let sorted = |items: &[String]| {
            let mut items = items.to_vec();
            items.sort();
            items.dedup();
            items
        };
        group.name == self.name
            && group.description == self.description.clone().unwrap_or_default()
            && self.gid.is_none_or(|gid| gid == group.gid)
            && sorted(&group.assigned_policies) == sorted(&self.assigned_policies)
            && sorted(&group.member_ids) == sorted(&self.member_ids)
    }
}

/// Attribute changes; `None` leaves the attribute as it is. Membership is not touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserGroupPatch {
    /// Renames the group (used to revert a rename made outside Kubernetes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_policies: Option<Vec<String>>,
}

/// A platform user with the ids of the groups it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub group_ids: Vec<String>,
}

/// A project and who holds each of its authorization roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub roles: Vec<AuthorizationRole>,
}

impl Project {
    /// The role the group holds in this project, if any (the strongest, should it hold several).
    pub fn group_role(&self, group_id: &str) -> Option<ProjectRole> {
        self.roles
            .iter()
            .filter(|b| b.group_ids.iter().any(|g| g == group_id))
            .map(|b| b.role)
            .min()
    }
}

/// One of a project's authorization roles (Admin, Editor, Viewer) and who holds it: the
/// platform's `project_authorization_role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRole {
    pub role: ProjectRole,
    pub role_id: String,
    pub user_ids: Vec<String>,
    pub group_ids: Vec<String>,
}

/// A project role on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProjectRole {
    // Strongest first: `Project::group_role` relies on this order.
    Admin,
    Editor,
    Viewer,
}

impl ProjectRole {
    pub const ALL: [ProjectRole; 3] =
        [ProjectRole::Admin, ProjectRole::Editor, ProjectRole::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Admin => "Admin",
            ProjectRole::Editor => "Editor",
            ProjectRole::Viewer => "Viewer",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for ProjectRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who the configured credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub username: String,
    pub tenant_id: String,
}

/// What one probe learned about the platform and the credentials in use (see
/// [`MgmtClient::probe`](crate::MgmtClient::probe)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformIdentity {
    /// The platform user the credentials act as.
    pub username: String,
    pub tenant_id: String,
    /// The platform's version (e.g. `3.6.0`), when it tells it.
    pub platform_version: Option<String>,
    /// When the access key in use expires, when the platform tells it (never for a login).
    pub credentials_expire: Option<jiff::Timestamp>,
}

// ---- attribute shapes on the wire ----

#[derive(Debug, Default, Deserialize)]
pub(crate) struct UserGroupAttributes {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    #[serde(default, deserialize_with = "nullable")]
    pub gid: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub assigned_policies: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub system_provided: bool,
}

/// Attributes of a new group: `description` and `gid` are sent as `null` when unset, as the SDK does.
#[derive(Debug, Serialize)]
pub(crate) struct NewUserGroupAttributes<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub gid: Option<i64>,
    pub assigned_policies: &'a [String],
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct UserAttributes {
    #[serde(default, deserialize_with = "nullable")]
    pub username: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NameAttributes {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct JobAttributes {
    #[serde(default, deserialize_with = "nullable")]
    pub state: String,
    #[serde(default, deserialize_with = "nullable")]
    pub result: String,
}

/// `data.attributes` of the version route.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct VersionAttributes {
    #[serde(default, deserialize_with = "nullable")]
    pub external: String,
}

/// What the client reads of an access key (the SDK's `AccessKey`): its lifetime. Kept as raw
/// JSON and read leniently, since platforms differ in how they write times.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AccessKeyAttributes {
    #[serde(default)]
    pub expires_at: serde_json::Value,
    #[serde(default)]
    pub ttl: serde_json::Value,
    #[serde(default)]
    pub created_at: serde_json::Value,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SessionAttributes {
    #[serde(default, deserialize_with = "nullable")]
    pub username: String,
    #[serde(default, deserialize_with = "nullable")]
    pub context: SessionContext,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SessionContext {
    #[serde(default, deserialize_with = "nullable")]
    pub authentication: SessionAuthentication,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SessionAuthentication {
    #[serde(default, deserialize_with = "nullable")]
    pub tenant_id: String,
}

impl UserGroup {
    /// Builds a group from its resource; `None` when the members relationship is missing
    /// (the server did not honour `include=users`) so the caller can fetch it properly.
    pub(crate) fn from_resource(res: Resource<UserGroupAttributes>) -> Option<Self> {
        let member_ids = res.related_ids("users")?;
        Some(Self::with_members(res, member_ids))
    }

    pub(crate) fn with_members(
        res: Resource<UserGroupAttributes>,
        mut member_ids: Vec<String>,
    ) -> Self {
        // Sorted, so two reads of one group compare equal whatever order the server lists in.
        member_ids.sort();
        member_ids.dedup();
        Self {
            id: res.id,
            name: res.attributes.name,
            description: res.attributes.description,
            gid: res.attributes.gid,
            assigned_policies: res.attributes.assigned_policies,
            member_ids,
            system_provided: res.attributes.system_provided,
        }
    }
}

impl User {
    pub(crate) fn from_resource(res: Resource<UserAttributes>) -> Option<Self> {
        let group_ids = res.related_ids("user_groups")?;
        Some(Self {
            id: res.id,
            username: res.attributes.username,
            group_ids,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_create_is_recognised_only_by_everything_it_sent() {
        let sent = NewUserGroup {
            name: "team".into(),
            description: None,
            gid: None,
            assigned_policies: vec!["Data".into(), "Developer".into()],
            member_ids: vec!["u2".into(), "u1".into()],
        };
        let ours = UserGroup {
            id: "g1".into(),
            name: "team".into(),
            description: String::new(),
            gid: 1234,
            assigned_policies: vec!["Developer".into(), "Data".into()],
            member_ids: vec!["u1".into(), "u2".into()],
            system_provided: false,
        };
        assert!(
            sent.describes(&ours),
            "order and an unset description do not matter"
        );
        let differs: [fn(&mut UserGroup); 5] = [
            |g| g.name = "other".into(),
            |g| g.description = "hand-made".into(),
            |g| g.assigned_policies.push("IT Admin".into()),
            |g| g.member_ids.push("bob".into()),
            |g| g.member_ids.truncate(1),
        ];
        for change in differs {
            let mut group = ours.clone();
            change(&mut group);
            assert!(!sent.describes(&group), "{group:?}");
        }
        let with_gid = NewUserGroup {
            gid: Some(5001),
            ..sent.clone()
        };
        assert!(!with_gid.describes(&ours), "a gid that was sent must match");
        assert!(with_gid.describes(&UserGroup { gid: 5001, ..ours }));
    }

    #[test]
    fn roles_round_trip_and_order() {
        for role in ProjectRole::ALL {
            assert_eq!(ProjectRole::parse(&role.to_string()), Some(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
        }
        assert_eq!(ProjectRole::parse("admin"), None);
        assert!(ProjectRole::Admin < ProjectRole::Viewer);
    }

    #[test]
    fn group_role_picks_the_strongest() {
        let binding = |role, groups: &[&str]| AuthorizationRole {
            role,
            role_id: role.to_string(),
            user_ids: vec![],
            group_ids: groups.iter().map(|s| s.to_string()).collect(),
        };
        let project = Project {
            id: "p".into(),
            name: "p".into(),
            roles: vec![
                binding(ProjectRole::Viewer, &["g1", "g2"]),
                binding(ProjectRole::Editor, &["g1"]),
                binding(ProjectRole::Admin, &[]),
            ],
        };
        assert_eq!(project.group_role("g1"), Some(ProjectRole::Editor));
        assert_eq!(project.group_role("g2"), Some(ProjectRole::Viewer));
        assert_eq!(project.group_role("g3"), None);
    }

    #[test]
    fn patch_serializes_only_what_changes() {
        let patch = UserGroupPatch {
            description: Some("d".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            serde_json::json!({"description": "d"})
        );
    }
}
