//! The custom resources: `Group` (`groups.igz-operator.io/v1alpha1`), `GroupGrant`
//! (`groupgrants.igz-operator.io/v1alpha1`) and `PlatformConnection`
//! (`platformconnections.igz-operator.io/v1alpha1`): their Rust types, the generated
//! CustomResourceDefinitions, and the names other modules share (finalizer, annotation, condition
//! types and reasons).

mod connection;
mod grant;
mod types;

pub use connection::*;
pub use grant::*;
pub use types::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray,
};
use kube::CustomResourceExt;

/// Finalizer that keeps a Group until its platform group has been cleaned up.
pub const FINALIZER: &str = "igz-operator.io/cleanup";

/// Path of the committed Group CRD, relative to the repository root.
pub const CRD_PATH: &str = "crds/groups.igz-operator.io.yaml";
/// Path of the committed GroupGrant CRD, relative to the repository root.
pub const GRANT_CRD_PATH: &str = "crds/groupgrants.igz-operator.io.yaml";
/// Path of the committed PlatformConnection CRD, relative to the repository root.
pub const CONNECTION_CRD_PATH: &str = "crds/platformconnections.igz-operator.io.yaml";

/// The Group CustomResourceDefinition, as generated from the Rust types.
pub fn crd() -> CustomResourceDefinition {
    let mut crd = finish(Group::crd());
    // Until the operator has written a status, kstatus (Flux, kpt) must see "not yet observed",
    // not "current": a new Group starts with observedGeneration 0.
    for version in &mut crd.spec.versions {
        let status = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            .and_then(|s| s.properties.as_mut())
            .and_then(|p| p.get_mut("status"));
        if let Some(status) = status {
            status.default = Some(
                k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSON(
                    serde_json::json!({"observedGeneration": 0}),
                ),
            );
        }
    }
    crd
}

/// The GroupGrant CustomResourceDefinition, as generated from the Rust types.
pub fn grant_crd() -> CustomResourceDefinition {
    finish(GroupGrant::crd())
}

/// The PlatformConnection CustomResourceDefinition, as generated from the Rust types.
pub fn connection_crd() -> CustomResourceDefinition {
    finish(PlatformConnection::crd())
}

/// Every CRD with the path it is committed under.
pub fn all_crds() -> [(&'static str, CustomResourceDefinition); 3] {
    [
        (CRD_PATH, crd()),
        (GRANT_CRD_PATH, grant_crd()),
        (CONNECTION_CRD_PATH, connection_crd()),
    ]
}

fn finish(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            unwrap_descriptions(schema);
        }
    }
    crd
}

/// Doc comments arrive hard-wrapped at source width; `kubectl explain` re-wraps text itself, so
/// the source line breaks would show as ragged lines. Paragraph breaks (blank lines) stay.
fn unwrap_descriptions(schema: &mut JSONSchemaProps) {
    if let Some(description) = &mut schema.description {
        *description = description
            .split("\n\n")
            .map(|paragraph| {
                paragraph
                    .split('\n')
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n\n");
    }
    let children = schema
        .properties
        .iter_mut()
        .flat_map(|props| props.values_mut());
    let items = match &mut schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => Some(item.as_mut()),
        _ => None,
    };
    for child in children.chain(items) {
        unwrap_descriptions(child);
    }
}

/// A CRD as the YAML document committed under `crds/`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    // Serializing a CRD built from our own types cannot fail: it holds only strings, numbers,
    // maps and lists.
    let body = serde_yaml::to_string(crd).expect("a CustomResourceDefinition serializes to YAML");
    format!("# Generated from src/crd by `make crds`; do not edit by hand.\n{body}")
}

/// Every CRD as one multi-document YAML stream (what `igz-operator crd` prints).
pub fn all_crds_yaml() -> String {
    all_crds()
        .iter()
        .map(|(_, crd)| crd_yaml(crd))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Condition types the operator maintains in `status.conditions`. Ready and Synced are always
/// there; Reconciling and Stalled follow kstatus (what Flux and kpt read): present only while
/// true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionType {
    /// The platform group matches the spec (`kubectl wait --for=condition=Ready`).
    Ready,
    /// The last reconcile reached the platform and applied everything it could.
    Synced,
    /// The operator is still working toward the spec (or retrying a failure).
    Reconciling,
    /// Progress needs a person; the message says what to do.
    Stalled,
}

impl ConditionType {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Ready => "Ready",
            ConditionType::Synced => "Synced",
            ConditionType::Reconciling => "Reconciling",
            ConditionType::Stalled => "Stalled",
        }
    }
}

/// Generates the condition reason vocabulary from one table, so the names, their documentation
/// (for the README) and `ALL` cannot disagree.
macro_rules! reasons {
    ($($variant:ident => $doc:literal),+ $(,)?) => {
        /// The fixed vocabulary of condition reasons (a public contract: documented in the README).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Reason {
            $(#[doc = $doc] $variant,)+
        }

        impl Reason {
            /// Every reason, in documentation order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),+];

            /// The reason as written in a condition.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => stringify!($variant),)+
                }
            }

            /// One sentence explaining the reason, for the README and `--help` texts.
            pub fn description(self) -> &'static str {
                match self {
                    $(Reason::$variant => $doc,)+
                }
            }
        }
    };
}

reasons! {
    Available => "The platform group exists and matches the spec.",
    Observed => "managementPolicy is ObserveOnly: the platform group was read and nothing was written; status.plannedChanges lists what Full management would change.",
    Creating => "The platform group is being created again (it was deleted outside Kubernetes). A new Group's first create writes no progress: its conditions stay empty until that reconcile ends, which kstatus and Argo CD read as in progress.",
    Updating => "The platform group is being brought in line with the spec.",
    Deleting => "The resource is being deleted; the platform group is being cleaned up.",
    UserNotFound => "Some users in spec.members do not exist on the platform (see status.missingUsers); they are added once they appear.",
    ProjectNotFound => "Some projects in spec.projectRoles do not exist on the platform (see status.projectRoles); their roles are applied once they appear.",
    AlreadyExists => "A platform group with this name exists and was not created by this resource; set spec.adoptExisting: true to manage it.",
    NameConflict => "Another Group resource already manages the platform group with this name; this resource leaves it untouched.",
    NotGranted => "No GroupGrant lets this namespace have what the spec asks for (the message says what is missing): nothing is written to the platform until a cluster admin grants it or the spec asks for less, except that temporary memberships this Group added still end on time. A temporary member beyond the grant's cap is refused alone, and the rest is applied.",
    ConnectionUnavailable => "The Group's PlatformConnection (spec.connection) cannot be used: it does not exist, its Secret is missing or unusable, or its platform cannot be trusted (TLS); the message says what to fix. Nothing is read or written on the platform until then.",
    CredentialsInvalid => "The management API rejected the credentials of the Group's connection (its Secret, or the operator's own for the connection default); fix them: the Group is retried as soon as new ones are in use.",
    PermissionDenied => "The operator's platform user is not allowed to perform this change; grant it the needed tenant-management role.",
    ApiUnavailable => "The management API could not be reached or answered with a server error; the operator retries with backoff.",
    ReconcileError => "An unexpected error occurred; the message says what failed and the operator retries with backoff.",
    ReconcileSuccess => "The last reconcile applied everything it could to the platform.",
}

impl Reason {
    /// A person must act before anything more can happen (kstatus `Stalled`, Argo CD
    /// `Degraded`); the other failure reasons are retried by the operator on its own.
    pub fn needs_a_person(self) -> bool {
        matches!(
            self,
            Reason::AlreadyExists
                | Reason::NameConflict
                | Reason::NotGranted
                | Reason::ConnectionUnavailable
                | Reason::CredentialsInvalid
                | Reason::PermissionDenied
        )
    }
}

#[cfg(test)]
mod tests;
