//! `helm uninstall` and the Groups it leaves, as docs/operating.md ("Uninstalling") describes:
//! - the release goes (Deployment, RBAC, the admission policy and binding, grants from values);
//!   the CRDs stay (Helm never deletes crds/), so every Group stays, with its finalizer, and the
//!   platform groups stay as they are;
//! - a Group deleted then stays Terminating: nothing runs its finalizer. Two ways out: install
//!   the operator again (it finishes the deletion, cleaning up the platform), or remove the
//!   finalizer by hand (the platform group is then left for a person to delete or keep);
//! - the clean order: delete the Groups while the operator runs, then uninstall; nothing is left.

use crate::support::{DEADLINE, RELEASE, Scenario, kubectl, note};
use igz_operator::crd::FINALIZER;
use igz_testkit::wait;
use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::DeleteParams;
use serde_json::json;

#[tokio::test]
#[ignore = "needs the single-node cluster: make test-cluster"]
async fn helm_uninstall_leaves_groups_with_finalizers_and_each_way_out_works() {
    let s = Scenario::start("ic-uninstall", &[]).await;
    for (name, policy) in [
        ("reinstall-cleans", "Delete"),
        ("finalizer-removed", "Delete"),
        ("orphaned", "Orphan"),
    ] {
        s.apply(
            name,
            json!({"members": ["alice"], "deletionPolicy": policy}),
        )
        .await
        .expect("apply the Group");
    }
    for name in ["reinstall-cleans", "finalizer-removed", "orphaned"] {
        s.wait_ready(name).await;
        s.wait_platform_members(name, &["alice"]).await;
    }

    // helm uninstall: the operator and the chart's objects go...
    s.helm(&["uninstall", RELEASE, "--wait"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait::until("the operator Pods are gone", DEADLINE, || async {
        let pods = s.operator_pods().await;
        if pods.is_empty() {
            Ok(())
        } else {
            Err(format!("{} left", pods.len()))
        }
    })
    .await;
    assert!(
        Api::<Deployment>::namespaced(s.client.clone(), &s.system_ns)
            .get_opt(RELEASE)
            .await
            .unwrap()
            .is_none()
    );
    let policy = igz_operator::tenancy::admission::POLICY_NAME;
    assert!(
        Api::<ValidatingAdmissionPolicy>::all(s.client.clone())
            .get_opt(policy)
            .await
            .unwrap()
            .is_none(),
        "the chart's admission policy goes with the release"
    );
    // ...the CRDs, the Groups with their finalizers and the platform groups stay.
    let crds: Api<CustomResourceDefinition> = Api::all(s.client.clone());
    assert!(
        crds.get_opt("groups.igz-operator.io")
            .await
            .unwrap()
            .is_some()
    );
    for name in ["reinstall-cleans", "finalizer-removed", "orphaned"] {
        let group = s.groups.get(name).await.expect("the Group stays");
        assert!(
            group
                .metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == FINALIZER),
            "{name} keeps its finalizer"
        );
        assert!(group.metadata.deletion_timestamp.is_none());
    }
    let state = s.platform().await.unwrap();
    for name in ["reinstall-cleans", "finalizer-removed", "orphaned"] {
        assert!(
            state.user_group(name).is_some(),
            "{name} stays on the platform"
        );
    }

    // Deleting a Group now: it stays Terminating, since nothing runs its finalizer.
    for name in ["reinstall-cleans", "finalizer-removed"] {
        s.groups
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
        let group = s.groups.get(name).await.expect("still there");
        assert!(
            group.metadata.deletion_timestamp.is_some(),
            "{name} is Terminating"
        );
    }

    // Way out 1: remove the finalizer (the documented command). The resource goes at once; the
    // platform group stays, for a person to delete there or keep.
    kubectl(&[
        "patch",
        "group",
        "finalizer-removed",
        "-n",
        &s.groups_ns,
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    s.wait_gone("finalizer-removed").await;
    let state = s.platform().await.unwrap();
    assert!(
        state.user_group("finalizer-removed").is_some(),
        "no cleanup ran: the platform group is left as it was"
    );

    // Way out 2: install the operator again; it finishes the deletion and cleans up.
    s.install_operator(&[]).await;
    s.wait_gone("reinstall-cleans").await;
    s.wait_platform(
        "reinstall-cleans is deleted from the platform",
        |state| match state.user_group("reinstall-cleans") {
            None => Ok(()),
            Some(_) => Err("still there".to_owned()),
        },
    )
    .await;
    note("reinstalling finished the pending deletion");

    // The clean order: delete the Groups while the operator runs (each is cleaned up as its
    // deletionPolicy says), then uninstall. Nothing is left behind.
    kubectl(&[
        "delete",
        "groups",
        "--all",
        "-n",
        &s.groups_ns,
        "--timeout=120s",
    ])
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    s.wait_gone("orphaned").await;
    s.helm(&["uninstall", RELEASE, "--wait"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let left = s.groups.list(&Default::default()).await.unwrap();
    assert!(left.items.is_empty(), "no Group left, none Terminating");
    let state = s.platform().await.unwrap();
    assert!(
        state.user_group("orphaned").is_some(),
        "deletionPolicy Orphan keeps the platform group"
    );
}
