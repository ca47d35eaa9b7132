//! The operator's Events against the real API server: sent in the order they were published,
//! so a repeat (a patch of the first occurrence's series) never arrives before that first
//! occurrence was created.

use std::time::Duration;

use igz_operator::controller::{Events, Note};
use igz_operator::crd::{Group, GroupSpec};
use igz_testkit::envtest;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use kube::runtime::events::Reporter;

const REPEATS: i32 = 40;

#[tokio::test]
async fn a_burst_of_events_arrives_complete_and_in_order() {
    let _logs = crate::support::logs();
    let client = envtest::admin_client().await;
    let ns = envtest::fresh_namespace(&client, "events").await;
    let events = Events::new(
        client.clone(),
        Reporter {
            controller: "igz-operator".into(),
            instance: Some("events-test".into()),
        },
    );
    // Events only refer to the Group; it need not exist.
    let mut group = Group::new("burst", GroupSpec::default());
    group.metadata.namespace = Some(ns.clone());
    group.metadata.uid = Some("7a0c6c8e-0000-4000-8000-000000000001".into());

    // One reconcile's worth of sentences, published without waiting, then the same sentence
    // over and over: the first creates an Event, every repeat patches its series count.
    for n in 0..10 {
        let note = Note::normal("MemberAdded", format!("Added member user{n}."));
        events.send(&group, note).await;
    }
    for _ in 0..REPEATS {
        let note = Note::warning("PlatformUnavailable", "The platform did not answer.".into());
        events.send(&group, note).await;
    }

    let api: Api<Event> = Api::namespaced(client, &ns);
    let listed = igz_testkit::wait::until(
        "every Event sent, the repeat counted",
        Duration::from_secs(60),
        || async {
            let items = api
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?
                .items;
            let repeated = items
                .iter()
                .find(|e| e.reason.as_deref() == Some("PlatformUnavailable"))
                .and_then(|e| e.series.as_ref())
                .map(|s| s.count);
            if items.len() == 11 && repeated == Some(REPEATS) {
                Ok(items)
            } else {
                Err(format!("{} Events, repeat count {repeated:?}", items.len()))
            }
        },
    )
    .await;

    // Created in the order published: an Event's resourceVersion is the etcd revision of its
    // last write (opaque to clients in general, but ordered on this one etcd). The ten were
    // never patched, so their resourceVersions are the order the API server created them in.
    let mut added: Vec<(u64, String)> = listed
        .iter()
        .filter(|e| e.reason.as_deref() == Some("MemberAdded"))
        .map(|e| {
            let written = e.metadata.resource_version.as_deref().unwrap_or_default();
            (
                written.parse().expect("a numeric resourceVersion"),
                e.note.clone().unwrap_or_default(),
            )
        })
        .collect();
    added.sort();
    let notes: Vec<&str> = added.iter().map(|(_, note)| note.as_str()).collect();
    let published: Vec<String> = (0..10).map(|n| format!("Added member user{n}.")).collect();
    assert_eq!(notes, published);
}
