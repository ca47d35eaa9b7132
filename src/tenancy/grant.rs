//! A GroupGrant compiled for checking: regular expressions parsed once, policies as a set.

use std::collections::BTreeSet;

use jiff::SignedDuration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use regex::Regex;

use crate::crd::{DEFAULT_CONNECTION, GroupGrant, ProjectRole, TenantPolicy};

/// A grant ready to check Groups against.
#[derive(Clone, Debug)]
pub struct CompiledGrant {
    pub name: String,
    pub selector: LabelSelector,
    /// PlatformConnections Groups may name (`default` alone when the grant lists none).
    pub connections: BTreeSet<String>,
    pub group_name: Option<Pattern>,
    pub policies: BTreeSet<TenantPolicy>,
    pub project_roles: Vec<(Pattern, ProjectRole)>,
    pub member: Option<Pattern>,
    pub allow_adoption: bool,
    /// spec.temporaryMembers.
    pub temporary: TemporaryRules,
}

/// A grant's rules for temporary members (GroupGrant spec.temporaryMembers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemporaryRules {
    /// The cap: its text as the grant writes it ("8h") and its value. `None`: no cap.
    pub max_duration: Option<(String, SignedDuration)>,
    /// No permanent members: spec.members must be empty.
    pub required: bool,
}

/// A regular expression with the text it came from (for messages and the admission policy).
#[derive(Clone, Debug)]
pub struct Pattern {
    pub text: String,
    regex: Regex,
}

impl Pattern {
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

/// A grant the operator cannot use (it grants nothing). Admission refuses these; one can only
/// exist if admission was bypassed or the regex dialects differ (RE2 at admission, Rust's regex
/// crate here: both are linear-time, RE2-like syntaxes).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("GroupGrant {name} is invalid and grants nothing: {why}")]
pub struct InvalidGrant {
    pub name: String,
    pub why: String,
}

/// Compiles a grant; its patterns must be valid regular expressions and its selector readable.
pub fn compile(grant: &GroupGrant) -> Result<CompiledGrant, InvalidGrant> {
    let name = grant.name_any();
    let invalid = |why: String| InvalidGrant {
        name: name.clone(),
        why,
    };
    let pattern = |field: &str, text: &str| {
        Regex::new(text)
            .map(|regex| Pattern {
                text: text.to_owned(),
                regex,
            })
            .map_err(|e| invalid(format!("{field} is not a valid regular expression: {e}")))
    };
    let spec = &grant.spec;
    for requirement in spec.namespace_selector.match_expressions.iter().flatten() {
        let values = requirement.values.as_deref().unwrap_or_default();
        let readable = match requirement.operator.as_str() {
            "In" | "NotIn" => !values.is_empty(),
            "Exists" | "DoesNotExist" => values.is_empty(),
            _ => false,
        };
        if !readable {
            return Err(invalid(format!(
                "namespaceSelector requirement on {:?} with operator {:?} cannot be evaluated",
                requirement.key, requirement.operator
            )));
        }
    }
    let temporary = spec.temporary_members.clone().unwrap_or_default();
    let max_duration = match temporary.max_duration {
        None => None,
        Some(text) => match super::duration::parse(&text) {
            Some(value) if value.is_positive() => Some((text, value)),
            _ => {
                return Err(invalid(format!(
                    "temporaryMembers.maxDuration {text:?} is not a positive duration such as \"8h\""
                )));
            }
        },
    };
    Ok(CompiledGrant {
        connections: match &spec.connections {
            Some(listed) => listed.iter().cloned().collect(),
            None => [DEFAULT_CONNECTION.to_owned()].into(),
        },
        temporary: TemporaryRules {
            max_duration,
            required: temporary.required,
        },
        group_name: spec
            .group_name_pattern
            .as_deref()
            .map(|p| pattern("groupNamePattern", p))
            .transpose()?,
        policies: spec.tenant_policies.iter().copied().collect(),
        project_roles: spec
            .project_roles
            .iter()
            .map(|r| Ok((pattern("projectPattern", &r.project_pattern)?, r.max_role)))
            .collect::<Result<_, InvalidGrant>>()?,
        member: spec
            .member_pattern
            .as_deref()
            .map(|p| pattern("memberPattern", p))
            .transpose()?,
        allow_adoption: spec.allow_adoption,
        selector: spec.namespace_selector.clone(),
        name,
    })
}

/// Viewer < Editor < Admin.
pub fn strength(role: ProjectRole) -> u8 {
    match role {
        ProjectRole::Viewer => 1,
        ProjectRole::Editor => 2,
        ProjectRole::Admin => 3,
    }
}
