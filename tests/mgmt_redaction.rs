//! No credential (access key, password, Basic auth, session cookie) reaches a log line, an
//! error or a Debug print. Alone in its binary: tracing's per-callsite interest cache is global,
//! and a capturing subscriber must not race tests that run without one.

mod log_capture;
mod mgmt_support;

use base64::Engine as _;
use igz_operator::mgmt::{Credentials, MgmtClient, NewGroup};
use log_capture::Captured;
use mgmt_support::{ACCESS_KEY, PASSWORD, access_key, login, start};
use serde_json::json;

#[test]
fn secrets_never_reach_logs_errors_or_debug_output() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    // A current-thread runtime keeps every task, the HTTP connections' included, on this
    // thread, where the capturing subscriber is the default.
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut evidence = Vec::new();
    runtime.block_on(async {
        let env = start().await;
        let keyed = MgmtClient::new(env.config(Credentials::AccessKey {
            username: Some("admin".to_owned()),
            key: secrecy::SecretString::from(ACCESS_KEY),
        }))
        .unwrap();
        let password = MgmtClient::new(env.config(login(PASSWORD))).unwrap();
        let wrong = MgmtClient::new(env.config(login("wrong-pw-31c9-secret"))).unwrap();
        let mut bad_key_cfg = env.config(access_key());
        bad_key_cfg.credentials = Credentials::AccessKey {
            username: None,
            key: secrecy::SecretString::from("bad-key-8e21-secret"),
        };
        let bad_key = MgmtClient::new(bad_key_cfg.clone()).unwrap();
        evidence.push(format!("{bad_key_cfg:?} {keyed:?} {password:?}"));

        keyed.verify().await.unwrap();
        password.verify().await.unwrap();
        env.reset().await; // expire the login session: 401, then re-login
        password.verify().await.unwrap();
        evidence.push(format!("{:?}", wrong.verify().await.unwrap_err()));
        evidence.push(wrong.verify().await.unwrap_err().to_string());
        evidence.push(format!("{:?}", bad_key.verify().await.unwrap_err()));

        env.set_faults(json!({"error_rate": 0.3, "drop_rate": 0.1}))
            .await;
        for i in 0..4 {
            let new = NewGroup {
                name: format!("logged-{i}"),
                assigned_policies: vec!["Data".to_owned()],
                ..Default::default()
            };
            match password.create_group(&new).await {
                Ok(g) => evidence.push(format!("{g:?}")),
                Err(e) => evidence.push(format!("{e:?} {e}")),
            }
            let _ = keyed.find_group_by_name(&new.name).await;
        }
    });
    drop(runtime);

    let logs = captured.text();
    assert!(logs.contains("mgmt_request"), "request spans were captured");
    assert!(
        logs.contains("retrying") || logs.contains("no answer"),
        "faulty requests were logged"
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{ACCESS_KEY}"));
    let haystacks = [logs.as_str(), &evidence.join("\n")];
    for secret in [
        ACCESS_KEY,
        PASSWORD,
        "wrong-pw-31c9-secret",
        "bad-key-8e21-secret",
        basic.as_str(),
    ] {
        for hay in haystacks {
            assert!(!hay.contains(secret), "a secret leaked");
        }
    }
    // The session cookie (login token) is never known to the test, so its carrier is checked.
    for hay in haystacks {
        assert!(
            !hay.contains("{\"sid\"") && !hay.contains("%22sid%22"),
            "a session cookie leaked"
        );
        assert!(
            !hay.to_lowercase().contains("session="),
            "a session cookie leaked"
        );
    }
}
