//! The chart's Pod runs for real in a namespace that enforces the `restricted` Pod Security
//! level, and that namespace does enforce it: a Pod without the restricted settings is refused
//! there, while the same Pod passes admission in a namespace without the label.

use crate::support::{Scenario, note, pod_ready};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use serde_json::json;

#[tokio::test]
#[ignore = "needs the single-node cluster: make test-cluster"]
async fn restricted_namespace_runs_the_operator_and_refuses_a_non_compliant_pod() {
    let s = Scenario::start("ic-restricted", &[]).await;

    let ns = Api::<Namespace>::all(s.client.clone())
        .get(&s.system_ns)
        .await
        .unwrap();
    let labels = ns.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("restricted")
    );

    // The operator runs there, Ready, as the non-root, read-only, capability-less Pod the
    // chart describes.
    let pods = s.wait_operator_pods_ready(1).await;
    let pod = &pods[0];
    assert!(pod_ready(pod));
    assert_eq!(pod.namespace().as_deref(), Some(s.system_ns.as_str()));
    let spec = pod.spec.as_ref().unwrap();
    let pod_sc = spec.security_context.as_ref().unwrap();
    assert_eq!(pod_sc.run_as_non_root, Some(true));
    assert_eq!(pod_sc.run_as_user, Some(65532));
    assert_eq!(
        pod_sc.seccomp_profile.as_ref().map(|p| p.type_.as_str()),
        Some("RuntimeDefault")
    );
    let sc = spec.containers[0].security_context.as_ref().unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_owned()])
    );

    // The operator's own image, in a Pod without any of those settings.
    let image = spec.containers[0].image.clone().unwrap();
    let careless: Pod = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "careless"},
        "spec": {"containers": [{"name": "operator", "image": image, "args": ["--version"]}]},
    }))
    .unwrap();
    let refused = Api::<Pod>::namespaced(s.client.clone(), &s.system_ns)
        .create(&PostParams::default(), &careless)
        .await
        .expect_err("a Pod without the restricted settings is refused");
    let kube::Error::Api(status) = &refused else {
        panic!("expected an API refusal, got {refused:?}");
    };
    assert_eq!(status.code, 403, "{status:?}");
    assert!(
        status
            .message
            .contains("violates PodSecurity \"restricted:latest\""),
        "{status:?}"
    );
    note(format!("refused in {}: {}", s.system_ns, status.message));

    // Enforcement, not the Pod: the Groups namespace has no Pod Security label, and admission
    // there accepts the same Pod (a dry run: nothing is started).
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    Api::<Pod>::namespaced(s.client.clone(), &s.groups_ns)
        .create(&dry_run, &careless)
        .await
        .expect("the same Pod passes admission where `restricted` is not enforced");
}
