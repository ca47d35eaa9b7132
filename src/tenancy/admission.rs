//! The grants as a ValidatingAdmissionPolicy, so `kubectl apply` of a Group no grant permits is
//! refused with the sentence the reconcile would report.
//!
//! Shape: the grants enter the policy as one CEL list literal (their data, every string an
//! escaped literal), and the rules are written once over that list: a Group is admitted when
//! some grant selects its namespace and covers all of it. The operator rewrites the policy
//! whenever grants change.
//!
//! Why not a `paramKind`: a policy is evaluated once per parameter object and every evaluation
//! must pass, which would combine grants; "one grant covers all of it" needs them in one
//! expression. Why not `spec.variables`: kube-apiserver 1.33 compiles policies with variables
//! using a type map shared between compilers and can crash with "concurrent map read and map
//! write" when such a policy is recompiled while requests are evaluated
//! (kubernetes/kubernetes#135757; seen here on v1.33.13 while grants changed under load). Nor
//! `cel.bind`, which 1.33's admission environment does not offer.
//!
//! Limits: an expression may hold 100,000 characters; a grant like the README's example costs
//! about 320 of them, so about 300 such grants fit (measured: see the capacity test).
//!
//! What is checked: creates, and updates that change the spec (the operator's own status and
//! finalizer writes pass, and so does any change to a resource being deleted, so that
//! `deletionPolicy: Orphan` always remains a way out).

use k8s_openapi::api::admissionregistration::v1::{
    MatchCondition, MatchResources, NamedRuleWithOperations, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec,
    ValidatingAdmissionPolicySpec, Validation,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::check::{allowed_policies, allowed_roles};
use super::grant::{CompiledGrant, strength};

/// Name of the policy and of its binding.
pub const POLICY_NAME: &str = "igz-operator-group-grants";

/// Longest CEL expression the API server compiles, in characters.
pub const MAX_EXPRESSION: usize = 100_000;

/// The policy enforcing `grants` (sorted by name for a stable rendering).
pub fn policy(grants: &[CompiledGrant]) -> ValidatingAdmissionPolicy {
    let mut grants: Vec<&CompiledGrant> = grants.iter().collect();
    grants.sort_by(|a, b| a.name.cmp(&b.name));
    let data = grant_list(&grants);
    let no_grant = format!(
        "{} + {NS} + {}",
        cel_string("namespace \""),
        cel_string("\" is not granted any platform group: no GroupGrant selects it")
    );
    ValidatingAdmissionPolicy {
        metadata: ours(POLICY_NAME),
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".to_owned()),
            match_constraints: Some(MatchResources {
                resource_rules: Some(vec![NamedRuleWithOperations {
                    api_groups: Some(vec!["igz-operator.io".to_owned()]),
                    api_versions: Some(vec!["*".to_owned()]),
                    operations: Some(vec!["CREATE".to_owned(), "UPDATE".to_owned()]),
                    resources: Some(vec!["groups".to_owned()]),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            match_conditions: Some(vec![
                MatchCondition {
                    name: "spec-is-set-or-changed".to_owned(),
                    expression: "request.operation == 'CREATE' || object.spec != oldObject.spec"
                        .to_owned(),
                },
                MatchCondition {
                    name: "not-being-deleted".to_owned(),
                    expression: "!has(object.metadata.deletionTimestamp)".to_owned(),
                },
            ]),
            validations: Some(vec![Validation {
                expression: format!(
                    "{data}.exists(g, {} && {} == '')",
                    expand(SELECTS),
                    expand(WHY)
                ),
                // The reasons of the grants that select the namespace, joined; none: no grant
                // selects it. (`map` over a one-element list names the joined text, as CEL has
                // no `let` here.)
                message_expression: Some(format!(
                    "[{data}.filter(g, {}).map(g, {}).join('; ')].map(s, s == '' ? {no_grant} : s)[0]",
                    expand(SELECTS),
                    expand(WHY),
                )),
                reason: Some("Forbidden".to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// Whether `grants` fit in the policy's expressions.
pub fn fits(policy: &ValidatingAdmissionPolicy) -> bool {
    let validations = policy
        .spec
        .iter()
        .flat_map(|s| s.validations.iter().flatten());
    validations.into_iter().all(|v| {
        v.expression.chars().count() <= MAX_EXPRESSION
            && v.message_expression
                .as_ref()
                .is_none_or(|m| m.chars().count() <= MAX_EXPRESSION)
    })
}

/// The binding that makes the policy deny (cluster-wide).
pub fn binding() -> ValidatingAdmissionPolicyBinding {
    deny_binding(POLICY_NAME)
}

/// The binding that makes the operator's policy `name` deny, cluster-wide (every policy the
/// operator keeps is bound this way, under its own name).
pub fn deny_binding(name: &str) -> ValidatingAdmissionPolicyBinding {
    ValidatingAdmissionPolicyBinding {
        metadata: ours(name),
        spec: Some(ValidatingAdmissionPolicyBindingSpec {
            policy_name: Some(name.to_owned()),
            validation_actions: Some(vec!["Deny".to_owned()]),
            ..Default::default()
        }),
    }
}

/// The metadata of an admission object the operator keeps: its name, and who manages it.
pub fn ours(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some(
            [(
                "app.kubernetes.io/managed-by".to_owned(),
                "igz-operator".to_owned(),
            )]
            .into(),
        ),
        ..Default::default()
    }
}

// What the rules read from the request.
const NS: &str = "namespaceObject.metadata.name";
const LABELS: &str =
    "(has(namespaceObject.metadata.labels) ? namespaceObject.metadata.labels : {})";
const CONNECTION: &str = "(has(object.spec.connection) ? object.spec.connection : 'default')";
const GROUP_NAME: &str =
    "(has(object.spec.groupName) ? object.spec.groupName : object.metadata.name)";
const POLICIES: &str = "(has(object.spec.assignedPolicies) ? object.spec.assignedPolicies : [])";
const ROLES: &str = "(has(object.spec.projectRoles) ? object.spec.projectRoles : [])";
const MEMBERS: &str = "(has(object.spec.members) ? object.spec.members : [])";
const TEMPORARY: &str = "(has(object.spec.temporaryMembers) ? object.spec.temporaryMembers : [])";
/// How far beyond the Group's creation a temporary entry reaches (see `WHY`). On a create the
/// API server has just set creationTimestamp: the only clock admission sees.
const REACH: &str = "(timestamp(string(t.expires)) - \
    timestamp(string(object.metadata.creationTimestamp)))";
const ADOPT: &str = "(has(object.spec.adoptExisting) && object.spec.adoptExisting)";
const RANK: &str = "{'Viewer': 1, 'Editor': 2, 'Admin': 3}";

/// Whether grant `g` selects the namespace (a template: see `expand`): every matchLabels pair (`g.ml`) and every
/// matchExpressions requirement (`g.me`: key `k`, operator `o`, values `v`) holds.
const SELECTS: &str = "(g.ml.all(k, k in $LABELS && $LABELS[k] == g.ml[k]) && g.me.all(e, \
    e.o == 'In' ? (e.k in $LABELS && $LABELS[e.k] in e.v) : \
    e.o == 'NotIn' ? (!(e.k in $LABELS) || !($LABELS[e.k] in e.v)) : \
    e.o == 'Exists' ? (e.k in $LABELS) : !(e.k in $LABELS)))";

/// The first thing grant `g` does not allow, as the sentence `check::violation` gives, or ''.
/// `g.n` name, `g.c` connections (their text is joined here, as `check::allowed_connections`
/// joins them: the list is sorted, as the grant's set is), `g.np` group name pattern ('' = any),
/// `g.p` policies, `g.pt` their text, `g.r` role grants (pattern `p`, strength `m`), `g.rt` their
/// text, `g.mp` member pattern ('' = any), `g.a` allowAdoption, `g.t` temporaryMembers: [] when
/// the grant sets none (most grants, so they pay 14 characters), else [required, maxDuration as
/// CEL reads a duration ('' = no cap), maxDuration as the grant writes it].
///
/// Temporary members: `required` (no permanent member) is judged like any field. The cap needs a
/// clock, which CEL lacks; on a create the object's creationTimestamp is the request's time, so
/// an entry reaching further than the cap from it is refused (last, so that any refusal the
/// reconcile's `check` gives comes first, word for word). An update is not judged for the cap:
/// only the reconcile can tell how long an entry added or extended later would last (counted
/// from when the operator first grants it); it refuses such an entry (NotGranted) with the cap
/// in its message.
const WHY: &str = "(\
    !($CONNECTION in g.c) ? 'namespace \"' + $NS + '\" is not granted connection \"' + \
    $CONNECTION + '\" (GroupGrant ' + g.n + ' allows: ' + \
    (size(g.c) == 0 ? 'none' : g.c.join(', ')) + ')' : \
    !(g.np == '' || $GROUP_NAME.matches(g.np)) ? 'namespace \"' + $NS + '\" is not granted \
    platform group name \"' + $GROUP_NAME + '\" (GroupGrant ' + g.n + ' allows names matching ' + \
    g.np + ')' : \
    $POLICIES.exists(p, !(p in g.p)) ? 'namespace \"' + $NS + '\" is not granted tenant policy \"' + \
    $POLICIES.filter(p, !(p in g.p))[0] + '\" (GroupGrant ' + g.n + ' allows: ' + g.pt + ')' : \
    $ROLES.exists(r, !g.r.exists(x, r.project.matches(x.p) && $RANK[r.role] <= x.m)) ? \
    $ROLES.filter(r, !g.r.exists(x, r.project.matches(x.p) && $RANK[r.role] <= x.m)).map(bad, \
    'namespace \"' + $NS + '\" is not granted role ' + bad.role + ' in project \"' + \
    bad.project + '\" (GroupGrant ' + g.n + ' allows: ' + g.rt + ')')[0] : \
    (g.mp != '' && ($MEMBERS + $TEMPORARY.map(t, t.name)).exists(m, !m.matches(g.mp))) ? \
    'namespace \"' + $NS + '\" is not granted member \"' + ($MEMBERS + \
    $TEMPORARY.map(t, t.name)).filter(m, !m.matches(g.mp))[0] + '\" (GroupGrant ' + g.n + \
    ' allows members matching ' + g.mp + ')' : \
    (size(g.t) > 0 && g.t[0] && size($MEMBERS) > 0) ? 'namespace \"' + $NS + '\" is not granted permanent member \"' + \
    $MEMBERS[0] + '\" (GroupGrant ' + g.n + ' allows temporary members only: list it in \
    spec.temporaryMembers with an expiry)' : \
    ($ADOPT && !g.a) ? 'namespace \"' + $NS + '\" is not granted adoption of existing platform \
    groups (GroupGrant ' + g.n + ' sets allowAdoption: false)' : \
    (size(g.t) > 0 && g.t[1] != '' && request.operation == 'CREATE' && \
    has(object.metadata.creationTimestamp) && $TEMPORARY.exists(t, $REACH > duration(g.t[1]))) ? \
    $TEMPORARY.filter(t, $REACH > duration(g.t[1])).map(t, 'namespace \"' + $NS + '\" is not \
    granted temporary member \"' + t.name + '\" until ' + string(t.expires) + ': it would last \
    longer than maxDuration ' + g.t[2] + ' of GroupGrant ' + g.n)[0] : '')";

/// A rule template with what it reads from the request filled in (`$NS`, `$LABELS`, ...).
fn expand(template: &str) -> String {
    [
        ("$CONNECTION", CONNECTION),
        ("$GROUP_NAME", GROUP_NAME),
        ("$POLICIES", POLICIES),
        ("$MEMBERS", MEMBERS),
        ("$TEMPORARY", TEMPORARY),
        ("$REACH", REACH),
        ("$LABELS", LABELS),
        ("$ROLES", ROLES),
        ("$ADOPT", ADOPT),
        ("$RANK", RANK),
        ("$NS", NS),
    ]
    .iter()
    .fold(template.to_owned(), |text, (token, value)| {
        text.replace(token, value)
    })
}

/// The grants as one CEL list of maps (see `SELECTS` and `WHY` for the keys). A leading
/// placeholder that selects nothing keeps the list typed when there is no grant.
fn grant_list(grants: &[&CompiledGrant]) -> String {
    let mut items = vec![
        "{'n': dyn(''), 'c': dyn(['']), 'ml': dyn({'': ''}), 'me': dyn([{'k': dyn(''), 'o': dyn('In'), 'v': dyn([''])}]), \
         'np': dyn(''), 'p': dyn(['']), 'pt': dyn(''), 'r': dyn([{'p': dyn(''), 'm': dyn(0)}]), \
         'rt': dyn(''), 'mp': dyn(''), 'a': dyn(false), 't': dyn([dyn(false), dyn(''), dyn('')])}"
            .to_owned(),
    ];
    for grant in grants {
        let match_labels: Vec<String> = grant
            .selector
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| format!("{}: {}", cel_string(k), cel_string(v)))
            .collect();
        let match_expressions: Vec<String> = grant
            .selector
            .match_expressions
            .iter()
            .flatten()
            .map(|e| {
                format!(
                    "{{'k': dyn({}), 'o': dyn({}), 'v': dyn({})}}",
                    cel_string(&e.key),
                    cel_string(&e.operator),
                    cel_list(e.values.as_deref().unwrap_or_default())
                )
            })
            .collect();
        let policies: Vec<String> = grant
            .policies
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        let roles: Vec<String> = grant
            .project_roles
            .iter()
            .map(|(pattern, max)| {
                format!(
                    "{{'p': dyn({}), 'm': dyn({})}}",
                    cel_string(&pattern.text),
                    strength(*max)
                )
            })
            .collect();
        let connections: Vec<String> = grant.connections.iter().cloned().collect();
        let pattern = |p: &Option<super::grant::Pattern>| {
            cel_string(p.as_ref().map(|p| p.text.as_str()).unwrap_or_default())
        };
        // The cap as CEL reads a duration (whole seconds and nanoseconds: exact, whatever Go
        // syntax the grant used), and as written.
        let temporary = if grant.temporary == Default::default() {
            String::new()
        } else {
            let (cel, text) = grant
                .temporary
                .max_duration
                .as_ref()
                .map(|(text, value)| (cel_duration(*value), text.as_str()))
                .unwrap_or_default();
            format!(
                "dyn({}), dyn({}), dyn({})",
                grant.temporary.required,
                cel_string(&cel),
                cel_string(text)
            )
        };
        // Every value in `dyn(...)`: a CEL map literal's values must otherwise share one type.
        items.push(format!(
            "{{'n': dyn({}), 'c': dyn({}), 'ml': dyn({{{}}}), 'me': dyn([{}]), \
             'np': dyn({}), 'p': dyn({}), 'pt': dyn({}), 'r': dyn([{}]), 'rt': dyn({}), \
             'mp': dyn({}), 'a': dyn({}), 't': dyn([{}])}}",
            cel_string(&grant.name),
            cel_list(&connections),
            match_labels.join(", "),
            match_expressions.join(", "),
            pattern(&grant.group_name),
            cel_list(&policies),
            cel_string(&allowed_policies(grant)),
            roles.join(", "),
            cel_string(&allowed_roles(grant)),
            pattern(&grant.member),
            grant.allow_adoption,
            temporary,
        ));
    }
    // The placeholder is dropped before use: it exists only for its types.
    format!("[{}].filter(g, g.n != '')", items.join(", "))
}

/// A CEL string literal for any text: quotes and backslashes escaped, every character outside
/// printable ASCII as `\uXXXX` (or `\UXXXXXXXX`), so grant data can never end the literal.
pub fn cel_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A duration as CEL's `duration()` reads it: "28800s", "1.5s".
fn cel_duration(value: jiff::SignedDuration) -> String {
    match value.subsec_nanos() {
        0 => format!("{}s", value.as_secs()),
        nanos => format!("{}.{:09}s", value.as_secs(), nanos.unsigned_abs()),
    }
}

fn cel_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| cel_string(s)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cel_strings_escape_whatever_a_grant_holds() {
        assert_eq!(cel_string("plain"), "\"plain\"");
        assert_eq!(cel_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(cel_string("new\nline"), "\"new\\u000aline\"");
        assert_eq!(cel_string("é😀"), "\"\\u00e9\\U0001f600\"");
        assert_eq!(
            cel_string("' + 'x"),
            "\"' + 'x\"",
            "single quotes cannot end it"
        );
    }

    #[test]
    fn no_grant_means_a_policy_that_refuses_everything() {
        let policy = policy(&[]);
        assert!(fits(&policy));
        let spec = policy.spec.unwrap();
        let expression = &spec.validations.as_ref().unwrap()[0].expression;
        assert!(
            expression.starts_with("[{'n': dyn('')")
                && expression.contains("].filter(g, g.n != '')"),
            "only the placeholder, which is filtered out: {expression}"
        );
        assert!(!expression.contains('$'), "every template token expanded");
        assert_eq!(spec.variables, None, "no variables: see the module comment");
        assert_eq!(spec.failure_policy.as_deref(), Some("Fail"));
        assert_eq!(
            binding().spec.unwrap().validation_actions.unwrap(),
            ["Deny"]
        );
    }
}

#[cfg(test)]
mod capacity {
    use super::*;
    use crate::crd::{GroupGrant, GroupGrantSpec, ProjectRole, ProjectRoleGrant, TenantPolicy};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    /// A grant like the README's example (a label selector, patterns, one policy, one role).
    fn team(i: usize) -> CompiledGrant {
        let spec = GroupGrantSpec {
            namespace_selector: LabelSelector {
                match_labels: Some([("tenant".to_owned(), format!("team-{i}"))].into()),
                ..Default::default()
            },
            connections: None,
            group_name_pattern: Some(format!("^team-{i}-.*$")),
            tenant_policies: vec![TenantPolicy::Data],
            project_roles: vec![ProjectRoleGrant {
                project_pattern: format!("^team-{i}-.*$"),
                max_role: ProjectRole::Editor,
            }],
            member_pattern: Some("^[a-z]+$".into()),
            allow_adoption: false,
            temporary_members: None,
        };
        crate::tenancy::compile(&GroupGrant::new(&format!("team-{i}"), spec)).unwrap()
    }

    #[test]
    fn three_hundred_team_grants_fit_in_one_policy() {
        // Measured: see the assertion (README: the capacity; 357 before connections and temporary members).
        let grants: Vec<CompiledGrant> = (0..300).map(team).collect();
        assert!(fits(&policy(&grants)), "the documented capacity");
        let too_many: Vec<CompiledGrant> = (0..400).map(team).collect();
        assert!(
            !fits(&policy(&too_many)),
            "fits() does refuse an oversized policy"
        );
    }
}
