//! Credentials that change at run time: an access key rotated under traffic, a request refused
//! with credentials replaced since (sent once more, never twice), login sessions the platform
//! ends, a password rotated. The emulator holds requests in flight while the credentials change
//! under them, so what each request was sent with is certain, not a matter of timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use igz_emulator::IssueAccessKey;
use igz_mgmt::{ErrorKind, HealthProblem, MgmtClient, MgmtMetrics, NewUserGroup, Observer};
use serde_json::json;

use crate::support::{ACCESS_KEY, Env, PASSWORD, access_key, eventually, key, login, start};

fn group(name: String) -> NewUserGroup {
    NewUserGroup {
        name,
        assigned_policies: vec!["Data".to_owned()],
        ..Default::default()
    }
}

/// One worker's traffic until `stop`: reads, a session check and creates, one call at a time.
/// Returns how many calls it made and every failure.
async fn traffic(client: MgmtClient, worker: usize, stop: Arc<AtomicBool>) -> (u32, Vec<String>) {
    let (mut calls, mut failures) = (0u32, Vec::new());
    while !stop.load(Ordering::Relaxed) {
        let outcome = match calls % 4 {
            0 => client
                .list_users()
                .await
                .map(|users| assert_eq!(users.len(), 4)),
            1 => client
                .find_user("alice")
                .await
                .map(|found| assert!(found.is_some())),
            2 => client
                .create_group(&group(format!("w{worker}-{calls}")))
                .await
                .map(|_| ()),
            _ => client.verify().await.map(|_| ()),
        };
        if let Err(e) = outcome {
            failures.push(e.to_string());
        }
        calls += 1;
    }
    (calls, failures)
}

const WORKERS: usize = 8;

/// Runs [`traffic`] on `WORKERS` tasks; `change` runs while one request of each is held by the
/// emulator (sent with the credentials in use before `change`), then they are let go and the
/// traffic runs on a while. Returns every failure.
async fn under_traffic<C, Fut>(env: &Env, client: &MgmtClient, change: C) -> Vec<String>
where
    C: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| tokio::spawn(traffic(client.clone(), w, stop.clone())))
        .collect();
    eventually("traffic flows", || async {
        env.admin.stats().await.requests_total >= 40
    })
    .await;
    env.admin.hold().await;
    env.wait_held(WORKERS as u64).await;
    change().await;
    env.admin.release().await;
    let released = env.admin.stats().await.requests_total;
    eventually("traffic flows after the change", || async {
        env.admin.stats().await.requests_total >= released + 80
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for worker in workers {
        let (calls, mut failed) = worker.await.unwrap();
        assert!(calls > 0);
        failures.append(&mut failed);
    }
    failures
}

/// The rotation an operator makes: a new key is issued, the client takes it, the old key is
/// revoked, all while requests with the old key are on their way. Each of those is refused
/// and sent once more with the new key: no call fails.
#[tokio::test]
async fn a_key_rotated_under_traffic_fails_no_call() {
    let env = start().await;
    let client = env.client();
    let failures = under_traffic(&env, &client, || async {
        let new = env.admin.issue_access_key(&IssueAccessKey::default()).await;
        client.replace_credentials(key(&new.key)).unwrap();
        env.admin.revoke_access_key(ACCESS_KEY).await;
    })
    .await;
    assert!(failures.is_empty(), "failed calls: {failures:?}");
    let stats = env.admin.stats().await;
    assert_eq!(
        stats.unauthorized, WORKERS as u64,
        "exactly the held requests went with the old key and were refused"
    );
    assert_eq!(
        stats.unauthorized_writes + stats.writes_total,
        stats.route("POST /api/user_groups")
    );
    assert_eq!(env.admin.state().await.invariants, "ok");
}

/// Many requests refused on one ended login session: one new login serves them all.
#[tokio::test]
async fn a_login_session_ended_under_traffic_is_renewed_once_and_fails_no_call() {
    let env = start().await;
    let metrics = MgmtMetrics::default();
    let mut cfg = env.config(login(PASSWORD));
    cfg.observer = Observer::new(metrics.clone());
    let client = MgmtClient::new(cfg).unwrap();
    let failures = under_traffic(&env, &client, || async {
        assert_eq!(env.admin.expire_sessions().await, 1);
    })
    .await;
    assert!(failures.is_empty(), "failed calls: {failures:?}");
    assert_eq!(env.admin.stats().await.unauthorized, WORKERS as u64);
    assert_eq!(metrics.relogins("default"), 1, "one renewal for all");
    assert_eq!(
        env.route_count("POST /api/sessions").await,
        2,
        "the first login and one renewal"
    );
}

/// Sessions that end by themselves (a session ttl at the platform) are renewed as they end,
/// without a failed call. (The ttl is long enough that a renewed session is never itself over
/// before the request it was made for goes again.)
#[tokio::test]
async fn sessions_with_a_short_ttl_are_renewed_without_a_failed_call() {
    let env = start().await;
    env.admin
        .set_session_ttl(Some(Duration::from_secs(1)))
        .await;
    let metrics = MgmtMetrics::default();
    let mut cfg = env.config(login(PASSWORD));
    cfg.observer = Observer::new(metrics.clone());
    let client = MgmtClient::new(cfg).unwrap();
    let started = std::time::Instant::now();
    while metrics.relogins("default") < 2 {
        client.find_user("bob").await.unwrap().unwrap();
        assert!(
            started.elapsed() < igz_testkit::wait::DEFAULT_DEADLINE,
            "sessions never ended"
        );
        // Pacing only (the logs of this binary are kept for the redaction test).
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = env.admin.stats().await;
    assert_eq!(stats.unauthorized, 2, "one refusal per ended session");
    assert_eq!(stats.route("POST /api/sessions"), 3);
}

/// A refusal of a request sent with credentials replaced since is sent once more with the
/// current ones; when those are refused too, that is the answer: not a third try.
#[tokio::test]
async fn a_request_refused_with_old_credentials_is_sent_once_more_and_no_more() {
    let env = start().await;
    let client = env.client();
    env.admin.hold().await;
    let call = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .get_group("5a0b2c1e-8d3f-4c6a-9b7e-1f2d3c4b5a69")
                .await
        }
    });
    env.wait_held(1).await;
    client
        .replace_credentials(key("never-issued-key-secret"))
        .unwrap();
    env.admin.revoke_access_key(ACCESS_KEY).await;
    env.admin.release().await;
    let err = call.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.health(), HealthProblem::CredentialsInvalid);
    assert_eq!(env.route_count("GET /api/user_groups/{id}").await, 2);

    // A refusal of the credentials in use is final at once.
    client
        .get_group("5a0b2c1e-8d3f-4c6a-9b7e-1f2d3c4b5a69")
        .await
        .unwrap_err();
    assert_eq!(env.route_count("GET /api/user_groups/{id}").await, 3);
}

/// A create refused with the old key is sent again with the new one: a 401 means the platform
/// did nothing, so the group is made exactly once.
#[tokio::test]
async fn a_create_refused_with_a_rotated_key_is_made_once_with_the_new_key() {
    let env = start().await;
    let client = env.client();
    env.admin.hold().await;
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.create_group(&group("rotated".into())).await }
    });
    env.wait_held(1).await;
    let new = env.admin.issue_access_key(&IssueAccessKey::default()).await;
    client.replace_credentials(key(&new.key)).unwrap();
    env.admin.revoke_access_key(ACCESS_KEY).await;
    env.admin.release().await;
    let created = call.await.unwrap().unwrap();
    assert_eq!(created.name, "rotated");
    assert_eq!(env.route_count("POST /api/user_groups").await, 2);
    assert_eq!(env.admin.state().await.user_groups_named("rotated"), 1);
}

/// A rotated password: the client logs in with the new one; the old session is not used again.
#[tokio::test]
async fn a_rotated_password_is_used_from_the_next_request() {
    let env = start().await;
    let client = MgmtClient::new(env.config(login(PASSWORD))).unwrap();
    assert_eq!(client.verify().await.unwrap().username, "alice");
    // The platform's password changes (the admin key sets it, as an administrator would).
    let admin = env.client();
    let alice = admin.find_user("alice").await.unwrap().unwrap();
    let http = reqwest::Client::new();
    let body = json!({"data": {"type": "user", "attributes": {"password": "alice-new-pw-7c1d"}}});
    let response = http
        .put(format!("{}api/users/{}", env.base, alice.id))
        .header("cookie", format!("session=j:{{\"sid\": \"{ACCESS_KEY}\"}}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    client
        .replace_credentials(login("alice-new-pw-7c1d"))
        .unwrap();
    assert_eq!(client.verify().await.unwrap().username, "alice");
    assert_eq!(env.route_count("POST /api/sessions").await, 2);
    // The same credentials again change nothing: no new login.
    client
        .replace_credentials(login("alice-new-pw-7c1d"))
        .unwrap();
    client.verify().await.unwrap();
    assert_eq!(env.route_count("POST /api/sessions").await, 2);
    // Back to the old password, which the platform no longer takes.
    client.replace_credentials(login(PASSWORD)).unwrap();
    let err = client.verify().await.unwrap_err();
    assert_eq!(err.health(), HealthProblem::CredentialsInvalid);
}

/// Credentials that cannot be sent are refused, and the ones in use stay in use.
#[tokio::test]
async fn unusable_credentials_are_refused_and_the_old_ones_kept() {
    let env = start().await;
    let client = env.client();
    for bad in [key(""), key("two\nlines-secret"), login("")] {
        let err = client.replace_credentials(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert!(!err.to_string().contains("lines-secret"), "{err}");
    }
    client.replace_credentials(access_key()).unwrap();
    client.verify().await.unwrap();
}
