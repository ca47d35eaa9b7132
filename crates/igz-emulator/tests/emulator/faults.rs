//! Each fault knob does what it says, on `/api` only, at start-up and at run time.

use std::time::{Duration, Instant};

use igz_emulator::{Fault, Faults, FaultsPatch, ScriptedFault};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Emu, start, start_with};

/// `PUT /__emulator/faults` with a raw body, for tests of the route itself.
async fn put_faults(emu: &Emu, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    emu.send(emu.admin_request(Method::PUT, "faults").json(&body))
        .await
}

#[tokio::test]
async fn faults_are_read_and_changed_at_run_time() {
    let emu = start().await;
    let (status, faults) = emu.send(emu.admin_request(Method::GET, "faults")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        faults,
        json!({"latency_ms": 0, "error_rate": 0.0, "drop_rate": 0.0, "rate_limit_rps": 0})
    );
    let (status, faults) = put_faults(&emu, json!({"latency_ms": 5, "error_rate": 0.25})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faults["latency_ms"], 5);
    // Absent fields keep their value; 0 turns one off.
    let (_, faults) = put_faults(&emu, json!({"latency_ms": 0})).await;
    assert_eq!(
        faults,
        json!({"latency_ms": 0, "error_rate": 0.25, "drop_rate": 0.0, "rate_limit_rps": 0})
    );
    for bad in [
        json!({"error_rate": 2.0}),
        json!({"drop_rate": -1}),
        json!({"colour": 1}),
        json!({"script": [{"fault": "explode"}]}),
        json!("x"),
    ] {
        let (status, body) = put_faults(&emu, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["errors"][0]["detail"].is_string());
    }
}

#[tokio::test]
async fn latency_delays_api_requests_only() {
    let emu = start().await;
    put_faults(&emu, json!({"latency_ms": 300})).await;
    let started = Instant::now();
    let (status, _) = emu.send(emu.api(Method::GET, "user_groups")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "latency not applied"
    );
    // Admin routes are exempt: with an hour of latency they still answer.
    put_faults(&emu, json!({"latency_ms": 3_600_000})).await;
    let (status, _) = emu.send(emu.admin_request(Method::GET, "stats")).await;
    assert_eq!(status, StatusCode::OK);
    let pending = emu
        .api(Method::GET, "user_groups")
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(
        pending
            .expect_err("answered despite an hour of latency")
            .is_timeout()
    );
}

#[tokio::test]
async fn error_rate_answers_500_or_503_with_retry_after_and_changes_nothing() {
    let emu = start().await;
    put_faults(&emu, json!({"error_rate": 1.0})).await;
    for i in 0..6 {
        let response = emu
            .api(Method::POST, "user_groups")
            .json(&Emu::group_body(&format!("e{i}"), &[]))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(response.status().as_u16(), 500 | 503),
            "{}",
            response.status()
        );
        assert_eq!(response.headers()["retry-after"], "1");
        let (_, body) = Emu::json(response).await;
        assert!(body["errors"][0]["status"].is_u64());
    }
    let stats = emu.admin.stats().await;
    assert_eq!(stats.faults.errors_injected, 6);
    assert_eq!(stats.writes_total, 0);
    put_faults(&emu, json!({"error_rate": 0})).await;
    let (_, list) = emu.send(emu.api(Method::GET, "user_groups")).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "only all_users should exist"
    );
}

#[tokio::test]
async fn dropped_answers_close_the_connection_after_committing_the_write() {
    let emu = start().await;
    put_faults(&emu, json!({"drop_rate": 1.0})).await;
    let lost = emu
        .api(Method::POST, "user_groups")
        .json(&Emu::group_body("lost-reply", &[]))
        .send()
        .await;
    let error = lost.expect_err("a dropped answer must not arrive");
    assert!(
        !error.is_timeout(),
        "the connection must be closed, not left hanging: {error}"
    );
    put_faults(&emu, json!({"drop_rate": 0})).await;
    let (status, list) = emu
        .send(emu.api(Method::GET, "user_groups?filter[name]=lost-reply"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "the write was not committed"
    );
    let stats = emu.admin.stats().await;
    assert_eq!(stats.faults.dropped, 1);
    assert_eq!(stats.writes_total, 1);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let emu = start().await;
    put_faults(&emu, json!({"rate_limit_rps": 1})).await;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let response = emu.api(Method::GET, "user_groups").send().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let seconds: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(seconds >= 1);
        }
        statuses.push(response.status());
    }
    assert_eq!(statuses[0], StatusCode::OK);
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(emu.admin.stats().await.faults.rate_limited >= 1);
    // Admin routes are never limited.
    for _ in 0..5 {
        assert_eq!(
            emu.admin_request(Method::GET, "stats")
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    put_faults(&emu, json!({"rate_limit_rps": 0})).await;
    for _ in 0..5 {
        assert_eq!(
            emu.api(Method::GET, "user_groups")
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn start_up_faults_apply_and_reset_restores_them() {
    let emu = start_with(|c| {
        c.faults = Faults {
            error_rate: 1.0,
            ..Faults::default()
        }
    })
    .await;
    let status = emu.api(Method::GET, "users").send().await.unwrap().status();
    assert!(status.is_server_error());
    put_faults(&emu, json!({"error_rate": 0})).await;
    assert_eq!(
        emu.api(Method::GET, "users").send().await.unwrap().status(),
        StatusCode::OK
    );
    emu.admin.reset().await;
    assert!(
        emu.api(Method::GET, "users")
            .send()
            .await
            .unwrap()
            .status()
            .is_server_error()
    );
}

#[tokio::test]
async fn scripted_faults_hit_exactly_the_requests_they_name() {
    let emu = start().await;
    let faults = emu
        .admin
        .set_faults(FaultsPatch {
            script: Some(vec![
                ScriptedFault {
                    route: Some("POST /api/user_groups".into()),
                    fault: Fault::Drop,
                },
                ScriptedFault {
                    route: Some("GET /api/users".into()),
                    fault: Fault::Error,
                },
            ]),
            ..Default::default()
        })
        .await;
    assert_eq!(faults.script.len(), 2);
    // Requests to other routes pass untouched.
    assert_eq!(
        emu.send(emu.api(Method::GET, "user_groups")).await.0,
        StatusCode::OK
    );
    let lost = emu
        .api(Method::POST, "user_groups")
        .json(&Emu::group_body("scripted", &[]))
        .send()
        .await;
    assert!(lost.is_err(), "the scripted drop closed the connection");
    assert_eq!(
        emu.send(emu.api(Method::GET, "users")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Each scripted fault fires once.
    assert_eq!(
        emu.send(emu.api(Method::GET, "users")).await.0,
        StatusCode::OK
    );
    assert!(emu.admin.faults().await.script.is_empty());
    let stats = emu.admin.stats().await;
    assert_eq!((stats.faults.dropped, stats.faults.errors_injected), (1, 1));
    let state = emu.admin.state().await;
    assert_eq!(
        state
            .user_groups
            .iter()
            .filter(|g| g["attributes"]["name"] == "scripted")
            .count(),
        1,
        "the dropped write was committed"
    );
}

#[tokio::test]
async fn a_seed_makes_random_faults_repeat_exactly() {
    let emu = start().await;
    let seeded = FaultsPatch {
        error_rate: Some(0.5),
        seed: Some(7),
        ..Default::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        emu.admin.set_faults(seeded.clone()).await;
        let mut statuses = Vec::new();
        for _ in 0..30 {
            statuses.push(emu.send(emu.api(Method::GET, "users")).await.0.as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(
        runs[0], runs[1],
        "setting the same seed replays the same faults"
    );
    assert!(
        runs[0].contains(&200) && runs[0].iter().any(|s| *s >= 500),
        "{:?}",
        runs[0]
    );
}
