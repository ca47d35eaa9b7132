//! What GitOps tools see: real Group objects from the API server, in each state the operator
//! puts them in, evaluated by the real kstatus library (what Flux and kpt use; a small Go helper,
//! hack/tools/kstatus) and by our Argo CD health check (deploy/argocd/health.lua, run on gopher-lua
//! in Argo CD's sandbox by hack/tools/argocd-health).

use std::process::Stdio;

use igz_emulator::FaultsPatch;
use igz_mgmt::NewUserGroup;
use igz_operator::crd::{GroupGrant, TenantPolicy};
use kube::ResourceExt as _;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::support::grants::{apply_grant, everything_in};
use crate::support::{ACCESS_KEY, Harness, Operator, errors};

/// Runs `program args` with `input` on stdin; returns stdout, panicking with stderr on failure.
async fn run_with_input(program: &str, args: &[&str], input: &str) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// (kstatus status, Argo CD health) of each object, by name.
async fn evaluate(objects: &[(String, Value)]) -> Vec<(String, String, String)> {
    igz_testkit::paths::run_script("build-tools.sh", &["kstatus", "argocd-health"]);
    let tools = igz_testkit::paths::hack_path("TOOLS_BIN");
    let (kstatus, argocd) = (tools.join("kstatus"), tools.join("argocd-health"));
    let check = igz_testkit::paths::repo_root().join("deploy/argocd/health.lua");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects.iter().map(|(_, o)| o).collect::<Vec<_>>()});
    let input = list.to_string();
    let kstatus_out = run_with_input(kstatus.to_str().unwrap(), &[], &input).await;
    let argocd_out = run_with_input(
        argocd.to_str().unwrap(),
        &["--check", check.to_str().unwrap()],
        &input,
    )
    .await;
    let column = |out: &str, name: &str| {
        out.lines()
            .find(|l| {
                l.split('\t')
                    .next()
                    .is_some_and(|n| n.ends_with(&format!("/{name}")))
            })
            .and_then(|l| l.split('\t').nth(1))
            .unwrap_or_else(|| panic!("no answer for {name}: {out}"))
            .to_owned()
    };
    objects
        .iter()
        .map(|(state, o)| {
            let name = o["metadata"]["name"].as_str().unwrap();
            (
                state.clone(),
                column(&kstatus_out, name),
                column(&argocd_out, name),
            )
        })
        .collect()
}

/// The Group as the API server has it now, as JSON.
async fn as_seen(h: &Harness, name: &str) -> Value {
    serde_json::to_value(h.groups.get(name).await.unwrap()).unwrap()
}

#[tokio::test]
async fn kstatus_and_argo_cd_read_every_state_right() {
    let mut h = Harness::without_operator("gitops-status", &["alice"], &[]).await;
    let mut seen: Vec<(String, Value)> = Vec::new();

    // Wrong credentials: a person must fix them.
    let wrong = Operator::start(&h.client, &h.ns, &h.emulator.base_url(), "not-the-key");
    h.apply("creds", json!({"members": ["alice"]}))
        .await
        .unwrap();
    h.wait_reason("creds", "CredentialsInvalid").await;
    seen.push((
        "needs a person: CredentialsInvalid".into(),
        as_seen(&h, "creds").await,
    ));
    wrong.stop().await;
    h.delete("creds").await;
    h.operator = Some(Operator::start(
        &h.client,
        &h.ns,
        &h.emulator.base_url(),
        ACCESS_KEY,
    ));
    h.wait_gone("creds").await;

    h.apply("ready", json!({"members": ["alice"]}))
        .await
        .unwrap();
    h.wait_ready("ready").await;
    seen.push(("Ready, platform matches".into(), as_seen(&h, "ready").await));

    h.apply("waiting", json!({"members": ["alice", "ghost"]}))
        .await
        .unwrap();
    h.wait_reason("waiting", "UserNotFound").await;
    seen.push((
        "waiting for missing users".into(),
        as_seen(&h, "waiting").await,
    ));

    h.platform
        .create_group(&NewUserGroup {
            name: "taken".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    h.apply("taken", json!({"members": ["alice"]}))
        .await
        .unwrap();
    h.wait_reason("taken", "AlreadyExists").await;
    seen.push((
        "needs a person: AlreadyExists".into(),
        as_seen(&h, "taken").await,
    ));

    h.apply(
        "second",
        json!({"groupName": "ready", "members": ["alice"]}),
    )
    .await
    .unwrap();
    h.wait_reason("second", "NameConflict").await;
    seen.push((
        "needs a person: NameConflict".into(),
        as_seen(&h, "second").await,
    ));

    h.apply(
        "observed",
        json!({"members": ["alice"], "managementPolicy": "ObserveOnly"}),
    )
    .await
    .unwrap();
    let g = h.wait_ready("observed").await;
    assert!(
        !g.status.unwrap().planned_changes.is_empty(),
        "observed, not in sync"
    );
    seen.push((
        "ObserveOnly, observed".into(),
        as_seen(&h, "observed").await,
    ));

    // A grant narrowed under a Group: NotGranted.
    h.apply(
        "admins",
        json!({"members": ["alice"], "assignedPolicies": ["System Admin"]}),
    )
    .await
    .unwrap();
    h.wait_ready("admins").await;
    let mut narrower = everything_in(&h.ns);
    narrower
        .spec
        .tenant_policies
        .retain(|p| *p != TenantPolicy::SystemAdmin);
    apply_grant(&h.client, &GroupGrant::new(&h.ns, narrower.spec)).await;
    h.wait_reason("admins", "NotGranted").await;
    seen.push((
        "needs a person: NotGranted".into(),
        as_seen(&h, "admins").await,
    ));

    // Creating, frozen mid-way: every request takes 20 s. The create record is on the
    // resource and its status is still the CRD's default (observedGeneration 0): a create writes
    // status once, when it ends.
    h.faults(FaultsPatch {
        latency_ms: Some(20_000),
        ..Default::default()
    })
    .await;
    h.apply("slow", json!({"members": ["alice"]}))
        .await
        .unwrap();
    h.wait_for("slow", "the create under way", |g| {
        g.annotations()
            .contains_key(igz_operator::create_record::ANNOTATION)
    })
    .await;
    seen.push(("creating".into(), as_seen(&h, "slow").await));

    // Deleting while the platform is down.
    h.faults(FaultsPatch {
        latency_ms: Some(0),
        ..errors(1.0)
    })
    .await;
    h.delete("ready").await;
    h.wait_reason("ready", "ApiUnavailable").await;
    seen.push(("being deleted".into(), as_seen(&h, "ready").await));
    h.admin.clear_faults().await;

    // A spec change the operator has not seen yet (no operator running now).
    let stopped = h.operator.take().unwrap();
    stopped.stop().await;
    h.apply("waiting", json!({"members": ["alice"]}))
        .await
        .unwrap();
    let stale = as_seen(&h, "waiting").await;
    assert!(
        stale["status"]["observedGeneration"].as_i64() < stale["metadata"]["generation"].as_i64()
    );
    seen.push(("spec changed, not yet observed".into(), stale));

    // One name per state: some states are the same resource at different times.
    for (i, (_, object)) in seen.iter_mut().enumerate() {
        object["metadata"]["name"] = json!(format!("state-{i}"));
    }
    let table = evaluate(&seen).await;
    let expected = |state: &str| -> (&str, &str) {
        match state {
            s if s.starts_with("needs a person") => ("Failed", "Degraded"),
            "Ready, platform matches" | "ObserveOnly, observed" => ("Current", "Healthy"),
            "being deleted" => ("Terminating", "Progressing"),
            _ => ("InProgress", "Progressing"),
        }
    };
    let wrong: Vec<String> = table
        .iter()
        .filter(|(state, k, a)| expected(state) != (k.as_str(), a.as_str()))
        .map(|(state, k, a)| {
            format!(
                "{state}: kstatus {k}, Argo CD {a}, want {:?}",
                expected(state)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(table.len(), 10);
    // Both tools pass on the message that says what to do.
    let taken = &seen
        .iter()
        .find(|(s, _)| s.ends_with("AlreadyExists"))
        .unwrap()
        .1;
    let stalled = taken["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Stalled")
        .unwrap();
    assert!(
        stalled["message"]
            .as_str()
            .unwrap()
            .contains("adoptExisting")
    );
    h.emulator.shutdown().await;
}
