//! The local control plane (etcd + kube-apiserver, started once by `hack/envtest-up.sh`, which
//! reuses a healthy running one and serialises concurrent callers with a lock): an admin client
//! and a fresh namespace per test.

use std::path::PathBuf;
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::paths;

/// Path of the admin kubeconfig, starting the control plane first if it is not running. The
/// script prints `export KUBECONFIG=<path>`: the path is taken from there, never assumed.
pub fn kubeconfig_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let out = paths::run_script("envtest-up.sh", &[]);
        out.lines()
            .find_map(|line| line.strip_prefix("export KUBECONFIG="))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("hack/envtest-up.sh printed no KUBECONFIG: {out}"))
    })
}

/// Kube client configuration for the control plane's admin (client certificate, system:masters).
pub async fn admin_config() -> Config {
    let kubeconfig = Kubeconfig::read_from(kubeconfig_path()).expect("read envtest kubeconfig");
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("envtest kubeconfig is valid")
}

pub async fn admin_client() -> Client {
    Client::try_from(admin_config().await).expect("build kube client")
}

/// A namespace of its own for one test. Namespaces never finish deleting without
/// kube-controller-manager, so tests never share or delete them; names are random.
pub async fn fresh_namespace(client: &Client, prefix: &str) -> String {
    fresh_namespace_labelled(client, prefix, &[]).await
}

/// Like [`fresh_namespace`], with extra labels (e.g. the ones a GroupGrant selects).
pub async fn fresh_namespace_labelled(
    client: &Client,
    prefix: &str,
    labels: &[(&str, &str)],
) -> String {
    let name = format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut all = vec![("igz-operator.io/test", "true")];
    all.extend_from_slice(labels);
    create_namespace(client, &name, &all).await;
    name
}

/// Creates the namespace `name` with exactly these labels (on any cluster the client reaches).
pub async fn create_namespace(client: &Client, name: &str, labels: &[(&str, &str)]) {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
}

/// The namespace operator processes started by tests run "in" (`--namespace`): where they keep
/// their record key, and which the connection admission policy they keep names. One for all, as
/// in a cluster: each operator process rewrites that cluster-wide policy at start, so processes
/// with different namespaces would undo each other's (and the connection tests').
pub const OPERATOR_NAMESPACE: &str = "igz-system";

/// Creates [`OPERATOR_NAMESPACE`] unless it exists.
pub async fn ensure_operator_namespace(client: &Client) {
    let namespaces = Api::<Namespace>::all(client.clone());
    if namespaces
        .get_opt(OPERATOR_NAMESPACE)
        .await
        .unwrap_or_else(|e| panic!("read namespace {OPERATOR_NAMESPACE}: {e}"))
        .is_none()
    {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(OPERATOR_NAMESPACE.to_owned()),
                ..Default::default()
            },
            ..Default::default()
        };
        match namespaces.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => panic!("create namespace {OPERATOR_NAMESPACE}: {e}"),
        }
    }
}
