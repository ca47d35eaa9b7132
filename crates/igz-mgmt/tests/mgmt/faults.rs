//! The client under the emulator's fault knobs: errors, dropped answers, 429 with
//! Retry-After, latency beyond the request timeout, and malformed answers.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use igz_emulator::{Fault, FaultsPatch, ScriptedFault};
use igz_mgmt::{ErrorKind, MgmtClient, NewUserGroup, ProjectRole, RateLimit, RetryPolicy};

use crate::support::{PROJECT, access_key, ids, start};

fn new_group(name: &str, members: Vec<String>) -> NewUserGroup {
    NewUserGroup {
        name: name.to_owned(),
        assigned_policies: vec!["Data".to_owned()],
        member_ids: members,
        ..Default::default()
    }
}

#[tokio::test]
async fn converges_under_errors_and_dropped_answers() {
    let env = start().await;
    let mut cfg = env.config(access_key());
    // The emulator asks for Retry-After >= 1 s on every injected error; a lower cap keeps
    // this test short (honouring it is covered by the 429 test).
    cfg.retry.max_retry_after = Duration::from_millis(100);
    let client = MgmtClient::new(cfg).unwrap();
    let mut users = BTreeMap::new();
    for name in crate::support::USERS {
        users.insert(name, client.find_user(name).await.unwrap().unwrap().id);
    }
    // Seeded: the same faults hit the same requests on every run.
    env.set_faults(FaultsPatch {
        error_rate: Some(0.3),
        drop_rate: Some(0.05),
        seed: Some(1),
        ..Default::default()
    })
    .await;

    // Desired: group i has members {alice, users[i]} after creation with {alice, bob},
    // and role ALL[i % 3] in the project.
    let mut made = Vec::new();
    for i in 0..6 {
        let initial = vec![users["alice"].clone(), users["bob"].clone()];
        let group = client
            .create_group(&new_group(&format!("flaky-{i}"), initial))
            .await
            .unwrap();
        let extra = &users[crate::support::USERS[i % 4]];
        client.add_user_to_group(extra, &group.id).await.unwrap();
        if extra != &users["bob"] {
            client
                .remove_user_from_group(&users["bob"], &group.id)
                .await
                .unwrap();
        }
        client
            .set_group_project_role(PROJECT, &group.id, Some(ProjectRole::ALL[i % 3]))
            .await
            .unwrap();
        made.push((group.id, i));
    }
    let stats = env.admin.stats().await;
    assert!(
        stats.faults.errors_injected > 0 && stats.faults.dropped > 0,
        "both faults were injected: {stats:?}"
    );

    env.admin.clear_faults().await;
    let groups = client.list_groups().await.unwrap();
    let project = client.find_project(PROJECT).await.unwrap().unwrap();
    for (id, i) in made {
        let name = format!("flaky-{i}");
        let same_name: Vec<_> = groups.iter().filter(|g| g.name == name).collect();
        assert_eq!(same_name.len(), 1, "exactly one {name}");
        let extra = users[crate::support::USERS[i % 4]].clone();
        // a set: when the extra member is alice herself the group holds alice alone
        let expected = vec![users["alice"].clone(), extra];
        assert_eq!(
            ids(&same_name[0].member_ids),
            ids(&expected),
            "{name} members"
        );
        assert_eq!(
            project.group_role(&id),
            Some(ProjectRole::ALL[i % 3]),
            "{name} role"
        );
    }
}

#[tokio::test]
async fn a_create_whose_answer_is_dropped_yields_exactly_one_group() {
    const CREATES: usize = 40;
    let env = start().await;
    let client = env.client();
    // The first create's answer is certainly dropped; the seeded draws drop more of the rest.
    env.set_faults(FaultsPatch {
        drop_rate: Some(0.35),
        seed: Some(2),
        script: Some(vec![ScriptedFault {
            route: Some("POST /api/user_groups".into()),
            fault: Fault::Drop,
        }]),
        ..Default::default()
    })
    .await;
    for i in 0..CREATES {
        let group = client
            .create_group(&new_group(&format!("dropped-{i}"), vec![]))
            .await
            .unwrap();
        assert_eq!(group.name, format!("dropped-{i}"));
    }
    let stats = env.admin.stats().await;
    assert!(stats.faults.dropped > 1, "answers were dropped: {stats:?}");
    env.admin.clear_faults().await;
    let groups = client.list_groups().await.unwrap();
    for i in 0..CREATES {
        let name = format!("dropped-{i}");
        assert_eq!(
            groups.iter().filter(|g| g.name == name).count(),
            1,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_lost_create_never_takes_a_group_that_differs_from_what_it_sent() {
    let env = start().await;
    let client = env.client();
    let bob = client.find_user("bob").await.unwrap().unwrap().id;
    let alice = client.find_user("alice").await.unwrap().unwrap().id;
    // Someone else's group holds the name; our create's answer (a 409) is lost on the way back.
    let theirs = client
        .create_group(&new_group("contested", vec![bob.clone()]))
        .await
        .unwrap();
    env.set_faults(FaultsPatch {
        script: Some(vec![ScriptedFault {
            route: Some("POST /api/user_groups".into()),
            fault: Fault::Drop,
        }]),
        ..Default::default()
    })
    .await;
    let err = client
        .create_group(&new_group("contested", vec![alice]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.outcome_unknown(), "the answer was lost: {err}");
    assert_eq!(env.admin.stats().await.faults.dropped, 1);
    let after = client.get_group(&theirs.id).await.unwrap().unwrap();
    assert_eq!(after, theirs, "their group is untouched");
    assert_eq!(after.member_ids, vec![bob]);
}

#[tokio::test]
async fn a_definite_conflict_says_the_outcome_is_known() {
    let env = start().await;
    let client = env.client();
    client
        .create_group(&new_group("taken-for-sure", vec![]))
        .await
        .unwrap();
    let err = client
        .create_group(&new_group("taken-for-sure", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(!err.outcome_unknown(), "a 409 that arrived is definite");
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let env = start().await;
    let mut cfg = env.config(access_key());
    // Our own backoff alone would retry after a few ms: a wait of a second or more can only
    // come from honouring the server's Retry-After.
    cfg.retry = RetryPolicy {
        max_attempts: 4,
        min_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(10),
        max_total_delay: Duration::from_secs(20),
        max_retry_after: Duration::from_secs(5),
    };
    let client = MgmtClient::new(cfg).unwrap();
    env.set_faults(FaultsPatch {
        script: Some(vec![ScriptedFault {
            route: None,
            fault: Fault::RateLimit,
        }]),
        ..Default::default()
    })
    .await;
    let started = std::time::Instant::now();
    client.verify().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}, before the server's Retry-After: 1",
        started.elapsed()
    );
    assert_eq!(env.admin.stats().await.faults.rate_limited, 1);
}

#[tokio::test]
async fn the_client_rate_limit_keeps_below_the_server_limit() {
    let env = start().await;
    let mut cfg = env.config(access_key());
    cfg.rate_limit = RateLimit {
        qps: 8.0,
        burst: NonZeroU32::new(1).unwrap(),
    };
    let client = MgmtClient::new(cfg).unwrap();
    env.set_faults(FaultsPatch {
        rate_limit_rps: Some(10),
        ..Default::default()
    })
    .await;
    let calls = (0..14).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.verify().await })
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap().unwrap();
    }
    let stats = env.admin.stats().await;
    assert_eq!(
        stats.faults.rate_limited, 0,
        "no 429 when the clones share one bucket: {stats:?}"
    );
}

#[tokio::test]
async fn timeouts_are_reported_and_recovered_from() {
    let env = start().await;
    let mut cfg = env.config(access_key());
    // Far below the injected latency, far above a loopback answer on a loaded machine.
    cfg.request_timeout = Duration::from_secs(1);
    cfg.retry.max_attempts = 2;
    let client = MgmtClient::new(cfg).unwrap();
    let group = env
        .client()
        .create_group(&new_group("slow", vec![]))
        .await
        .unwrap();

    env.set_faults(FaultsPatch {
        latency_ms: Some(3_000),
        ..Default::default()
    })
    .await;
    let before = env.route_count("GET /api/user_groups/{id}").await;
    let err = client.get_group(&group.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    let sent = env.route_count("GET /api/user_groups/{id}").await - before;
    assert_eq!(sent, 2, "one retry, then give up");

    env.admin.clear_faults().await;
    assert_eq!(
        client.get_group(&group.id).await.unwrap().unwrap().id,
        group.id
    );
}

/// The emulator has no knob for malformed bodies, so a tiny hostile server plays that part.
#[tokio::test]
async fn malformed_answers_are_decode_errors_naming_the_field() {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/api/user_groups/{id}",
            get(|| async { r#"{"data":{"id":"g","attributes":{"gid":"seven"}}}"# }),
        )
        .route("/api/user_groups", get(|| async { "{\"data\": [" }))
        .route("/api/users", get(|| async { "<html>gateway</html>" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut cfg =
        igz_mgmt::MgmtConfig::new(format!("http://{addr}").parse().unwrap(), access_key());
    cfg.retry.max_attempts = 1;
    let client = MgmtClient::new(cfg).unwrap();
    let err = client.get_group("g").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("data.attributes.gid"), "{err}");
    assert_eq!(
        client.list_groups().await.unwrap_err().kind(),
        ErrorKind::Decode
    );
    assert_eq!(
        client.find_user("x").await.unwrap_err().kind(),
        ErrorKind::Decode
    );
    server.abort();
}

/// A platform that keeps failing: after `threshold` failed requests in a row the client holds
/// every request back (it fails at once, definite, without reaching the platform) until a probe
/// finds the platform answering. The pause before the first probe is an hour here, so the
/// count below cannot depend on timing.
#[tokio::test]
async fn a_failing_platform_gets_no_requests_beyond_the_breaker_threshold() {
    let env = start().await;
    let mut cfg = env.config(access_key());
    cfg.breaker = igz_mgmt::BreakerPolicy {
        threshold: 4,
        min_pause: Duration::from_secs(3600),
        max_pause: Duration::from_secs(3600),
    };
    cfg.retry.max_attempts = 2;
    let client = MgmtClient::new(cfg).unwrap();
    env.set_faults(FaultsPatch {
        error_rate: Some(1.0),
        ..Default::default()
    })
    .await;
    let before = env.admin.stats().await.requests_total;
    let mut held_back = 0;
    for _ in 0..20 {
        let err = client.list_users().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        if err.to_string().contains("held back") {
            held_back += 1;
            assert!(!err.outcome_unknown(), "nothing was sent: {err}");
        }
    }
    let sent = env.admin.stats().await.requests_total - before;
    assert_eq!(sent, 4, "the threshold, then nothing");
    assert_eq!(
        held_back, 18,
        "two calls of two attempts reached it, then none"
    );
}

/// Once the breaker is open, a probe per pause checks the platform; the first answered one
/// closes it and `recoveries()` tells whoever waits, and requests flow again.
#[tokio::test]
async fn the_client_says_when_a_failing_platform_is_back() {
    let env = start().await;
    let mut cfg = env.config(access_key());
    cfg.breaker = igz_mgmt::BreakerPolicy {
        threshold: 2,
        min_pause: Duration::from_millis(20),
        max_pause: Duration::from_millis(100),
    };
    cfg.retry.max_attempts = 1;
    let client = MgmtClient::new(cfg).unwrap();
    let mut recoveries = client.recoveries();
    env.set_faults(FaultsPatch {
        error_rate: Some(1.0),
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        client.list_users().await.unwrap_err();
    }
    assert!(
        client
            .list_users()
            .await
            .unwrap_err()
            .to_string()
            .contains("held back")
    );
    env.set_faults(FaultsPatch {
        error_rate: Some(0.0),
        ..Default::default()
    })
    .await;
    tokio::time::timeout(Duration::from_secs(60), recoveries.changed())
        .await
        .expect("told within a minute")
        .unwrap();
    assert_eq!(*recoveries.borrow(), 1);
    client.list_users().await.unwrap();
}
