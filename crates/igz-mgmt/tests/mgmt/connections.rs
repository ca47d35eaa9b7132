//! Several platforms from one process: a client per connection, each with its own breaker,
//! recoveries, credentials and metrics series; nothing one does reaches the other.

use std::time::Duration;

use igz_emulator::{FaultsPatch, IssueAccessKey};
use igz_mgmt::{ErrorKind, HealthProblem, MgmtClient, MgmtMetrics, Observer};
use prometheus_client::registry::Registry;

use crate::support::{ACCESS_KEY, Env, access_key, key, start};

fn client(env: &Env, connection: &str, metrics: &MgmtMetrics) -> MgmtClient {
    let mut cfg = env.config(access_key());
    cfg.connection = connection.to_owned();
    cfg.observer = Observer::new(metrics.clone());
    cfg.retry.max_attempts = 1;
    // An hour before the first probe: once open, prod's breaker stays open for this test.
    cfg.breaker = igz_mgmt::BreakerPolicy {
        threshold: 2,
        min_pause: Duration::from_secs(3600),
        max_pause: Duration::from_secs(3600),
    };
    MgmtClient::new(cfg).unwrap()
}

#[tokio::test]
async fn two_platforms_fail_rotate_and_count_apart() {
    let (prod_env, dev_env) = (start().await, start().await);
    let metrics = MgmtMetrics::default();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let prod = client(&prod_env, "prod", &metrics);
    let dev = client(&dev_env, "dev", &metrics);
    assert_eq!((prod.connection(), dev.connection()), ("prod", "dev"));
    let (prod_recoveries, dev_recoveries) = (prod.recoveries(), dev.recoveries());

    // Prod fails until its breaker holds every request back.
    prod_env
        .set_faults(FaultsPatch {
            error_rate: Some(1.0),
            ..Default::default()
        })
        .await;
    for _ in 0..2 {
        assert_eq!(
            prod.list_users().await.unwrap_err().kind(),
            ErrorKind::Unavailable
        );
    }
    let held = prod.list_users().await.unwrap_err();
    assert!(held.to_string().contains("held back"), "{held}");
    assert_eq!(held.health(), HealthProblem::Unreachable);

    // Dev is untouched: every call reaches its platform and succeeds.
    let dev_before = dev_env.admin.stats().await.requests_total;
    for _ in 0..5 {
        assert_eq!(dev.list_users().await.unwrap().len(), 4);
    }
    assert!(dev_env.admin.stats().await.requests_total > dev_before);
    assert_eq!(
        prod_env.admin.stats().await.requests_total,
        2,
        "prod: the threshold only"
    );

    // Rotating dev's key changes nothing for prod (still held back, still its own key).
    let new = dev_env
        .admin
        .issue_access_key(&IssueAccessKey::default())
        .await;
    dev.replace_credentials(key(&new.key)).unwrap();
    dev_env.admin.revoke_access_key(ACCESS_KEY).await;
    dev.verify().await.unwrap();
    assert!(
        prod.verify()
            .await
            .unwrap_err()
            .to_string()
            .contains("held back")
    );
    assert_eq!(*prod_recoveries.borrow(), 0);
    assert_eq!(*dev_recoveries.borrow(), 0);

    // Each connection's series under its own label, in one registry.
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(
            r#"igz_mgmt_requests_total{connection="prod",method="GET",route="/api/users",status="5xx"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"igz_mgmt_requests_total{connection="dev",method="GET",route="/api/users",status="2xx"}"#
        ),
        "{text}"
    );
    assert!(!text.contains(r#"connection="dev",method="GET",route="/api/users",status="5xx""#));
    assert!(text.contains(r#"igz_mgmt_relogins_total{connection="prod"} 0"#));
    assert!(text.contains(r#"igz_mgmt_relogins_total{connection="dev"} 0"#));
}
