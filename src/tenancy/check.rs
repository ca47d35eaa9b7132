//! The decision for one Group: which grants cover all of it, or why none does. The messages are
//! the ones admission gives (see `admission`), word for word.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::grant::{CompiledGrant, strength};
use super::selector::selects;
use crate::crd::{Group, ProjectRole, TenantPolicy};
use crate::plan::PlatformGroup;

/// What a Group asks of the platform, as the grants see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub namespace: String,
    /// The PlatformConnection the Group names (`default` when it names none).
    pub connection: String,
    pub group_name: String,
    pub policies: Vec<TenantPolicy>,
    pub project_roles: Vec<(String, ProjectRole)>,
    pub members: Vec<String>,
    pub adopt: bool,
}

impl Request {
    pub fn of(group: &Group) -> Self {
        let spec = &group.spec;
        Request {
            namespace: group.namespace().unwrap_or_default(),
            connection: group.connection_name().to_owned(),
            group_name: group.effective_group_name(),
            policies: spec.assigned_policies.clone().unwrap_or_default(),
            project_roles: spec
                .project_roles
                .iter()
                .map(|b| (b.project.clone(), b.role))
                .collect(),
            members: spec.members.clone(),
            adopt: spec.adopt_existing,
        }
    }
}

/// The outcome for one Group.
#[derive(Clone, Debug)]
pub enum Decision<'g> {
    /// These grants (at least one) each cover the whole Group.
    Permitted(Vec<&'g CompiledGrant>),
    /// No grant covers it; the sentence says what is not granted.
    NotGranted(String),
}

/// Decides whether one grant that selects the namespace (`labels`) covers all of `request`.
pub fn check<'g>(
    grants: &'g [CompiledGrant],
    labels: &BTreeMap<String, String>,
    request: &Request,
) -> Decision<'g> {
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
        return Decision::Permitted(covering);
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
/// The order (connection, name, policies, project roles, members, adoption) is admission's too.
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
        .find(|p| !grant.policies.contains(p))
    {
        return Some(format!(
            "namespace \"{ns}\" is not granted tenant policy \"{}\" (GroupGrant {by} allows: {})",
            policy.as_str(),
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
        && let Some(member) = request.members.iter().find(|m| !pattern.is_match(m))
    {
        return Some(format!(
            "namespace \"{ns}\" is not granted member \"{member}\" (GroupGrant {by} allows members matching {})",
            pattern.text
        ));
    }
    if request.adopt && !grant.allow_adoption {
        return Some(format!(
            "namespace \"{ns}\" is not granted adoption of existing platform groups (GroupGrant {by} sets allowAdoption: false)"
        ));
    }
    None
}

/// Adoption of `existing` by a Group the `covering` grants permit: allowed when one of them
/// allows adoption and covers what the platform group holds now (its policies and project roles),
/// so adopting can never hand a namespace more than it was granted.
pub fn check_adoption(
    covering: &[&CompiledGrant],
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
