//! The admission policy that refuses a PlatformConnection whose Secret is outside the operator's
//! namespace (the operator reads Secrets only there): `kubectl apply` fails with the reason
//! instead of a connection that can never work. The rest of a connection's spec is checked by
//! the CRD's own rules; this one needs the operator's namespace, which only the operator (and
//! the chart, which creates the policy at install) knows.
//!
//! The operator applies the policy at start and every minute (healing edits and deletions), so
//! `make demo` and by-hand runs get it too; in a Helm release the chart creates it with the same
//! content, and the operator may only patch it by name.

use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MatchCondition, MatchResources, NamedRuleWithOperations, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicySpec, Validation,
};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use super::FIELD_MANAGER;
use crate::tenancy::admission::cel_string;

/// Name of the policy and of its binding.
pub const POLICY_NAME: &str = "igz-operator-platform-connections";

/// How often the policy is written again although nothing changed.
const REFRESH: Duration = Duration::from_secs(60);

/// The policy for an operator running in `namespace`.
pub fn policy(namespace: &str) -> ValidatingAdmissionPolicy {
    let ns = cel_string(namespace);
    ValidatingAdmissionPolicy {
        metadata: crate::tenancy::admission::ours(POLICY_NAME),
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".to_owned()),
            match_constraints: Some(MatchResources {
                resource_rules: Some(vec![NamedRuleWithOperations {
                    api_groups: Some(vec!["igz-operator.io".to_owned()]),
                    api_versions: Some(vec!["*".to_owned()]),
                    operations: Some(vec!["CREATE".to_owned(), "UPDATE".to_owned()]),
                    resources: Some(vec!["platformconnections".to_owned()]),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            // The operator's own writes (finalizer, status) leave the spec alone and pass, also
            // on a connection written before the policy existed.
            match_conditions: Some(vec![MatchCondition {
                name: "spec-is-set-or-changed".to_owned(),
                expression: "request.operation == 'CREATE' || object.spec != oldObject.spec"
                    .to_owned(),
            }]),
            validations: Some(vec![Validation {
                expression: format!(
                    "!has(object.spec.secretRef.namespace) || object.spec.secretRef.namespace == {ns}"
                ),
                message_expression: Some(format!(
                    "'spec.secretRef.namespace is ' + object.spec.secretRef.namespace + ', but the \
                     Secret must be in ' + {ns} + ', the operator\\'s namespace: the operator reads \
                     Secrets only there (leave secretRef.namespace out to mean ' + {ns} + ')'"
                )),
                reason: Some("Invalid".to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// The binding that makes the policy deny.
pub fn binding() -> ValidatingAdmissionPolicyBinding {
    crate::tenancy::admission::deny_binding(POLICY_NAME)
}

/// Writes the policy and its binding (server-side apply: creates them or brings them in line).
pub async fn apply(client: &Client, namespace: &str) -> Result<(), kube::Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Api::<ValidatingAdmissionPolicy>::all(client.clone())
        .patch(POLICY_NAME, &params, &Patch::Apply(&policy(namespace)))
        .await?;
    Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
        .patch(POLICY_NAME, &params, &Patch::Apply(&binding()))
        .await?;
    Ok(())
}

/// Keeps the policy in line, for as long as it runs: at start, then every minute; a failed
/// write is retried sooner.
pub async fn keep(client: Client, namespace: String) {
    loop {
        let pause = match apply(&client, &namespace).await {
            Ok(()) => REFRESH,
            Err(e) => {
                tracing::warn!(error = %e, "cannot apply the PlatformConnection admission policy; retrying");
                Duration::from_secs(5)
            }
        };
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_operators_namespace_once_escaped() {
        let policy = policy("igz-system");
        let spec = policy.spec.unwrap();
        let v = &spec.validations.unwrap()[0];
        assert_eq!(
            v.expression,
            "!has(object.spec.secretRef.namespace) || object.spec.secretRef.namespace == \"igz-system\""
        );
        assert!(
            v.message_expression
                .as_ref()
                .unwrap()
                .contains("the operator\\'s namespace")
        );
        assert_eq!(
            spec.match_constraints.unwrap().resource_rules.unwrap()[0].resources,
            Some(vec!["platformconnections".to_owned()])
        );
        assert_eq!(
            binding().spec.unwrap().policy_name.as_deref(),
            Some(POLICY_NAME)
        );
    }
}
