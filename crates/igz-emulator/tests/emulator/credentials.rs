//! Credentials that change at run time: access keys issued, expired and revoked, login sessions
//! that end, the version the platform tells, who a session is, and the count of writes tried
//! with rejected credentials.

use std::time::Duration;

use igz_emulator::{IssueAccessKey, Seed, SeedUser};
use igz_testkit::wait;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Emu, KEY, start, start_with};

/// Every kind of `/api` route, reads and writes (the ids need not exist: a refusal comes first).
const ROUTES: [(&str, &str, bool); 12] = [
    ("GET", "user_groups", false),
    ("POST", "user_groups", true),
    (
        "GET",
        "user_groups/5a0b2c1e-8d3f-4c6a-9b7e-1f2d3c4b5a69",
        false,
    ),
    (
        "PUT",
        "user_groups/5a0b2c1e-8d3f-4c6a-9b7e-1f2d3c4b5a69",
        true,
    ),
    (
        "DELETE",
        "user_groups/5a0b2c1e-8d3f-4c6a-9b7e-1f2d3c4b5a69",
        true,
    ),
    ("GET", "users", false),
    ("PUT", "users/5a0b2c1e-8d3f-4c6a-9b7e-1f2d3c4b5a69", true),
    ("GET", "projects", false),
    ("POST", "async_transactions", true),
    ("GET", "jobs/5a0b2c1e-8d3f-4c6a-9b7e-1f2d3c4b5a69", false),
    ("GET", "access_keys", false),
    ("POST", "sessions/verifications/planes/any/internal", false),
];

/// Polls `check` until it holds (within the test kit's generous deadline).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait::until(what, wait::DEFAULT_DEADLINE, || {
        let holds = check();
        async move {
            if holds.await {
                Ok(())
            } else {
                Err("not yet".to_owned())
            }
        }
    })
    .await
}

fn with_key(emu: &Emu, key: &str, method: &str, path: &str) -> reqwest::RequestBuilder {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = emu
        .http
        .request(method.clone(), format!("{}/api/{path}", emu.base))
        .header("cookie", format!("session=j:{{\"sid\": \"{key}\"}}"));
    if method != Method::GET && method != Method::DELETE {
        request = request.json(&json!({"data": {"type": "x", "attributes": {}}}));
    }
    request
}

/// Asserts that `key` gets a JSON 401 on every route, that the refusals are counted (writes
/// apart) and that nothing changed.
async fn refused_everywhere(emu: &Emu, key: &str) {
    let before = emu.admin.stats().await;
    let state = emu.admin.state().await;
    for (method, path, _) in ROUTES {
        let (status, body) = emu.send(with_key(emu, key, method, path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert_eq!(body["errors"][0]["status"], 401);
        assert!(!body.to_string().contains(key), "the key is never echoed");
    }
    let after = emu.admin.stats().await;
    let writes = ROUTES.iter().filter(|(_, _, write)| *write).count() as u64;
    assert_eq!(
        after.unauthorized - before.unauthorized,
        ROUTES.len() as u64
    );
    assert_eq!(
        after.unauthorized_writes - before.unauthorized_writes,
        writes
    );
    assert_eq!(after.writes_total, before.writes_total);
    assert_eq!(emu.admin.state().await, state, "a refusal changes nothing");
}

#[tokio::test]
async fn an_issued_key_works_until_revoked_then_every_route_refuses_it() {
    let emu = start().await;
    let issued = emu
        .admin
        .issue_access_key(&IssueAccessKey {
            ttl: Some(3600),
            ..Default::default()
        })
        .await;
    assert_eq!(issued.username, "admin");
    assert!(!issued.expired);
    let now = jiff::Timestamp::now().as_second();
    assert!((issued.expires_at - (now + 3600)).abs() <= 5, "{issued:?}");

    let (status, _) = emu
        .send(with_key(&emu, &issued.key, "GET", "user_groups"))
        .await;
    assert_eq!(status, StatusCode::OK);
    emu.admin.revoke_access_key(&issued.key).await;
    refused_everywhere(&emu, &issued.key).await;
    assert!(
        emu.admin
            .access_keys()
            .await
            .iter()
            .all(|k| k.key != issued.key),
        "a revoked key is gone"
    );
    // The start-up key is untouched; reset brings back the start-up keys only.
    assert_eq!(
        emu.send(emu.api(Method::GET, "user_groups")).await.0,
        StatusCode::OK
    );
    let other = emu.admin.issue_access_key(&IssueAccessKey::default()).await;
    emu.admin.revoke_access_key(KEY).await;
    refused_everywhere(&emu, KEY).await;
    emu.admin.reset().await;
    assert_eq!(
        emu.send(emu.api(Method::GET, "user_groups")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        emu.send(with_key(&emu, &other.key, "GET", "users")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(emu.admin.stats().await.unauthorized, 1, "reset zeroes it");
}

#[tokio::test]
async fn an_expired_key_is_refused_everywhere_and_reported_expired() {
    let emu = start().await;
    let expired = emu
        .admin
        .issue_access_key(&IssueAccessKey {
            expires_at: Some(jiff::Timestamp::now().as_second() - 1),
            label: Some("old".into()),
            ..Default::default()
        })
        .await;
    assert!(expired.expired);
    refused_everywhere(&emu, &expired.key).await;
    let listed = emu.admin.access_keys().await;
    let found = listed.iter().find(|k| k.key == expired.key).unwrap();
    assert!(found.expired && found.label == "old");
}

#[tokio::test]
async fn a_key_expires_on_its_own_when_its_ttl_runs_out() {
    let emu = start().await;
    let short = emu
        .admin
        .issue_access_key(&IssueAccessKey {
            ttl: Some(1),
            ..Default::default()
        })
        .await;
    // Expiry is in whole seconds: wait (with a deadline) for the key to be refused.
    eventually("the key with a ttl of 1 s is refused", || async {
        emu.send(with_key(&emu, &short.key, "GET", "users")).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
}

#[tokio::test]
async fn the_access_key_routes_serve_each_user_its_own_keys() {
    let seed = Seed {
        users: vec![SeedUser {
            username: "alice".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let emu = start_with(|c| c.seed = Some(seed)).await;
    let alice = emu
        .admin
        .issue_access_key(&IssueAccessKey {
            username: Some("alice".into()),
            ..Default::default()
        })
        .await;

    // Create one with a ttl: expires_at is creation + ttl, every typed attribute has a value.
    let body = json!({"data": {"type": "access_key", "attributes": {
        "planes": ["control"], "label": "ci", "ttl": 600}}});
    let (status, created) = emu
        .send(with_key(&emu, &alice.key, "POST", "access_keys").json(&body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let attrs = &created["data"]["attributes"];
    let new_key = created["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["data"]["type"], "access_key");
    assert_eq!(attrs["ttl"], 600);
    assert_eq!(attrs["planes"], json!(["control"]));
    assert_eq!(attrs["kind"], "accessKey");
    let created_at: jiff::Timestamp = attrs["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(attrs["expires_at"], created_at.as_second() + 600);
    for field in [
        "tenant_id",
        "uid",
        "gids",
        "group_ids",
        "label",
        "interface_kind",
    ] {
        assert!(!attrs[field].is_null(), "{field}: {attrs}");
    }

    // The new key works and acts as alice; her list holds both keys, admin's holds neither.
    let (status, who) = emu
        .send(with_key(
            &emu,
            &new_key,
            "POST",
            "sessions/verifications/planes/any/internal",
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(who["data"]["attributes"]["username"], "alice");
    let listed = |doc: &Value| -> Vec<String> {
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, mine) = emu
        .send(with_key(&emu, &alice.key, "GET", "access_keys"))
        .await;
    assert_eq!(listed(&mine), [alice.key.clone(), new_key.clone()]);
    let (_, page) = emu
        .send(with_key(
            &emu,
            &alice.key,
            "GET",
            "access_keys?page[number]=1&page[size]=1",
        ))
        .await;
    assert_eq!(listed(&page), std::slice::from_ref(&new_key));
    let (_, admins) = emu.send(emu.api(Method::GET, "access_keys")).await;
    assert!(!listed(&admins).contains(&alice.key));

    // Someone else's key is not found (nor echoed); one's own can be read and revoked.
    let (status, body) = emu
        .send(emu.api(Method::GET, &format!("access_keys/{new_key}")))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains(&new_key));
    assert_eq!(
        emu.send(emu.api(Method::DELETE, &format!("access_keys/{new_key}")))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, shown) = emu
        .send(with_key(
            &emu,
            &alice.key,
            "GET",
            &format!("access_keys/{new_key}"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["data"]["attributes"]["label"], "ci");
    let (status, _) = emu
        .send(with_key(
            &emu,
            &new_key,
            "DELETE",
            &format!("access_keys/{new_key}"),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "a key may revoke itself");
    refused_everywhere(&emu, &new_key).await;

    // Bad requests are refused and make nothing.
    for attributes in [
        json!({"ttl": 0}),
        json!({"planes": ["mgmt"]}),
        json!({"ttl": "x"}),
    ] {
        let (status, _) = emu
            .send(
                with_key(&emu, &alice.key, "POST", "access_keys")
                    .json(&json!({"data": {"type": "access_key", "attributes": attributes}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{attributes}");
    }
    assert_eq!(
        emu.admin.access_keys().await.len(),
        2,
        "start-up key and alice's"
    );
}

#[tokio::test]
async fn get_or_create_returns_the_same_key_for_the_same_label_and_planes() {
    let emu = start().await;
    let body = |label: &str| json!({"data": {"type": "access_key", "attributes": {"label": label, "planes": ["data", "control"]}}});
    let call = |label: &'static str| {
        emu.send(
            emu.api(Method::POST, "self/get_or_create_access_key")
                .json(&body(label)),
        )
    };
    let (status, first) = call("sdk").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = call("sdk").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["data"]["id"], first["data"]["id"]);
    let (_, other) = call("other").await;
    assert_ne!(other["data"]["id"], first["data"]["id"]);
}

async fn login_as_bob(emu: &Emu) -> String {
    let body = json!({"data": {"type": "session", "attributes": {
        "username": "bob", "password": "bob-pw", "plane": "control"}}});
    let response = emu
        .http
        .post(format!("{}/api/sessions", emu.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

async fn verify_session(emu: &Emu, cookie: &str) -> (StatusCode, Value) {
    let request = emu
        .http
        .post(format!(
            "{}/api/sessions/verifications/planes/any/internal",
            emu.base
        ))
        .header("cookie", cookie);
    emu.send(request).await
}

#[tokio::test]
async fn login_sessions_end_after_their_ttl_or_on_demand() {
    let seed = Seed {
        users: vec![SeedUser {
            username: "bob".into(),
            password: Some("bob-pw".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let emu = start_with(|c| c.seed = Some(seed)).await;

    let cookie = login_as_bob(&emu).await;
    let (status, who) = verify_session(&emu, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(who["data"]["attributes"]["username"], "bob");
    assert_eq!(emu.admin.expire_sessions().await, 1);
    assert_eq!(
        verify_session(&emu, &cookie).await.0,
        StatusCode::UNAUTHORIZED
    );
    let stats = emu.admin.stats().await;
    assert_eq!((stats.unauthorized, stats.unauthorized_writes), (1, 0));
    assert_eq!(
        stats.writes_total, 0,
        "neither login nor verification is a write"
    );

    // A ttl ends sessions by itself.
    let settings = emu
        .admin
        .set_session_ttl(Some(Duration::from_millis(200)))
        .await;
    assert_eq!(settings.ttl_ms, Some(200));
    let cookie = login_as_bob(&emu).await;
    eventually("the 200 ms session is refused", || async {
        verify_session(&emu, &cookie).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    emu.admin.set_session_ttl(None).await;
    let cookie = login_as_bob(&emu).await;
    assert_eq!(verify_session(&emu, &cookie).await.0, StatusCode::OK);
    let (status, _) = emu
        .send(
            emu.admin_request(Method::PUT, "sessions")
                .json(&json!({"ttl_ms": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn version_of(emu: &Emu) -> (StatusCode, Value) {
    emu.send(emu.api(Method::GET, "tunnel/igz0.version.0/external_versions/igz0"))
        .await
}

#[tokio::test]
async fn the_version_route_tells_what_it_is_set_to_or_answers_404() {
    let emu = start().await;
    assert_eq!(
        version_of(&emu).await.1["data"]["attributes"]["external"],
        "3.6.0"
    );
    let set = emu.admin.set_version(Some("3.7.1")).await;
    assert_eq!(set.version.as_deref(), Some("3.7.1"));
    assert_eq!(
        version_of(&emu).await.1["data"]["attributes"]["external"],
        "3.7.1"
    );
    emu.admin.set_version(None).await;
    assert_eq!(version_of(&emu).await.0, StatusCode::NOT_FOUND);
    emu.admin.reset().await;
    assert_eq!(
        version_of(&emu).await.1["data"]["attributes"]["external"],
        "3.6.0"
    );

    let silent = start_with(|c| c.version = String::new()).await;
    assert_eq!(version_of(&silent).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn held_requests_wait_counted_until_released() {
    let emu = start().await;
    emu.admin.hold().await;
    let request = emu.api(Method::GET, "users");
    let pending = tokio::spawn(async move { request.send().await.map(|r| r.status()) });
    eventually("the request is held", || async {
        emu.admin.stats().await.held == 1
    })
    .await;
    assert_eq!(
        emu.admin.stats().await.route("GET /api/users"),
        1,
        "counted"
    );
    assert!(!pending.is_finished(), "held until released");
    // Meanwhile the key is revoked: the held request is judged with what holds when it goes.
    emu.admin.revoke_access_key(KEY).await;
    emu.admin.release().await;
    assert_eq!(pending.await.unwrap().unwrap(), StatusCode::UNAUTHORIZED);
    assert!(!emu.admin.faults().await.hold);
    assert_eq!(emu.admin.stats().await.held, 0);
}
