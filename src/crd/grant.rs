//! The `GroupGrant` resource (`groupgrants.igz-operator.io/v1alpha1`, cluster-scoped): what Group
//! resources in the namespaces it selects may ask the operator to do on the platform. Only cluster
//! admins write grants; a Group is permitted only when one grant covers all of it.
//!
//! Doc comments on fields become the CRD's descriptions (`kubectl explain groupgrants.spec`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::{ProjectRole, TenantPolicy};

/// A CEL rule that fails to evaluate (and so rejects the object) when `self` is not a valid RE2
/// regular expression: `matches` compiles its argument, and comparing the result with itself
/// keeps CEL's `||` from absorbing the error.
const VALID_REGEX: &str = "''.matches(self) == ''.matches(self)";

/// Lets Group resources in the namespaces it selects manage platform groups within its bounds.
///
/// A Group is permitted only when one GroupGrant that selects its namespace covers all of it:
/// its platform group name, every tenant policy, every project role, every member, and adoption.
/// Grants are never combined, and a namespace no grant selects may not manage any platform group.
/// The operator enforces this at admission (kubectl apply is refused with the reason) and again at
/// every reconcile (a Group that is not permitted changes nothing on the platform).
// kube's printcolumn(...) entries repeat the same keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "igz-operator.io",
    version = "v1alpha1",
    kind = "GroupGrant",
    plural = "groupgrants",
    singular = "groupgrant",
    shortname = "igzgrant",
    category = "iguazio",
    doc = "Lets Group resources in the namespaces it selects manage platform groups within its bounds.",
    printcolumn(
        name = "Names",
        type_ = "string",
        json_path = ".spec.groupNamePattern",
        description = "Platform group names allowed (empty: any)"
    ),
    printcolumn(
        name = "Policies",
        type_ = "string",
        json_path = ".spec.tenantPolicies",
        description = "Tenant policies allowed"
    ),
    printcolumn(
        name = "Adoption",
        type_ = "boolean",
        json_path = ".spec.allowAdoption"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct GroupGrantSpec {
    /// Namespaces whose Group resources this grant covers, by their labels. Required; {} selects
    /// every namespace. Namespace labels are set by cluster admins, not by namespace users.
    #[schemars(schema_with = "namespace_selector_schema")]
    pub namespace_selector: LabelSelector,

    /// PlatformConnections (by name) Groups may name in spec.connection. Omitted: only the
    /// connection named default; empty: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        extend("x-kubernetes-list-type" = "set"),
        length(max = 100),
        inner(length(min = 1, max = 253), regex(pattern = super::connection::CONNECTION_NAME_PATTERN))
    )]
    pub connections: Option<Vec<String>>,

    /// Regular expression (RE2) every platform group name must match, e.g. "^team-a-.*$". Anchor
    /// it: an unanchored pattern matches anywhere in the name. Omitted: any name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), extend("x-kubernetes-validations" = [{
        "rule": VALID_REGEX, "message": "groupNamePattern must be a valid RE2 regular expression"
    }]))]
    pub group_name_pattern: Option<String>,

    /// Tenant policies Groups may assign (spec.assignedPolicies). Omitted or empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub tenant_policies: Vec<TenantPolicy>,

    /// Project roles Groups may hold: each entry allows roles up to maxRole (Viewer < Editor <
    /// Admin) in the projects whose names match projectPattern. Omitted or empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub project_roles: Vec<ProjectRoleGrant>,

    /// Regular expression (RE2) every member's username must match. Omitted: any user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), extend("x-kubernetes-validations" = [{
        "rule": VALID_REGEX, "message": "memberPattern must be a valid RE2 regular expression"
    }]))]
    pub member_pattern: Option<String>,

    /// Whether Groups may set adoptExisting to take over a platform group that already exists.
    /// Even then, a platform group whose current policies or project roles exceed this grant is
    /// never adopted. Default false.
    #[serde(default)]
    pub allow_adoption: bool,

    /// Rules for temporary members (Group spec.temporaryMembers): how long a temporary
    /// membership may last, and whether Groups may have permanent members at all. Omitted: no
    /// cap, permanent members allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_members: Option<TemporaryMembersGrant>,
}

/// See GroupGrantSpec::temporary_members.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryMembersGrant {
    /// The longest a temporary membership may last, counted from when the operator first granted
    /// it, as a duration such as "8h", "90m" or "1h30m" (units h, m, s, ms, us, ns). An entry
    /// asking for more is refused (its state is NotGranted and the Group reports NotGranted with
    /// this cap). Omitted: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), extend("x-kubernetes-validations" = [{
        "rule": "duration(self) > duration('0s')",
        "message": "maxDuration must be a positive duration such as \"8h\", \"90m\" or \"1h30m\" (units h, m, s, ms, us, ns)"
    }]))]
    pub max_duration: Option<String>,

    /// true: the Groups this grant covers may have no permanent members (spec.members must be
    /// empty): every member is temporary ("no standing access"). Default false.
    #[serde(default)]
    pub required: bool,
}

/// Project roles a grant allows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRoleGrant {
    /// Regular expression (RE2) the project name must match, e.g. "^analytics$".
    #[schemars(length(min = 1, max = 1024), extend("x-kubernetes-validations" = [{
        "rule": VALID_REGEX, "message": "projectPattern must be a valid RE2 regular expression"
    }]))]
    pub project_pattern: String,
    /// The strongest role allowed there: Viewer < Editor < Admin.
    pub max_role: ProjectRole,
}

/// LabelSelector's schema, with the rules the API server applies to selectors elsewhere, so a
/// selector that could never match as written is refused at admission.
fn namespace_selector_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = generator.subschema_for::<LabelSelector>();
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "x-kubernetes-validations".into(),
            serde_json::json!([{
                "rule": "!has(self.matchExpressions) || self.matchExpressions.all(e, \
                         e.operator in ['In', 'NotIn'] ? (has(e.values) && size(e.values) > 0) : \
                         (e.operator in ['Exists', 'DoesNotExist'] && (!has(e.values) || size(e.values) == 0)))",
                "message": "namespaceSelector.matchExpressions: operator must be In or NotIn with at least one value, or Exists or DoesNotExist without values"
            }]),
        );
    }
    schema
}
