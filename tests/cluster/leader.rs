//! Two replicas: only the Lease holder reconciles (Events name it as their reporting instance;
//! the standby only waits), the chart's PodDisruptionBudget lets a drain take one Pod at a time,
//! and deleting the holder Pod hands the Lease to another Pod within the lease time, after
//! which Group changes are reconciled again.

use std::time::Instant;

use crate::support::{LEASE_DURATION, RELEASE, Scenario, note, terminating};
use igz_testkit::wait;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, EvictParams};
use kube::{Api, ResourceExt};
use serde_json::json;

#[tokio::test]
#[ignore = "needs the single-node cluster: make test-cluster"]
async fn only_the_lease_holder_reconciles_and_a_deleted_holder_fails_over() {
    let s = Scenario::start("ic-leader", &["--set", "replicaCount=2"]).await;
    let pods = s.wait_operator_pods_ready(2).await;
    let names: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
    let holder = s.wait_lease_held_by(&names).await;
    let standby = names.iter().find(|n| **n != holder).unwrap().clone();
    note(format!("holder {holder}, standby {standby}"));

    // With two replicas the chart adds a PodDisruptionBudget keeping one Pod up.
    let pdb = Api::<PodDisruptionBudget>::namespaced(s.client.clone(), &s.system_ns)
        .get(RELEASE)
        .await
        .expect("the chart's PodDisruptionBudget");
    assert_eq!(
        pdb.spec.and_then(|p| p.min_available),
        Some(IntOrString::Int(1))
    );

    // Only the holder reconciles: every Event about the Group names it.
    s.apply("team-one", json!({"members": ["alice"]}))
        .await
        .expect("apply the Group");
    s.wait_ready("team-one").await;
    s.wait_platform_members("team-one", &["alice"]).await;
    assert_reported_by(&s, "team-one", &holder).await;
    let standby_log = s.logs(&standby).await;
    assert!(
        standby_log.contains("waiting for the Lease"),
        "{standby_log}"
    );
    assert!(
        !standby_log.contains("acquired the Lease"),
        "the standby never reconciled: {standby_log}"
    );

    // Round 1, a drain's way: evict the holder (the budget allows one of two Pods)...
    let once: Api<Pod> = Api::namespaced(
        crate::support::admin_client_without_retries().await,
        &s.system_ns,
    );
    let started = Instant::now();
    s.pods
        .evict(&holder, &EvictParams::default())
        .await
        .expect("evicting one of two Pods is allowed");
    // ...and the budget refuses to evict the other one while the first is gone (asked once:
    // kube clients retry a 429 by default, and a retry passes once the replacement is Ready).
    match once.evict(&standby, &EvictParams::default()).await {
        Err(kube::Error::Api(status)) if status.code == 429 => {
            note(format!("second eviction refused: {}", status.message))
        }
        other => panic!("the PodDisruptionBudget must refuse the second eviction: {other:?}"),
    }
    let first = wait_failover(&s, &holder, started).await;
    s.apply("round-one", json!({"members": ["bob"]}))
        .await
        .expect("apply the Group");
    s.wait_ready("round-one").await;
    s.wait_platform_members("round-one", &["bob"]).await;
    assert_reported_by(&s, "round-one", &first).await;
    // The existing Group is in the new holder's hands too.
    s.apply("team-one", json!({"members": ["alice", "bob"]}))
        .await
        .expect("apply the Group");
    s.wait_ready("team-one").await;
    s.wait_platform_members("team-one", &["alice", "bob"]).await;

    // Round 2: a plain delete of the new holder (kubectl delete pod).
    s.wait_operator_pods_ready(2).await;
    let started = Instant::now();
    s.pods
        .delete(&first, &DeleteParams::default())
        .await
        .expect("delete the holder Pod");
    let second = wait_failover(&s, &first, started).await;
    s.apply("round-two", json!({"members": ["carol"]}))
        .await
        .expect("apply the Group");
    s.wait_ready("round-two").await;
    s.wait_platform_members("round-two", &["carol"]).await;
    assert_reported_by(&s, "round-two", &second).await;
}

/// Waits until a Pod other than `old` (and not being deleted) holds the Lease; asserts that it
/// took no longer than the lease time (with as much again for a loaded machine) and returns it.
async fn wait_failover(s: &Scenario, old: &str, started: Instant) -> String {
    let new = wait::until(
        &format!("another Pod takes the Lease from {old}"),
        crate::support::DEADLINE,
        || async {
            let holder = s.lease_holder().await;
            let live: Vec<String> = s
                .operator_pods()
                .await
                .iter()
                .filter(|p| !terminating(p))
                .map(|p| p.name_any())
                .collect();
            match holder {
                Some(h) if h != old && live.contains(&h) => Ok(h),
                other => Err(format!("holder {other:?}, live Pods {live:?}")),
            }
        },
    )
    .await;
    let took = started.elapsed();
    note(format!(
        "failover {old} -> {new} in {:.1}s (lease duration {}s)",
        took.as_secs_f64(),
        LEASE_DURATION.as_secs()
    ));
    assert!(
        took < LEASE_DURATION * 2,
        "the Lease changed hands after {took:?}; a released Lease takes at most the lease \
         duration ({LEASE_DURATION:?})"
    );
    new
}

/// Every Event about Group `name` names `pod` as its reporting instance.
async fn assert_reported_by(s: &Scenario, name: &str, pod: &str) {
    let events = s.wait_event(name, "Created").await;
    let who: Vec<Option<String>> = events
        .iter()
        .map(|e| e.reporting_instance.clone())
        .collect();
    assert!(
        who.iter().all(|w| w.as_deref() == Some(pod)),
        "Events about {name} come from {pod} only: {who:?}"
    );
}
