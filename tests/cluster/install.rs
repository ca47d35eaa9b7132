//! `helm install` as docs/operating.md gives it: the operator Pod becomes Ready through its probes, runs
//! with the in-cluster configuration (its ServiceAccount token, no kubeconfig) and the access key
//! mounted from the Secret, takes the Lease, and reconciles a Group against the emulator Pod.

use crate::support::{Scenario, members, note, pod_ready, reasons};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use serde_json::json;

#[tokio::test]
#[ignore = "needs the single-node cluster: make test-cluster"]
async fn operator_pod_becomes_ready_and_reconciles_a_group_with_in_cluster_config() {
    let s = Scenario::start("ic-install", &[]).await;

    // Ready through its probes: the chart's startup, liveness and readiness probes are httpGet
    // probes on the metrics port, and kubelet marked the container ready after running them.
    let pods = s.wait_operator_pods_ready(1).await;
    let pod = &pods[0];
    let name = pod.name_any();
    let container = &pod.spec.as_ref().unwrap().containers[0];
    for (probe, path) in [
        (&container.startup_probe, "/healthz"),
        (&container.liveness_probe, "/healthz"),
        (&container.readiness_probe, "/readyz"),
    ] {
        let http = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("an httpGet probe");
        assert_eq!(http.path.as_deref(), Some(path));
    }
    let status = &pod
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0];
    assert!(status.ready, "{status:?}");
    assert_eq!(status.restart_count, 0, "the operator never restarted");
    assert!(
        status.started == Some(true),
        "the startup probe passed: {status:?}"
    );
    assert!(pod_ready(pod));

    // In-cluster configuration: no kubeconfig anywhere, the ServiceAccount token mounted; and
    // the access key is a file from the Secret, not an environment variable.
    check_credentials_come_from_the_cluster(pod);

    let log = s.logs(&name).await;
    assert!(
        log.contains("management API session verified"),
        "the emulator accepted the access key from the Secret; log:\n{log}"
    );
    assert!(
        log.contains("access key from /etc/igz-operator/mgmt/access-key"),
        "{log}"
    );
    assert!(
        !log.contains(crate::support::ACCESS_KEY),
        "the key never reaches the log"
    );
    assert_eq!(
        s.lease_holder().await.as_deref(),
        Some(name.as_str()),
        "the only replica holds the Lease"
    );
    check_secrets_only_in_its_own_namespace(&s, pod).await;

    // A Group, reconciled against the emulator Pod through its ClusterIP.
    s.apply(
        "data-science",
        json!({
            "members": ["alice", "bob"],
            "assignedPolicies": ["Data"],
            "projectRoles": [{"project": "default", "role": "Editor"}],
        }),
    )
    .await
    .expect("apply the Group");
    let group = s.wait_ready("data-science").await;
    assert!(
        group
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == igz_operator::crd::FINALIZER)),
        "{:?}",
        group.metadata.finalizers
    );
    s.wait_platform_members("data-science", &["alice", "bob"])
        .await;
    let events = s.wait_event("data-science", "Created").await;
    for event in &events {
        assert_eq!(
            event.reporting_instance.as_deref(),
            Some(name.as_str()),
            "Events name the Pod that reconciled: {:?}",
            reasons(&events)
        );
    }

    // A change reaches the platform too.
    s.apply(
        "data-science",
        json!({
            "members": ["alice", "carol"],
            "assignedPolicies": ["Data"],
            "projectRoles": [{"project": "default", "role": "Editor"}],
        }),
    )
    .await
    .expect("apply the Group");
    s.wait_ready("data-science").await;
    s.wait_platform_members("data-science", &["alice", "carol"])
        .await;
    let state = s.platform().await.expect("platform state");
    assert_eq!(state.invariants, "ok");
    note(format!(
        "data-science on the platform: {:?}",
        members(&state, "data-science")
    ));
}

fn check_credentials_come_from_the_cluster(pod: &Pod) {
    let spec = pod.spec.as_ref().unwrap();
    let container = &spec.containers[0];
    let env: Vec<&str> = container
        .env
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .collect();
    assert!(
        !env.contains(&"KUBECONFIG") && !env.contains(&"IGZ_ACCESS_KEY"),
        "no kubeconfig, no key in the environment: {env:?}"
    );
    let args = container.args.clone().unwrap_or_default();
    assert!(
        args.contains(&"--access-key-file=/etc/igz-operator/mgmt/access-key".to_owned()),
        "{args:?}"
    );
    let volumes = spec.volumes.clone().unwrap_or_default();
    let secret = volumes
        .iter()
        .find_map(|v| v.secret.as_ref())
        .expect("a Secret volume");
    assert_eq!(secret.secret_name.as_deref(), Some("igz-operator-mgmt"));
    // The ServiceAccount token, CA and namespace: what the in-cluster configuration reads.
    let mounts = container.volume_mounts.clone().unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|m| m.mount_path == "/var/run/secrets/kubernetes.io/serviceaccount"),
        "the ServiceAccount token is mounted: {mounts:?}"
    );
    assert!(
        volumes
            .iter()
            .any(|v| v.projected.as_ref().is_some_and(|p| p
                .sources
                .iter()
                .flatten()
                .any(|s| s.service_account_token.is_some()))),
        "a projected ServiceAccount token volume"
    );
}

/// The Pod reads Secrets in its own namespace (the connections' credentials, its record key,
/// which it made itself) and nowhere else.
async fn check_secrets_only_in_its_own_namespace(s: &Scenario, pod: &Pod) {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
    };
    use k8s_openapi::api::core::v1::Secret;
    use kube::Api;
    use kube::api::PostParams;

    let sa = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.service_account_name.clone())
        .expect("the Pod's ServiceAccount");
    let user = format!("system:serviceaccount:{}:{sa}", s.system_ns);
    let may = |verb: &str, namespace: Option<&str>| {
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.clone()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.to_owned()),
                    resource: Some("secrets".to_owned()),
                    namespace: namespace.map(str::to_owned),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let reviews: Api<SubjectAccessReview> = Api::all(s.client.clone());
        async move {
            reviews
                .create(&PostParams::default(), &review)
                .await
                .expect("SubjectAccessReview")
                .status
                .is_some_and(|status| status.allowed)
        }
    };
    assert!(may("get", Some(&s.system_ns)).await, "its own namespace");
    assert!(may("watch", Some(&s.system_ns)).await, "its own namespace");
    assert!(!may("get", Some(&s.groups_ns)).await, "no other namespace");
    assert!(
        !may("get", Some(&s.platform_ns)).await,
        "no other namespace"
    );
    assert!(!may("list", None).await, "no Secret cluster-wide");
    let secrets: Api<Secret> = Api::namespaced(s.client.clone(), &s.system_ns);
    assert!(
        secrets
            .get_opt(igz_operator::create_record::KEY_SECRET)
            .await
            .expect("read Secrets")
            .is_some(),
        "the operator made its record key in its own namespace"
    );
}
