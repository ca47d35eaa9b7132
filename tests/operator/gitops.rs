//! Existing platform groups under GitOps: `igz-operator import` prints Groups that, applied as
//! printed, become Ready with zero platform writes; ObserveOnly never writes and lists what Full
//! would change in status.plannedChanges; switching to Full applies exactly that.

use tokio::process::Command;

use igz_mgmt::{NewUserGroup, ProjectRole};
use igz_operator::crd::Group;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde::Deserialize as _;
use serde_json::{Value, json};

use crate::support::{ACCESS_KEY, Harness, condition};

/// Runs `igz-operator import` against the harness's emulator; returns (stdout, stderr). Async:
/// the emulator answers from this test's own runtime, which a blocking wait would stall.
async fn import(h: &Harness, extra: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_igz-operator"))
        .arg("import")
        .args(["--mgmt-url", &h.emulator.base_url(), "--namespace", &h.ns])
        .args(extra)
        .env("IGZ_ACCESS_KEY", ACCESS_KEY)
        .env_remove("IGZ_ACCESS_KEY_FILE")
        .output()
        .await
        .expect("run igz-operator import");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "import failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).expect("a YAML document"))
        .collect()
}

/// Server-side applies a whole document (as `kubectl apply -f` would).
async fn apply_document(h: &Harness, doc: &Value) {
    let name = doc["metadata"]["name"].as_str().unwrap();
    h.groups
        .patch(
            name,
            &PatchParams::apply("kubectl").force(),
            &Patch::Apply(doc),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {name}: {e}"));
}

/// Hand-made platform groups, as a team that adopts the operator has them.
async fn hand_made(h: &Harness) {
    let id =
        |name: &'static str| async move { h.platform.find_user(name).await.unwrap().unwrap().id };
    let (alice, bob) = (id("alice").await, id("bob").await);
    let science = h
        .platform
        .create_group(&NewUserGroup {
            name: "data-science".into(),
            description: Some("Data scientists".into()),
            assigned_policies: vec!["Data".into(), "Developer".into()],
            member_ids: vec![alice.clone(), bob.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    h.platform
        .set_group_project_role("analytics", &science.id, Some(ProjectRole::Viewer))
        .await
        .unwrap();
    // A name that is not a valid Kubernetes name.
    h.platform
        .create_group(&NewUserGroup {
            name: "Ops_Team".into(),
            member_ids: vec![bob],
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn imported_groups_become_ready_with_zero_platform_writes() {
    let h = Harness::start("gitops-import", &["alice", "bob", "carol"], &["analytics"]).await;
    hand_made(&h).await;
    let (yaml, stderr) = import(&h, &[]).await;
    assert!(stderr.contains(r#"left out "all_users""#), "{stderr}");
    assert!(
        stderr.contains("no temporary members rendered: the platform has no notion of expiry"),
        "{stderr}"
    );
    let docs = documents(&yaml);
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["spec"]["groupName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Ops_Team", "data-science"],
        "stable order, platform-owned left out"
    );
    assert!(docs.iter().all(|d| d.get("status").is_none()));
    assert_eq!(docs[1]["spec"]["managementPolicy"], "ObserveOnly");
    assert_eq!(docs[1]["spec"]["adoptExisting"], true);

    let writes = h.admin.stats().await.writes_total;
    for doc in &docs {
        apply_document(&h, doc).await;
    }
    for doc in &docs {
        let name = doc["metadata"]["name"].as_str().unwrap();
        let g = h.wait_ready(name).await;
        let status = g.status.as_ref().unwrap();
        assert_eq!(condition(&g, "Ready").unwrap().1, "Observed");
        assert!(
            status.planned_changes.is_empty(),
            "{name}: {:?}",
            status.planned_changes
        );
        assert!(status.group_id.is_some());
    }
    assert_eq!(
        h.admin.stats().await.writes_total,
        writes,
        "zero platform writes"
    );

    // The same, managed: printed with Full, applied, still nothing to write.
    let (yaml, _) = import(&h, &["--management-policy", "Full"]).await;
    for doc in documents(&yaml) {
        apply_document(&h, &doc).await;
        let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
        h.wait_for(&name, "Ready under Full", |g| {
            condition(g, "Ready").is_some_and(|c| c.0 == "True" && c.1 == "Available")
        })
        .await;
    }
    assert_eq!(
        h.admin.stats().await.writes_total,
        writes,
        "Full found nothing to change"
    );
    h.stop().await;
}

#[tokio::test]
async fn observe_only_lists_planned_changes_and_full_applies_them() {
    let h = Harness::start("gitops-plan", &["alice", "bob", "carol"], &["analytics"]).await;
    hand_made(&h).await;
    let (yaml, _) = import(&h, &[]).await;
    let mut doc = documents(&yaml)
        .into_iter()
        .find(|d| d["metadata"]["name"] == "data-science")
        .unwrap();
    apply_document(&h, &doc).await;
    h.wait_ready("data-science").await;
    let writes = h.admin.stats().await.writes_total;

    // Reviewing a change before making it: ObserveOnly shows it, writes nothing.
    doc["spec"]["members"] = json!(["alice", "carol"]);
    doc["spec"]["projectRoles"] = json!([{"project": "analytics", "role": "Editor"}]);
    apply_document(&h, &doc).await;
    let planned = [
        "Add member carol",
        "Remove member bob",
        "Give the group role Editor in project analytics",
    ];
    let g = h
        .wait_for("data-science", "changes planned", |g| {
            g.status
                .as_ref()
                .is_some_and(|s| s.planned_changes == planned)
        })
        .await;
    assert_eq!(condition(&g, "Ready").unwrap().1, "Observed");
    h.wait_event("data-science", "ChangesPlanned").await;
    assert_eq!(
        h.admin.stats().await.writes_total,
        writes,
        "ObserveOnly wrote nothing"
    );
    let platform = h.platform_group("data-science").await.unwrap();
    assert_eq!(h.member_names(&platform).await, ["alice", "bob"]);

    // Switching to Full applies exactly the planned changes.
    doc["spec"]["managementPolicy"] = json!("Full");
    apply_document(&h, &doc).await;
    let g = h
        .wait_for("data-science", "Ready under Full", |g| {
            condition(g, "Ready").is_some_and(|c| c.0 == "True" && c.1 == "Available")
        })
        .await;
    assert!(g.status.unwrap().planned_changes.is_empty());
    let platform = h.platform_group("data-science").await.unwrap();
    assert_eq!(h.member_names(&platform).await, ["alice", "carol"]);
    assert_eq!(h.roles_of(&platform.id).await, ["analytics=Editor"]);
    h.stop().await;
}

#[tokio::test]
async fn deleting_an_observe_only_group_leaves_the_platform_untouched() {
    let h = Harness::start("gitops-delete", &["alice"], &[]).await;
    h.apply(
        "watched",
        json!({"members": ["alice"], "managementPolicy": "ObserveOnly"}),
    )
    .await
    .unwrap();
    let g = h.wait_ready("watched").await;
    assert_eq!(
        g.status.unwrap().planned_changes,
        ["Create platform group \"watched\" with 1 member(s) and no tenant policies"]
    );
    assert!(
        h.platform_group("watched").await.is_none(),
        "ObserveOnly creates nothing"
    );
    let made = h
        .platform
        .create_group(&NewUserGroup {
            name: "watched".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let groups: Api<Group> = h.groups.clone();
    let adopt = json!({"spec": {"adoptExisting": true}});
    groups
        .patch("watched", &PatchParams::default(), &Patch::Merge(&adopt))
        .await
        .unwrap();
    h.wait_for("watched", "observing the group", |g| {
        g.status.as_ref().and_then(|s| s.group_id.as_deref()) == Some(made.id.as_str())
    })
    .await;
    let writes = h.admin.stats().await.writes_total;
    h.delete("watched").await;
    h.wait_gone("watched").await;
    assert_eq!(h.admin.stats().await.writes_total, writes);
    assert!(h.platform.get_group(&made.id).await.unwrap().is_some());
    h.stop().await;
}
