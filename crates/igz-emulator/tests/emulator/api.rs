//! The HTTP surface beyond what the SDK suite covers: auth variants, admin routes, seed, jobs,
//! shutdown.

use std::time::Duration;

use base64::Engine;
use igz_emulator::{Seed, SeedGroup, SeedProject, SeedUser};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Emu, KEY, ids, start, start_with};

#[tokio::test]
async fn unknown_or_missing_credentials_get_a_json_401() {
    let emu = start().await;
    for cookie in [
        None,
        Some("session=j:{\"sid\": \"wrong\"}"),
        Some("session=garbage"),
    ] {
        let mut request = emu.http.get(format!("{}/api/user_groups", emu.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let (status, body) = emu.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["errors"][0]["status"], 401);
        assert!(
            !body.to_string().contains("wrong"),
            "credentials must not be echoed"
        );
    }
}

#[tokio::test]
async fn basic_auth_alone_and_url_encoded_cookies_work() {
    let emu = start().await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("ops:{KEY}"));
    let request = emu.http.post(format!(
        "{}/api/sessions/verifications/planes/any/internal",
        emu.base
    ));
    let (status, body) = emu
        .send(request.header("authorization", format!("Basic {basic}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["attributes"]["username"], "ops");
    assert!(body["data"]["attributes"]["context"]["authentication"]["tenant_id"].is_string());
    let encoded = format!("session=j%3A%7B%22sid%22%3A%20%22{KEY}%22%7D");
    let request = emu
        .http
        .get(format!("{}/api/users", emu.base))
        .header("cookie", encoded);
    assert_eq!(emu.send(request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn version_probe_answers_for_igz_nodes_only() {
    let emu = start().await;
    let (status, body) = emu
        .send(emu.api(Method::GET, "tunnel/igz0.version.0/external_versions/igz0"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["attributes"]["external"], "3.6.0");
    let (status, _) = emu
        .send(emu.api(Method::GET, "tunnel/x.version.0/external_versions/igz0"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stats_count_routes_and_writes_and_reset_clears_everything() {
    let emu = start().await;
    let (_, created) = emu.create_group("counted", &[]).await;
    let id = created["data"]["id"].as_str().unwrap();
    for _ in 0..3 {
        emu.send(emu.api(Method::GET, &format!("user_groups/{id}")))
            .await;
    }
    emu.create_group("counted", &[]).await; // 409: not a committed write
    let stats = emu.admin.stats().await;
    assert_eq!(stats.requests_total, 5);
    assert_eq!(stats.writes_total, 1);
    assert_eq!(stats.route("GET /api/user_groups/{id}"), 3);
    assert_eq!(stats.route("POST /api/user_groups"), 2);
    // On the wire, each route count is also a top-level key (for scripts).
    let (_, raw) = emu.send(emu.admin_request(Method::GET, "stats")).await;
    assert_eq!(raw["GET /api/user_groups/{id}"], 3);
    assert_eq!(raw["routes"]["POST /api/user_groups"], 2);

    let (status, _) = emu.send(emu.admin_request(Method::POST, "reset")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(emu.admin.stats().await.requests_total, 0);
    let (status, _) = emu
        .send(emu.api(Method::GET, &format!("user_groups/{id}")))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let state = emu.admin.state().await;
    assert_eq!(state.user_groups.len(), 1);
    assert_eq!(state.invariants, "ok");
}

#[tokio::test]
async fn group_put_merges_attributes_and_replaces_membership_only_when_given() {
    let emu = start().await;
    let (a, b) = (emu.create_user("a").await, emu.create_user("b").await);
    let (_, created) = emu.create_group("g", std::slice::from_ref(&a)).await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let gid = created["data"]["attributes"]["gid"].as_i64().unwrap();
    let body = json!({"data": {"type": "user_group", "attributes": {
        "name": "g", "description": "d", "kind": "ignored", "system_provided": true, "created_at": "x"}}});
    let (status, doc) = emu
        .send(
            emu.api(Method::PUT, &format!("user_groups/{id}"))
                .json(&body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let (_, doc) = emu
        .send(emu.api(Method::GET, &format!("user_groups/{id}?include=users")))
        .await;
    let attrs = &doc["data"]["attributes"];
    assert_eq!(
        (attrs["description"].as_str(), attrs["gid"].as_i64()),
        (Some("d"), Some(gid))
    );
    assert_eq!(
        (attrs["kind"].as_str(), attrs["system_provided"].as_bool()),
        (Some("local"), Some(false))
    );
    assert_eq!(ids(&doc["data"]["relationships"]["users"]), vec![a.clone()]);

    let body = Emu::group_body("g", std::slice::from_ref(&b));
    emu.send(
        emu.api(Method::PUT, &format!("user_groups/{id}"))
            .json(&body),
    )
    .await;
    let (_, doc) = emu
        .send(emu.api(Method::GET, &format!("user_groups/{id}?include=users")))
        .await;
    assert_eq!(ids(&doc["data"]["relationships"]["users"]), vec![b.clone()]);
    assert_eq!(doc["included"][0]["attributes"]["username"], "b");
}

#[tokio::test]
async fn bad_shapes_are_400_and_unknown_routes_404() {
    let emu = start().await;
    let cases = [
        ("user_groups", json!({"nodata": 1})),
        ("user_groups", json!({"data": {"attributes": {"name": 5}}})),
        (
            "user_groups",
            json!({"data": {"attributes": {"name": "x", "gid": "seven"}}}),
        ),
        (
            "user_groups",
            json!({"data": {"attributes": {"name": "x"}, "relationships": {"users": {"data": 3}}}}),
        ),
        (
            "users",
            json!({"data": {"attributes": {"username": "u", "authentication_methods": ["magic"]}}}),
        ),
        (
            "async_transactions",
            json!({"data": {"attributes": {"requests": "all"}}}),
        ),
    ];
    for (path, body) in cases {
        let (status, doc) = emu.send(emu.api(Method::POST, path).json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body} -> {doc}");
        assert_eq!(doc["errors"][0]["status"], 400);
    }
    let (status, _) = emu
        .send(emu.api(Method::POST, "user_groups").body("{not json"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, doc) = emu.send(emu.api(Method::GET, "no_such_thing")).await;
    assert_eq!(
        (status, doc["errors"][0]["status"].as_u64()),
        (StatusCode::NOT_FOUND, Some(404))
    );
    let (status, _) = emu
        .send(emu.api(Method::GET, "user_groups/not-a-uuid"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn jobs_pass_through_in_progress_before_completing() {
    let emu = start_with(|c| c.job_delay = Duration::from_millis(400)).await;
    let pid = emu.create_project("slow").await;
    let (_, project) = emu
        .send(emu.api(Method::GET, &format!("projects/{pid}")))
        .await;
    assert_eq!(
        project["data"]["attributes"]["operational_status"],
        "creating"
    );
    let job = project["data"]["relationships"]["last_job"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, doc) = emu.send(emu.api(Method::GET, &format!("jobs/{job}"))).await;
    assert_eq!(doc["data"]["attributes"]["state"], "in_progress");
    let mut polls = 0;
    let state = loop {
        polls += 1;
        let (_, doc) = emu.send(emu.api(Method::GET, &format!("jobs/{job}"))).await;
        let state = doc["data"]["attributes"]["state"]
            .as_str()
            .unwrap()
            .to_owned();
        if state != "in_progress" || polls > 200 {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(state, "completed");
    let (_, project) = emu
        .send(emu.api(Method::GET, &format!("projects/{pid}")))
        .await;
    assert_eq!(
        project["data"]["attributes"]["operational_status"],
        "online"
    );
}

#[tokio::test]
async fn seed_content_exists_at_start_and_after_reset() {
    let seed = Seed {
        users: vec![SeedUser {
            username: "alice".into(),
            password: Some("pw".into()),
            ..Default::default()
        }],
        projects: vec![SeedProject {
            name: "default".into(),
            owner: Some("alice".into()),
            ..Default::default()
        }],
        groups: vec![SeedGroup {
            name: "team".into(),
            members: vec!["alice".into()],
            gid: Some(4242),
            projects: [("default".to_owned(), "Editor".to_owned())].into(),
            ..Default::default()
        }],
    };
    let emu = start_with(|c| c.seed = Some(seed)).await;
    for _ in 0..2 {
        let (_, groups) = emu
            .send(emu.api(Method::GET, "user_groups?filter[name]=team&include=users"))
            .await;
        assert_eq!(groups["data"][0]["attributes"]["gid"], 4242);
        assert_eq!(groups["included"][0]["attributes"]["username"], "alice");
        let (_, projects) = emu
            .send(emu.api(Method::GET, "projects?filter[name]=default"))
            .await;
        assert_eq!(
            projects["data"][0]["attributes"]["operational_status"],
            "online"
        );
        emu.admin.reset().await;
    }
    let login = json!({"data": {"type": "session", "attributes": {"username": "alice", "password": "pw", "plane": "control"}}});
    let response = emu
        .http
        .post(format!("{}/api/sessions", emu.base))
        .json(&login)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let request = emu
        .http
        .get(format!("{}/api/users", emu.base))
        .header("cookie", cookie);
    assert_eq!(emu.send(request).await.0, StatusCode::OK);
    let state = serde_json::to_string(&emu.admin.state().await).unwrap();
    assert!(
        !state.contains("\"pw\""),
        "the state dump must not reveal passwords"
    );
}

#[tokio::test]
async fn shutdown_stops_accepting() {
    let emu = start().await;
    let base = emu.base.clone();
    assert_eq!(
        emu.api(Method::GET, "users").send().await.unwrap().status(),
        StatusCode::OK
    );
    let http = emu.http.clone();
    emu.running.shutdown().await;
    let after = http
        .get(format!("{base}/api/users"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(after.is_err(), "still answering after shutdown");
}
