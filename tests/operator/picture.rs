//! The shared platform picture against the emulator: a reconcile that needs a newer picture
//! while another task reads one does not wait for it (it would hold a controller slot meanwhile);
//! readers queued behind one refresh share the next; a picture whose read was in flight when a
//! write showed the picture wrong is not trusted.

use std::sync::Arc;
use std::time::Duration;

use igz_emulator::{EmulatorConfig, FaultsPatch, RunningEmulator};
use igz_operator::controller::SharedPicture;
use igz_testkit::emulator::Admin;

use crate::support::{ACCESS_KEY, platform_client};

/// An emulator, and a shared picture that has read its first picture; then every platform answer
/// takes `latency`, so a refresh holds the flight at least that long.
async fn slow_platform(latency: Duration) -> (RunningEmulator, Arc<SharedPicture>, Admin) {
    let emulator = igz_testkit::emulator::start(EmulatorConfig {
        access_keys: vec![ACCESS_KEY.into()],
        ..Default::default()
    })
    .await;
    let picture = Arc::new(SharedPicture::new(
        platform_client(&emulator.base_url(), ACCESS_KEY),
        Duration::from_secs(60),
    ));
    picture.read(None, |_| ()).await.expect("a first picture");
    let admin = Admin::for_emulator(&emulator);
    admin
        .set_faults(FaultsPatch {
            latency_ms: Some(latency.as_millis() as u64),
            ..Default::default()
        })
        .await;
    (emulator, picture, admin)
}

/// Starts a reader that needs a picture read from now on, and returns once its refresh is in
/// flight.
async fn refresh_in_flight(
    picture: &Arc<SharedPicture>,
) -> tokio::task::JoinHandle<Result<(), igz_mgmt::MgmtError>> {
    let refresher = {
        let picture = picture.clone();
        tokio::spawn(async move { picture.read(Some(Duration::ZERO), |_| ()).await })
    };
    igz_testkit::wait::until("a refresh in flight", Duration::from_secs(10), || async {
        if picture.refreshing() {
            Ok(())
        } else {
            Err("not yet".to_owned())
        }
    })
    .await;
    refresher
}

/// How many times the platform's groups were listed (once per picture read).
async fn pictures_read(admin: &Admin) -> u64 {
    admin.stats().await.route("GET /api/user_groups")
}

#[tokio::test]
async fn a_reader_needing_a_newer_picture_does_not_wait_for_a_refresh_in_flight() {
    let (emulator, picture, _admin) = slow_platform(Duration::from_secs(3)).await;
    let refresher = refresh_in_flight(&picture).await;

    // A re-check that needs a newer picture yields at once...
    let recheck = picture
        .read_unless_refreshing(Some(Duration::ZERO), |_| ())
        .await
        .expect("no platform call");
    assert!(
        recheck.is_none(),
        "it must not wait for the refresh in flight"
    );
    // ...while a reader any picture satisfies is served from the one there is.
    let any = picture
        .read_unless_refreshing(None, |_| ())
        .await
        .expect("no platform call");
    assert!(any.is_some());
    assert!(picture.refreshing(), "still the same refresh");

    refresher.await.expect("join").expect("the refresh");
    // Once the new picture is there, the re-check is served from it, and the next wait is
    // about as long as that read took.
    let served = picture
        .read_unless_refreshing(Some(Duration::from_secs(30)), |_| ())
        .await
        .expect("no platform call");
    assert!(served.is_some());
    assert!(picture.last_refresh_took() >= Duration::from_secs(3));
    emulator.shutdown().await;
}

#[tokio::test]
async fn readers_queued_behind_a_refresh_share_the_next_one() {
    let (emulator, picture, admin) = slow_platform(Duration::from_secs(2)).await;
    let first = refresh_in_flight(&picture).await;
    // Two readers (a create's outcome each) need a picture read after they asked: the one in
    // flight started before, so they wait for the next, and one read serves both.
    let queued: Vec<_> = (0..2)
        .map(|_| {
            let picture = picture.clone();
            tokio::spawn(async move { picture.read(Some(Duration::ZERO), |_| ()).await })
        })
        .collect();
    // On this single-threaded runtime the sleep lets both ask now, 2 s before the first read
    // can end.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(picture.refreshing(), "still the first refresh");
    first.await.expect("join").expect("the first refresh");
    for reader in queued {
        reader.await.expect("join").expect("the shared refresh");
    }
    // The first picture, the refresh in flight, and one more for both queued readers.
    assert_eq!(pictures_read(&admin).await, 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_write_that_shows_the_picture_wrong_distrusts_a_read_already_in_flight() {
    let (emulator, picture, admin) = slow_platform(Duration::from_secs(2)).await;
    let refresher = refresh_in_flight(&picture).await;
    // A write fails in a way that shows the picture wrong while the read is under way: that
    // read may have passed what the write found.
    picture.invalidate().await;
    refresher.await.expect("join").expect("the refresh");
    assert_eq!(pictures_read(&admin).await, 2);
    // The next reader, content with any picture, still reads a new one, and only one.
    picture.read(None, |_| ()).await.expect("a new picture");
    picture.read(None, |_| ()).await.expect("the same picture");
    assert_eq!(pictures_read(&admin).await, 3);
    emulator.shutdown().await;
}
