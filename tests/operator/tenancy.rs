//! Tenancy on the real API server: a namespace manages only the platform groups, policies,
//! project roles and members a GroupGrant gives it. Refused at admission (`kubectl apply` fails
//! with the reason, as an impersonated namespace editor sees it) and again at reconcile (a grant
//! narrowed or withdrawn freezes its Groups within seconds); adoption needs `allowAdoption` and a
//! platform group within the grant. Admission and reconcile say the same words: both are checked
//! against the one pure decision (`igz_operator::tenancy::check`).

use std::collections::BTreeMap;

use igz_mgmt::NewUserGroup;
use igz_operator::crd::{
    Group, GroupGrant, GroupGrantSpec, ProjectRole, ProjectRoleGrant, TenantPolicy,
};
use igz_operator::plan::Desired;
use igz_operator::tenancy::{self, Decision, Request};
use igz_testkit::wait::{self, DEFAULT_DEADLINE};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::support::grants::{apply_grant, select_namespace};
use crate::support::{ACCESS_KEY, Harness, Operator, condition};

/// The grant of the issue's example, for one namespace.
fn team_grant(namespace: &str) -> GroupGrantSpec {
    GroupGrantSpec {
        namespace_selector: select_namespace(namespace),
        connections: None,
        group_name_pattern: Some("^a-.*$".into()),
        tenant_policies: vec![TenantPolicy::Data],
        project_roles: vec![ProjectRoleGrant {
            project_pattern: "^analytics$".into(),
            max_role: ProjectRole::Viewer,
        }],
        member_pattern: Some("^[a-z]+$".into()),
        allow_adoption: false,
        temporary_members: None,
    }
}

/// Replaces the harness's grant for its namespace (named after it) with `spec`.
async fn regrant(h: &Harness, spec: GroupGrantSpec) {
    apply_grant(&h.client, &GroupGrant::new(&h.ns, spec)).await;
}

fn group(namespace: &str, name: &str, spec: Value) -> Group {
    let mut group = Group::new(name, serde_json::from_value(spec).expect("a Group spec"));
    group.metadata.namespace = Some(namespace.to_owned());
    group
}

/// What the pure decision says about `spec` in `namespace` under `grants`: `None` if permitted.
fn expected(grants: &[GroupGrant], labels: &BTreeMap<String, String>, g: &Group) -> Option<String> {
    let compiled: Vec<_> = grants
        .iter()
        .map(|g| tenancy::compile(g).unwrap())
        .collect();
    let request = Request::of(
        g.metadata.namespace.as_deref().unwrap_or_default(),
        &Desired::from_group(g),
    );
    match tenancy::check(&compiled, labels, &request) {
        Decision::Permitted(_) => None,
        Decision::NotGranted(message) => Some(message),
    }
}

/// Admission's answer to creating `g` (a dry run): `None` if admitted, else the policy's message.
async fn admission(client: &Client, g: &Group) -> Option<String> {
    let groups: Api<Group> =
        Api::namespaced(client.clone(), g.metadata.namespace.as_deref().unwrap());
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    match groups.create(&dry_run, g).await {
        Ok(_) => None,
        Err(kube::Error::Api(status)) => {
            let marker = "denied request: ";
            let at = status
                .message
                .find(marker)
                .unwrap_or_else(|| panic!("not an admission refusal: {status:?}"));
            Some(status.message[at + marker.len()..].to_owned())
        }
        Err(e) => panic!("dry-run create: {e}"),
    }
}

/// Waits until admission answers `g` as `want` (grants reach the policy a moment after they
/// are written), and returns that answer.
async fn admission_settles(client: &Client, g: &Group, want: &Option<String>) -> Option<String> {
    wait::until("admission follows the grants", DEFAULT_DEADLINE, || async {
        let got = admission(client, g).await;
        if &got == want {
            Ok(got)
        } else {
            Err(format!("{got:?}, want {want:?}"))
        }
    })
    .await
}

async fn namespace_labels(client: &Client, namespace: &str) -> BTreeMap<String, String> {
    let ns = Api::<Namespace>::all(client.clone())
        .get(namespace)
        .await
        .unwrap();
    ns.metadata.labels.unwrap_or_default()
}

/// A client acting as `user`, a namespace editor of `namespace`: bound there to the chart's
/// groups-edit rules (what Kubernetes aggregates into `edit`), and nothing else.
async fn namespace_editor(admin: &Client, namespace: &str, user: &str) -> Client {
    let chart = crate::support::chart_documents();
    let edit: ClusterRole = chart
        .into_iter()
        .filter(|d| d["kind"] == "ClusterRole")
        .map(|d| serde_json::from_value::<ClusterRole>(d).unwrap())
        .find(|r| {
            r.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.ends_with("-groups-edit"))
        })
        .expect("the chart's groups-edit ClusterRole");
    let role_name = format!("groups-edit-{namespace}");
    let role = ClusterRole {
        metadata: ObjectMeta {
            name: Some(role_name.clone()),
            ..Default::default()
        },
        rules: edit.rules.clone(),
        ..Default::default()
    };
    let pp = PatchParams::apply("igz-e2e").force();
    Api::<ClusterRole>::all(admin.clone())
        .patch(&role_name, &pp, &Patch::Apply(&role))
        .await
        .unwrap();
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("editor".into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role_name,
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "User".into(),
            name: user.into(),
            ..Default::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(admin.clone(), namespace)
        .patch("editor", &pp, &Patch::Apply(&binding))
        .await
        .unwrap();
    let mut config = igz_testkit::envtest::admin_config().await;
    config.auth_info.impersonate = Some(user.into());
    let client = Client::try_from(config).unwrap();
    // RBAC follows its objects by watch: wait until the binding is in force.
    let groups: Api<Group> = Api::namespaced(client.clone(), namespace);
    wait::until(
        "the editor's RoleBinding is in force",
        DEFAULT_DEADLINE,
        || async {
            groups
                .list(&Default::default())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    )
    .await;
    client
}

fn forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

#[tokio::test]
async fn a_namespace_editor_gets_what_the_grant_allows_and_nothing_more() {
    let h = Harness::start(
        "tenant-a",
        &["alice", "bob", "Bob9"],
        &["analytics", "fraud"],
    )
    .await;
    regrant(&h, team_grant(&h.ns)).await;
    let grants = [GroupGrant::new(&h.ns, team_grant(&h.ns))];
    let labels = namespace_labels(&h.client, &h.ns).await;
    let editor = namespace_editor(&h.client, &h.ns, "alice@team-a").await;

    let permitted = json!({
        "assignedPolicies": ["Data"],
        "members": ["alice", "bob"],
        "projectRoles": [{"project": "analytics", "role": "Viewer"}],
    });
    // The narrowed grant reaches admission a moment after it is written.
    let escalation = group(&h.ns, "a-admins", json!({"assignedPolicies": ["IT Admin"]}));
    admission_settles(
        &editor,
        &escalation,
        &expected(&grants, &labels, &escalation),
    )
    .await;
    admission_settles(&editor, &group(&h.ns, "a-data", permitted.clone()), &None).await;

    // Each field of the grant, refused on its own, with the same words at admission as in the
    // pure decision the reconcile uses.
    let cases = [
        (
            "a-admins",
            json!({"assignedPolicies": ["IT Admin"], "members": ["alice"]}),
            r#"is not granted tenant policy "IT Admin" (GroupGrant"#,
        ),
        (
            "b-data",
            json!({"members": ["alice"]}),
            r#"is not granted platform group name "b-data""#,
        ),
        (
            "a-edit",
            json!({"projectRoles": [{"project": "analytics", "role": "Editor"}]}),
            r#"is not granted role Editor in project "analytics""#,
        ),
        (
            "a-fraud",
            json!({"projectRoles": [{"project": "fraud", "role": "Viewer"}]}),
            r#"is not granted role Viewer in project "fraud""#,
        ),
        (
            "a-upper",
            json!({"members": ["alice", "Bob9"]}),
            r#"is not granted member "Bob9""#,
        ),
        (
            "a-prod",
            json!({"connection": "prod", "members": ["alice"]}),
            r#"is not granted connection "prod" (GroupGrant"#,
        ),
        (
            "a-adopt",
            json!({"adoptExisting": true}),
            "is not granted adoption of existing platform groups",
        ),
    ];
    for (name, spec, words) in cases {
        let g = group(&h.ns, name, spec);
        let want = expected(&grants, &labels, &g);
        let message = want.clone().expect("refused by the pure decision");
        assert!(message.contains(words), "{name}: {message}");
        assert!(
            message.starts_with(&format!("namespace \"{}\"", h.ns)),
            "{message}"
        );
        assert_eq!(
            admission(&editor, &g).await,
            want,
            "{name}: admission says the same"
        );
        // kubectl apply as the editor fails the same way.
        let err = Api::<Group>::namespaced(editor.clone(), &h.ns)
            .patch(name, &PatchParams::apply("kubectl"), &Patch::Apply(&g))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&message), "{name}: {err}");
    }
    assert_eq!(
        expected(
            &grants,
            &labels,
            &group(&h.ns, "a-admins", json!({"assignedPolicies": ["IT Admin"]}))
        )
        .unwrap(),
        format!(
            r#"namespace "{}" is not granted tenant policy "IT Admin" (GroupGrant {} allows: Data)"#,
            h.ns, h.ns
        ),
        "the issue's example, word for word"
    );

    // The permitted Group, applied by the editor, is made on the platform.
    let mut body = serde_json::to_value(group(&h.ns, "a-data", permitted)).unwrap();
    body["apiVersion"] = "igz-operator.io/v1alpha1".into();
    body["kind"] = "Group".into();
    Api::<Group>::namespaced(editor.clone(), &h.ns)
        .patch(
            "a-data",
            &PatchParams::apply("kubectl"),
            &Patch::Apply(&body),
        )
        .await
        .expect("the editor applies a permitted Group");
    h.wait_ready("a-data").await;
    let platform = h.platform_group("a-data").await.unwrap();
    assert_eq!(platform.assigned_policies, ["Data"]);

    // No way around the grant: not writing grants, not relabelling the namespace, not in
    // another namespace.
    let grants_api: Api<GroupGrant> = Api::all(editor.clone());
    let mut wider = GroupGrant::new("alice-wants-more", team_grant(&h.ns));
    wider.spec.tenant_policies = TenantPolicy::ALL.to_vec();
    assert!(forbidden(
        grants_api.create(&PostParams::default(), &wider).await
    ));
    assert!(forbidden(
        grants_api.delete(&h.ns, &Default::default()).await
    ));
    let relabel = json!({"metadata": {"labels": {"tenant": "admins"}}});
    assert!(forbidden(
        Api::<Namespace>::all(editor.clone())
            .patch(&h.ns, &PatchParams::default(), &Patch::Merge(&relabel))
            .await
    ));
    let elsewhere = group("default", "a-data", json!({"members": ["alice"]}));
    assert!(forbidden(
        Api::<Group>::namespaced(editor.clone(), "default")
            .create(&PostParams::default(), &elsewhere)
            .await
    ));
    h.stop().await;
}

#[tokio::test]
async fn reconcile_is_the_authority_a_narrowed_grant_freezes_its_groups() {
    let h = Harness::start("tenant-freeze", &["alice", "bob"], &["analytics"]).await;
    let mut spec = team_grant(&h.ns);
    spec.tenant_policies = vec![TenantPolicy::Data, TenantPolicy::Developer];
    regrant(&h, spec).await;
    let wanted = json!({"assignedPolicies": ["Data", "Developer"], "members": ["alice"]});
    admission_settles(&h.client, &group(&h.ns, "a-team", wanted.clone()), &None).await;
    h.apply("a-team", wanted.clone()).await.unwrap();
    let g = h.wait_ready("a-team").await;
    let id = g.status.unwrap().group_id.unwrap();

    // The cluster admin narrows the grant: the Group is judged again within seconds.
    regrant(&h, team_grant(&h.ns)).await;
    let g = h.wait_reason("a-team", "NotGranted").await;
    let (ready, _, message) = condition(&g, "Ready").unwrap();
    assert_eq!(ready, "False");
    let grants = [GroupGrant::new(&h.ns, team_grant(&h.ns))];
    let labels = namespace_labels(&h.client, &h.ns).await;
    assert_eq!(
        Some(message.clone()),
        expected(&grants, &labels, &group(&h.ns, "a-team", wanted.clone()))
    );
    h.wait_event("a-team", "NotGranted").await;

    // Frozen: a change made outside Kubernetes is not reverted, nothing is written.
    let writes = h.admin.stats().await.writes_total;
    let bob = h.platform.find_user("bob").await.unwrap().unwrap().id;
    h.platform.add_user_to_group(&bob, &id).await.unwrap();
    let writes = writes + 1;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        h.admin.stats().await.writes_total,
        writes,
        "no platform write while not granted"
    );
    let platform = h.platform.get_group(&id).await.unwrap().unwrap();
    assert_eq!(h.member_names(&platform).await, ["alice", "bob"]);

    // Granted again: it converges.
    let mut spec = team_grant(&h.ns);
    spec.tenant_policies = vec![TenantPolicy::Data, TenantPolicy::Developer];
    regrant(&h, spec).await;
    h.wait_for("a-team", "Ready again, bob removed", |g| {
        g.status.as_ref().and_then(|s| s.members) == Some(1)
            && condition(g, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;

    // Withdrawn altogether: no grant selects the namespace any more.
    Api::<GroupGrant>::all(h.client.clone())
        .delete(&h.ns, &Default::default())
        .await
        .unwrap();
    let g = h.wait_reason("a-team", "NotGranted").await;
    let (_, _, message) = condition(&g, "Ready").unwrap();
    assert!(
        message.ends_with("is not granted any platform group: no GroupGrant selects it"),
        "{message}"
    );
    let refused = admission_settles(
        &h.client,
        &group(&h.ns, "a-new", json!({"members": ["alice"]})),
        &Some(format!(
            "namespace \"{}\" is not granted any platform group: no GroupGrant selects it",
            h.ns
        )),
    )
    .await;
    assert!(refused.is_some());
    h.stop().await;
}

#[tokio::test]
async fn adoption_needs_allow_adoption_and_a_group_within_the_grant() {
    // The narrower grant is in place before the operator starts: its first read of the grants
    // has it (a grant narrowed under a running operator is another test).
    let mut h = Harness::without_operator("tenant-adopt", &["alice"], &["analytics"]).await;
    let mut spec = team_grant(&h.ns);
    spec.allow_adoption = true;
    regrant(&h, spec).await;
    h.operator = Some(Operator::start(
        &h.client,
        &h.ns,
        &h.emulator.base_url(),
        ACCESS_KEY,
    ));
    let hand_made = |name: &str, policies: &[&str]| NewUserGroup {
        name: name.to_owned(),
        assigned_policies: policies.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    };
    let admins = h
        .platform
        .create_group(&hand_made("a-admins", &["IT Admin", "Data"]))
        .await
        .unwrap();
    let plain = h
        .platform
        .create_group(&hand_made("a-plain", &["Data"]))
        .await
        .unwrap();
    let adopt = json!({"adoptExisting": true, "members": ["alice"]});
    admission_settles(&h.client, &group(&h.ns, "a-admins", adopt.clone()), &None).await;

    h.apply("a-admins", adopt.clone()).await.unwrap();
    let g = h.wait_reason("a-admins", "NotGranted").await;
    let (_, _, message) = condition(&g, "Ready").unwrap();
    assert!(
        message.contains(r#"platform group "a-admins" holds tenant policy "IT Admin""#)
            && message.ends_with("it is not adopted"),
        "{message}"
    );
    assert_eq!(
        h.platform.get_group(&admins.id).await.unwrap().unwrap(),
        admins,
        "left untouched"
    );

    h.apply("a-plain", adopt).await.unwrap();
    let g = h.wait_ready("a-plain").await;
    assert_eq!(
        g.status.as_ref().unwrap().group_id.as_deref(),
        Some(plain.id.as_str())
    );
    h.wait_event("a-plain", "Adopted").await;
    h.stop().await;
}

#[tokio::test]
async fn a_withdrawn_grant_still_lets_deletion_remove_only_what_the_group_created() {
    let h = Harness::start("tenant-delete", &["alice"], &[]).await;
    let theirs = h
        .platform
        .create_group(&NewUserGroup {
            name: "adopted".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    h.apply("made", json!({"members": ["alice"]}))
        .await
        .unwrap();
    h.apply(
        "adopted",
        json!({"members": ["alice"], "adoptExisting": true}),
    )
    .await
    .unwrap();
    h.wait_ready("made").await;
    h.wait_ready("adopted").await;
    let made = h.platform_group("made").await.unwrap();

    Api::<GroupGrant>::all(h.client.clone())
        .delete(&h.ns, &Default::default())
        .await
        .unwrap();
    h.wait_reason("made", "NotGranted").await;
    h.wait_reason("adopted", "NotGranted").await;
    h.delete("made").await;
    h.delete("adopted").await;
    h.wait_gone("made").await;
    h.wait_gone("adopted").await;
    assert!(
        h.platform.get_group(&made.id).await.unwrap().is_none(),
        "its own group is deleted"
    );
    assert!(
        h.platform.get_group(&theirs.id).await.unwrap().is_some(),
        "the adopted one is left"
    );
    let notes = h.event_notes("adopted", "NotGranted").await;
    assert!(notes.iter().any(|n| n.contains("untouched")), "{notes:?}");
    h.stop().await;
}

#[tokio::test]
async fn invalid_grants_are_refused_at_admission() {
    let client = igz_testkit::envtest::admin_client().await;
    crate::support::install_crd(&client).await;
    let grants: Api<GroupGrant> = Api::all(client);
    let valid = team_grant("nowhere");
    let mut cases: Vec<(&str, GroupGrantSpec, &str)> = Vec::new();
    let mut bad = valid.clone();
    bad.group_name_pattern = Some("(unclosed".into());
    cases.push((
        "name",
        bad,
        "groupNamePattern must be a valid RE2 regular expression",
    ));
    let mut bad = valid.clone();
    bad.member_pattern = Some("[z-a]".into());
    cases.push((
        "member",
        bad,
        "memberPattern must be a valid RE2 regular expression",
    ));
    let mut bad = valid.clone();
    bad.project_roles[0].project_pattern = "a(b".into();
    cases.push((
        "project",
        bad,
        "projectPattern must be a valid RE2 regular expression",
    ));
    let mut bad = valid.clone();
    bad.namespace_selector = LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "tenant".into(),
            operator: "In".into(),
            values: None,
        }]),
        ..Default::default()
    };
    cases.push((
        "selector",
        bad,
        "operator must be In or NotIn with at least one value",
    ));
    for (what, spec, words) in cases {
        let name = format!(
            "invalid-{what}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let err = grants
            .create(&PostParams::default(), &GroupGrant::new(&name, spec))
            .await
            .expect_err(what);
        assert!(err.to_string().contains(words), "{what}: {err}");
    }
}
