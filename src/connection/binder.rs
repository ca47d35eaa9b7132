//! Binds each PlatformConnection to a client: its spec and its Secret, as the watches last saw
//! them, become what the registry should hold. Run on every PlatformConnection or Secret event,
//! straight from the watch (not from the reconcile queue), so new credentials are in use within
//! moments of the Secret's update whatever the reconciles are waiting on.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::registry::{ConnectionUnavailable, Desired, Registry};
use super::secret::{self, SecretProblem};
use super::settings::{ClientDefaults, ClientSettings};
use crate::crd::{ConnectionReason, PlatformConnection};

/// What `connection` should be, given its Secret as found in the operator's namespace.
pub fn desired(
    connection: &PlatformConnection,
    secret: Option<&Secret>,
    operator_namespace: &str,
    defaults: &ClientDefaults,
) -> Desired {
    let spec = &connection.spec;
    let unusable = |reason, message: String| {
        Desired::Unusable(ConnectionUnavailable::not_ready(reason, message))
    };
    if let Some(elsewhere) = spec.secret_ref.namespace.as_deref()
        && elsewhere != operator_namespace
    {
        return unusable(
            ConnectionReason::InvalidSpec,
            format!(
                "spec.secretRef.namespace is {elsewhere}, but the operator reads Secrets only in \
                 its own namespace {operator_namespace}: move the Secret there and leave \
                 secretRef.namespace out"
            ),
        );
    }
    let settings = match ClientSettings::of(spec, defaults) {
        Ok(settings) => settings,
        Err(why) => return unusable(ConnectionReason::InvalidSpec, why),
    };
    let secret_name = &spec.secret_ref.name;
    match secret::credentials(secret, operator_namespace, secret_name) {
        Ok(credentials) => Desired::Usable {
            settings,
            credentials,
            secret_version: secret
                .and_then(|s| s.resource_version())
                .unwrap_or_default(),
        },
        Err(SecretProblem::Missing(why)) => unusable(ConnectionReason::SecretMissing, why),
        Err(SecretProblem::Invalid(why)) => unusable(ConnectionReason::SecretInvalid, why),
    }
}

/// A client for `connection` on its own (outside the registry: `igz-operator import`), with
/// the connection's name as its metrics label.
pub fn client_for(
    connection: &PlatformConnection,
    secret: Option<&Secret>,
    operator_namespace: &str,
    defaults: &ClientDefaults,
) -> Result<igz_mgmt::MgmtClient, ConnectionUnavailable> {
    match desired(connection, secret, operator_namespace, defaults) {
        Desired::Unusable(problem) => Err(problem),
        Desired::Usable {
            settings,
            credentials,
            ..
        } => igz_mgmt::MgmtClient::new(settings.config(&connection.name_any(), credentials))
            .map_err(|e| {
                ConnectionUnavailable::not_ready(
                    ConnectionReason::InvalidSpec,
                    format!("the client cannot be built from the spec: {e}"),
                )
            }),
    }
}

/// Brings the registry in line with every PlatformConnection and Secret in the caches; returns
/// the names of the connections whose client, credentials or problem changed, and of those that
/// are gone.
pub fn refresh<P: Send + Sync + 'static>(
    registry: &Registry<P>,
    connections: &Store<PlatformConnection>,
    secrets: &Store<Secret>,
    operator_namespace: &str,
    defaults: &ClientDefaults,
) -> Vec<String> {
    let mut changed = Vec::new();
    let present = connections.state();
    for connection in &present {
        let name = connection.name_any();
        let secret_ref =
            ObjectRef::<Secret>::new(&connection.spec.secret_ref.name).within(operator_namespace);
        let secret = secrets.get(&secret_ref);
        let want = desired(connection, secret.as_deref(), operator_namespace, defaults);
        if registry.apply(&name, want).changed {
            changed.push(name);
        }
    }
    for known in registry.resource_names() {
        if !present.iter().any(|c| c.name_any() == known) && registry.remove(&known) {
            changed.push(known);
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{ConnectionSecretRef, PlatformConnectionSpec};
    use k8s_openapi::ByteString;
    use kube::api::ObjectMeta;

    fn connection(namespace: Option<&str>) -> PlatformConnection {
        PlatformConnection::new(
            "prod",
            PlatformConnectionSpec {
                url: "http://127.0.0.1:1".into(),
                secret_ref: ConnectionSecretRef {
                    name: "prod-key".into(),
                    namespace: namespace.map(str::to_owned),
                },
                ca_bundle: None,
                insecure_skip_tls_verify: false,
                rate_limit: None,
            },
        )
    }

    fn reason(d: &Desired) -> &'static str {
        match d {
            Desired::Usable { .. } => "Usable",
            Desired::Unusable(u) => u.reason.as_str(),
        }
    }

    #[test]
    fn the_secret_decides_and_only_the_operators_namespace_counts() {
        let defaults = ClientDefaults::default();
        let secret = Secret {
            metadata: ObjectMeta {
                resource_version: Some("7".into()),
                ..Default::default()
            },
            data: Some([("access-key".to_owned(), ByteString(b"k".to_vec()))].into()),
            ..Default::default()
        };
        let ok = desired(&connection(None), Some(&secret), "igz-system", &defaults);
        assert_eq!(reason(&ok), "Usable");
        let Desired::Usable { secret_version, .. } = ok else {
            unreachable!()
        };
        assert_eq!(secret_version, "7");
        let here = desired(
            &connection(Some("igz-system")),
            Some(&secret),
            "igz-system",
            &defaults,
        );
        assert_eq!(reason(&here), "Usable");
        let elsewhere = desired(
            &connection(Some("team-a")),
            Some(&secret),
            "igz-system",
            &defaults,
        );
        assert_eq!(reason(&elsewhere), "InvalidSpec");
        let Desired::Unusable(u) = elsewhere else {
            unreachable!()
        };
        assert!(
            u.message.contains("only in its own namespace igz-system"),
            "{}",
            u.message
        );
        assert_eq!(
            reason(&desired(&connection(None), None, "igz-system", &defaults)),
            "SecretMissing"
        );
        let empty = Secret::default();
        assert_eq!(
            reason(&desired(
                &connection(None),
                Some(&empty),
                "igz-system",
                &defaults
            )),
            "SecretInvalid"
        );
    }
}
