//! The admission policy keeper: keeps the ValidatingAdmissionPolicy that refuses ungranted
//! Groups at `kubectl apply` equal to what the GroupGrants say.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use super::group_writer::FIELD_MANAGER;
use super::tenancy_watch::Tenancy;
use crate::tenancy::{self, CompiledGrant};

/// Writes the admission policy for `grants` and its binding (server-side apply: creates them or
/// brings them in line).
pub async fn apply_admission_policy(
    client: &Client,
    grants: &[CompiledGrant],
) -> Result<(), kube::Error> {
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let name = tenancy::admission::POLICY_NAME;
    let policy = tenancy::admission::policy(grants);
    policies
        .patch(name, &params, &Patch::Apply(&policy))
        .await?;
    let binding = tenancy::admission::binding();
    bindings
        .patch(name, &params, &Patch::Apply(&binding))
        .await?;
    Ok(())
}

/// Watches GroupGrants and keeps the admission policy in line with them, on its own (what
/// `keep_admission_policy` does inside the controller).
pub async fn admission_policy_keeper(client: Client) {
    let (tenancy, watches) = Tenancy::start(client.clone());
    futures::join!(watches, keep_admission_policy(client, tenancy));
}

/// How often the policy is written again although no grant changed: it heals edits, deletions
/// and a `helm upgrade` that restored the chart's placeholder (an unchanged apply is a no-op).
const POLICY_REFRESH: Duration = Duration::from_secs(60);

/// Keeps the ValidatingAdmissionPolicy (and its binding) equal to what the grants say. Applied
/// at start, after every change and every minute; a failed apply is retried.
pub async fn keep_admission_policy(client: Client, tenancy: Arc<Tenancy>) {
    // Never write a policy from a half-read cache: it would refuse Groups that are granted.
    if !tenancy.wait_until_ready().await {
        return;
    }
    let mut changes = std::pin::pin!(tenancy.changes());
    loop {
        // Let a burst of grant changes settle into one write.
        tokio::time::sleep(Duration::from_millis(200)).await;
        match apply_admission_policy(&client, &tenancy.compiled()).await {
            Ok(()) => {
                tracing::debug!(
                    grants = tenancy.compiled().len(),
                    "admission policy in line with the GroupGrants"
                );
                // Next round on a change, or after POLICY_REFRESH; done when the changes end.
                if let Ok(None) = tokio::time::timeout(POLICY_REFRESH, changes.next()).await {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot apply the GroupGrant admission policy; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}
