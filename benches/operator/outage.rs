//! A 60 s outage of the management API: how many requests the operator sends while every one of
//! them fails, and how long it takes to converge once the API is back, including a deletion and
//! a change requested during the outage.

use std::time::{Duration, Instant};

use igz_emulator::FaultsPatch;
use igz_testkit::emulator::Admin;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

use crate::common::{self, Scenario};

const SCENARIO: Scenario = Scenario {
    groups: 100,
    members: 5,
    roles: 2,
    users: 200,
    projects: 20,
};
const OUTAGE: Duration = Duration::from_secs(60);

pub async fn run() {
    let s = SCENARIO;
    println!(
        "\n== 60 s outage (every /api request answered 500/503) with {} converged Groups, resync 10s",
        s.groups
    );
    let (kube, ns, api) = common::kube_namespace("bench-outage").await;
    let emu = common::start_emulator(&s, 0).await;
    let admin = Admin::for_emulator(&emu);
    let process = common::operator(
        &ns,
        &emu.base_url(),
        "outage",
        &["--resync-interval", "10s"],
    )
    .await;
    let (started, _) = common::apply_all(&ns, &s, 0..s.groups).await;
    common::wait_converged(&api, s.groups, started, Duration::from_secs(600)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let before = admin.stats().await;
    admin
        .set_faults(FaultsPatch {
            error_rate: Some(1.0),
            seed: Some(60),
            ..Default::default()
        })
        .await;
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    api.delete("g0", &DeleteParams::default())
        .await
        .expect("delete g0");
    let mut spec = s.spec(1);
    spec["members"]
        .as_array_mut()
        .expect("members")
        .push(json!("u199"));
    api.patch(
        "g1",
        &PatchParams::apply("bench").force(),
        &Patch::Apply(&json!({
            "apiVersion": "igz-operator.io/v1alpha1", "kind": "Group",
            "metadata": {"name": "g1"}, "spec": spec,
        })),
    )
    .await
    .expect("change g1");
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    let during = admin.stats().await;
    let outage = down.elapsed();
    admin.clear_faults().await;
    let back = Instant::now();

    // Converged again: g0 gone (its finalizer done), g1 with its new member, every other Ready.
    let converge = common::wait_converged(&api, s.groups - 1, back, Duration::from_secs(900)).await;
    let digest = common::digest(&admin).await;
    let g1_ok = digest
        .get("g1")
        .is_some_and(|(members, _)| members.contains("u199"));
    let sent = during.requests_total - before.requests_total;
    println!(
        "requests during the outage: {sent} in {:.0} s = {:.2}/s",
        outage.as_secs_f64(),
        sent as f64 / outage.as_secs_f64()
    );
    for (route, count) in &during.routes {
        let n = count - before.route(route);
        if n > 0 {
            println!("  {route:<58} {n:>6}");
        }
    }
    println!(
        "converged {:.1} s after the API came back (g0 deleted on the platform: {}, g1 changed: {})",
        converge.as_secs_f64(),
        if digest.contains_key("g0") {
            "NO"
        } else {
            "yes"
        },
        if g1_ok { "yes" } else { "NO" },
    );
    process.terminate(Duration::from_secs(10));
    common::release_namespace(&kube, &ns).await;
    emu.shutdown().await;
}
