//! Operator frugality benchmark: platform requests per Group to converge from scratch and per
//! Group per resync when nothing changed, on the real control plane and the emulator.
//!
//! Baseline, measured in the same run against the same platform: a per-object design that reads
//! each group with one GET per resync (the floor for anything that does not observe in bulk).
//! Ratios below 1 mean the operator asks less of the platform than that floor.
//! Targets: <= 1.5 requests per group from scratch, <= 0.2 per group per resync.
//! Knobs: BENCH_GROUPS (default 200).

use std::time::{Duration, Instant};

use igz_emulator::{EmulatorConfig, Seed, SeedProject, SeedUser};
use igz_mgmt::{Credentials, MgmtClient, MgmtConfig, RateLimit};
use igz_operator::controller::{self, ReconcileMetrics, Settings, Timing};
use igz_operator::crd::Group;
use igz_testkit::emulator::Admin;
use igz_testkit::envtest;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

const KEY: &str = "bench-key";
const RESYNC: Duration = Duration::from_secs(5);

struct Profile {
    name: &'static str,
    with_role: bool,
}

struct Outcome {
    converge_per_group: f64,
    converge_seconds: f64,
    resync_per_group: f64,
    baseline_per_group: f64,
}

async fn requests_total(admin: &Admin) -> f64 {
    admin.stats().await.requests_total as f64
}

async fn install_crd(kube: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(kube.clone());
    crds.patch(
        "groups.igz-operator.io",
        &PatchParams::apply("igz-bench").force(),
        &Patch::Apply(&igz_operator::crd::crd()),
    )
    .await
    .unwrap();
    kube::runtime::wait::await_condition(
        crds,
        "groups.igz-operator.io",
        kube::runtime::conditions::is_crd_established(),
    )
    .await
    .unwrap();
}

fn client(base: &str, qps: f64) -> MgmtClient {
    let mut config = MgmtConfig::new(
        base.parse().unwrap(),
        Credentials::AccessKey {
            username: None,
            key: KEY.to_owned().into(),
        },
    );
    config.rate_limit = RateLimit {
        qps,
        burst: std::num::NonZeroU32::new(qps as u32 * 2).unwrap(),
    };
    MgmtClient::new(config).unwrap()
}

async fn run(profile: &Profile, groups: usize) -> Outcome {
    let kube = envtest::admin_client().await;
    install_crd(&kube).await;
    let ns = envtest::fresh_namespace(&kube, "bench").await;
    let users = groups + 2;
    let seed = Seed {
        users: (0..users)
            .map(|i| SeedUser {
                username: format!("u{i}"),
                ..Default::default()
            })
            .collect(),
        projects: (0..10)
            .map(|i| SeedProject {
                name: format!("p{i}"),
                ..Default::default()
            })
            .collect(),
        groups: vec![],
    };
    let config = EmulatorConfig {
        access_keys: vec![KEY.into()],
        seed: Some(seed),
        ..Default::default()
    };
    let emu = igz_testkit::emulator::start(config).await;
    let base = emu.base_url();
    let admin = Admin::new(&base);

    let settings = Settings {
        namespaces: vec![ns.clone()],
        concurrency: 8,
        timing: Timing::new(RESYNC),
        snapshot_ttl: RESYNC,
        instance: Some("bench".into()),
        admission_policy: true,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(controller::run(
        kube.clone(),
        client(&base, 500.0),
        settings,
        ReconcileMetrics::default(),
        async move {
            let _ = stopped.await;
        },
        || {},
    ));

    let api: Api<Group> = Api::namespaced(kube.clone(), &ns);
    let before = requests_total(&admin).await;
    let started = Instant::now();
    for i in 0..groups {
        let mut spec =
            json!({"members": [format!("u{i}"), format!("u{}", i + 1), format!("u{}", i + 2)]});
        if profile.with_role {
            spec["projectRoles"] = json!([{"project": format!("p{}", i % 10), "role": "Editor"}]);
        }
        let body = json!({"apiVersion": "igz-operator.io/v1alpha1", "kind": "Group", "metadata": {"name": format!("g{i}")}, "spec": spec});
        api.patch(
            &format!("g{i}"),
            &PatchParams::apply("bench").force(),
            &Patch::Apply(&body),
        )
        .await
        .unwrap();
    }
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let ready = list
            .items
            .iter()
            .filter(|g| {
                g.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            })
            .count();
        if ready == groups {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "not converged after 600s ({ready}/{groups})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let converge_seconds = started.elapsed().as_secs_f64();
    let converged = requests_total(&admin).await;

    // Idle: every group resyncs at least twice; nothing changed on the platform.
    tokio::time::sleep(RESYNC.mul_f64(2.6)).await;
    let idle = requests_total(&admin).await;
    let resyncs = 2.0;

    // Baseline: one GET per group per resync, on the same platform.
    let naive = client(&base, 500.0);
    let ids: Vec<String> = naive
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.name.starts_with('g'))
        .map(|g| g.id)
        .collect();
    let b0 = requests_total(&admin).await;
    for id in &ids {
        naive.get_group(id).await.unwrap();
    }
    let b1 = requests_total(&admin).await;

    let _ = stop.send(());
    let _ = operator.await;
    emu.shutdown().await;
    Outcome {
        converge_per_group: (converged - before) / groups as f64,
        converge_seconds,
        resync_per_group: (idle - converged) / groups as f64 / resyncs,
        baseline_per_group: (b1 - b0) / ids.len() as f64,
    }
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let groups: usize = std::env::var("BENCH_GROUPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    println!("operator frugality, {groups} Groups per profile, resync {RESYNC:?}");
    println!(
        "{:<16} {:>12} {:>10} {:>10} {:>12} {:>10} {:>10}",
        "profile", "converge s", "req/group", "vs base", "resync req/g", "vs base", "target"
    );
    for profile in [
        Profile {
            name: "members",
            with_role: false,
        },
        Profile {
            name: "members+role",
            with_role: true,
        },
    ] {
        let o = run(&profile, groups).await;
        let ok = o.converge_per_group <= 1.5 && o.resync_per_group <= 0.2;
        println!(
            "{:<16} {:>12.1} {:>10.2} {:>10.2} {:>12.3} {:>10.3} {:>10}",
            profile.name,
            o.converge_seconds,
            o.converge_per_group,
            o.converge_per_group / o.baseline_per_group,
            o.resync_per_group,
            o.resync_per_group / o.baseline_per_group,
            if ok { "met" } else { "MISSED" },
        );
    }
}
