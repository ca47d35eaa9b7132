//! Peak memory of the operator process at 1,000 and 5,000 Groups, and, with the largest number
//! of idle Groups, the time from an applied change to the change on the platform.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use igz_mgmt::ProjectRole;
use igz_operator::crd::Group;
use igz_testkit::process::OperatorProcess;
use kube::Api;
use kube::ResourceExt as _;
use kube::api::{Patch, PatchParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use serde_json::json;

use crate::common::{self, Scenario, mib, percentile_ms};
use crate::frugality::met;

/// Groups of 5 members and one project role; a user is in about 5 groups.
pub fn scenario(groups: usize) -> Scenario {
    Scenario {
        groups,
        members: 5,
        roles: 1,
        users: (groups / 5).max(200),
        projects: 50,
    }
}

/// Flags of the memory runs: the rate limit is raised so that 5,000 Groups converge within the
/// benchmark's time; it changes how fast the work arrives, not what is kept in memory.
const FAST: [&str; 6] = [
    "--resync-interval",
    "60s",
    "--mgmt-qps",
    "500",
    "--mgmt-burst",
    "1000",
];

pub async fn run(sizes: &[usize], latency: bool) {
    println!(
        "\n== memory: peak RSS (VmHWM) of the igz-operator process; 5 members + 1 project role per Group"
    );
    // The bench's own build (glibc malloc), and the binary the image ships (static musl, its
    // allocator returns freed memory sooner): what a user runs is the second.
    let mut binaries = vec![("bench build (glibc)", common::bench_binary())];
    match common::image_binary() {
        Some(path) => binaries.push(("image binary (musl)", path)),
        None => println!(
            "(the image's musl binary was not built: rustup target add x86_64-unknown-linux-musl and apt-get install musl-tools to measure it too)"
        ),
    }
    println!(
        "{:<20} {:>7} {:>10} {:>10} {:>10} {:>12} {:>11}",
        "binary", "Groups", "empty MiB", "peak MiB", "KiB/Group", "RSS now MiB", "converge s"
    );
    let largest = sizes.iter().copied().max().unwrap_or(0);
    for (label, binary) in &binaries {
        for &n in sizes {
            let s = scenario(n);
            let (kube, ns, api) = common::kube_namespace("bench-scale").await;
            let emu = common::start_emulator(&s, 0).await;
            let process =
                common::operator_binary(binary, &ns, &emu.base_url(), &format!("scale-{n}"), &FAST)
                    .await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let empty = process.memory();

            let (started, _) = common::apply_all(&ns, &s, 0..n).await;
            let converge =
                common::wait_converged(&api, n, started, Duration::from_secs(1800)).await;
            // Then every Group resyncs once (with the platform picture it needs).
            let r0 = process.counter("igz_operator_reconciles").await;
            let waited = Instant::now();
            while process.counter("igz_operator_reconciles").await < r0 + n as f64
                && waited.elapsed() < Duration::from_secs(300)
            {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let memory = process.memory();
            println!(
                "{:<20} {:>7} {:>10.1} {:>10.1} {:>10.1} {:>12.1} {:>11.1}",
                label,
                n,
                mib(empty.hwm_kib),
                mib(memory.hwm_kib),
                (memory.hwm_kib.saturating_sub(empty.hwm_kib)) as f64 / n as f64,
                mib(memory.rss_kib),
                converge.as_secs_f64(),
            );
            if n == 5000 {
                println!(
                    "{label}: goal <= 64 MiB peak at 5,000 Groups [{}] ({:.2}x its empty process)",
                    met(memory.hwm_kib <= 64 * 1024),
                    memory.hwm_kib as f64 / empty.hwm_kib.max(1) as f64
                );
            }
            // The latency is measured once, with the bench's build.
            if latency && n == largest && *binary == binaries[0].1 {
                change_latency(&kube, &api, &emu.base_url(), &process, &s).await;
            }
            process.terminate(Duration::from_secs(10));
            common::release_namespace(&kube, &ns).await;
            emu.shutdown().await;
        }
    }
}

const MEMBER_SAMPLES: usize = 60;
const ROLE_SAMPLES: usize = 30;

/// p50/p99 from an applied change of one Group to the change on the platform, with every other
/// Group idle. Baseline in the same run: the floor any watch-driven design pays, namely the
/// watch delivering the change plus the platform writes done directly.
async fn change_latency(
    kube: &kube::Client,
    api: &Api<Group>,
    base: &str,
    _process: &OperatorProcess,
    s: &Scenario,
) {
    let n = s.groups;
    println!("\n== change latency with {n} idle Groups (no added platform latency)");
    let platform = common::platform_client(base);
    let user_ids: BTreeMap<String, String> = platform
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .map(|u| (u.username, u.id))
        .collect();

    // The floor, part 1: our own watch of the namespace, timing when each change arrives.
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<(String, i64, Instant)>();
    let watch_api: Api<Group> = Api::namespaced(kube.clone(), api.namespace().unwrap_or_default());
    let watch = tokio::spawn(async move {
        let mut stream = watcher(watch_api, watcher::Config::default())
            .applied_objects()
            .boxed();
        while let Some(Ok(g)) = stream.next().await {
            let _ = seen_tx.send((
                g.name_any(),
                g.metadata.generation.unwrap_or(0),
                Instant::now(),
            ));
        }
    });
    // Let the watch list everything before timing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    while seen_rx.try_recv().is_ok() {}

    let mut visible = Vec::new();
    let mut delivered = Vec::new();
    let mut role_visible = Vec::new();
    for k in 0..MEMBER_SAMPLES + ROLE_SAMPLES {
        let i = (k * 97 + 13) % n;
        let name = format!("g{i}");
        let group = api.get(&name).await.expect("get Group");
        let id = group
            .status
            .as_ref()
            .and_then(|st| st.group_id.clone())
            .expect("group id in status");
        let mut spec = s.spec(i);
        let is_member = k < MEMBER_SAMPLES;
        let (extra_user, new_role) = if is_member {
            let candidate = format!("u{}", (i * s.members + s.members + k) % s.users);
            let members = spec["members"].as_array_mut().expect("members");
            members.push(json!(candidate));
            (Some(user_ids[&candidate].clone()), None)
        } else {
            let roles = spec["projectRoles"].as_array_mut().expect("roles");
            let current = roles[0]["role"].as_str().unwrap_or("Viewer").to_owned();
            let next = if current == "Editor" {
                "Viewer"
            } else {
                "Editor"
            };
            roles[0]["role"] = json!(next);
            let project = roles[0]["project"].as_str().unwrap_or_default().to_owned();
            (
                None,
                Some((project, ProjectRole::parse(next).expect("role"))),
            )
        };
        let body = json!({
            "apiVersion": "igz-operator.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": name},
            "spec": spec,
        });
        let patched = api
            .patch(
                &name,
                &PatchParams::apply("bench").force(),
                &Patch::Apply(&body),
            )
            .await
            .expect("patch");
        let returned = Instant::now();
        let generation = patched.metadata.generation.unwrap_or(0);
        let deadline = returned + Duration::from_secs(30);
        loop {
            let done = match (&extra_user, &new_role) {
                (Some(user), _) => platform
                    .get_group(&id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|g| g.member_ids.contains(user)),
                (_, Some((project, role))) => platform
                    .find_project(project)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|p| p.group_role(&id) == Some(*role)),
                _ => true,
            };
            if done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "change of {name} not on the platform within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let elapsed = returned.elapsed();
        if elapsed > Duration::from_millis(500) {
            // To find it in the operator's log (IGZ_BENCH_LOG).
            println!(
                "slow sample {k} ({name}, {}): {:.0} ms, applied at {}",
                if is_member { "member" } else { "role" },
                elapsed.as_secs_f64() * 1000.0,
                jiff::Timestamp::now()
                    - jiff::SignedDuration::try_from(elapsed).unwrap_or_default(),
            );
        }
        if is_member {
            visible.push(elapsed);
        } else {
            role_visible.push(elapsed);
        }
        // When did our own watch see it?
        let watch_deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < watch_deadline {
            match tokio::time::timeout(Duration::from_secs(1), seen_rx.recv()).await {
                Ok(Some((seen, g, at))) if seen == name && g >= generation => {
                    delivered.push(at.saturating_duration_since(returned));
                    break;
                }
                _ => {}
            }
        }
        // Vary the gap so samples do not line up with anything periodic.
        tokio::time::sleep(Duration::from_millis(100 + (k as u64 * 37) % 200)).await;
    }
    watch.abort();

    // The floor, part 2: the same membership write done directly (read the user, write it back).
    let mut direct = Vec::new();
    for k in 0..30 {
        let i = (k * 89 + 7) % n;
        let id = platform
            .find_group_by_name(&format!("g{i}"))
            .await
            .expect("find")
            .expect("exists")
            .id;
        let user = &user_ids[&format!("u{}", (i * s.members + s.members + 50 + k) % s.users)];
        let started = Instant::now();
        platform
            .add_user_to_group(user, &id)
            .await
            .expect("direct add");
        direct.push(started.elapsed());
        platform
            .remove_user_from_group(user, &id)
            .await
            .expect("undo");
    }

    let p = |v: &[Duration], q| percentile_ms(v, q);
    println!("{:<44} {:>9} {:>9}", "", "p50 ms", "p99 ms");
    println!(
        "{:<44} {:>9.1} {:>9.1}",
        "member added: kubectl apply -> platform",
        p(&visible, 50.0),
        p(&visible, 99.0)
    );
    println!(
        "{:<44} {:>9.1} {:>9.1}",
        "role changed: kubectl apply -> platform",
        p(&role_visible, 50.0),
        p(&role_visible, 99.0)
    );
    println!(
        "{:<44} {:>9.1} {:>9.1}",
        "baseline: watch delivers the change",
        p(&delivered, 50.0),
        p(&delivered, 99.0)
    );
    println!(
        "{:<44} {:>9.1} {:>9.1}",
        "baseline: the membership write done directly",
        p(&direct, 50.0),
        p(&direct, 99.0)
    );
    let floor50 = p(&delivered, 50.0) + p(&direct, 50.0);
    println!(
        "member change: p50 {:.2}x the floor (watch + direct write, {floor50:.1} ms); goals p50 <= 50 ms [{}], p99 <= 500 ms [{}]",
        p(&visible, 50.0) / floor50,
        met(p(&visible, 50.0) <= 50.0),
        met(p(&visible, 99.0) <= 500.0),
    );
}
