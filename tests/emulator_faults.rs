//! Each fault knob does what it says, on `/api` only, at start-up and at run time.

mod emulator_support;

use std::time::{Duration, Instant};

use emulator_support::{start, start_with};
use igz_operator::emulator::Faults;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn faults_are_read_and_changed_at_run_time() {
    let emu = start().await;
    let (status, faults) = emu.send(emu.admin(Method::GET, "faults")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        faults,
        json!({"latency_ms": 0, "error_rate": 0.0, "drop_rate": 0.0, "rate_limit_rps": 0})
    );
    let (status, faults) = emu
        .set_faults(json!({"latency_ms": 5, "error_rate": 0.25}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faults["latency_ms"], 5);
    // Absent fields keep their value; 0 turns one off.
    let (_, faults) = emu.set_faults(json!({"latency_ms": 0})).await;
    assert_eq!(
        faults,
        json!({"latency_ms": 0, "error_rate": 0.25, "drop_rate": 0.0, "rate_limit_rps": 0})
    );
    for bad in [
        json!({"error_rate": 2.0}),
        json!({"drop_rate": -1}),
        json!({"colour": 1}),
        json!("x"),
    ] {
        let (status, body) = emu.set_faults(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["errors"][0]["detail"].is_string());
    }
}

#[tokio::test]
async fn latency_delays_api_requests_only() {
    let emu = start().await;
    emu.set_faults(json!({"latency_ms": 300})).await;
    let started = Instant::now();
    let (status, _) = emu.send(emu.api(Method::GET, "user_groups")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "latency not applied"
    );
    // Admin routes are exempt: with an hour of latency they still answer.
    emu.set_faults(json!({"latency_ms": 3_600_000})).await;
    let (status, _) = emu.send(emu.admin(Method::GET, "stats")).await;
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
    emu.set_faults(json!({"error_rate": 1.0})).await;
    for i in 0..6 {
        let response = emu
            .api(Method::POST, "user_groups")
            .json(&emulator_support::Emu::group_body(&format!("e{i}"), &[]))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(response.status().as_u16(), 500 | 503),
            "{}",
            response.status()
        );
        assert_eq!(response.headers()["retry-after"], "1");
        let (_, body) = emulator_support::Emu::json(response).await;
        assert!(body["errors"][0]["status"].is_u64());
    }
    let stats = emu.stats().await;
    assert_eq!(stats["faults"]["errors_injected"], 6);
    assert_eq!(stats["writes_total"], 0);
    emu.set_faults(json!({"error_rate": 0})).await;
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
    emu.set_faults(json!({"drop_rate": 1.0})).await;
    let lost = emu
        .api(Method::POST, "user_groups")
        .json(&emulator_support::Emu::group_body("lost-reply", &[]))
        .send()
        .await;
    let error = lost.expect_err("a dropped answer must not arrive");
    assert!(
        !error.is_timeout(),
        "the connection must be closed, not left hanging: {error}"
    );
    emu.set_faults(json!({"drop_rate": 0})).await;
    let (status, list) = emu
        .send(emu.api(Method::GET, "user_groups?filter[name]=lost-reply"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "the write was not committed"
    );
    let stats = emu.stats().await;
    assert_eq!(stats["faults"]["dropped"], 1);
    assert_eq!(stats["writes_total"], 1);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let emu = start().await;
    emu.set_faults(json!({"rate_limit_rps": 1})).await;
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
    assert!(
        emu.stats().await["faults"]["rate_limited"]
            .as_u64()
            .unwrap()
            >= 1
    );
    // Admin routes are never limited.
    for _ in 0..5 {
        assert_eq!(
            emu.admin(Method::GET, "stats")
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    emu.set_faults(json!({"rate_limit_rps": 0})).await;
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
    emu.set_faults(json!({"error_rate": 0})).await;
    assert_eq!(
        emu.api(Method::GET, "users").send().await.unwrap().status(),
        StatusCode::OK
    );
    let (status, _) = emu.send(emu.admin(Method::POST, "reset")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        emu.api(Method::GET, "users")
            .send()
            .await
            .unwrap()
            .status()
            .is_server_error()
    );
}
