//! Leader election on the real control plane: of two replicas only the Lease holder reconciles;
//! when it shuts down it releases the Lease and the other takes over.

use std::time::Duration;

use crate::support::{ACCESS_KEY, Harness, fast_timing, platform_client};
use igz_operator::controller::Settings;
use igz_operator::leader::{LeaseSettings, run_while_leader};
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::ListParams;
use serde_json::json;
use tokio::sync::oneshot;

fn replica(
    h: &Harness,
    identity: &'static str,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let (shutdown, on_shutdown) = oneshot::channel::<()>();
    let lease = LeaseSettings {
        namespace: h.ns.clone(),
        name: "igz-operator".into(),
        identity: identity.into(),
        duration_seconds: 3,
        grace_seconds: 1,
    };
    let settings = Settings {
        namespaces: vec![h.ns.clone()],
        concurrency: 2,
        timing: fast_timing(),
        fresh_picture_age: Duration::from_millis(300),
        namespace: h.ns.clone(),
        recoveries: Default::default(),
        instance: Some(identity.into()),
        admission_policy: false,
    };
    let (kube, mgmt) = (
        h.client.clone(),
        platform_client(&h.emulator.base_url(), ACCESS_KEY),
    );
    let task = tokio::spawn(run_while_leader(
        kube.clone(),
        lease,
        async move {
            let _ = on_shutdown.await;
        },
        move |stop| {
            crate::support::run_operator(kube.clone(), settings.clone(), mgmt.clone(), async move {
                let _ = stop.await;
            })
        },
    ));
    (shutdown, task)
}

/// The reporting instances of the Events about one Group.
async fn reporters(h: &Harness, name: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(h.client.clone(), &h.ns);
    let mut who: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| e.reporting_instance)
        .collect();
    who.sort();
    who.dedup();
    who
}

#[tokio::test]
async fn only_the_lease_holder_reconciles_and_a_released_lease_fails_over() {
    let h = Harness::without_operator("e2e-leader", &["alice"], &[]).await;
    let (stop_a, task_a) = replica(&h, "replica-a");
    let (stop_b, task_b) = replica(&h, "replica-b");

    h.apply("one", json!({"members": ["alice"]})).await.unwrap();
    h.wait_ready("one").await;
    h.wait_event("one", "Created").await;
    let first = reporters(&h, "one").await;
    assert_eq!(first.len(), 1, "exactly one replica reconciled: {first:?}");

    // The leader shuts down and releases the Lease; the other replica takes over.
    let (stop_leader, leader_task, stop_other, other_task) = if first[0] == "replica-a" {
        (stop_a, task_a, stop_b, task_b)
    } else {
        (stop_b, task_b, stop_a, task_a)
    };
    let _ = stop_leader.send(());
    tokio::time::timeout(Duration::from_secs(20), leader_task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    h.apply("two", json!({"members": ["alice"]})).await.unwrap();
    h.wait_ready("two").await;
    h.wait_event("two", "Created").await;
    let second = reporters(&h, "two").await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first, "the other replica took over");

    let _ = stop_other.send(());
    tokio::time::timeout(Duration::from_secs(20), other_task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    h.stop().await;
}

#[tokio::test]
async fn a_replica_that_loses_the_lease_stops_reconciling() {
    use k8s_openapi::api::coordination::v1::Lease;
    use kube::api::{Patch, PatchParams};

    let h = Harness::without_operator("e2e-lease-lost", &["alice"], &[]).await;
    let (stop, task) = replica(&h, "replica-lost");
    h.apply("before", json!({"members": ["alice"]}))
        .await
        .unwrap();
    h.wait_ready("before").await;

    // Another replica takes the Lease and keeps renewing it (as a partitioned replica's
    // successor would).
    let leases: Api<Lease> = Api::namespaced(h.client.clone(), &h.ns);
    let intruder = tokio::spawn(async move {
        loop {
            let now =
                k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(jiff::Timestamp::now());
            let held = json!({"spec": {
                "holderIdentity": "intruder",
                "leaseDurationSeconds": 120,
                "renewTime": now,
            }});
            let _ = leases
                .patch(
                    "igz-operator",
                    &PatchParams::default(),
                    &Patch::Merge(&held),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    // The replica notices at its next renewal (every duration - grace = 2 s) and says so.
    let logs = crate::support::logs();
    igz_testkit::wait::until(
        "replica-lost notices the lost Lease",
        igz_testkit::wait::DEFAULT_DEADLINE,
        || async {
            let text = logs.text();
            let noticed = text
                .lines()
                .any(|l| l.contains("lost the Lease") && l.contains("identity=replica-lost"));
            if noticed {
                Ok(())
            } else {
                Err("no such log line yet".to_owned())
            }
        },
    )
    .await;

    h.apply("after", json!({"members": ["alice"]}))
        .await
        .unwrap();
    // Proving a negative: had it kept reconciling, 3 s is far more than a reconcile takes here.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = h.groups.get("after").await.unwrap();
    // The schema's default status (observedGeneration 0) is all there is: no reconcile wrote.
    assert!(
        after
            .status
            .as_ref()
            .is_none_or(|s| s.conditions.is_empty() && s.last_sync_time.is_none()),
        "a replica without the Lease reconciled: {:?}",
        after.status
    );
    assert!(
        after.metadata.finalizers.is_none(),
        "a replica without the Lease added the finalizer"
    );

    intruder.abort();
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    h.stop().await;
}
