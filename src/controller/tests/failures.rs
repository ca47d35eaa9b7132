//! Every failure is reported (a condition with its reason, a Warning Event) and handed back for
//! the backoff; what was done before it stays; a stale copy of the Group is retried in silence.

use kube::ResourceExt;
use serde_json::json;

use super::world::{KEY, NS, World, condition, everything};
use crate::crd::FINALIZER;
use igz_emulator::FaultsPatch;

fn outage() -> FaultsPatch {
    FaultsPatch {
        error_rate: Some(1.0),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_platform_outage_before_any_change_is_reported_and_returned() {
    let w = World::new(everything()).await;
    w.apply("team", json!({"members": ["alice"]}));
    w.admin.set_faults(outage()).await;
    let error = w.reconcile("team").await.unwrap_err();
    assert_eq!(error.reason().as_str(), "ApiUnavailable");
    let g = w.group("team").unwrap();
    let (synced, reason, message) = condition(&g, "Synced").unwrap();
    assert_eq!(
        (synced.as_str(), reason.as_str()),
        ("False", "ApiUnavailable")
    );
    assert!(message.contains("retries with backoff"), "{message}");
    assert_eq!(condition(&g, "Reconciling").unwrap().0, "True");
    w.wait_event("ApiUnavailable", "read the platform").await;
}

#[tokio::test]
async fn a_failure_while_changing_keeps_what_was_done_and_names_the_group() {
    let w = World::new(everything()).await;
    w.apply(
        "team",
        json!({"members": ["alice"], "projectRoles": [{"project": "default", "role": "Admin"}]}),
    );
    // The create goes through; the role transaction that follows fails.
    w.admin
        .set_faults(FaultsPatch {
            script: Some(vec![
                igz_emulator::ScriptedFault {
                    route: Some("POST /api/async_transactions".into()),
                    fault: igz_emulator::Fault::Error,
                },
                igz_emulator::ScriptedFault {
                    route: Some("POST /api/async_transactions".into()),
                    fault: igz_emulator::Fault::Error,
                },
                igz_emulator::ScriptedFault {
                    route: Some("POST /api/async_transactions".into()),
                    fault: igz_emulator::Fault::Error,
                },
            ]),
            ..Default::default()
        })
        .await;
    let error = w.reconcile("team").await.unwrap_err();
    assert_eq!(error.reason().as_str(), "ApiUnavailable", "{error}");
    let g = w.group("team").unwrap();
    let made = w
        .platform
        .find_group_by_name("team")
        .await
        .unwrap()
        .expect("created");
    assert_eq!(
        g.status.clone().unwrap().group_id,
        Some(made.id),
        "status names the group made"
    );
    assert_eq!(condition(&g, "Ready").unwrap().1, "ApiUnavailable");
    w.wait_event("Created", "team").await;
    w.wait_event("ApiUnavailable", "role Admin in project default")
        .await;
}

#[tokio::test]
async fn rejected_credentials_stall_the_group_and_say_what_to_fix() {
    let w = World::with_key(everything(), "not-the-key").await;
    w.apply("team", json!({"members": ["alice"]}));
    let error = w.reconcile("team").await.unwrap_err();
    assert_eq!(error.reason().as_str(), "CredentialsInvalid");
    let g = w.group("team").unwrap();
    let (stalled, reason, message) = condition(&g, "Stalled").unwrap();
    assert_eq!(
        (stalled.as_str(), reason.as_str()),
        ("True", "CredentialsInvalid")
    );
    assert!(message.contains("access key"), "{message}");
    assert!(
        !message.contains("not-the-key") && !message.contains(KEY),
        "no secret: {message}"
    );
    assert_eq!(w.platform_writes().await, 0);
}

#[tokio::test]
async fn a_failed_cleanup_keeps_the_finalizer_and_names_the_escape() {
    let w = World::new(everything()).await;
    w.apply("team", json!({"members": ["alice"]}));
    w.reconcile("team").await.unwrap();
    w.kube.delete(NS, "team");
    w.admin.set_faults(outage()).await;
    w.reconcile("team").await.unwrap_err();
    let g = w.group("team").expect("still there");
    assert!(g.finalizers().contains(&FINALIZER.to_owned()));
    w.wait_event("ApiUnavailable", "spec.deletionPolicy: Orphan")
        .await;
    w.admin.clear_faults().await;
    w.reconcile("team").await.unwrap();
    assert!(
        w.group("team").is_none(),
        "cleaned up once the platform is back"
    );
}

/// Our copy of the Group was stale (someone wrote it meanwhile): the write is refused with 409,
/// nothing reached the platform, and the retry works from the fresh copy; no failure is
/// reported.
#[tokio::test]
async fn a_stale_copy_is_retried_without_a_report() {
    let w = World::new(everything()).await;
    w.apply("team", json!({"members": ["alice"]}));
    w.kube.fail_next_write("/groups/team", 409);
    let error = w.reconcile("team").await.unwrap_err();
    assert!(error.is_stale_resource(), "{error}");
    assert_eq!(
        w.platform_writes().await,
        0,
        "the record write gates the create"
    );
    assert!(
        w.group("team").unwrap().status.is_none(),
        "no failure written"
    );
    w.reconcile("team").await.unwrap();
    assert_eq!(
        condition(&w.group("team").unwrap(), "Ready").unwrap().1,
        "Available"
    );
    assert!(w.kube.unexpected().is_empty(), "{:?}", w.kube.unexpected());
}
