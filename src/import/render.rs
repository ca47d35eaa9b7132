//! Platform groups as Group resources: exact where the CRD allows it, and saying so on stderr
//! where it does not.

use std::collections::{BTreeMap, BTreeSet};

use igz_mgmt::{Project, User, UserGroup};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::crd::{GID_MAX, ManagementPolicy, TenantPolicy};

/// How to print.
#[derive(Clone, Debug)]
pub struct Options {
    pub namespace: Option<String>,
    /// Written into every Group's spec.connection (none: the field is left out, meaning default).
    pub connection: Option<String>,
    pub management_policy: ManagementPolicy,
    /// The platform's address, for the header comment.
    pub source: String,
}

/// What `render` made.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    /// Multi-document YAML, one Group per platform group, ordered by platform name.
    pub yaml: String,
    /// Groups printed.
    pub groups: usize,
    /// Platform groups not printed.
    pub left_out: usize,
    /// What the reader should know (left-out groups, fields not carried over), one line each.
    pub notes: Vec<String>,
}

/// The longest Kubernetes object name (a DNS subdomain).
const MAX_NAME: usize = 253;
/// Longest description the CRD accepts.
const MAX_DESCRIPTION: usize = 1024;

/// Renders every platform group the platform does not own itself as a Group resource.
pub fn render(
    groups: &[UserGroup],
    users: &[User],
    projects: &[Project],
    options: &Options,
) -> Imported {
    let usernames: BTreeMap<&str, &str> = users
        .iter()
        .map(|u| (u.id.as_str(), u.username.as_str()))
        .collect();
    let mut sorted: Vec<&UserGroup> = groups.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));

    let mut imported = Imported::default();
    let mut documents = Vec::new();
    for group in sorted {
        if group.system_provided {
            imported.left_out += 1;
            imported.notes.push(format!(
                "left out {:?} (id {}): the platform owns it",
                group.name, group.id
            ));
            continue;
        }
        let (mut spec, notes) = spec(group, &usernames, projects, options.management_policy);
        if let Some(connection) = &options.connection {
            spec.insert("connection".into(), json!(connection));
        }
        imported.notes.extend(notes);
        let mut metadata = Map::new();
        metadata.insert("name".into(), json!(resource_name(&group.name)));
        if let Some(namespace) = &options.namespace {
            metadata.insert("namespace".into(), json!(namespace));
        }
        let document = json!({
            "apiVersion": "igz-operator.io/v1alpha1",
            "kind": "Group",
            "metadata": metadata,
            "spec": spec,
        });
        // A struct of strings, numbers and lists always serializes.
        let body = serde_yaml::to_string(&document).expect("a Group serializes to YAML");
        documents.push(format!(
            "# Platform group {:?} (id {}), imported from {}\n{body}",
            group.name, group.id, options.source
        ));
        imported.groups += 1;
    }
    imported.yaml = documents.join("---\n");
    if imported.groups > 0 {
        imported.notes.push(TEMPORARY_NOTE.to_owned());
    }
    imported
}

/// Said once per import: the platform has no notion of expiry, so every member it holds is
/// rendered as a member (spec.members) and nothing temporary is lost or invented.
pub const TEMPORARY_NOTE: &str = "no temporary members rendered: the platform has no notion of \
    expiry, so every member is in spec.members and nothing is lost; add spec.temporaryMembers \
    to give a member an expiry";

/// The spec that describes `group` exactly as it is now.
fn spec(
    group: &UserGroup,
    usernames: &BTreeMap<&str, &str>,
    projects: &[Project],
    policy: ManagementPolicy,
) -> (Map<String, Value>, Vec<String>) {
    let mut notes = Vec::new();
    let mut spec = Map::new();
    spec.insert("groupName".into(), json!(group.name));
    if !group.description.is_empty() {
        if group.description.chars().count() <= MAX_DESCRIPTION {
            spec.insert("description".into(), json!(group.description));
        } else {
            notes.push(format!(
                "{:?}: description longer than {MAX_DESCRIPTION} characters left out (the platform's stays as it is)",
                group.name
            ));
        }
    }
    if (1..=GID_MAX).contains(&group.gid) {
        spec.insert("gid".into(), json!(group.gid));
    }
    let known: Option<BTreeSet<&str>> = group
        .assigned_policies
        .iter()
        .map(|name| {
            TenantPolicy::ALL
                .iter()
                .find(|p| p.as_str() == name)
                .map(|p| p.as_str())
        })
        .collect();
    match known {
        Some(policies) => {
            spec.insert("assignedPolicies".into(), json!(policies));
        }
        None => notes.push(format!(
            "{:?}: assignedPolicies left out, it holds a policy the Group resource does not know \
             ({}); the platform's policies stay as they are",
            group.name,
            group.assigned_policies.join(", ")
        )),
    }
    let mut members = BTreeSet::new();
    for id in &group.member_ids {
        match usernames.get(id.as_str()) {
            Some(name) => {
                members.insert(*name);
            }
            None => notes.push(format!(
                "{:?}: member with user id {id} has no username on the platform; left out",
                group.name
            )),
        }
    }
    spec.insert("members".into(), json!(members));
    let mut roles: Vec<Value> = projects
        .iter()
        .filter_map(|p| {
            let role = p.group_role(&group.id)?;
            Some(json!({"project": p.name, "role": role.as_str()}))
        })
        .collect();
    roles.sort_by(|a, b| a["project"].as_str().cmp(&b["project"].as_str()));
    spec.insert("projectRoles".into(), Value::Array(roles));
    spec.insert("adoptExisting".into(), json!(true));
    // Deleting an imported resource leaves the platform group; change it to Delete knowingly.
    spec.insert("deletionPolicy".into(), json!("Orphan"));
    let policy = match policy {
        ManagementPolicy::Full => "Full",
        ManagementPolicy::ObserveOnly => "ObserveOnly",
    };
    spec.insert("managementPolicy".into(), json!(policy));
    (spec, notes)
}

/// A valid, unique Kubernetes name for a platform group: the name itself when it already is one
/// (lowercase letters, digits, '-' and '.', starting and ending alphanumeric); otherwise it made
/// valid plus 8 hex digits of its SHA-256, so two names that map to the same text stay apart and
/// every group keeps its name from one import to the next.
pub fn resource_name(platform_name: &str) -> String {
    if is_dns_subdomain(platform_name) {
        return platform_name.to_owned();
    }
    let mut name = String::new();
    for c in platform_name.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' {
            c
        } else {
            '-'
        };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    let name = name.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let hash = Sha256::digest(platform_name.as_bytes());
    let suffix: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let stem: String = name.chars().take(MAX_NAME - 1 - suffix.len()).collect();
    let stem = stem.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if stem.is_empty() {
        format!("group-{suffix}")
    } else {
        format!("{stem}-{suffix}")
    }
}

fn is_dns_subdomain(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name.chars().all(|c| alnum(c) || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use igz_mgmt::{AuthorizationRole, ProjectRole};

    fn group(id: &str, name: &str, members: &[&str]) -> UserGroup {
        UserGroup {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            gid: 1001,
            assigned_policies: vec!["Data".into()],
            member_ids: members.iter().map(|m| m.to_string()).collect(),
            system_provided: false,
        }
    }

    fn user(id: &str, name: &str) -> User {
        User {
            id: id.into(),
            username: name.into(),
            group_ids: vec![],
        }
    }

    fn options() -> Options {
        Options {
            namespace: Some("platform".into()),
            connection: None,
            management_policy: ManagementPolicy::ObserveOnly,
            source: "https://dash.example/".into(),
        }
    }

    #[test]
    fn valid_names_are_kept_and_others_made_valid_and_unique() {
        assert_eq!(resource_name("data-science"), "data-science");
        assert_eq!(resource_name("a.b-c"), "a.b-c");
        let a = resource_name("Team_A");
        let b = resource_name("team-a");
        let c = resource_name("TEAM A");
        assert_eq!(b, "team-a");
        assert!(
            a.starts_with("team-a-") && c.starts_with("team-a-"),
            "{a} {c}"
        );
        assert_ne!(a, c, "names that map to the same text stay apart");
        assert_eq!(
            resource_name("Team_A"),
            a,
            "stable from one import to the next"
        );
        for odd in ["__", "-x-", "ÄÖÜ", &"X".repeat(400), "1_2"] {
            let name = resource_name(odd);
            assert!(is_dns_subdomain(&name), "{odd:?} -> {name:?}");
        }
    }

    #[test]
    fn renders_each_group_exactly_and_leaves_out_what_the_platform_owns() {
        let mut all_users = group("g0", "all_users", &["u1", "u2"]);
        all_users.system_provided = true;
        let mut odd = group("g2", "Ops_Team", &["u2", "u9"]);
        odd.assigned_policies = vec!["Data".into(), "Mystery Admin".into()];
        let science = UserGroup {
            description: "Data scientists".into(),
            ..group("g1", "data-science", &["u2", "u1"])
        };
        let projects = vec![Project {
            id: "p1".into(),
            name: "analytics".into(),
            roles: vec![AuthorizationRole {
                role: ProjectRole::Viewer,
                role_id: "r1".into(),
                user_ids: vec![],
                group_ids: vec!["g1".into()],
            }],
        }];
        let users = [user("u1", "alice"), user("u2", "bob")];
        let out = render(&[odd, all_users, science], &users, &projects, &options());
        assert_eq!((out.groups, out.left_out), (2, 1));
        let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&out.yaml)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0]["spec"]["groupName"], "Ops_Team",
            "ordered by platform name"
        );
        assert_eq!(
            docs[1],
            json!({
                "apiVersion": "igz-operator.io/v1alpha1",
                "kind": "Group",
                "metadata": {"name": "data-science", "namespace": "platform"},
                "spec": {
                    "groupName": "data-science",
                    "description": "Data scientists",
                    "gid": 1001,
                    "assignedPolicies": ["Data"],
                    "members": ["alice", "bob"],
                    "projectRoles": [{"project": "analytics", "role": "Viewer"}],
                    "adoptExisting": true,
                    "deletionPolicy": "Orphan",
                    "managementPolicy": "ObserveOnly",
                },
            })
        );
        // Unknown policies: the field is left out (left as it is) rather than half-copied.
        assert!(docs[0]["spec"].get("assignedPolicies").is_none());
        assert_eq!(docs[0]["spec"]["members"], json!(["bob"]));
        let notes = out.notes.join("\n");
        assert!(notes.contains("left out \"all_users\""), "{notes}");
        assert_eq!(out.notes.last().map(String::as_str), Some(TEMPORARY_NOTE));
        assert!(
            docs.iter()
                .all(|d| d["spec"].get("temporaryMembers").is_none())
        );
        assert!(notes.contains("Mystery Admin"), "{notes}");
        assert!(notes.contains("user id u9"), "{notes}");
        assert!(
            out.yaml
                .starts_with("# Platform group \"Ops_Team\" (id g2)")
        );
        // The same input renders the same output.
        let again = render(
            &[group("g1", "data-science", &["u1", "u2"])],
            &users,
            &projects,
            &options(),
        );
        assert_eq!(
            again.yaml,
            render(
                &[group("g1", "data-science", &["u2", "u1"])],
                &users,
                &projects,
                &options()
            )
            .yaml
        );
    }

    #[test]
    fn a_connection_given_is_named_in_every_group() {
        let users = [user("u1", "alice")];
        let groups = [group("g1", "a", &["u1"]), group("g2", "b", &[])];
        let options_default = options;
        let options = Options {
            connection: Some("prod".into()),
            ..options_default()
        };
        let out = render(&groups, &users, &[], &options);
        let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&out.yaml)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .collect();
        assert_eq!(docs.len(), 2);
        assert!(docs.iter().all(|d| d["spec"]["connection"] == "prod"));
        let without = render(&groups, &users, &[], &options_default());
        assert!(
            !without.yaml.contains("connection"),
            "omitted means default"
        );
    }
}
