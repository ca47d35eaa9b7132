//! Temporary members: how late an ended membership is removed (from `expires` to the removal
//! seen on the platform), p50/p99 over 100 Groups whose members end 300 ms apart, with the
//! resync at 5 minutes, so only the timers the reconciles set can act; and the platform requests
//! between expiries, which timers (not scans) keep at zero. Baseline in the same run: the same
//! removal done directly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use igz_testkit::emulator::Admin;
use serde_json::json;

use crate::common::{self, Applier, Scenario, percentile_ms};
use crate::frugality::met;

const GROUPS: usize = 100;
const SCENARIO: Scenario = Scenario {
    groups: GROUPS,
    members: 2,
    roles: 0,
    users: 400,
    projects: 1,
};
/// The first membership ends this long after the Groups are Ready; the others every `STEP`.
const LEAD: Duration = Duration::from_secs(20);
const STEP: Duration = Duration::from_millis(300);

pub async fn run() {
    let s = SCENARIO;
    println!(
        "\n== temporary members: {GROUPS} Groups, one temporary member each, ending {} ms apart; resync 300s",
        STEP.as_millis()
    );
    let (kube, ns, api) = common::kube_namespace("bench-temporary").await;
    let emu = common::start_emulator(&s, 0).await;
    let admin = Admin::for_emulator(&emu);
    let process = common::operator(
        &ns,
        &emu.base_url(),
        "temporary",
        &["--resync-interval", "300s"],
    )
    .await;

    // Applying and converging take a while: the expiries are set far enough ahead, then the
    // first is LEAD after the Groups are Ready (they are re-applied with the final times).
    let far = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    // Kubernetes keeps times to the second: the expiries are 300 ms apart, each to its second.
    let manifests = |first: jiff::Timestamp| -> (Vec<serde_json::Value>, Vec<jiff::Timestamp>) {
        let ends: Vec<jiff::Timestamp> = (0..GROUPS)
            .map(|i| first + jiff::SignedDuration::try_from(STEP * i as u32).unwrap())
            .map(|t| {
                t.strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
                    .parse()
                    .unwrap()
            })
            .collect();
        let groups = (0..GROUPS)
            .map(|i| {
                let mut manifest = s.manifest(i);
                manifest["spec"]["temporaryMembers"] = json!([{
                    "name": temporary_user(i),
                    "expires": ends[i].strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "reason": "bench",
                }]);
                manifest
            })
            .collect();
        (groups, ends)
    };
    let (groups, _) = manifests(far);
    let (started, _) = common::apply_manifests(Applier::Kubectl, &ns, groups).await;
    common::wait_converged(&api, GROUPS, started, Duration::from_secs(600)).await;
    let first = jiff::Timestamp::now() + jiff::SignedDuration::try_from(LEAD).unwrap();
    let (groups, ends) = manifests(first);
    let (started, _) = common::apply_manifests(Applier::Kubectl, &ns, groups).await;
    common::wait_converged(&api, GROUPS, started, Duration::from_secs(600)).await;

    // Quiet until the first expiry: no platform request from the operator but the connection's
    // health probe (at most one round a minute), which is not about expiries.
    let quiet_stats = admin.stats().await;
    let quiet_from = reconcile_requests(&quiet_stats);
    let quiet_started = jiff::Timestamp::now();
    let mut removed: BTreeMap<usize, jiff::Timestamp> = BTreeMap::new();
    let deadline = Instant::now() + LEAD + STEP * GROUPS as u32 + Duration::from_secs(60);
    // The quiet window ends 300 ms before the first expiry (the stats are read then).
    let quiet_end = ends[0] - jiff::SignedDuration::from_millis(300);
    let wait =
        Duration::try_from(quiet_end.duration_since(jiff::Timestamp::now())).unwrap_or_default();
    tokio::time::sleep(wait).await;
    let quiet_stats_end = admin.stats().await;
    let quiet_requests = reconcile_requests(&quiet_stats_end) - quiet_from;
    for (route, n) in &quiet_stats_end.routes {
        let before = quiet_stats.route(route);
        if *n > before
            && !route.contains("verifications")
            && !route.contains("tunnel")
            && !route.contains("access_keys")
        {
            println!("  before the first expiry: {route} {}", n - before);
        }
    }
    while removed.len() < GROUPS && Instant::now() < deadline {
        let now = jiff::Timestamp::now();
        let state = admin.state().await;
        for (i, end) in ends.iter().enumerate() {
            if removed.contains_key(&i) || now < *end {
                continue;
            }
            if !is_member(&state, &format!("g{i}"), &temporary_user(i)) {
                removed.insert(i, now);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let during = reconcile_requests(&admin.stats().await) - quiet_from;
    let lags: Vec<Duration> = removed
        .iter()
        .map(|(i, at)| Duration::try_from(at.duration_since(ends[*i])).unwrap_or_default())
        .collect();

    // Baseline: the removal done directly (read the user, write its groups back).
    let platform = common::platform_client(&emu.base_url());
    let mut direct = Vec::new();
    for i in 0..20 {
        let group = platform
            .find_group_by_name(&format!("g{i}"))
            .await
            .expect("find")
            .expect("exists");
        let user = platform
            .find_user(&format!("u{}", 300 + i))
            .await
            .expect("find user")
            .expect("user");
        platform
            .add_user_to_group(&user.id, &group.id)
            .await
            .expect("add");
        let t = Instant::now();
        platform
            .remove_user_from_group(&user.id, &group.id)
            .await
            .expect("remove");
        direct.push(t.elapsed());
    }

    let p = |v: &[Duration], q| percentile_ms(v, q);
    println!(
        "removed {}/{GROUPS}; lag from expires to removal seen (polled every 50 ms): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        removed.len(),
        p(&lags, 50.0),
        p(&lags, 99.0),
        p(&lags, 100.0)
    );
    println!(
        "baseline: the removal done directly p50 {:.1} ms; lag p99 = {:.1}x it",
        p(&direct, 50.0),
        p(&lags, 99.0) / p(&direct, 50.0).max(0.001)
    );
    println!(
        "platform requests (the connection's health probe aside): {} in the {:.1} s before the first expiry (goal 0: timers, not scans) [{}], {} for the {} removals ({:.1} per removal)",
        quiet_requests,
        (quiet_end.duration_since(quiet_started)).as_secs_f64(),
        met(quiet_requests == 0),
        during - quiet_requests,
        removed.len(),
        (during - quiet_requests) as f64 / removed.len().max(1) as f64,
    );
    println!(
        "goal: removal within 2 s of expires, p99 over {GROUPS} Groups [{}]",
        met(removed.len() == GROUPS && p(&lags, 99.0) <= 2000.0)
    );
    let lag_metric = process
        .counter("igz_operator_member_expiry_lag_seconds_count")
        .await;
    println!(
        "(the operator's igz_operator_member_expiry_lag_seconds counted {lag_metric} removals)"
    );
    process.terminate(Duration::from_secs(10));
    common::release_namespace(&kube, &ns).await;
    emu.shutdown().await;
}

/// Platform requests but the connection health probe's (session check, version, access keys).
fn reconcile_requests(stats: &igz_emulator::StatsReport) -> u64 {
    let probe = [
        "/api/sessions/verifications",
        "/api/tunnel/",
        "GET /api/access_keys",
    ];
    stats
        .routes
        .iter()
        .filter(|(route, _)| !probe.iter().any(|p| route.contains(p)))
        .map(|(_, n)| n)
        .sum()
}

/// The temporary member of Group i: a user no Group has as a permanent member.
fn temporary_user(i: usize) -> String {
    format!("u{}", 200 + i)
}

fn is_member(state: &igz_emulator::StateReport, group: &str, username: &str) -> bool {
    let Some(user) = state
        .users
        .iter()
        .find(|u| u["attributes"]["username"] == username)
    else {
        return false;
    };
    state.user_group(group).is_some_and(|g| {
        g["relationships"]["users"]["data"]
            .as_array()
            .is_some_and(|members| members.iter().any(|m| m["id"] == user["id"]))
    })
}
