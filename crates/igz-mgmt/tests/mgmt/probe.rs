//! The connection probe and the health of a failure: who the credentials act as, the platform
//! version, when the key expires; and unreachable, TLS and refused platforms told apart, with
//! messages that never carry a secret.

use igz_emulator::IssueAccessKey;
use igz_mgmt::{HealthProblem, MgmtClient};
use url::Url;

use crate::support::{ACCESS_KEY, PASSWORD, key, login, start};

#[tokio::test]
async fn the_probe_tells_user_tenant_version_and_key_expiry() {
    let env = start().await;
    let client = env.client();
    let identity = client.probe().await.unwrap();
    assert_eq!(identity.username, "admin");
    assert_eq!(
        identity.tenant_id,
        igz_emulator::EmulatorConfig::default().tenant_id
    );
    assert_eq!(identity.platform_version.as_deref(), Some("3.6.0"));
    let startup = env.admin.access_keys().await;
    let expires = startup
        .iter()
        .find(|k| k.key == ACCESS_KEY)
        .unwrap()
        .expires_at;
    assert_eq!(
        identity.credentials_expire.map(|t| t.as_second()),
        Some(expires),
        "the start-up key's ten years"
    );

    // A key of alice's, valid for an hour, sent with her username.
    let issued = env
        .admin
        .issue_access_key(&IssueAccessKey {
            username: Some("alice".into()),
            ttl: Some(3600),
            ..Default::default()
        })
        .await;
    client
        .replace_credentials(igz_mgmt::Credentials::AccessKey {
            username: Some("alice".into()),
            key: issued.key.clone().into(),
        })
        .unwrap();
    env.admin.set_version(Some("3.7.1-b42")).await;
    let identity = client.probe().await.unwrap();
    assert_eq!(identity.username, "alice");
    assert_eq!(identity.platform_version.as_deref(), Some("3.7.1-b42"));
    assert_eq!(
        identity.credentials_expire.map(|t| t.as_second()),
        Some(issued.expires_at)
    );
    // The key itself never goes into a URL: only route templates were asked for.
    let stats = env.admin.stats().await;
    assert!(stats.routes.keys().all(|r| !r.contains(&issued.key)));
    assert!(stats.route("GET /api/access_keys") >= 2);
}

#[tokio::test]
async fn a_platform_that_does_not_tell_its_version_or_key_expiry_is_still_healthy() {
    let env = start().await;
    env.admin.set_version(None).await;
    let identity = env.client().probe().await.unwrap();
    assert_eq!(identity.platform_version, None);
    assert_eq!(
        env.route_count("GET /api/tunnel/{tunnel}/external_versions/{node}")
            .await,
        3,
        "igz0, igz1, igz2, as the SDK asks"
    );
    // A login has no key to expire.
    let session = MgmtClient::new(env.config(login(PASSWORD))).unwrap();
    let identity = session.probe().await.unwrap();
    assert_eq!(identity.username, "alice");
    assert_eq!(identity.credentials_expire, None);
}

#[tokio::test]
async fn a_refused_key_fails_the_probe_with_a_message_that_says_what_to_fix() {
    let env = start().await;
    let client = MgmtClient::new(env.config(key("unknown-key-5e2a-secret"))).unwrap();
    let err = client.probe().await.unwrap_err();
    assert_eq!(err.health(), HealthProblem::CredentialsInvalid);
    let message = err.health_message(client.endpoint());
    assert!(message.contains("refused the credentials"), "{message}");
    assert!(message.contains("Secret"), "{message}");
    assert!(!message.contains("unknown-key-5e2a-secret"), "{message}");
}

/// A port nobody listens on: the probe says the platform cannot be reached.
#[tokio::test]
async fn an_unreachable_platform_is_unreachable() {
    let env = start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut cfg = env.config(key("some-key-4f1c-secret"));
    cfg.base_url = Url::parse(&format!("http://{closed}")).unwrap();
    cfg.retry.max_attempts = 2;
    let client = MgmtClient::new(cfg).unwrap();
    let err = client.probe().await.unwrap_err();
    assert_eq!(err.health(), HealthProblem::Unreachable, "{err}");
    let message = err.health_message(client.endpoint());
    assert!(message.contains(&closed.to_string()), "{message}");
    assert!(message.contains("does not answer"), "{message}");
    assert!(!message.contains("some-key-4f1c-secret"));
}

/// HTTPS to an endpoint that speaks plain HTTP: the TLS handshake fails, and the probe says so
/// (not "unreachable": the fix is in the TLS settings or the URL's scheme).
#[tokio::test]
async fn a_tls_failure_is_told_apart_from_an_unreachable_platform() {
    let env = start().await;
    let mut cfg = env.config(key("some-key-4f1c-secret"));
    let mut url = env.base.clone();
    url.set_scheme("https").unwrap();
    cfg.base_url = url;
    cfg.retry.max_attempts = 1;
    let client = MgmtClient::new(cfg).unwrap();
    let err = client.probe().await.unwrap_err();
    assert_eq!(err.health(), HealthProblem::TlsError, "{err}");
    let message = err.health_message(client.endpoint());
    assert!(message.contains("CA bundle"), "{message}");

    // An unusable CA bundle is a TLS problem too, found when the client is built.
    let mut cfg = env.config(key("k"));
    cfg.ca_bundle_pem = Some(b"not a certificate".to_vec());
    let err = MgmtClient::new(cfg).unwrap_err();
    assert_eq!(err.health(), HealthProblem::TlsError, "{err}");
}
