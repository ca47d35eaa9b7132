//! The Group test driver both integration binaries share: `tests/operator` (the local control
//! plane, the controller in-process) and `tests/cluster` (the single-node cluster, the operator
//! installed by helm). It applies Groups as `kubectl apply` does, waits for what the operator
//! makes of them, and reads their conditions and Events; the harnesses around it differ only in
//! where the cluster, the operator and the platform are.
// Each binary includes this file as its own module and uses part of it.
#![allow(dead_code)]

use std::time::Duration;

use igz_operator::crd::Group;
use igz_testkit::wait;
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

/// The Groups of one namespace, and how long any wait for them may take.
pub struct Groups {
    pub groups: Api<Group>,
    client: Client,
    ns: String,
    deadline: Duration,
}

impl Groups {
    pub fn new(client: &Client, ns: &str, deadline: Duration) -> Self {
        Self {
            groups: Api::namespaced(client.clone(), ns),
            client: client.clone(),
            ns: ns.to_owned(),
            deadline,
        }
    }

    /// Server-side applies a Group from its spec (as `kubectl apply` would).
    pub async fn apply(&self, name: &str, spec: Value) -> Result<Group, kube::Error> {
        let body = json!({
            "apiVersion": "igz-operator.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": name},
            "spec": spec,
        });
        self.groups
            .patch(
                name,
                &PatchParams::apply("kubectl").force(),
                &Patch::Apply(&body),
            )
            .await
    }

    pub async fn delete(&self, name: &str) {
        self.groups
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete Group");
    }

    /// Polls the Group until `check` holds; panics with the last state after the deadline.
    pub async fn wait_for(&self, name: &str, what: &str, check: impl Fn(&Group) -> bool) -> Group {
        wait::until(&format!("Group {name}: {what}"), self.deadline, || async {
            match self.groups.get(name).await {
                Ok(group) if check(&group) => Ok(group),
                Ok(group) => Err(format!("{:#?}", group.status)),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
    }

    /// Waits until the operator has seen the Group's current spec and it is Ready.
    pub async fn wait_ready(&self, name: &str) -> Group {
        self.wait_for(name, "Ready for its current generation", |g| {
            g.status.as_ref().and_then(|s| s.observed_generation) == g.metadata.generation
                && ready(g) == Some(true)
        })
        .await
    }

    pub async fn wait_reason(&self, name: &str, reason: &str) -> Group {
        self.wait_for(name, &format!("Ready reason {reason}"), |g| {
            condition(g, "Ready").is_some_and(|c| c.1 == reason)
        })
        .await
    }

    pub async fn wait_gone(&self, name: &str) {
        wait::until(&format!("Group {name} gone"), self.deadline, || async {
            match self.groups.get(name).await {
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                Ok(group) => Err(format!(
                    "still there; finalizers {:?}, status {:#?}",
                    group.metadata.finalizers, group.status
                )),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
    }

    /// The Events about Group `name`.
    pub async fn events_about(&self, name: &str) -> Vec<Event> {
        Api::<Event>::namespaced(self.client.clone(), &self.ns)
            .list(&ListParams::default())
            .await
            .expect("list Events")
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .collect()
    }

    /// Reasons of the Events about Group `name`.
    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        reasons(&self.events_about(name).await)
    }

    /// Notes of the Events about Group `name` with this reason.
    pub async fn event_notes(&self, name: &str, reason: &str) -> Vec<String> {
        self.events_about(name)
            .await
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .filter_map(|e| e.note)
            .collect()
    }

    /// Waits for an Event with `reason` about Group `name`; returns every Event about it.
    pub async fn wait_event(&self, name: &str, reason: &str) -> Vec<Event> {
        wait::until(
            &format!("a {reason} Event about Group {name}"),
            self.deadline,
            || async {
                let events = self.events_about(name).await;
                if events.iter().any(|e| e.reason.as_deref() == Some(reason)) {
                    Ok(events)
                } else {
                    Err(format!("{:?}", reasons(&events)))
                }
            },
        )
        .await
    }
}

/// (status, reason, message) of a condition.
pub fn condition(group: &Group, kind: &str) -> Option<(String, String, String)> {
    group
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// The Ready condition's status.
pub fn ready(group: &Group) -> Option<bool> {
    condition(group, "Ready").map(|c| c.0 == "True")
}

pub fn reasons(events: &[Event]) -> Vec<String> {
    events.iter().filter_map(|e| e.reason.clone()).collect()
}
