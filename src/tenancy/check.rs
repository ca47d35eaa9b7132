//! The decision for one Group: which grants cover all of it, or why none does. The messages are
//! the ones admission gives (see `admission`), word for word.

use std::collections::BTreeMap;

use super::grant::{CompiledGrant, strength};
use super::selector::selects;
use crate::crd::ProjectRole;
use crate::plan::{Desired, PlatformGroup, TemporaryCap};

/// What a Group asks of the platform, as the grants see it: its desired state (the planner's
/// input, so what is judged is exactly what would be applied) and its namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub namespace: String,
    /// The PlatformConnection the Group names (`default` when it names none).
    pub connection: String,
    pub group_name: String,
    /// Tenant policy names.
    pub policies: Vec<String>,
    pub project_roles: Vec<(String, ProjectRole)>,
    pub members: Vec<String>,
    /// Usernames in spec.temporaryMembers.
    pub temporary_members: Vec<String>,
    pub adopt: bool,
}

impl Request {
    pub fn of(namespace: &str, desired: &Desired) -> Self {
        Request {
            namespace: namespace.to_owned(),
            connection: desired.connection.clone(),
            group_name: desired.group_name.clone(),
            policies: desired
                .assigned_policies
                .iter()
                .flatten()
                .cloned()
                .collect(),
            project_roles: desired
                .project_roles
                .iter()
                .map(|(project, role)| (project.clone(), *role))
                .collect(),
            members: desired.members.iter().cloned().collect(),
            temporary_members: desired.temporary_members.keys().cloned().collect(),
            adopt: desired.adopt_existing,
        }
    }
}

/// The tenancy decision for one Group.
#[derive(Clone, Debug)]
pub enum Decision {
    /// These grants (at least one) each cover the whole Group.
    Permitted(Vec<CompiledGrant>),
    /// No grant covers it; the sentence says what is not granted.
    NotGranted(String),
}

/// Decides whether one grant that selects the namespace (`labels`) covers all of `request`.
pub fn check(
    grants: &[CompiledGrant],
    labels: &BTreeMap<String, String>,
    request: &Request,
) -> Decision {
    let selecting: Vec<&CompiledGrant> = grants
        .iter()
        .filter(|g| selects(&g.selector, labels))
        .collect();
    let covering: Vec<&CompiledGrant> = selecting
        .iter()
        .copied()
        .filter(|g| violation(g, request).is_none())
        .collect();
    if !covering.is_empty() {
        return Decision::Permitted(covering.into_iter().cloned().collect());
    }
    let reasons: Vec<String> = selecting
        .iter()
        .filter_map(|g| violation(g, request))
        .collect();
    Decision::NotGranted(match reasons.as_slice() {
        [] => format!(
            "namespace \"{}\" is not granted any platform group: no GroupGrant selects it",
            request.namespace
        ),
        // Several grants select the namespace and none covers all: what each one lacks.
        several => several.join("; "),
    })
}

/// The first thing `grant` does not allow in `request`, as a sentence; `None` when it allows all.
/// The order (connection, name, policies, project roles, members, permanent members, adoption)
/// is admission's too. How long temporary members last depends on the clock: see
/// [`temporary_cap`].
pub fn violation(grant: &CompiledGrant, request: &Request) -> Option<String> {
    let ns = &request.namespace;
    let by = &grant.name;
    if !grant.connections.contains(&request.connection) {
        return Some(format!(
            "namespace \"{ns}\" is not granted connection \"{}\" (GroupGrant {by} allows: {})",
            request.connection,
            allowed_connections(grant)
        ));
    }
    if let Some(pattern) = &grant.group_name
        && !pattern.is_match(&request.group_name)
    {
        return Some(format!(
            "namespace \"{ns}\" is not granted platform group name \"{}\" (GroupGrant {by} allows names matching {})",
            request.group_name, pattern.text
        ));
    }
    if let Some(policy) = request
        .policies
        .iter()
        .find(|p| !grant.policies.iter().any(|g| g.as_str() == p.as_str()))
    {
        return Some(format!(
            "namespace \"{ns}\" is not granted tenant policy \"{policy}\" (GroupGrant {by} allows: {})",
            allowed_policies(grant)
        ));
    }
    if let Some((project, role)) = request
        .project_roles
        .iter()
        .find(|(project, role)| !role_allowed(grant, project, *role))
    {
        return Some(format!(
            "namespace \"{ns}\" is not granted role {} in project \"{project}\" (GroupGrant {by} allows: {})",
            role.as_str(),
            allowed_roles(grant)
        ));
    }
    if let Some(pattern) = &grant.member
        && let Some(member) = request
            .members
            .iter()
            .chain(&request.temporary_members)
            .find(|m| !pattern.is_match(m))
    {
        return Some(format!(
            "namespace \"{ns}\" is not granted member \"{member}\" (GroupGrant {by} allows members matching {})",
            pattern.text
        ));
    }
    if grant.temporary.required
        && let Some(member) = request.members.first()
    {
        return Some(format!(
            "namespace \"{ns}\" is not granted permanent member \"{member}\" (GroupGrant {by} allows temporary members only: list it in spec.temporaryMembers with an expiry)"
        ));
    }
    if request.adopt && !grant.allow_adoption {
        return Some(format!(
            "namespace \"{ns}\" is not granted adoption of existing platform groups (GroupGrant {by} sets allowAdoption: false)"
        ));
    }
    None
}

/// The cap on temporary memberships for a Group the `covering` grants permit: the most generous
/// of theirs (`None`, no cap, when one of them has none). Grants are still never combined: every
/// covering grant covers all else, so the one with the longest cap covers every entry any of
/// them covers.
pub fn temporary_cap(covering: &[&CompiledGrant]) -> Option<TemporaryCap> {
    let mut widest: Option<TemporaryCap> = None;
    for grant in covering {
        let (text, max) = grant.temporary.max_duration.as_ref()?;
        if widest.as_ref().is_none_or(|w| *max > w.max) {
            widest = Some(TemporaryCap {
                max: *max,
                text: text.clone(),
                grant: grant.name.clone(),
            });
        }
    }
    widest
}

/// Adoption of `existing` by a Group the `covering` grants permit: allowed when one of them
/// allows adoption and covers what the platform group holds now (its policies and project roles),
/// so adopting can never hand a namespace more than it was granted.
pub fn check_adoption(
    covering: &[CompiledGrant],
    namespace: &str,
    existing: &PlatformGroup,
) -> Result<(), String> {
    let excess = |grant: &CompiledGrant| -> Option<String> {
        if !grant.allow_adoption {
            return Some(format!(
                "namespace \"{namespace}\" is not granted adoption of existing platform groups (GroupGrant {} sets allowAdoption: false)",
                grant.name
            ));
        }
        let beyond_policy = existing
            .assigned_policies
            .iter()
            .find(|p| !grant.policies.iter().any(|g| g.as_str() == p.as_str()));
        if let Some(policy) = beyond_policy {
            return Some(format!(
                "platform group \"{}\" holds tenant policy \"{policy}\", which namespace \"{namespace}\" is not granted (GroupGrant {} allows: {}); it is not adopted",
                existing.name,
                grant.name,
                allowed_policies(grant)
            ));
        }
        let beyond_role = existing
            .project_roles
            .iter()
            .find(|(project, role)| !role_allowed(grant, project, **role));
        beyond_role.map(|(project, role)| {
            format!(
                "platform group \"{}\" holds role {} in project \"{project}\", which namespace \"{namespace}\" is not granted (GroupGrant {} allows: {}); it is not adopted",
                existing.name,
                role.as_str(),
                grant.name,
                allowed_roles(grant)
            )
        })
    };
    // One grant that allows it is enough; otherwise say what each one lacks.
    let mut reasons = Vec::new();
    for grant in covering {
        match excess(grant) {
            None => return Ok(()),
            Some(reason) => reasons.push(reason),
        }
    }
    if reasons.is_empty() {
        return Err(format!(
            "namespace \"{namespace}\" is not granted any platform group: no GroupGrant selects it"
        ));
    }
    Err(reasons.join("; "))
}

fn role_allowed(grant: &CompiledGrant, project: &str, role: ProjectRole) -> bool {
    grant
        .project_roles
        .iter()
        .any(|(pattern, max)| pattern.is_match(project) && strength(role) <= strength(*max))
}

/// "default, prod", or "none".
pub fn allowed_connections(grant: &CompiledGrant) -> String {
    if grant.connections.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<&str> = grant.connections.iter().map(String::as_str).collect();
    names.join(", ")
}

/// "Data, Developer", or "none".
pub fn allowed_policies(grant: &CompiledGrant) -> String {
    if grant.policies.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<&str> = grant.policies.iter().map(|p| p.as_str()).collect();
    names.join(", ")
}

/// "Viewer in ^analytics$, Admin in ^team-a-", or "none".
pub fn allowed_roles(grant: &CompiledGrant) -> String {
    if grant.project_roles.is_empty() {
        return "none".to_owned();
    }
    let each: Vec<String> = grant
        .project_roles
        .iter()
        .map(|(pattern, max)| format!("{} in {}", max.as_str(), pattern.text))
        .collect();
    each.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{GroupGrant, GroupGrantSpec, TemporaryMembersGrant};
    use crate::tenancy::compile;
    use jiff::SignedDuration;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn grant(name: &str, temporary: Option<TemporaryMembersGrant>) -> CompiledGrant {
        let spec = GroupGrantSpec {
            namespace_selector: LabelSelector::default(),
            connections: None,
            group_name_pattern: None,
            tenant_policies: Vec::new(),
            project_roles: Vec::new(),
            member_pattern: Some("^[a-z]+$".into()),
            allow_adoption: false,
            temporary_members: temporary,
        };
        compile(&GroupGrant::new(name, spec)).unwrap()
    }

    fn rules(max: Option<&str>, required: bool) -> Option<TemporaryMembersGrant> {
        Some(TemporaryMembersGrant {
            max_duration: max.map(str::to_owned),
            required,
        })
    }

    fn request(members: &[&str], temporary: &[&str]) -> Request {
        Request {
            namespace: "ops".into(),
            connection: "default".into(),
            group_name: "prod-admins".into(),
            policies: Vec::new(),
            project_roles: Vec::new(),
            members: members.iter().map(|m| m.to_string()).collect(),
            temporary_members: temporary.iter().map(|m| m.to_string()).collect(),
            adopt: false,
        }
    }

    #[test]
    fn a_grant_that_requires_temporary_members_refuses_permanent_ones() {
        let strict = grant("no-standing-access", rules(Some("8h"), true));
        assert_eq!(
            violation(&strict, &request(&["alice"], &["bob"])).as_deref(),
            Some(
                "namespace \"ops\" is not granted permanent member \"alice\" (GroupGrant \
                 no-standing-access allows temporary members only: list it in \
                 spec.temporaryMembers with an expiry)"
            )
        );
        assert_eq!(violation(&strict, &request(&[], &["bob"])), None);
        let relaxed = grant("relaxed", rules(Some("8h"), false));
        assert_eq!(violation(&relaxed, &request(&["alice"], &["bob"])), None);
    }

    #[test]
    fn the_member_pattern_covers_temporary_members() {
        let g = grant("g", None);
        let refused = violation(&g, &request(&["alice"], &["Bob9"])).unwrap();
        assert!(
            refused.contains("is not granted member \"Bob9\""),
            "{refused}"
        );
    }

    #[test]
    fn the_cap_is_the_most_generous_of_the_covering_grants() {
        let short = grant("short", rules(Some("1h"), false));
        let long = grant("long", rules(Some("90m"), true));
        let cap = temporary_cap(&[&short, &long]).unwrap();
        assert_eq!(
            (cap.max, cap.text.as_str(), cap.grant.as_str()),
            (SignedDuration::from_mins(90), "90m", "long")
        );
        let unbounded = grant("unbounded", None);
        assert_eq!(temporary_cap(&[&short, &unbounded]), None);
        let required_only = grant("required-only", rules(None, true));
        assert_eq!(temporary_cap(&[&required_only]), None);
    }

    #[test]
    fn a_grant_whose_cap_cannot_be_read_grants_nothing() {
        for bad in ["1d", "0s", "-1h", "8"] {
            let spec = GroupGrantSpec {
                namespace_selector: LabelSelector::default(),
                connections: None,
                group_name_pattern: None,
                tenant_policies: Vec::new(),
                project_roles: Vec::new(),
                member_pattern: None,
                allow_adoption: false,
                temporary_members: rules(Some(bad), false),
            };
            let error = compile(&GroupGrant::new("bad", spec)).unwrap_err();
            assert!(error.why.contains("maxDuration"), "{bad}: {error}");
        }
    }
}
