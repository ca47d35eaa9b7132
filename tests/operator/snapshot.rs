//! The shared platform picture against the emulator: a reconcile that needs a newer picture
//! while another task reads one does not wait for it (it would hold a controller slot meanwhile).

use std::sync::Arc;
use std::time::Duration;

use igz_emulator::{EmulatorConfig, FaultsPatch};
use igz_operator::controller::Snapshot;
use igz_testkit::emulator::Admin;

use crate::support::{ACCESS_KEY, platform_client};

#[tokio::test]
async fn a_reader_needing_a_newer_picture_does_not_wait_for_a_refresh_in_flight() {
    let emulator = igz_testkit::emulator::start(EmulatorConfig {
        access_keys: vec![ACCESS_KEY.into()],
        ..Default::default()
    })
    .await;
    let snapshot = Arc::new(Snapshot::new(
        platform_client(&emulator.base_url(), ACCESS_KEY),
        Duration::from_secs(60),
    ));
    snapshot.read(None, |_| ()).await.expect("a first picture");

    // Every platform answer now takes 3 s: a refresh holds the flight at least that long.
    Admin::for_emulator(&emulator)
        .set_faults(FaultsPatch {
            latency_ms: Some(3_000),
            ..Default::default()
        })
        .await;
    let refresher = {
        let snapshot = snapshot.clone();
        tokio::spawn(async move { snapshot.read(Some(Duration::ZERO), |_| ()).await })
    };
    igz_testkit::wait::until("a refresh in flight", Duration::from_secs(10), || async {
        if snapshot.refreshing() {
            Ok(())
        } else {
            Err("not yet".to_owned())
        }
    })
    .await;

    // A re-check that needs a newer picture yields at once...
    let recheck = snapshot
        .read_unless_refreshing(Some(Duration::ZERO), |_| ())
        .await
        .expect("no platform call");
    assert!(
        recheck.is_none(),
        "it must not wait for the refresh in flight"
    );
    // ...while a reader any picture satisfies is served from the one there is.
    let any = snapshot
        .read_unless_refreshing(None, |_| ())
        .await
        .expect("no platform call");
    assert!(any.is_some());
    assert!(snapshot.refreshing(), "still the same refresh");

    refresher.await.expect("join").expect("the refresh");
    // Once the new picture is there, the re-check is served from it, and the next wait is
    // about as long as that read took.
    let served = snapshot
        .read_unless_refreshing(Some(Duration::from_secs(30)), |_| ())
        .await
        .expect("no platform call");
    assert!(served.is_some());
    assert!(snapshot.last_refresh_took() >= Duration::from_secs(3));
    emulator.shutdown().await;
}
