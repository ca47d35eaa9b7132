//! No credential (access key, password, Basic auth, session cookie) reaches a log line, an
//! error or a Debug print. The binary's one capturing subscriber (see `igz_testkit::logs`)
//! holds the logs of every test in it, so this checks all of them, not only its own.

use base64::Engine as _;
use igz_emulator::{Fault, FaultsPatch, IssueAccessKey, ScriptedFault};
use igz_mgmt::{Credentials, MgmtClient, NewUserGroup};

use crate::support::{ACCESS_KEY, PASSWORD, access_key, key, login, start};

const OLD: &str = "old-key-3a9c-secret";
const ROTATED: &str = "rotated-key-6d0f-secret";

#[tokio::test]
async fn secrets_never_reach_logs_errors_or_debug_output() {
    let mut evidence = Vec::new();
    {
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
        env.admin.reset().await; // expire the login session: 401, then re-login
        password.verify().await.unwrap();
        evidence.push(format!("{:?}", wrong.verify().await.unwrap_err()));
        evidence.push(wrong.verify().await.unwrap_err().to_string());
        evidence.push(format!("{:?}", bad_key.verify().await.unwrap_err()));

        // A rotation: the old key is refused on a held request, which goes again with the new
        // key; a probe lists the user's keys (each key is an id there) to find its expiry.
        for secret in [OLD, ROTATED] {
            env.admin
                .issue_access_key(&IssueAccessKey {
                    key: Some(secret.to_owned()),
                    ..Default::default()
                })
                .await;
        }
        let rotated = MgmtClient::new(env.config(key(OLD))).unwrap();
        env.admin.hold().await;
        let held = tokio::spawn({
            let rotated = rotated.clone();
            async move { rotated.list_users().await }
        });
        env.wait_held(1).await;
        rotated.replace_credentials(key(ROTATED)).unwrap();
        env.admin.revoke_access_key(OLD).await;
        env.admin.release().await;
        evidence.push(format!("{:?}", held.await.unwrap().unwrap()));
        evidence.push(format!("{rotated:?} {:?}", rotated.probe().await.unwrap()));
        let old = MgmtClient::new(env.config(key(OLD))).unwrap();
        let revoked = old.probe().await.unwrap_err();
        evidence.push(format!(
            "{revoked:?} {}",
            revoked.health_message(old.endpoint())
        ));
        let unusable = rotated
            .replace_credentials(key("bad\nrotated-key-6d0f-secret"))
            .unwrap_err();
        evidence.push(format!("{unusable:?} {unusable}"));

        // Certain faults on requests carrying each kind of credential: a lost create answer, a
        // server error on a read (retried), then seeded random ones.
        let script = [
            ("POST /api/user_groups", Fault::Drop),
            ("GET /api/user_groups", Fault::Error),
            ("POST /api/user_groups", Fault::Error),
        ]
        .map(|(route, fault)| ScriptedFault {
            route: Some(route.into()),
            fault,
        });
        env.set_faults(FaultsPatch {
            error_rate: Some(0.3),
            drop_rate: Some(0.1),
            seed: Some(3),
            script: Some(script.to_vec()),
            ..Default::default()
        })
        .await;
        for i in 0..4 {
            let new = NewUserGroup {
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
        let injected = env.admin.stats().await.faults;
        assert!(
            injected.dropped > 0 && injected.errors_injected > 0,
            "{injected:?}"
        );
    }

    let logs = igz_testkit::logs::capture("").text();
    assert!(logs.contains("mgmt_request"), "request spans were captured");
    assert!(
        logs.contains("retrying") && logs.contains("no answer"),
        "faulty requests were logged"
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{ACCESS_KEY}"));
    let haystacks = [logs.as_str(), &evidence.join("\n")];
    for secret in [
        ACCESS_KEY,
        PASSWORD,
        "wrong-pw-31c9-secret",
        "bad-key-8e21-secret",
        OLD,
        ROTATED,
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
