//! What the operator's integration tests share: the end-to-end harness (control plane, emulator,
//! controller) and small helpers. The control plane itself comes from `igz_testkit::envtest`.

pub mod connections;
pub mod grants;
mod harness;

pub use harness::*;

/// `FaultsPatch` setting only the error rate.
pub fn errors(rate: f64) -> igz_emulator::FaultsPatch {
    igz_emulator::FaultsPatch {
        error_rate: Some(rate),
        ..Default::default()
    }
}

/// This binary's log buffer. Every test's logs land in it from the harness's start on, so the
/// checks that no secret reaches a log line cover all of them.
pub fn logs() -> igz_testkit::logs::Captured {
    igz_testkit::logs::capture(
        "igz_operator=trace,igz_mgmt=trace,kube=debug,reqwest=trace,hyper=debug",
    )
}

/// The documents of `deploy/igz-operator.yaml` (the chart rendered with default values, kept
/// equal to the chart by hack/check-chart.sh), as JSON.
pub fn chart_documents() -> Vec<serde_json::Value> {
    use serde::Deserialize as _;
    let path = igz_testkit::paths::repo_root().join("deploy/igz-operator.yaml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde_json::Value::deserialize(d).expect("a YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

/// A kube client authenticated as ServiceAccount `sa`, created in `ns` (token from the
/// TokenRequest API). It may do nothing until RBAC grants it something.
pub async fn service_account_client(admin: &kube::Client, ns: &str, sa: &str) -> kube::Client {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    use kube::api::{Api, ObjectMeta, PostParams};

    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), ns);
    sas.create(
        &PostParams::default(),
        &ServiceAccount {
            metadata: ObjectMeta {
                name: Some(sa.to_owned()),
                labels: Some([("igz-operator.io/test".to_owned(), "true".to_owned())].into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .expect("create ServiceAccount");
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = sas
        .create_token_request(sa, &PostParams::default(), &request)
        .await
        .expect("TokenRequest")
        .status
        .expect("token status")
        .token;
    let mut config = igz_testkit::envtest::admin_config().await;
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.into()),
        ..Default::default()
    };
    kube::Client::try_from(config).expect("client with the ServiceAccount token")
}
