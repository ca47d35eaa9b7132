//! The create record on the real kube-apiserver. The operator takes a platform group that
//! carries exactly what a record says was sent for the answer to its own lost create, so a record
//! written by hand or copied with a manifest must never count: without any admission policy, a
//! record the operator did not seal for that Group proves nothing (the record key); with the
//! chart, its admission policy (from `deploy/igz-operator.yaml`, the chart with default values)
//! also refuses anyone else who sets or changes a record.
//!
//! The policy is installed under a name of this test's own and bound to this test's namespace
//! only, with this test's "operator" ServiceAccount in place of the chart's: the other tests,
//! which write records as the cluster admin, run in parallel on the same API server.

use igz_operator::crd::Group;
use igz_operator::create_record::ANNOTATION as CREATE_RECORD;
use igz_operator::create_record::{self, RecordKeys, Sent};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::support::{chart_documents, grants, install_crd, service_account_client};

const POLICY: &str = "igz-operator-create-record";
/// Who the chart's policy lets write the record (the chart's ServiceAccount, default values).
const CHART_OPERATOR: &str = "system:serviceaccount:igz-system:igz-operator";
const REFUSED: &str = "is written only by igz-operator";

/// The chart's document of `kind` named POLICY.
fn chart_object(kind: &str) -> Value {
    chart_documents()
        .into_iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == POLICY)
        .unwrap_or_else(|| panic!("deploy/igz-operator.yaml has no {kind} {POLICY}"))
}

/// Installs the chart's policy as `name`, letting `operator` (a username) write the record, for
/// Groups in namespace `ns` only.
async fn install_policy(admin: &Client, name: &str, ns: &str, operator: &str) {
    let policy = chart_object("ValidatingAdmissionPolicy").to_string();
    assert!(
        policy.contains(CHART_OPERATOR),
        "the chart's policy names its ServiceAccount"
    );
    let mut policy: Value =
        serde_json::from_str(&policy.replace(CHART_OPERATOR, operator)).unwrap();
    policy["metadata"] = json!({"name": name});
    let mut binding = chart_object("ValidatingAdmissionPolicyBinding");
    binding["metadata"] = json!({"name": name});
    binding["spec"]["policyName"] = json!(name);
    binding["spec"]["matchResources"] = json!({"namespaceSelector": {
        "matchLabels": {"kubernetes.io/metadata.name": ns}
    }});
    let pp = PostParams::default();
    Api::<ValidatingAdmissionPolicy>::all(admin.clone())
        .create(&pp, &serde_json::from_value(policy).unwrap())
        .await
        .expect("create the policy");
    Api::<ValidatingAdmissionPolicyBinding>::all(admin.clone())
        .create(&pp, &serde_json::from_value(binding).unwrap())
        .await
        .expect("create the binding");
}

async fn remove_policy(admin: &Client, name: &str) {
    let dp = DeleteParams::default();
    let _ = Api::<ValidatingAdmissionPolicyBinding>::all(admin.clone())
        .delete(name, &dp)
        .await;
    let _ = Api::<ValidatingAdmissionPolicy>::all(admin.clone())
        .delete(name, &dp)
        .await;
}

/// Lets ServiceAccounts `accounts` of `ns` read and write Groups there (as a namespace editor).
async fn let_write_groups(admin: &Client, ns: &str, accounts: &[&str]) {
    let pp = PostParams::default();
    let name = "group-writer";
    let role = Role {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["igz-operator.io".into()]),
            resources: Some(vec!["groups".into()]),
            verbs: ["get", "list", "create", "update", "patch"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        }]),
    };
    Api::<Role>::namespaced(admin.clone(), ns)
        .create(&pp, &role)
        .await
        .expect("create Role");
    let subjects: Vec<Subject> = accounts
        .iter()
        .map(|sa| Subject {
            kind: "ServiceAccount".into(),
            name: (*sa).into(),
            namespace: Some(ns.into()),
            ..Default::default()
        })
        .collect();
    Api::<RoleBinding>::namespaced(admin.clone(), ns)
        .create(
            &pp,
            &RoleBinding {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.into()),
                    ..Default::default()
                },
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "Role".into(),
                    name: name.into(),
                },
                subjects: Some(subjects),
            },
        )
        .await
        .expect("create RoleBinding");
}

fn group(name: &str, record: Option<&str>) -> Group {
    let mut g: Group = serde_json::from_value(json!({
        "apiVersion": "igz-operator.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": name},
        "spec": {"members": ["alice"]},
    }))
    .unwrap();
    if let Some(record) = record {
        g.annotations_mut()
            .insert(CREATE_RECORD.into(), record.into());
    }
    g
}

fn set_record(record: Option<&str>) -> Patch<Value> {
    Patch::Merge(json!({"metadata": {"annotations": {CREATE_RECORD: record}}}))
}

/// Ok, or the refusal's message (any other error fails the test).
fn refusal(result: Result<Group, kube::Error>) -> Result<(), String> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) => Err(e.message),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn assert_refused(what: &str, result: Result<Group, kube::Error>) {
    match refusal(result) {
        Err(message) => assert!(
            message.contains(REFUSED) && message.contains("remove it from the manifest"),
            "{what}: {message}"
        ),
        Ok(()) => panic!("{what}: admitted"),
    }
}

fn assert_admitted(what: &str, result: Result<Group, kube::Error>) {
    if let Err(message) = refusal(result) {
        panic!("{what}: refused: {message}");
    }
}

#[tokio::test]
async fn only_the_operator_writes_the_create_record() {
    let admin = igz_testkit::envtest::admin_client().await;
    install_crd(&admin).await;
    grants::forget_earlier_runs(&admin).await;
    let ns = igz_testkit::envtest::fresh_namespace(&admin, "record").await;
    grants::apply_grant(&admin, &grants::everything_in(&ns)).await;
    grants::keep_admission_policy();
    grants::wait_admitted(&admin, &ns, grants::minimal_spec()).await;

    let operator = service_account_client(&admin, &ns, "operator").await;
    let editor = service_account_client(&admin, &ns, "editor").await;
    let_write_groups(&admin, &ns, &["operator", "editor"]).await;
    let name = format!("{POLICY}-{ns}");
    install_policy(
        &admin,
        &name,
        &ns,
        &format!("system:serviceaccount:{ns}:operator"),
    )
    .await;

    let as_editor: Api<Group> = Api::namespaced(editor, &ns);
    let as_operator: Api<Group> = Api::namespaced(operator, &ns);
    let pp = PostParams::default();
    let record = r#"{"since":"2026-11-29T00:00:00Z","sha256":"00"}"#;

    // A policy takes a moment to be in force (and RBAC to reach the editor): a dry-run create
    // with a record, until it is refused for the record.
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let copied = group("copied", Some(record));
    igz_testkit::wait::until(
        "the policy refuses a record",
        igz_testkit::wait::DEFAULT_DEADLINE,
        || async {
            match refusal(as_editor.create(&dry_run, &copied).await) {
                Err(message) if message.contains(REFUSED) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;

    // A manifest carrying a record (copied, or written by hand) is refused; without it, fine.
    assert_refused("create with a record", as_editor.create(&pp, &copied).await);
    assert_admitted(
        "create without a record",
        as_editor.create(&pp, &group("team", None)).await,
    );
    // Adding or changing one is refused to anyone but the operator.
    let pp_patch = PatchParams::default();
    assert_refused(
        "editor adds a record",
        as_editor
            .patch("team", &pp_patch, &set_record(Some(record)))
            .await,
    );
    assert_admitted(
        "operator adds a record",
        as_operator
            .patch("team", &pp_patch, &set_record(Some(record)))
            .await,
    );
    assert_refused(
        "editor changes the record",
        as_editor
            .patch("team", &pp_patch, &set_record(Some("{}")))
            .await,
    );
    // Other changes while a record is there pass (kubectl apply of the user's own manifest).
    assert_admitted(
        "editor changes the spec, the record unchanged",
        as_editor
            .patch(
                "team",
                &pp_patch,
                &Patch::Merge(json!({"spec": {"members": ["alice", "bob"]}})),
            )
            .await,
    );
    assert_eq!(
        as_editor.get("team").await.unwrap().annotations()[CREATE_RECORD],
        record
    );
    // Removing it is allowed: without a record, a group with the name is never taken as ours.
    assert_admitted(
        "editor removes the record",
        as_editor.patch("team", &pp_patch, &set_record(None)).await,
    );
    assert!(
        !as_editor
            .get("team")
            .await
            .unwrap()
            .annotations()
            .contains_key(CREATE_RECORD)
    );
    remove_policy(&admin, &name).await;
}

/// How a test forges a record: (operator's keys, another key, the decoy Group, the target
/// Group, what a create of the target would send) -> the annotation's value.
type Forge = fn(&RecordKeys, &RecordKeys, &Group, &Group, &Sent) -> String;

/// Without any admission policy (as `make demo` or `igz-operator run` by hand runs), a record
/// that carries the exact digest of someone else's platform group, written by hand, sealed with
/// another key, or copied from another Group the operator sealed, proves nothing: the Group
/// reports AlreadyExists with the create's outcome unknown, the platform group is neither
/// adopted nor changed, and deleting the Group leaves it in place. The grant forbids adoption.
#[tokio::test]
async fn a_forged_record_gets_neither_adoption_nor_deletion_without_the_chart() {
    use crate::support::{ACCESS_KEY, Harness, Operator, condition};
    use igz_mgmt::NewUserGroup;
    use igz_operator::plan::Action;
    use std::collections::{BTreeMap, BTreeSet};

    let mut h = Harness::without_operator("forged", &["alice", "bob"], &[]).await;
    let mut grant = grants::everything_in(&h.ns);
    grant.spec.allow_adoption = false;
    grants::apply_grant(&h.client, &grant).await;
    let alice = h.platform.find_user("alice").await.unwrap().unwrap().id;
    let keys = RecordKeys::load_or_create(&h.client, &h.ns).await.unwrap();
    // The Group whose genuine record is copied, and a key that is not the operator's.
    let decoy = h
        .apply("decoy", json!({"members": ["alice"]}))
        .await
        .unwrap();
    let other_key = RecordKeys::generate();

    let forgeries: [(&str, Forge); 3] = [
        ("by-hand", |_, _, _, _, sent| {
            json!({"since": "2026-12-01T00:00:00Z", "sha256": sent.sha256, "mac": "00"}).to_string()
        }),
        ("other-key", |_, other, _, target, sent| {
            create_record::seal(other, target, sent, jiff::Timestamp::now())
        }),
        ("copied", |keys, _, decoy, _, sent| {
            create_record::seal(keys, decoy, sent, jiff::Timestamp::now())
        }),
    ];
    let mut theirs = Vec::new();
    for (name, forge) in forgeries {
        let made = h
            .platform
            .create_group(&NewUserGroup {
                name: name.to_owned(),
                description: Some("theirs".to_owned()),
                member_ids: vec![alice.clone()],
                ..Default::default()
            })
            .await
            .unwrap();
        // Exactly what a create of this Group's spec would have sent.
        let sent = Sent::of(&Action::CreateGroup {
            name: name.to_owned(),
            description: Some("theirs".to_owned()),
            gid: None,
            assigned_policies: BTreeSet::new(),
            members: BTreeMap::from([("alice".to_owned(), alice.clone())]),
        })
        .unwrap();
        let spec = json!({"members": ["alice", "bob"], "description": "theirs"});
        let target = h.apply(name, spec).await.unwrap();
        let value = forge(&keys, &other_key, &decoy, &target, &sent);
        h.groups
            .patch(name, &PatchParams::default(), &set_record(Some(&value)))
            .await
            .unwrap();
        theirs.push((name, made));
    }
    h.operator = Some(Operator::start(
        &h.client,
        &h.ns,
        &h.emulator.base_url(),
        ACCESS_KEY,
    ));

    for (name, made) in &theirs {
        let refused = h.wait_reason(name, "AlreadyExists").await;
        let (_, _, message) = condition(&refused, "Ready").unwrap();
        assert!(
            message.contains("outcome of this resource's earlier create request is unknown"),
            "{name}: {message}"
        );
        assert_eq!(refused.status.unwrap().group_id, None, "{name}");
        let now = h.platform.get_group(&made.id).await.unwrap().unwrap();
        assert_eq!(
            h.member_names(&now).await,
            ["alice"],
            "{name}: bob not added"
        );
        assert!(h.event_notes(name, "Recovered").await.is_empty(), "{name}");
        assert!(h.event_notes(name, "Adopted").await.is_empty(), "{name}");
        h.delete(name).await;
    }
    for (name, made) in &theirs {
        h.wait_gone(name).await;
        let after = h.platform.get_group(&made.id).await.unwrap();
        let after = after.unwrap_or_else(|| panic!("{name}: the platform group was deleted"));
        assert_eq!(h.member_names(&after).await, ["alice"], "{name}");
        assert!(h.event_notes(name, "Deleted").await.is_empty(), "{name}");
    }
    // The decoy's own record, sealed for it, is what the operator writes: it creates the group.
    h.wait_ready("decoy").await;
    h.stop().await;
}
