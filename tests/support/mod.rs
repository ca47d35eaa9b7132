//! Shared ground for integration tests: a kube `Client` against a real kube-apiserver + etcd.
//!
//! The control plane is started once by `hack/envtest-up.sh` (which reuses a healthy running one,
//! and serialises concurrent callers with a lock), so the first test binary pays for the start and
//! later ones reuse it. `make test` stops it at the end; a plain `cargo test` leaves it running
//! for the next run (stop it with `make envtest-down`).
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::PathBuf;
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of the admin kubeconfig, starting the control plane first if it is not running.
pub fn kubeconfig_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let script = repo_root().join("hack/envtest-up.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "hack/envtest-up.sh failed ({}); see its messages above",
            out.status
        );
        repo_root().join("target/envtest/kubeconfig")
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
    let name = format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some([("igz-operator.io/test".to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create test namespace");
    name
}
pub mod operator;
