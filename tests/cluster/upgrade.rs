//! `helm upgrade` rolls the operator (a changed podAnnotation) without losing a change: Group
//! changes made while the new Pod starts beside the old one, and while the old one is going and
//! the Lease changes hands, are all admitted and all reach the platform. Resync is set to an
//! hour, so nothing but the watch can bring a change through.

use std::time::Instant;

use crate::support::{RELEASE, Scenario, note, terminating};
use igz_testkit::wait;
use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;
use kube::{Api, ResourceExt};
use serde_json::json;

#[tokio::test]
#[ignore = "needs the single-node cluster: make test-cluster"]
async fn helm_upgrade_rolls_without_losing_a_group_change() {
    let s = Scenario::start("ic-upgrade", &["--set", "resyncInterval=1h"]).await;
    let old = s.wait_operator_pods_ready(1).await[0].name_any();
    s.wait_lease_held_by(std::slice::from_ref(&old)).await;
    s.apply("rolling", json!({"members": ["alice"]}))
        .await
        .expect("apply the Group");
    s.wait_ready("rolling").await;
    s.wait_platform_members("rolling", &["alice"]).await;

    // The upgrade runs in the background (helm waits for the rollout) while Groups change.
    let started = Instant::now();
    let args: Vec<String> = [
        "upgrade",
        RELEASE,
        "charts/igz-operator",
        "-n",
        &s.system_ns,
        "--reuse-values",
        "--set-string",
        "podAnnotations.igz-operator\\.io/rollout=1",
        "--wait",
        "--timeout",
        "180s",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let upgrade = tokio::spawn(async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::support::helm(&args).await
    });

    // 1. The new Pod exists beside the old one (helm has applied the chart): change the Group,
    //    and create another. Admission must admit both: the upgrade kept the operator's rules in
    //    the admission policy instead of putting the chart's placeholder back.
    let new = wait::until(
        "the rollout starts a new Pod",
        crate::support::DEADLINE,
        || async {
            let pods = s.operator_pods().await;
            pods.iter()
                .map(|p| p.name_any())
                .find(|n| *n != old)
                .ok_or_else(|| {
                    format!(
                        "{:?}",
                        pods.iter().map(|p| p.name_any()).collect::<Vec<_>>()
                    )
                })
        },
    )
    .await;
    note(format!(
        "{:.1}s: new Pod {new} beside {old}",
        started.elapsed().as_secs_f64()
    ));
    s.apply("rolling", json!({"members": ["alice", "bob"]}))
        .await
        .expect("apply the Group");
    s.apply("during-rollout", json!({"members": ["dave"]}))
        .await
        .expect("apply the Group");

    // 2. The old Pod is going (it releases the Lease; the new one takes it): change again.
    wait::until(
        "the old Pod is terminating or gone",
        crate::support::DEADLINE,
        || async {
            let pods = s.operator_pods().await;
            match pods.iter().find(|p| p.name_any() == old) {
                Some(p) if !terminating(p) => Err("still running".to_owned()),
                _ => Ok(()),
            }
        },
    )
    .await;
    let holder = s.lease_holder().await;
    note(format!(
        "{:.1}s: old Pod terminating or gone; Lease holder {holder:?}; helm still running: {}",
        started.elapsed().as_secs_f64(),
        !upgrade.is_finished()
    ));
    s.apply("rolling", json!({"members": ["alice", "bob", "carol"]}))
        .await
        .expect("apply the Group");

    upgrade
        .await
        .expect("helm upgrade task")
        .unwrap_or_else(|e| panic!("{e}"));
    note(format!(
        "{:.1}s: helm upgrade --wait returned",
        started.elapsed().as_secs_f64()
    ));

    // After: one Pod, the new one, with the annotation, holding the Lease.
    let pods = s.wait_operator_pods_ready(1).await;
    assert_eq!(pods[0].name_any(), new);
    assert_eq!(
        pods[0]
            .annotations()
            .get("igz-operator.io/rollout")
            .map(String::as_str),
        Some("1")
    );
    s.wait_lease_held_by(std::slice::from_ref(&new)).await;
    let policy = Api::<ValidatingAdmissionPolicy>::all(s.client.clone())
        .get(igz_operator::tenancy::admission::POLICY_NAME)
        .await
        .unwrap();
    let validations = policy.spec.unwrap().validations.unwrap_or_default();
    assert!(
        validations.iter().all(|v| v.expression != "false"),
        "the operator's rules, not the placeholder: {validations:?}"
    );

    // Nothing was lost.
    s.wait_ready("rolling").await;
    s.wait_platform_members("rolling", &["alice", "bob", "carol"])
        .await;
    s.wait_ready("during-rollout").await;
    s.wait_platform_members("during-rollout", &["dave"]).await;
    note(format!(
        "{:.1}s: every change made during the rollout is on the platform",
        started.elapsed().as_secs_f64()
    ));
}
