//! The `PlatformConnection` resource (`platformconnections.igz-operator.io/v1alpha1`,
//! cluster-scoped): where a platform's management API is, how to trust it, how fast to talk to it,
//! and which Secret (in the operator's own namespace) holds the credentials. Groups name the
//! connection they live on (`spec.connection`, default `default`); GroupGrants say which
//! connections a namespace may use.
//!
//! Doc comments on fields become the CRD's descriptions (`kubectl explain platformconnections`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The connection a Group uses when its spec names none, and the only one a GroupGrant allows
/// when its spec lists none.
pub const DEFAULT_CONNECTION: &str = "default";

/// Pattern of a connection name (a Kubernetes object name: an RFC 1123 subdomain).
pub const CONNECTION_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$";

/// Finalizer that keeps a PlatformConnection while Groups use it: deleting it waits until the
/// last Group naming it is gone (a Group being deleted still needs it to clean up the platform).
pub const CONNECTION_FINALIZER: &str = "igz-operator.io/connection-in-use";

/// Secret key holding an access key.
pub const SECRET_KEY_ACCESS_KEY: &str = "access-key";
/// Secret key holding the platform username (with `password`, or optionally with `access-key`).
pub const SECRET_KEY_USERNAME: &str = "username";
/// Secret key holding the password of `username`.
pub const SECRET_KEY_PASSWORD: &str = "password";

/// The CEL rule a CA bundle must pass: one or more PEM certificate blocks of base64 (the
/// regular expression is in a CEL string literal, so its backslashes are doubled).
const CA_BUNDLE_RULE: &str = r"self.matches('^\\s*(-----BEGIN CERTIFICATE-----\\s*[A-Za-z0-9+/=\\s]+-----END CERTIFICATE-----\\s*)+$')";

/// How to reach one Iguazio platform's management API, and with which credentials.
///
/// The credentials live in a Secret in the operator's own namespace: keys `access-key` (with an
/// optional `username`), or `username` and `password`. The operator watches that Secret: an
/// update is in use within seconds, without a restart.
// kube's printcolumn(...) entries repeat the same keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "igz-operator.io",
    version = "v1alpha1",
    kind = "PlatformConnection",
    plural = "platformconnections",
    singular = "platformconnection",
    shortname = "igzconn",
    category = "iguazio",
    status = "PlatformConnectionStatus",
    doc = "How to reach one Iguazio platform's management API, and with which credentials (a Secret in the operator's namespace).",
    printcolumn(
        name = "URL",
        type_ = "string",
        json_path = ".spec.url",
        description = "The management API"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".status.platformVersion",
        description = "Platform version, when the platform tells it"
    ),
    printcolumn(
        name = "Groups",
        type_ = "integer",
        json_path = ".status.groups",
        description = "Group resources using this connection"
    ),
    printcolumn(
        name = "Expires",
        // A string, not a date: kubectl shows a date column as an age, and a time ahead as
        // "<invalid>".
        type_ = "string",
        json_path = ".status.credentialsExpire",
        description = "When the access key expires, when the platform tells it"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!(has(self.insecureSkipTLSVerify) && self.insecureSkipTLSVerify && has(self.caBundle))",
    "message": "spec.insecureSkipTLSVerify and spec.caBundle exclude each other: with a CA bundle the platform's certificate is verified against it; remove insecureSkipTLSVerify (or the CA bundle)"
}]))]
pub struct PlatformConnectionSpec {
    /// Base URL of the platform's management API (the dashboard), e.g.
    /// https://dashboard.default-tenant.example.com. http:// or https://, a host, no query,
    /// fragment or credentials.
    #[schemars(length(min = 1, max = 2048), extend("x-kubernetes-validations" = [
        {"rule": "isURL(self)", "message": "spec.url must be an absolute URL such as https://dashboard.default-tenant.example.com"},
        {"rule": "!isURL(self) || url(self).getScheme() in ['http', 'https']", "message": "spec.url must start with https:// (or http://)"},
        {"rule": "!isURL(self) || url(self).getHostname() != ''", "message": "spec.url must name a host, e.g. https://dashboard.default-tenant.example.com"},
        {"rule": "!self.contains('?') && !self.contains('#')", "message": "spec.url must not carry a query or a fragment"},
        {"rule": "!self.matches('^[^/]*//[^/]*@')", "message": "spec.url must not carry a username or password: put the credentials in the Secret"},
    ]))]
    pub url: String,

    /// The Secret holding the credentials: keys access-key (with an optional username), or
    /// username and password. It must be in the operator's namespace.
    pub secret_ref: ConnectionSecretRef,

    /// CA certificates (PEM) trusted for the management API, in addition to the system roots;
    /// for a platform whose certificate comes from a private CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 65536), extend("x-kubernetes-validations" = [{
        "rule": CA_BUNDLE_RULE,
        "message": "spec.caBundle must be PEM: one or more -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE----- blocks (the content of a ca.crt file)"
    }]))]
    pub ca_bundle: Option<String>,

    /// Skip verification of the platform's TLS certificate. Unsafe (anyone between the operator
    /// and the platform can read the credentials); for test systems only. Default false.
    #[serde(default, rename = "insecureSkipTLSVerify")]
    pub insecure_skip_tls_verify: bool,

    /// Client-side rate limit of requests to this platform. Omitted: the operator's --mgmt-qps
    /// and --mgmt-burst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<ConnectionRateLimit>,
}

/// See PlatformConnectionSpec::secret_ref.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionSecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = CONNECTION_NAME_PATTERN))]
    pub name: String,
    /// Namespace of the Secret. Omitted: the operator's namespace, the only one allowed (the
    /// operator reads Secrets nowhere else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub namespace: Option<String>,
}

/// See PlatformConnectionSpec::rate_limit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRateLimit {
    /// Sustained requests per second. Omitted: --mgmt-qps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub qps: Option<u32>,
    /// Requests allowed at once after a quiet period. Omitted: --mgmt-burst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub burst: Option<u32>,
}

/// Observed state of the connection, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformConnectionStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Ready: the platform answers and accepts the credentials. Reasons: Connected, Unreachable,
    /// TLSError, CredentialsInvalid, PermissionDenied, PlatformError, SecretMissing,
    /// SecretInvalid, InvalidSpec; the message says what to fix. CredentialsExpiring (present
    /// when the platform tells the access key's expiry): True from 7 days before it. Deleting
    /// (present while the connection is being deleted): which Groups still hold it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// The platform user the credentials act as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,

    /// The tenant the credentials act in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,

    /// The platform's version, when the platform tells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,

    /// Number of Group resources using this connection (naming it, or naming none when this is
    /// the connection named default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<i32>,

    /// While the connection is being deleted: the Groups (namespace/name, the first 10) that
    /// still use it and so hold the deletion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub used_by: Vec<String>,

    /// resourceVersion of the Secret whose credentials are in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_resource_version: Option<String>,

    /// When the credentials in use expire (the access key's expires_at), when the platform tells
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_expire: Option<Time>,
}

/// The condition types of a PlatformConnection.
pub mod connection_conditions {
    /// The platform answers and accepts the credentials.
    pub const READY: &str = "Ready";
    /// The access key expires within 7 days (or has expired).
    pub const CREDENTIALS_EXPIRING: &str = "CredentialsExpiring";
    /// The connection is being deleted and Groups still use it.
    pub const DELETING: &str = "Deleting";
}

/// Generates the Ready reason vocabulary of a PlatformConnection from one table, so the names,
/// their documentation and `ALL` cannot disagree.
macro_rules! connection_reasons {
    ($($variant:ident = $name:literal => $doc:literal),+ $(,)?) => {
        /// Why a connection is (not) Ready: a public contract, documented in the README.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ConnectionReason {
            $(#[doc = $doc] $variant,)+
        }

        impl ConnectionReason {
            /// Every reason, in documentation order.
            pub const ALL: &'static [ConnectionReason] = &[$(ConnectionReason::$variant),+];

            /// The reason as written in the condition.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ConnectionReason::$variant => $name,)+
                }
            }

            /// One sentence explaining the reason.
            pub fn description(self) -> &'static str {
                match self {
                    $(ConnectionReason::$variant => $doc,)+
                }
            }
        }
    };
}

connection_reasons! {
    Connected = "Connected" => "The platform answers and accepts the credentials.",
    Unreachable = "Unreachable" => "The management API does not answer (DNS, connection refused, timeouts, gateway errors).",
    TlsError = "TLSError" => "TLS with the platform failed: its certificate is not trusted or does not match, or spec.caBundle is unusable.",
    CredentialsInvalid = "CredentialsInvalid" => "The platform refused the credentials: the access key is unknown, revoked or expired, or the username or password is wrong.",
    PermissionDenied = "PermissionDenied" => "The platform accepts the credentials but does not allow what the operator needs.",
    PlatformError = "PlatformError" => "The endpoint answered, but not like the Iguazio management API.",
    SecretMissing = "SecretMissing" => "The Secret spec.secretRef names does not exist in the operator's namespace.",
    SecretInvalid = "SecretInvalid" => "The Secret exists but holds no usable credentials (a key is missing, misspelt or empty).",
    InvalidSpec = "InvalidSpec" => "The spec cannot be used as it is (for example a Secret outside the operator's namespace, or a URL the client cannot use).",
}
