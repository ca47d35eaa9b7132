//! Login sessions: one re-login on 401, no login loops.

use crate::support::{PASSWORD, login, start};
use igz_mgmt::{ErrorKind, MgmtClient, MgmtMetrics};
use prometheus_client::registry::Registry;

#[tokio::test]
async fn an_expired_session_is_renewed_once() {
    let env = start().await;
    let metrics = MgmtMetrics::default();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let mut cfg = env.config(login(PASSWORD));
    cfg.observer = igz_mgmt::Observer::new(metrics);
    let client = MgmtClient::new(cfg).unwrap();

    assert_eq!(client.verify().await.unwrap().username, "alice");
    assert_eq!(
        env.route_count("POST /api/sessions").await,
        1,
        "logged in once"
    );
    client.verify().await.unwrap();
    assert_eq!(
        env.route_count("POST /api/sessions").await,
        1,
        "session reused"
    );

    // A reset forgets every session (and the counters); the seeded user remains.
    env.admin.reset().await;
    assert_eq!(client.verify().await.unwrap().username, "alice");
    assert_eq!(
        env.route_count("POST /api/sessions").await,
        1,
        "one re-login"
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"igz_mgmt_relogins_total{connection="default"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_wrong_password_fails_without_looping() {
    let env = start().await;
    let client = MgmtClient::new(env.config(login("wrong-password-x"))).unwrap();
    let err = client.verify().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(env.route_count("POST /api/sessions").await, 1);
}
