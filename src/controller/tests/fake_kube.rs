//! A fake Kubernetes API for the driver's tests: Groups kept in memory with the semantics the
//! driver relies on (merge patches of metadata and server-side applies of status, both under
//! their resourceVersion precondition; a Group being deleted goes once its last finalizer is
//! removed), and the Events sent. Any other request is answered 404 and remembered, so a test
//! sees a request it did not expect.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

use crate::crd::Group;

const GROUPS: &str = "/apis/igz-operator.io/v1alpha1/namespaces/";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/";

#[derive(Clone, Default)]
pub struct FakeKube {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// "namespace/name" -> the Group as JSON.
    groups: BTreeMap<String, Value>,
    events: Vec<Value>,
    /// Every write to a Group, as "PATCH name" (metadata, with its body) or "STATUS name".
    writes: Vec<(String, Value)>,
    unexpected: Vec<String>,
    /// Answer the next write whose path contains the text with this code.
    failures: Vec<(String, u16)>,
    version: u64,
}

/// An Event as sent: (type, reason, note).
pub type SentEvent = (String, String, String);

impl FakeKube {
    pub fn client(&self) -> Client {
        let fake = self.clone();
        let service = tower::service_fn(move |request: Request<Body>| {
            let fake = fake.clone();
            async move { Ok::<_, Infallible>(fake.handle(request).await) }
        });
        Client::new(service, "default")
    }

    /// Creates a Group as the API server would (uid, generation 1, a resourceVersion).
    pub fn create(&self, mut group: Group) -> Group {
        let mut state = self.lock();
        let version = state.next_version();
        let meta = &mut group.metadata;
        meta.uid = Some(uuid::Uuid::new_v4().to_string());
        meta.generation = Some(1);
        meta.resource_version = Some(version);
        meta.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::now(),
        ));
        let key = key(
            meta.namespace.clone().unwrap_or_default().as_str(),
            meta.name.clone().unwrap_or_default().as_str(),
        );
        // Stored, and handed back, as JSON: the API server keeps times to the second.
        let stored = serde_json::to_value(&group).unwrap();
        state.groups.insert(key, stored.clone());
        serde_json::from_value(stored).unwrap()
    }

    /// Replaces a Group's metadata and status as they are (an object restored or edited by a
    /// test), keeping its uid.
    pub fn put(&self, group: &Group) {
        let mut state = self.lock();
        let version = state.next_version();
        let mut stored = serde_json::to_value(group).unwrap();
        stored["metadata"]["resourceVersion"] = json!(version);
        let key = key(
            group.metadata.namespace.as_deref().unwrap_or_default(),
            group.metadata.name.as_deref().unwrap_or_default(),
        );
        state.groups.insert(key, stored);
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<Group> {
        let state = self.lock();
        let value = state.groups.get(&key(namespace, name))?;
        Some(serde_json::from_value(value.clone()).unwrap())
    }

    /// Every Group, as the API server has it now.
    pub fn all(&self) -> Vec<Group> {
        let state = self.lock();
        let groups = state.groups.values();
        groups
            .map(|v| serde_json::from_value(v.clone()).unwrap())
            .collect()
    }

    /// `kubectl delete`: marks the Group deleted, or removes it when it has no finalizers.
    pub fn delete(&self, namespace: &str, name: &str) {
        let mut state = self.lock();
        let version = state.next_version();
        let key = key(namespace, name);
        let Some(group) = state.groups.get_mut(&key) else {
            return;
        };
        let finalizers = group["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if finalizers {
            group["metadata"]["deletionTimestamp"] = json!(jiff::Timestamp::now().to_string());
            group["metadata"]["resourceVersion"] = json!(version);
        } else {
            state.groups.remove(&key);
        }
    }

    /// The Events sent so far.
    pub fn events(&self) -> Vec<SentEvent> {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        self.lock()
            .events
            .iter()
            .map(|e| (text(&e["type"]), text(&e["reason"]), text(&e["note"])))
            .collect()
    }

    /// The writes to Groups so far: ("PATCH name" or "STATUS name", body).
    pub fn writes(&self) -> Vec<(String, Value)> {
        self.lock().writes.clone()
    }

    /// Answers the next write whose path contains `path_part` with HTTP `code`.
    pub fn fail_next_write(&self, path_part: &str, code: u16) {
        self.lock().failures.push((path_part.to_owned(), code));
    }

    pub fn unexpected(&self) -> Vec<String> {
        self.lock().unexpected.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn handle(&self, request: Request<Body>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let body = request
            .into_body()
            .collect_bytes()
            .await
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut state = self.lock();
        if method != http::Method::GET
            && let Some(at) = state
                .failures
                .iter()
                .position(|(part, _)| path.contains(part.as_str()))
        {
            let (_, code) = state.failures.remove(at);
            return status(code, "injected failure");
        }
        match (
            method.as_str(),
            path.strip_prefix(GROUPS),
            path.strip_prefix(EVENTS),
        ) {
            (_, Some(rest), _) => state.group_request(method.as_str(), rest, body),
            ("POST", _, Some(_)) | ("PATCH", _, Some(_)) => {
                if method == http::Method::POST {
                    state.events.push(body.clone());
                }
                answer(201, &body)
            }
            _ => {
                state.unexpected.push(format!("{method} {path}"));
                status(404, "not served by the fake")
            }
        }
    }
}

impl State {
    fn next_version(&mut self) -> String {
        self.version += 1;
        self.version.to_string()
    }

    /// `rest`: "NS/groups/NAME" or "NS/groups/NAME/status".
    fn group_request(&mut self, method: &str, rest: &str, body: Value) -> Response<Body> {
        let parts: Vec<&str> = rest.split('/').collect();
        let (namespace, name, status_write) = match parts.as_slice() {
            [ns, "groups", name] => (*ns, *name, false),
            [ns, "groups", name, "status"] => (*ns, *name, true),
            _ => return status(404, "not a Group path"),
        };
        let key = key(namespace, name);
        let Some(current) = self.groups.get(&key).cloned() else {
            return status(404, "groups not found");
        };
        if method == "GET" {
            return answer(200, &current);
        }
        if method != "PATCH" {
            self.unexpected.push(format!("{method} {rest}"));
            return status(405, "only GET and PATCH are served");
        }
        let precondition = &body["metadata"]["resourceVersion"];
        if !precondition.is_null() && precondition != &current["metadata"]["resourceVersion"] {
            return status(409, "the object has been modified");
        }
        let mut next = current;
        if status_write {
            next["status"] = body["status"].clone();
            self.writes.push((format!("STATUS {name}"), body));
        } else {
            let mut patch = body.clone();
            patch["metadata"]
                .as_object_mut()
                .map(|m| m.remove("resourceVersion"));
            merge(&mut next, &patch);
            self.writes.push((format!("PATCH {name}"), body));
        }
        next["metadata"]["resourceVersion"] = json!(self.next_version());
        let finalizers = next["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if !next["metadata"]["deletionTimestamp"].is_null() && !finalizers {
            self.groups.remove(&key);
        } else {
            self.groups.insert(key, next.clone());
        }
        answer(200, &next)
    }
}

/// JSON merge patch (RFC 7386): objects merge, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let target = target.as_object_mut().expect("an object");
    for (field, value) in patch {
        if value.is_null() {
            target.remove(field);
        } else {
            merge(target.entry(field.clone()).or_insert(Value::Null), value);
        }
    }
}

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn answer(code: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

fn status(code: u16, message: &str) -> Response<Body> {
    let reason = match code {
        404 => "NotFound",
        409 => "Conflict",
        _ => "InternalError",
    };
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": message, "reason": reason, "code": code});
    answer(code, &body)
}
