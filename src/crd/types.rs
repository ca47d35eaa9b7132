//! The `Group` resource: spec, status and the enums they use.
//!
//! Doc comments on fields become the CRD's OpenAPI descriptions (`kubectl explain groups.spec`),
//! so they are written for the person applying the resource, not for Rust readers.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Pattern every platform group name must match: a letter or digit, then up to 62 letters,
/// digits, `_`, `.` or `-`. The platform maps groups to POSIX groups on its nodes, so names stay
/// in the portable subset (no spaces, slashes or quotes) and within 63 characters.
pub const GROUP_NAME_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$";
/// Longest accepted platform group name, in characters.
pub const GROUP_NAME_MAX_LEN: usize = 63;
/// Highest accepted gid: the largest value every POSIX system stores in a signed 32-bit gid_t.
pub const GID_MAX: i64 = 2_147_483_647;

/// Desired state of a user group on the Iguazio platform.
///
/// The operator creates the platform group (or adopts an existing one when `adoptExisting` is
/// true), keeps its attributes, members and project roles equal to this spec, reverts changes made
/// outside Kubernetes, and deletes the group when the resource is deleted (unless
/// `deletionPolicy` is `Orphan`).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "igz-operator.io",
    version = "v1alpha1",
    kind = "Group",
    plural = "groups",
    singular = "group",
    namespaced,
    shortname = "igzgroup",
    shortname = "igzg",
    category = "iguazio",
    status = "GroupStatus",
    doc = "A user group on the Iguazio platform, with its members and project roles, managed declaratively.",
    printcolumn(name = "GroupName", type_ = "string", json_path = ".status.groupName", description = "Name of the platform group"),
    printcolumn(name = "ID", type_ = "string", json_path = ".status.groupId", description = "Platform id of the group"),
    printcolumn(name = "Members", type_ = "integer", json_path = ".status.members", description = "Members applied on the platform"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].reason"),
    // A string, not a date: kubectl shows a date column as an age, and a time ahead as "<invalid>".
    printcolumn(name = "NextExpiry", type_ = "string", json_path = ".status.nextExpiry", description = "When the next temporary member's access ends (status.nextExpiry)"),
    printcolumn(name = "Policy", type_ = "string", json_path = ".spec.managementPolicy", description = "Full, or ObserveOnly (never writes to the platform)", priority = "1"),
    printcolumn(name = "Planned", type_ = "string", json_path = ".status.plannedChanges", description = "Changes Full management would make now", priority = "1"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    // Root-level rules: only here can CEL see metadata.name, which is the default groupName.
    validation = ::kube::core::Rule::new(
        "has(self.spec.groupName) || size(self.metadata.name) <= 63"
    ).message(
        "metadata.name is longer than 63 characters, too long for a platform group name: set spec.groupName"
    ).field_path(".spec.groupName"),
    validation = ::kube::core::Rule::new(
        "(has(self.spec.groupName) ? self.spec.groupName : self.metadata.name) == (has(oldSelf.spec.groupName) ? oldSelf.spec.groupName : oldSelf.metadata.name)"
    ).message(
        "spec.groupName is immutable (it defaults to metadata.name): it names the platform group this resource manages; to manage another group, create a new Group resource"
    ).field_path(".spec.groupName"),
    validation = ::kube::core::Rule::new(
        "!has(oldSelf.spec.gid) || (has(self.spec.gid) && self.spec.gid == oldSelf.spec.gid)"
    ).message(
        "spec.gid is immutable once set: restore the previous value (files on the platform are owned by that gid)"
    ).field_path(".spec.gid"),
    validation = ::kube::core::Rule::new(
        "(has(self.spec.connection) ? self.spec.connection : 'default') == (has(oldSelf.spec.connection) ? oldSelf.spec.connection : 'default')"
    ).message(
        "spec.connection is immutable (omitted means default): the platform group lives on that connection's platform; to manage a group on another platform, create a new Group resource"
    ).field_path(".spec.connection"),
)]
#[serde(rename_all = "camelCase")]
pub struct GroupSpec {
    /// Name of the PlatformConnection (cluster-scoped) whose platform holds this group. Omitted:
    /// the connection named default. The namespace's GroupGrant must allow it (its
    /// spec.connections). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = super::connection::CONNECTION_NAME_PATTERN))]
    pub connection: Option<String>,

    /// Name of the group on the platform. Defaults to metadata.name. Immutable once the resource
    /// exists. A letter or digit, then up to 62 letters, digits, '_', '.' or '-'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = GROUP_NAME_MAX_LEN), regex(pattern = GROUP_NAME_PATTERN))]
    pub group_name: Option<String>,

    /// Description of the group on the platform. When omitted the operator leaves the platform's
    /// description as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,

    /// POSIX group id of the group on the platform (1-2147483647). When omitted the platform
    /// assigns one. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = GID_MAX))]
    pub gid: Option<i64>,

    /// Tenant-management roles granted to the group's members. When omitted the operator leaves
    /// the platform's policies as they are, and creates the group with none (the vendor SDK would
    /// silently grant "Data" and "Application Admin"). When set, the platform's policies are kept
    /// equal to this list; an empty list removes them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub assigned_policies: Option<Vec<TenantPolicy>>,

    /// Usernames of the group's members (each user must exist on the platform; missing ones are
    /// reported in status.missingUsers and added once they appear). How members not listed here
    /// are treated depends on membersPolicy.
    #[serde(default)]
    #[schemars(
        extend("x-kubernetes-list-type" = "set"),
        length(max = 5000),
        inner(length(min = 1, max = 255))
    )]
    pub members: Vec<String>,

    /// Members whose access ends on its own: until `expires` the user is a member of the platform
    /// group like any listed member; at `expires` the operator removes it (by the operator's
    /// clock). A user also listed in members is a permanent member and expiry never removes it.
    /// An entry whose time has already passed is accepted and never grants access; changing
    /// `expires` takes effect at once. With membersPolicy Additive or ManagedOnly, expiry removes
    /// only a user this entry added (a user who was already a member stays). A GroupGrant may cap
    /// how long a temporary membership lasts (spec.temporaryMembers.maxDuration, counted from when
    /// the operator first granted it); each entry's state is in status.temporaryMembers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]),
        length(max = 1000)
    )]
    pub temporary_members: Vec<TemporaryMember>,

    /// How platform members that are not listed in members are treated: Authoritative (default)
    /// removes them, so the platform's membership equals the list; Additive never removes anyone;
    /// ManagedOnly removes only members this resource added itself (recorded in
    /// status.managedMembers).
    #[serde(default)]
    pub members_policy: MembersPolicy,

    /// Roles of the group in platform projects, at most one per project. The group's roles in
    /// projects not listed here are removed. Projects that do not exist are reported in
    /// status.projectRoles and applied once they appear.
    #[serde(default)]
    #[schemars(
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["project"]),
        length(max = 1000)
    )]
    pub project_roles: Vec<ProjectRoleBinding>,

    /// What happens on the platform when this resource is deleted: Delete (default) removes the
    /// group from its projects and deletes it; Orphan leaves the group untouched. Setting Orphan
    /// on a resource stuck in deletion (for example because the platform is unreachable) lets it
    /// go.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Take over a platform group with this name that already exists and was not created by this
    /// resource. When false (default) such a group is reported as AlreadyExists and left
    /// untouched.
    #[serde(default)]
    pub adopt_existing: bool,

    /// Full (default): the operator makes the platform group match this spec. ObserveOnly: it
    /// only reads the platform and reports in status.plannedChanges what Full would change; it
    /// never writes to the platform (no create, no drift correction, nothing on deletion).
    #[serde(default)]
    pub management_policy: ManagementPolicy,
}

/// RFC 3339 as Kubernetes writes times: a date, 'T', a time with seconds and an optional fraction
/// (at most nanoseconds), then 'Z' or an offset within a day. The API server's own date-time
/// check alone lets through text the operator cannot read (a lowercase 't', any character before
/// the fraction, an offset of +99:00, more than nine fraction digits, the last days of year 9999,
/// beyond the operator's time range): such an object would stop the operator from reading every
/// Group. Years end at 9899.
pub const RFC3339_PATTERN: &str = r"^([0-8][0-9]{3}|9[0-8][0-9]{2})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";

/// A member with an expiry (see spec.temporaryMembers).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryMember {
    /// Username of the member (the user must exist on the platform; until it does the entry is
    /// Pending).
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// When the membership ends, as an RFC 3339 time, e.g. "2026-05-04T18:00:00Z".
    #[schemars(regex(pattern = RFC3339_PATTERN))]
    pub expires: Time,
    /// Why the user is a member, in free text (e.g. "on call, INC-4211"); shown in Events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub reason: Option<String>,
}

/// See GroupSpec::management_policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    #[default]
    Full,
    ObserveOnly,
}

/// A role of the group in one platform project.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRoleBinding {
    /// Name of the platform project.
    #[schemars(length(min = 1, max = 253))]
    pub project: String,
    /// Role of the group in the project: Admin, Editor or Viewer.
    pub role: ProjectRole,
}

/// A role of the group in a project. The controller maps it to the client's role at its edge.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
pub enum ProjectRole {
    // Strongest first.
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
}

impl std::fmt::Display for ProjectRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// See GroupSpec::members_policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum MembersPolicy {
    #[default]
    Authoritative,
    Additive,
    ManagedOnly,
}

/// See GroupSpec::deletion_policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Orphan,
}

/// Generates the tenant-management role enum from one table so the Rust name, the wire name and
/// the schema's enum values cannot disagree.
macro_rules! tenant_policies {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// A tenant-management role the platform accepts in a group's assigned_policies.
        #[derive(
            Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            JsonSchema,
        )]
        pub enum TenantPolicy {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl TenantPolicy {
            /// Every policy the platform knows.
            pub const ALL: &'static [TenantPolicy] = &[$(TenantPolicy::$variant),+];

            /// The policy's name on the platform.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(TenantPolicy::$variant => $name,)+
                }
            }
        }
    };
}

tenant_policies! {
    ItAdmin => "IT Admin",
    ItAdminReadOnly => "IT Admin Read Only",
    ApplicationAdmin => "Application Admin",
    SecurityAdmin => "Security Admin",
    ProjectSecurityAdmin => "Project Security Admin",
    ProjectReadOnly => "Project Read Only",
    ApplicationReadOnly => "Application Read Only",
    Data => "Data",
    TenantAdmin => "Tenant Admin",
    Developer => "Developer",
    ServiceAdmin => "Service Admin",
    SystemAdmin => "System Admin",
}

/// Observed state of the group, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Name of the platform group (spec.groupName, or metadata.name when that is unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,

    /// Platform id of the group this resource manages. Once set, the group is always found by this
    /// id, never by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,

    /// POSIX group id of the platform group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<i64>,

    /// Current state. Ready: the platform group matches the spec (for ObserveOnly: it was
    /// observed). Synced: the last reconcile reached the platform and applied what it could.
    /// Reconciling (present while true): the operator is still working or retrying. Stalled
    /// (present while true): a person must act; the message says what. Reasons: Available,
    /// Observed, Creating, Updating, Deleting, UserNotFound, ProjectNotFound, AlreadyExists,
    /// NameConflict, NotGranted, ConnectionUnavailable, CredentialsInvalid, PermissionDenied, ApiUnavailable,
    /// ReconcileError, ReconcileSuccess.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// Usernames listed in spec.members (or in an active entry of spec.temporaryMembers) that do
    /// not exist on the platform; they are added as soon as they appear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub missing_users: Vec<String>,

    /// Number of members of the platform group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<i32>,

    /// The project roles from spec.projectRoles and whether each is applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["project"]))]
    pub project_roles: Vec<ProjectRoleStatus>,

    /// Members this resource added to the platform group. With membersPolicy ManagedOnly only
    /// these are ever removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub managed_members: Vec<String>,

    /// When the operator last compared the platform group with the spec. When nothing else in
    /// status changes, it is written at most once an hour (resyncs that find nothing to do
    /// cost the API server no write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,

    /// The changes, in plain sentences, that Full management would make to the platform now;
    /// empty when the platform matches the spec. Kept current for ObserveOnly Groups, and for
    /// Full Groups while changes are pending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub planned_changes: Vec<String>,

    /// How this resource came to manage its platform group: Created (by this resource) or
    /// Adopted (it existed already; spec.adoptExisting). A Group that is no longer granted may
    /// still delete a group it created (that only removes access), never one it adopted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<GroupOrigin>,

    /// Each entry of spec.temporaryMembers with its state and effective expiry, and what the
    /// operator must remember to keep its promises across restarts: when it first granted the
    /// entry (a GroupGrant's maxDuration counts from then) and whether the entry added the user
    /// (only such a user is removed at expiry under membersPolicy Additive or ManagedOnly). An
    /// entry removed from the spec stays listed until the membership it added is removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub temporary_members: Vec<TemporaryMemberStatus>,

    /// When the next temporary membership ends (the earliest effective expiry still ahead); the
    /// operator acts at that time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_expiry: Option<Time>,
}

/// State of one temporary member (see status.temporaryMembers).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryMemberStatus {
    /// Username of the member.
    pub name: String,
    /// Active: the user is a member until expires. Pending: the user does not exist on the
    /// platform (yet); it is added once it appears, if the entry has not expired by then.
    /// Expired: the membership has ended (or never began, the time having passed already).
    /// NotGranted: the entry asks for longer than a GroupGrant allows (see message); it gives
    /// no access, or, if it was granted before, access only until the grant's limit.
    pub state: TemporaryMemberState,
    /// When the membership ends: spec's expires, or earlier when a GroupGrant's maxDuration
    /// ends it sooner.
    pub expires: Time,
    /// When the operator first granted the entry; a GroupGrant's maxDuration counts from then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<Time>,
    /// The operator added the user to the platform group for this entry (the user was not a
    /// member already), so it removes it when the entry ends.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub added: bool,
    /// Why the entry is in this state, when that needs saying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// See TemporaryMemberStatus::state.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum TemporaryMemberState {
    Active,
    Pending,
    Expired,
    NotGranted,
}

/// See GroupStatus::origin.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum GroupOrigin {
    Created,
    Adopted,
}

/// State of one project role binding.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRoleStatus {
    /// Name of the platform project.
    pub project: String,
    /// Role requested in the spec.
    pub role: ProjectRole,
    /// Applied: the group holds this role in the project. ProjectNotFound: the project does not
    /// exist (yet); the role is applied once it appears. Pending: not applied yet (see the Ready
    /// condition for why).
    pub state: ProjectRoleState,
}

/// See ProjectRoleStatus::state.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ProjectRoleState {
    Applied,
    ProjectNotFound,
    Pending,
}

impl Group {
    /// The connection this Group uses: spec.connection, or `default` when that is unset.
    pub fn connection_name(&self) -> &str {
        self.spec
            .connection
            .as_deref()
            .unwrap_or(super::connection::DEFAULT_CONNECTION)
    }

    /// The platform group's name: spec.groupName, or metadata.name when that is unset.
    pub fn effective_group_name(&self) -> &str {
        self.spec
            .group_name
            .as_deref()
            .or(self.metadata.name.as_deref())
            .unwrap_or_default()
    }
}
