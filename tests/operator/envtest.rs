//! Proves the test control plane is a real kube-apiserver backed by etcd, with RBAC enforced
//! for ServiceAccount tokens issued through the TokenRequest API.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

#[tokio::test]
async fn server_reports_v1_33() {
    let client = igz_testkit::envtest::admin_client().await;
    let version = client.apiserver_version().await.expect("GET /version");
    assert_eq!(version.major, "1");
    assert_eq!(version.minor, "33");
    assert!(
        version.git_version.starts_with("v1.33."),
        "unexpected version {}",
        version.git_version
    );
}

#[tokio::test]
async fn applied_object_is_stored_and_watch_sees_changes() {
    let client = igz_testkit::envtest::admin_client().await;
    let ns = igz_testkit::envtest::fresh_namespace(&client, "envtest-watch").await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let ssa = PatchParams::apply("igz-envtest").force();

    let mut watch = watcher(
        api.clone(),
        watcher::Config::default().fields("metadata.name=probe"),
    )
    .applied_objects()
    .boxed();

    for value in ["one", "two"] {
        let cm = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "probe"}, "data": {"value": value}
        });
        api.patch("probe", &ssa, &Patch::Apply(&cm))
            .await
            .expect("server-side apply");
        let seen = loop {
            let next = tokio::time::timeout(Duration::from_secs(20), watch.next())
                .await
                .expect("watch event within 20s")
                .expect("watch stream open")
                .expect("watch event ok");
            if next
                .data
                .as_ref()
                .and_then(|d| d.get("value"))
                .map(String::as_str)
                == Some(value)
            {
                break next;
            }
        };
        assert_eq!(seen.metadata.namespace.as_deref(), Some(ns.as_str()));
    }
    let stored = api.get("probe").await.expect("read back");
    assert_eq!(stored.data.unwrap()["value"], "two");
}

#[tokio::test]
async fn service_account_token_is_authenticated_but_rbac_denies_until_granted() {
    let admin = igz_testkit::envtest::admin_client().await;
    let ns = igz_testkit::envtest::fresh_namespace(&admin, "envtest-rbac").await;
    // A ServiceAccount, and a client with a token the TokenRequest API issued for it.
    let sa_client = crate::support::service_account_client(&admin, &ns, "probe").await;
    let secrets: Api<Secret> = Api::namespaced(sa_client.clone(), &ns);
    match secrets.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(
            status.code, 403,
            "expected an authenticated-but-forbidden answer, got {status:?}"
        ),
        other => panic!("listing secrets without RBAC must be forbidden, got {other:?}"),
    }

    grant_secret_listing(&admin, &ns, "probe").await;
    // RBAC caches are updated from a watch; the grant takes effect a moment later.
    let what = "listing secrets works after the RoleBinding";
    igz_testkit::wait::until(what, igz_testkit::wait::DEFAULT_DEADLINE, || async {
        secrets
            .list(&ListParams::default())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await;
}

async fn grant_secret_listing(admin: &Client, ns: &str, sa: &str) {
    let role = Role {
        metadata: ObjectMeta {
            name: Some("list-secrets".into()),
            ..Default::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["secrets".into()]),
            verbs: vec!["list".into()],
            ..Default::default()
        }]),
    };
    Api::<Role>::namespaced(admin.clone(), ns)
        .create(&PostParams::default(), &role)
        .await
        .expect("create role");
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("list-secrets".into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: "list-secrets".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: sa.into(),
            namespace: Some(ns.into()),
            ..Default::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(admin.clone(), ns)
        .create(&PostParams::default(), &binding)
        .await
        .expect("create role binding");
}
