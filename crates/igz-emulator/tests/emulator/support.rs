//! An in-process emulator on an ephemeral loopback port, a raw authenticated HTTP client for
//! its `/api` routes, and the test kit's typed client for its admin routes.

use igz_emulator::{EmulatorConfig, RunningEmulator};
use igz_testkit::emulator::Admin;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub const KEY: &str = "test-access-key";

pub struct Emu {
    pub running: RunningEmulator,
    pub http: reqwest::Client,
    pub base: String,
    pub admin: Admin,
}

pub async fn start() -> Emu {
    start_with(|_| {}).await
}

pub async fn start_with(configure: impl FnOnce(&mut EmulatorConfig)) -> Emu {
    let mut config = EmulatorConfig {
        access_keys: vec![KEY.to_owned()],
        ..EmulatorConfig::default()
    };
    configure(&mut config);
    let running = igz_testkit::emulator::start(config).await;
    let base = running.base_url();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .no_proxy()
        .build()
        .expect("http client");
    Emu {
        admin: Admin::new(&base),
        running,
        http,
        base,
    }
}

impl Emu {
    /// An `/api` request authenticated the way the vendor SDK does it.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/api/{path}", self.base))
            .header("cookie", format!("session=j:{{\"sid\": \"{KEY}\"}}"))
    }

    /// A raw admin request, for tests of the admin routes' wire format itself.
    pub fn admin_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/__emulator/{path}", self.base))
    }

    pub async fn json(response: Response) -> (StatusCode, Value) {
        let status = response.status();
        let body = response.text().await.expect("body");
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).expect("JSON body")
        };
        (status, value)
    }

    pub async fn send(&self, request: RequestBuilder) -> (StatusCode, Value) {
        Self::json(request.send().await.expect("request")).await
    }

    pub async fn create_user(&self, username: &str) -> String {
        let body = json!({"data": {"type": "user", "attributes": {
            "username": username, "first_name": "F", "last_name": "L", "email": format!("{username}@x.io"),
            "assigned_policies": ["Developer"]}}});
        let (status, doc) = self.send(self.api(Method::POST, "users").json(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{doc}");
        doc["data"]["id"].as_str().expect("user id").to_owned()
    }

    pub fn group_body(name: &str, members: &[String]) -> Value {
        let users: Vec<Value> = members
            .iter()
            .map(|id| json!({"type": "user", "id": id}))
            .collect();
        json!({"data": {"type": "user_group",
            "attributes": {"name": name, "description": null, "gid": null, "assigned_policies": ["Data"]},
            "relationships": {"users": {"data": users}}}})
    }

    pub async fn create_group(&self, name: &str, members: &[String]) -> (StatusCode, Value) {
        self.send(
            self.api(Method::POST, "user_groups")
                .json(&Self::group_body(name, members)),
        )
        .await
    }

    pub async fn create_project(&self, name: &str) -> String {
        let body =
            json!({"data": {"type": "project", "attributes": {"name": name, "description": ""}}});
        let (status, doc) = self
            .send(
                self.api(Method::POST, "projects")
                    .header("x-projects-role", "igz-mgmt-sdk")
                    .json(&body),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{doc}");
        doc["data"]["id"].as_str().expect("project id").to_owned()
    }
}

/// Ids from a to-many linkage.
pub fn ids(linkage: &Value) -> Vec<String> {
    linkage["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
