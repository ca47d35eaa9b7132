//! The real `igz-operator` process killed with SIGKILL three times while it converges (no
//! shutdown, requests cut off mid-flight, batched role changes in the air), restarted each
//! time: the platform ends in exactly the declared state, without duplicate groups.
//!
//! The kills happen when the platform has seen a given number of writes (polled), so they land
//! while work is under way; where exactly does not matter: the end state must be exact anyway.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use igz_testkit::process::{Launch, OperatorProcess};
use igz_testkit::wait;
use kube::api::ListParams;
use serde_json::json;

use crate::support::{ACCESS_KEY, Harness, condition};

const GROUPS: usize = 12;
const USERS: usize = 8;
const PROJECTS: [&str; 3] = ["kill-a", "kill-b", "kill-c"];

fn members(i: usize) -> Vec<String> {
    (0..3).map(|k| format!("user{}", (i + k) % USERS)).collect()
}

fn roles(i: usize) -> [(&'static str, &'static str); 2] {
    [
        (PROJECTS[i % 3], ["Admin", "Editor", "Viewer"][i % 3]),
        (PROJECTS[(i + 1) % 3], "Viewer"),
    ]
}

fn spec(i: usize) -> serde_json::Value {
    let roles: Vec<_> = roles(i)
        .iter()
        .map(|(p, r)| json!({"project": p, "role": r}))
        .collect();
    json!({"members": members(i), "projectRoles": roles})
}

#[tokio::test]
async fn three_sigkills_while_converging_end_in_the_exact_state() {
    let users: Vec<String> = (0..USERS).map(|i| format!("user{i}")).collect();
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    let h = Harness::without_operator("e2e-sigkill", &users, &PROJECTS).await;
    // Slow answers keep the work in flight long enough for the kills to land in it.
    h.faults(igz_emulator::FaultsPatch {
        latency_ms: Some(40),
        ..Default::default()
    })
    .await;
    for i in 0..GROUPS {
        h.apply(&format!("g{i}"), spec(i)).await.unwrap();
    }
    let logs = tempfile::tempdir().unwrap();
    igz_testkit::envtest::ensure_operator_namespace(&h.client).await;
    let launch = |n: usize| Launch {
        binary: PathBuf::from(env!("CARGO_BIN_EXE_igz-operator")),
        kubeconfig: igz_testkit::envtest::kubeconfig_path().clone(),
        mgmt_url: h.emulator.base_url(),
        access_key: ACCESS_KEY.to_owned(),
        namespace: h.ns.clone(),
        args: vec!["--resync-interval".into(), "3s".into()],
        log_filter: None,
        log_file: logs.path().join(format!("operator-{n}.log")),
    };

    for (n, writes) in [1u64, 6, 12].into_iter().enumerate() {
        let mut process = OperatorProcess::spawn(&launch(n));
        process.wait_ready(wait::DEFAULT_DEADLINE).await;
        let started = Instant::now();
        loop {
            let stats = h.admin.stats().await;
            if stats.writes_total >= writes || started.elapsed() > wait::DEFAULT_DEADLINE {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        process.sigkill();
    }

    let mut last = OperatorProcess::spawn(&launch(3));
    last.wait_ready(wait::DEFAULT_DEADLINE).await;
    wait::until("every Group Ready", Duration::from_secs(120), || async {
        let list = h
            .groups
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let waiting: Vec<_> = list
            .items
            .iter()
            .filter(|g| condition(g, "Ready").is_none_or(|c| c.0 != "True"))
            .map(|g| g.metadata.name.clone())
            .collect();
        if waiting.is_empty() {
            Ok(())
        } else {
            Err(format!("{waiting:?}"))
        }
    })
    .await;
    h.admin.clear_faults().await;

    let platform = h.platform.list_groups().await.unwrap();
    let projects = h.platform.list_projects().await.unwrap();
    for i in 0..GROUPS {
        let name = format!("g{i}");
        let same: Vec<_> = platform.iter().filter(|g| g.name == name).collect();
        assert_eq!(same.len(), 1, "exactly one platform group {name}");
        let mut want = members(i);
        want.sort();
        assert_eq!(h.member_names(same[0]).await, want, "members of {name}");
        for (project, role) in roles(i) {
            let p = projects.iter().find(|p| p.name == project).unwrap();
            assert_eq!(
                p.group_role(&same[0].id).map(|r| r.to_string()).as_deref(),
                Some(role),
                "role of {name} in {project}"
            );
        }
        let status = h.groups.get(&name).await.unwrap().status.unwrap();
        assert_eq!(status.group_id.as_deref(), Some(same[0].id.as_str()));
    }
    assert_eq!(
        platform.iter().filter(|g| g.name.starts_with('g')).count(),
        GROUPS,
        "no extra platform groups"
    );
    last.terminate(Duration::from_secs(10));
    h.stop().await;
}
