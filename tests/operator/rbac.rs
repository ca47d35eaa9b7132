//! The Helm chart's RBAC is enough for the operator and no more, proven on the real
//! kube-apiserver: the rules of `deploy/igz-operator.yaml` (the chart with default values,
//! kept equal to the chart by hack/check-chart.sh) are bound to a fresh ServiceAccount, and the
//! controller runs with that account's token through a Group's whole life, leader election takes
//! and releases its Lease with it, and everything outside the rules is refused.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use crate::support::{ACCESS_KEY, Harness, Operator, condition, service_account_client};
use futures::{FutureExt as _, StreamExt as _};
use igz_operator::crd::{FINALIZER, Group};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Deserialize as _;
use serde_json::json;

/// The Lease name the operator uses (src/run.rs).
const LEASE: &str = "igz-operator";
/// The admission policy (and binding) the operator keeps in line with the grants.
const POLICY: &str = igz_operator::tenancy::admission::POLICY_NAME;
/// The admission policy (and binding) on PlatformConnections' Secret namespace.
const CONNECTION_POLICY: &str = igz_operator::connection::ADMISSION_POLICY_NAME;

/// The RBAC objects of the rendered chart.
struct ChartRbac {
    cluster_rules: Vec<PolicyRule>,
    leader_election_rules: Vec<PolicyRule>,
    /// The Role in the release namespace that lets the operator read Secrets there (and create
    /// its record key).
    secret_rules: Vec<PolicyRule>,
}

fn chart_rbac() -> ChartRbac {
    let path = igz_testkit::paths::repo_root().join("deploy/igz-operator.yaml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde_yaml::Value::deserialize(d).expect("a YAML document"))
        .filter(|v| !v.is_null())
        .collect();
    let of_kind = |kind: &str| -> Vec<serde_yaml::Value> {
        docs.iter()
            .filter(|d| d.get("kind").and_then(|k| k.as_str()) == Some(kind))
            .cloned()
            .collect()
    };
    let one = |kind: &str| -> serde_yaml::Value {
        let mut found = of_kind(kind);
        assert_eq!(
            found.len(),
            1,
            "deploy/igz-operator.yaml: one {kind} expected"
        );
        found.remove(0)
    };

    // What is checked here is what the chart's Deployment actually runs as.
    let deployment = one("Deployment");
    let sa_name = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        .as_str()
        .expect("Deployment serviceAccountName")
        .to_owned();
    // Every ClusterRole bound to the Deployment's ServiceAccount: its rules are what it may do.
    let cluster_roles: Vec<ClusterRole> = of_kind("ClusterRole")
        .into_iter()
        .map(|r| serde_yaml::from_value(r).unwrap())
        .collect();
    let mut cluster_rules = Vec::new();
    for binding in of_kind("ClusterRoleBinding") {
        let binding: ClusterRoleBinding = serde_yaml::from_value(binding).unwrap();
        assert_eq!(binding.role_ref.kind, "ClusterRole");
        let subjects = binding.subjects.unwrap_or_default();
        assert!(
            subjects
                .iter()
                .all(|s| s.kind == "ServiceAccount" && s.name == sa_name),
            "ClusterRoleBindings bind only the Deployment's ServiceAccount {sa_name}: {subjects:?}"
        );
        let role = cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_ref() == Some(&binding.role_ref.name))
            .expect("the bound ClusterRole is in the chart");
        cluster_rules.extend(role.rules.clone().unwrap_or_default());
    }
    check_user_roles(&cluster_roles);
    for role in &cluster_roles {
        let reads_secrets = role
            .rules
            .iter()
            .flatten()
            .any(|r| r.resources.iter().flatten().any(|x| x == "secrets"));
        assert!(
            !reads_secrets,
            "no ClusterRole touches Secrets: {:?}",
            role.metadata.name
        );
    }
    // Roles in the release namespace: leader election, and Secrets (the connections' credentials
    // read, the record key read or created).
    let roles: Vec<Role> = of_kind("Role")
        .into_iter()
        .map(|r| serde_yaml::from_value(r).unwrap())
        .collect();
    let bindings: Vec<RoleBinding> = of_kind("RoleBinding")
        .into_iter()
        .map(|r| serde_yaml::from_value(r).unwrap())
        .collect();
    assert_eq!(roles.len(), 2, "two Roles expected: {roles:?}");
    let named = |suffix: &str| -> Role {
        let role = roles
            .iter()
            .find(|r| {
                r.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.ends_with(suffix))
            })
            .unwrap_or_else(|| panic!("a Role named *{suffix}"))
            .clone();
        assert_eq!(role.metadata.namespace.as_deref(), Some("igz-system"));
        let binding = bindings
            .iter()
            .find(|b| Some(&b.role_ref.name) == role.metadata.name.as_ref())
            .expect("the Role is bound");
        assert_eq!(binding.role_ref.kind, "Role");
        assert!(
            binding
                .subjects
                .iter()
                .flatten()
                .any(|s| s.kind == "ServiceAccount" && s.name == sa_name)
        );
        role
    };
    let role = named("-leader-election");
    let secrets = named("-secrets");
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .expect("container args")
        .iter()
        .filter_map(|a| a.as_str())
        .collect::<Vec<_>>();
    assert!(
        args.contains(&"--leader-elect"),
        "leader election is on by default: {args:?}"
    );
    ChartRbac {
        cluster_rules,
        leader_election_rules: role.rules.unwrap_or_default(),
        secret_rules: secrets.rules.unwrap_or_default(),
    }
}

/// The roles for people: namespace admin/edit manage Groups, view reads them, and none of
/// them (nor anything aggregated) touches GroupGrants.
fn check_user_roles(cluster_roles: &[ClusterRole]) {
    let aggregated_into = |role: &ClusterRole, into: &str| {
        let key = format!("rbac.authorization.k8s.io/aggregate-to-{into}");
        role.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(&key))
            .is_some_and(|v| v == "true")
    };
    let verbs_on = |into: &str, resource: &str| -> Vec<String> {
        cluster_roles
            .iter()
            .filter(|r| aggregated_into(r, into))
            .flat_map(|r| r.rules.clone().unwrap_or_default())
            .filter(|rule| {
                rule.resources
                    .as_ref()
                    .is_some_and(|rs| rs.iter().any(|r| r == resource))
            })
            .flat_map(|rule| rule.verbs)
            .collect()
    };
    for into in ["admin", "edit"] {
        let verbs = verbs_on(into, "groups");
        for verb in [
            "get", "list", "watch", "create", "update", "patch", "delete",
        ] {
            assert!(
                verbs.iter().any(|v| v == verb),
                "{into} may {verb} Groups: {verbs:?}"
            );
        }
    }
    let view = verbs_on("view", "groups");
    assert!(
        view.iter().any(|v| v == "list") && !view.iter().any(|v| v == "create"),
        "{view:?}"
    );
    for into in ["admin", "edit", "view"] {
        assert!(
            verbs_on(into, "groupgrants").is_empty(),
            "{into} gets no GroupGrant access"
        );
    }
}

fn meta(name: &str, ns: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: ns.map(str::to_owned),
        labels: Some([("igz-operator.io/test".to_owned(), "true".to_owned())].into()),
        ..Default::default()
    }
}

fn sa_subject(sa: &str, ns: &str) -> Vec<Subject> {
    vec![Subject {
        kind: "ServiceAccount".into(),
        name: sa.into(),
        namespace: Some(ns.into()),
        ..Default::default()
    }]
}

/// Cluster-scoped objects of one test run, removed at the end (namespaces are never deleted).
struct ClusterGrant {
    admin: Client,
    name: String,
}

impl ClusterGrant {
    async fn remove(self) {
        let dp = DeleteParams::default();
        let _ = Api::<ClusterRoleBinding>::all(self.admin.clone())
            .delete(&self.name, &dp)
            .await;
        let _ = Api::<ClusterRole>::all(self.admin)
            .delete(&self.name, &dp)
            .await;
    }
}

/// Binds the chart's rules to ServiceAccount `sa` in `ns`, as the chart does (the ClusterRole
/// under a name unique to this run, the leader-election Role in the release namespace `ns`).
async fn grant(admin: &Client, rbac: &ChartRbac, ns: &str, sa: &str) -> ClusterGrant {
    let pp = PostParams::default();
    let name = format!(
        "igz-operator-rbac-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    Api::<ClusterRole>::all(admin.clone())
        .create(
            &pp,
            &ClusterRole {
                metadata: meta(&name, None),
                rules: Some(rbac.cluster_rules.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("create ClusterRole");
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(
            &pp,
            &ClusterRoleBinding {
                metadata: meta(&name, None),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "ClusterRole".into(),
                    name: name.clone(),
                },
                subjects: Some(sa_subject(sa, ns)),
            },
        )
        .await
        .expect("create ClusterRoleBinding");
    let le = "igz-operator-leader-election";
    Api::<Role>::namespaced(admin.clone(), ns)
        .create(
            &pp,
            &Role {
                metadata: meta(le, None),
                rules: Some(rbac.leader_election_rules.clone()),
            },
        )
        .await
        .expect("create leader-election Role");
    Api::<RoleBinding>::namespaced(admin.clone(), ns)
        .create(
            &pp,
            &RoleBinding {
                metadata: meta(le, None),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "Role".into(),
                    name: le.into(),
                },
                subjects: Some(sa_subject(sa, ns)),
            },
        )
        .await
        .expect("create leader-election RoleBinding");
    let secrets = "igz-operator-secrets";
    Api::<Role>::namespaced(admin.clone(), ns)
        .create(
            &pp,
            &Role {
                metadata: meta(secrets, None),
                rules: Some(rbac.secret_rules.clone()),
            },
        )
        .await
        .expect("create Secrets Role");
    Api::<RoleBinding>::namespaced(admin.clone(), ns)
        .create(
            &pp,
            &RoleBinding {
                metadata: meta(secrets, None),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "Role".into(),
                    name: secrets.into(),
                },
                subjects: Some(sa_subject(sa, ns)),
            },
        )
        .await
        .expect("create Secrets RoleBinding");
    ClusterGrant {
        admin: admin.clone(),
        name,
    }
}

/// One access question: (verb, API group, resource, subresource, namespace, name).
type Access<'a> = (&'a str, &'a str, &'a str, &'a str, Option<&'a str>, &'a str);

/// Asks the API server whether the client's own identity may do `access`.
async fn can(client: &Client, access: Access<'_>) -> bool {
    let (verb, group, resource, subresource, namespace, name) = access;
    let review = SelfSubjectAccessReview {
        metadata: ObjectMeta::default(),
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource: (!subresource.is_empty()).then(|| subresource.into()),
                namespace: namespace.map(str::to_owned),
                name: (!name.is_empty()).then(|| name.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        status: None,
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SelfSubjectAccessReview");
    answer.status.expect("review status").allowed
}

/// Waits until the RBAC grant is visible to the authorizer (it follows RBAC objects by watch).
async fn wait_until_granted(sa_client: &Client, ns: &str) {
    let groups: Api<Group> = Api::namespaced(sa_client.clone(), ns);
    let what = "the chart's RBAC takes effect";
    igz_testkit::wait::until(what, igz_testkit::wait::DEFAULT_DEADLINE, || async {
        let cluster = can(
            sa_client,
            ("list", "igz-operator.io", "groups", "", None, ""),
        )
        .await;
        let lease = can(
            sa_client,
            ("create", "coordination.k8s.io", "leases", "", Some(ns), ""),
        )
        .await;
        if !(cluster && lease) {
            return Err(format!(
                "can list groups: {cluster}, can create leases: {lease}"
            ));
        }
        match groups.list_metadata(&ListParams::default().limit(1)).await {
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
}

#[tokio::test]
async fn chart_rbac_is_enough_for_the_operator_and_no_more() {
    let rbac = chart_rbac();
    let h = Harness::without_operator("rbac", &["alice", "bob"], &["default"]).await;
    let admin = h.client.clone();
    let ns = h.ns.clone();
    let sa = "igz-operator";
    let sa_client = service_account_client(&admin, &ns, sa).await;
    let cluster_grant = grant(&admin, &rbac, &ns, sa).await;
    // The cluster-scoped grant goes away even when a check fails.
    let outcome = AssertUnwindSafe(operator_lifecycle(h, sa_client))
        .catch_unwind()
        .await;
    cluster_grant.remove().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Everything the operator does, with nothing but the ServiceAccount's token.
async fn operator_lifecycle(mut h: Harness, sa_client: Client) {
    let admin = h.client.clone();
    let ns = h.ns.clone();
    wait_until_granted(&sa_client, &ns).await;

    // Secrets: in the release namespace only, refused by the real API server elsewhere.
    Api::<Secret>::namespaced(sa_client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .expect("listing Secrets in the release namespace");
    for elsewhere in [
        Api::<Secret>::namespaced(sa_client.clone(), "default"),
        Api::<Secret>::all(sa_client.clone()),
    ] {
        match elsewhere.list(&ListParams::default()).await {
            Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
            other => panic!("listing Secrets elsewhere must be forbidden, got {other:?}"),
        }
    }

    check_access(&sa_client, &ns).await;
    check_admission_policy_write(&sa_client).await;
    check_connections(&h, &sa_client).await;
    check_start_up_and_cluster_wide_watch(&sa_client).await;
    check_leader_election(&admin, &sa_client, &ns).await;

    // The controller, with nothing but the ServiceAccount's token.
    h.operator = Some(Operator::start(
        &sa_client,
        &ns,
        &h.emulator.base_url(),
        ACCESS_KEY,
    ));
    h.apply(
        "rbac-team",
        json!({
            "members": ["alice"],
            "projectRoles": [{"project": "default", "role": "Editor"}],
        }),
    )
    .await
    .expect("apply Group");
    let ready = h.wait_ready("rbac-team").await;
    // The record key: made by the operator itself, with nothing but the chart's rights.
    Api::<Secret>::namespaced(sa_client.clone(), &ns)
        .get(igz_operator::create_record::KEY_SECRET)
        .await
        .expect("the operator reads the record key it made");
    assert!(
        ready.finalizers().iter().any(|f| f == FINALIZER),
        "finalizer added: {:?}",
        ready.finalizers()
    );
    assert_eq!(
        condition(&ready, "Synced").map(|c| c.0),
        Some("True".into()),
        "{:?}",
        ready.status
    );
    let platform = h
        .platform_group("rbac-team")
        .await
        .expect("group created on the platform");
    assert_eq!(h.member_names(&platform).await, ["alice"]);
    h.wait_event("rbac-team", "Created").await;

    // A spec change: patches, status writes and Events again.
    h.apply(
        "rbac-team",
        json!({
            "members": ["alice", "bob"],
            "projectRoles": [{"project": "default", "role": "Viewer"}],
        }),
    )
    .await
    .expect("update Group");
    h.wait_for("rbac-team", "updated and Ready", |g| {
        g.status.as_ref().and_then(|s| s.members) == Some(2)
            && g.status.as_ref().and_then(|s| s.observed_generation) == g.metadata.generation
            && condition(g, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    h.wait_event("rbac-team", "MemberAdded").await;
    h.wait_event("rbac-team", "RoleSet").await;

    // A repeated Event is patched into a series (Recorder), with the same token.
    let group = Api::<Group>::namespaced(admin.clone(), &ns)
        .get("rbac-team")
        .await
        .expect("read Group");
    let recorder = Recorder::new(
        sa_client.clone(),
        Reporter {
            controller: "igz-operator".into(),
            instance: Some("rbac-test".into()),
        },
    );
    let event = Event {
        type_: EventType::Normal,
        reason: "RbacProbe".into(),
        note: Some("series probe".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = group.object_ref(&());
    for _ in 0..2 {
        recorder
            .publish(&event, &reference)
            .await
            .expect("publish an Event (create, then patch its series)");
    }
    let probes: Vec<K8sEvent> = Api::<K8sEvent>::namespaced(admin.clone(), &ns)
        .list(&ListParams::default())
        .await
        .expect("list Events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("RbacProbe"))
        .collect();
    assert_eq!(probes.len(), 1, "one Event with a series: {probes:?}");
    assert_eq!(probes[0].series.as_ref().map(|s| s.count), Some(2));

    // Nothing failed along the way (a forbidden write would show as a Warning Event).
    let warnings: Vec<(Option<String>, Option<String>)> =
        Api::<K8sEvent>::namespaced(admin.clone(), &ns)
            .list(&ListParams::default())
            .await
            .expect("list Events")
            .items
            .into_iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .map(|e| (e.reason, e.note))
            .collect();
    assert!(warnings.is_empty(), "warning Events: {warnings:?}");

    // Deletion: platform cleanup, then the finalizer is removed with the same token.
    h.delete("rbac-team").await;
    h.wait_gone("rbac-team").await;
    assert!(
        h.platform_group("rbac-team").await.is_none(),
        "the platform group is deleted"
    );
    h.wait_event("rbac-team", "Deleted").await;

    h.stop().await;
}

/// Every permission the operator uses is granted; the neighbours of each are not.
async fn check_access(sa: &Client, ns: &str) {
    let g = "igz-operator.io";
    let ev = "events.k8s.io";
    let co = "coordination.k8s.io";
    let ar = "admissionregistration.k8s.io";
    let here = Some(ns);
    let elsewhere = Some("some-other-namespace");
    let allowed: &[Access] = &[
        // watch Groups (all namespaces by default) and the start-up list
        ("list", g, "groups", "", None, ""),
        ("watch", g, "groups", "", None, ""),
        ("list", g, "groups", "", here, ""),
        ("watch", g, "groups", "", here, ""),
        // finalizer and create-pending annotation
        ("patch", g, "groups", "", here, "x"),
        // status by server-side apply
        ("patch", g, "groups", "status", here, "x"),
        // Events in the Group's namespace: create, and patch for a series
        ("create", ev, "events", "", here, ""),
        ("patch", ev, "events", "", here, "x"),
        ("create", ev, "events", "", elsewhere, ""),
        // leader election, in the release namespace, on the igz-operator Lease
        ("create", co, "leases", "", here, ""),
        ("get", co, "leases", "", here, LEASE),
        ("patch", co, "leases", "", here, LEASE),
        // connections: the watch, the finalizer, status, their Events (cluster-scoped objects'
        // Events live in "default"), their admission policy, and Secrets here only
        ("list", g, "platformconnections", "", None, ""),
        ("watch", g, "platformconnections", "", None, ""),
        ("patch", g, "platformconnections", "", None, "x"),
        ("patch", g, "platformconnections", "status", None, "x"),
        ("create", ev, "events", "", Some("default"), ""),
        (
            "get",
            ar,
            "validatingadmissionpolicies",
            "",
            None,
            CONNECTION_POLICY,
        ),
        (
            "patch",
            ar,
            "validatingadmissionpolicies",
            "",
            None,
            CONNECTION_POLICY,
        ),
        (
            "patch",
            ar,
            "validatingadmissionpolicybindings",
            "",
            None,
            CONNECTION_POLICY,
        ),
        ("get", "", "secrets", "", here, "igz-operator-mgmt"),
        ("list", "", "secrets", "", here, ""),
        ("watch", "", "secrets", "", here, ""),
        // its record key, created when missing
        ("create", "", "secrets", "", here, ""),
        // tenancy: the grants, namespace labels, and the admission policy made of the grants
        ("get", g, "groupgrants", "", None, "x"),
        ("list", g, "groupgrants", "", None, ""),
        ("watch", g, "groupgrants", "", None, ""),
        ("list", "", "namespaces", "", None, ""),
        ("watch", "", "namespaces", "", None, ""),
        ("get", ar, "validatingadmissionpolicies", "", None, POLICY),
        ("patch", ar, "validatingadmissionpolicies", "", None, POLICY),
        (
            "patch",
            ar,
            "validatingadmissionpolicybindings",
            "",
            None,
            POLICY,
        ),
    ];
    let denied: &[Access] = &[
        ("get", g, "groups", "", here, "x"),
        ("create", g, "groups", "", here, ""),
        ("update", g, "groups", "", here, "x"),
        ("delete", g, "groups", "", here, "x"),
        ("deletecollection", g, "groups", "", here, ""),
        ("get", g, "groups", "status", here, "x"),
        ("update", g, "groups", "status", here, "x"),
        ("update", g, "groups", "finalizers", here, "x"),
        ("list", ev, "events", "", here, ""),
        ("delete", ev, "events", "", here, "x"),
        ("create", "", "events", "", here, ""),
        ("create", g, "groupgrants", "", None, ""),
        ("patch", g, "groupgrants", "", None, "x"),
        ("delete", g, "groupgrants", "", None, "x"),
        ("update", "", "namespaces", "", None, "x"),
        ("patch", "", "namespaces", "", None, "x"),
        ("create", ar, "validatingadmissionpolicies", "", None, ""),
        (
            "patch",
            ar,
            "validatingadmissionpolicies",
            "",
            None,
            "another-policy",
        ),
        (
            "delete",
            ar,
            "validatingadmissionpolicies",
            "",
            None,
            POLICY,
        ),
        (
            "patch",
            ar,
            "validatingadmissionpolicybindings",
            "",
            None,
            "another-binding",
        ),
        (
            "create",
            ar,
            "validatingwebhookconfigurations",
            "",
            None,
            "",
        ),
        ("update", co, "leases", "", here, LEASE),
        ("delete", co, "leases", "", here, LEASE),
        ("list", co, "leases", "", here, ""),
        ("watch", co, "leases", "", here, ""),
        ("get", co, "leases", "", here, "another-lease"),
        ("patch", co, "leases", "", here, "another-lease"),
        ("create", co, "leases", "", elsewhere, ""),
        ("get", co, "leases", "", elsewhere, LEASE),
        ("list", "", "secrets", "", elsewhere, ""),
        ("watch", "", "secrets", "", None, ""),
        ("get", "", "secrets", "", elsewhere, "igz-operator-mgmt"),
        ("update", "", "secrets", "", here, "x"),
        ("delete", "", "secrets", "", here, "x"),
        ("create", g, "platformconnections", "", None, ""),
        ("update", g, "platformconnections", "", None, "x"),
        ("delete", g, "platformconnections", "", None, "x"),
        ("get", g, "platformconnections", "", None, "x"),
        ("update", g, "platformconnections", "status", None, "x"),
        ("list", "", "configmaps", "", here, ""),
        ("list", "", "pods", "", None, ""),
        (
            "list",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "",
            None,
            "",
        ),
        (
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings",
            "",
            here,
            "",
        ),
    ];
    let mut wrong = Vec::new();
    for access in allowed {
        if !can(sa, *access).await {
            wrong.push(format!("needed but not granted: {access:?}"));
        }
    }
    for access in denied {
        if can(sa, *access).await {
            wrong.push(format!("granted but not needed: {access:?}"));
        }
    }
    assert!(wrong.is_empty(), "chart RBAC:\n{}", wrong.join("\n"));
}

/// The operator rewrites the chart's admission policy with the ServiceAccount's token (a dry
/// run: the real policy of this shared test cluster is left alone).
async fn check_admission_policy_write(sa: &Client) {
    use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;
    let policies = Api::<ValidatingAdmissionPolicy>::all(sa.clone());
    // In a release the chart creates it; here the test binary's keeper does.
    igz_testkit::wait::until(
        "the admission policy exists",
        igz_testkit::wait::DEFAULT_DEADLINE,
        || async {
            policies
                .get(POLICY)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    )
    .await;
    let grants: Vec<igz_operator::tenancy::CompiledGrant> =
        Api::<igz_operator::crd::GroupGrant>::all(sa.clone())
            .list(&ListParams::default())
            .await
            .expect("list GroupGrants with the ServiceAccount")
            .items
            .iter()
            .filter_map(|g| igz_operator::tenancy::compile(g).ok())
            .collect();
    let policy = igz_operator::tenancy::admission::policy(&grants);
    let params = kube::api::PatchParams::apply("igz-operator")
        .force()
        .dry_run();
    policies
        .patch(POLICY, &params, &kube::api::Patch::Apply(&policy))
        .await
        .expect("apply the admission policy with the chart's RBAC");
}

/// The connection controller with the ServiceAccount's token: it reads the connection's Secret
/// in the release namespace, adds its finalizer, writes its status, publishes its Events,
/// rewrites its admission policy (a dry run), and lets it go once deleted.
async fn check_connections(h: &Harness, sa: &Client) {
    use igz_operator::connection::{self, ConnectionMetrics, Registry};
    use igz_operator::crd::{CONNECTION_FINALIZER, PlatformConnection};
    use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;

    let ns = &h.ns;
    let params = kube::api::PatchParams::apply("igz-operator")
        .force()
        .dry_run();
    // In a release the chart creates it; here the test binary's keeper (or this) does.
    connection::apply_admission_policy(&h.client, crate::support::connections::POLICY_NAMESPACE)
        .await
        .expect("the connection policy exists");
    Api::<ValidatingAdmissionPolicy>::all(sa.clone())
        .patch(
            CONNECTION_POLICY,
            &params,
            &kube::api::Patch::Apply(&connection::admission_policy(ns)),
        )
        .await
        .expect("apply the connection policy with the chart's RBAC");

    let run = format!("{ns}-rbac");
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), ns);
    let secret = Secret {
        metadata: meta("rbac-key", None),
        string_data: Some([("access-key".to_owned(), ACCESS_KEY.to_owned())].into()),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create Secret");
    let connections: Api<PlatformConnection> = Api::all(h.client.clone());
    let body = json!({
        "apiVersion": "igz-operator.io/v1alpha1", "kind": "PlatformConnection",
        "metadata": {"name": run, "labels": {crate::support::connections::RUN_LABEL: run}},
        "spec": {"url": h.emulator.base_url(), "secretRef": {"name": "rbac-key"}},
    });
    connections
        .patch(
            &run,
            &kube::api::PatchParams::apply("kubectl"),
            &kube::api::Patch::Apply(&body),
        )
        .await
        .expect("apply PlatformConnection");
    let registry = std::sync::Arc::new(Registry::new(|_, _| (), Default::default()));
    let mut settings = connection::Settings::new(ns.clone());
    settings.admission_policy = false;
    settings.selector = Some(format!("{}={run}", crate::support::connections::RUN_LABEL));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(connection::run(
        sa.clone(),
        registry.clone(),
        settings,
        ConnectionMetrics::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let what = "the connection is Connected, with our finalizer";
    igz_testkit::wait::until(what, igz_testkit::wait::DEFAULT_DEADLINE, || async {
        let c = connections.get(&run).await.map_err(|e| e.to_string())?;
        let connected = c.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.reason == "Connected")
        });
        if connected && c.finalizers().iter().any(|f| f == CONNECTION_FINALIZER) {
            Ok(())
        } else {
            Err(format!("{:?}", c.status))
        }
    })
    .await;
    let connected_event = || async {
        let events = Api::<K8sEvent>::namespaced(h.client.clone(), "default")
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        events
            .items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("Connected")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(run.as_str())
            })
            .then_some(())
            .ok_or_else(|| "no Connected Event yet".to_owned())
    };
    igz_testkit::wait::until(
        "a Connected Event",
        igz_testkit::wait::DEFAULT_DEADLINE,
        connected_event,
    )
    .await;
    connections
        .delete(&run, &DeleteParams::default())
        .await
        .expect("delete PlatformConnection");
    igz_testkit::wait::until(
        "the connection is let go",
        igz_testkit::wait::DEFAULT_DEADLINE,
        || async {
            match connections.get(&run).await {
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
}

/// What `igz-operator run` does at start and with no --watch-namespace: list Groups' metadata
/// and watch Groups in all namespaces.
async fn check_start_up_and_cluster_wide_watch(sa: &Client) {
    let all: Api<Group> = Api::all(sa.clone());
    let list = all
        .list_metadata(&ListParams::default().limit(1))
        .await
        .expect("start-up check: list Group metadata in all namespaces");
    let rv = list.metadata.resource_version.unwrap_or_default();
    let stream = all
        .watch(&kube::api::WatchParams::default().timeout(1), &rv)
        .await
        .expect("watch Groups in all namespaces");
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the watch ends within its 1 s timeout")
    {
        if let kube::core::WatchEvent::Error(e) = event.expect("watch event") {
            // 410 Gone is a normal watch answer; a 403 is not.
            assert_ne!(e.code, 403, "watching Groups is forbidden: {e:?}");
        }
    }
}

/// The operator's leader election (kube-lease-manager, as src/run.rs sets it up) takes, renews
/// and releases the Lease with the chart's Role.
async fn check_leader_election(admin: &Client, sa: &Client, ns: &str) {
    let manager = kube_lease_manager::LeaseManagerBuilder::new(sa.clone(), LEASE)
        .with_namespace(ns)
        .with_identity("rbac-test")
        .with_duration(3)
        .with_grace(1)
        .build()
        .await
        .expect("leader election set-up (get or create the Lease)");
    let leader = tokio::time::timeout(Duration::from_secs(20), manager.changed())
        .await
        .expect("lease state within 20s")
        .expect("take the Lease");
    assert!(leader, "became the leader");
    let leases: Api<Lease> = Api::namespaced(admin.clone(), ns);
    let taken = leases.get(LEASE).await.expect("read the Lease");
    let spec = taken.spec.clone().unwrap_or_default();
    assert_eq!(spec.holder_identity.as_deref(), Some("rbac-test"));
    // Renewals run inside `changed()`, which only returns on a change or an error.
    match tokio::time::timeout(Duration::from_secs(5), manager.changed()).await {
        Err(_elapsed) => {}
        Ok(result) => panic!("the leader's state changed while renewing: {result:?}"),
    }
    let renewed = leases.get(LEASE).await.expect("read the Lease");
    let renew_time = |l: &Lease| l.spec.as_ref().and_then(|s| s.renew_time.clone());
    assert_ne!(
        renew_time(&renewed),
        renew_time(&taken),
        "the Lease was renewed"
    );
    manager.release().await.expect("release the Lease");
    let released = leases.get(LEASE).await.expect("read the Lease");
    assert_eq!(
        released.spec.and_then(|s| s.holder_identity),
        None,
        "released"
    );
}

/// Without the right to list GroupGrants the operator cannot judge any Group: it says why in
/// its log, reconciles nothing (a Group it cannot judge is neither written to the platform nor
/// marked NotGranted), and carries on by itself once the right is granted.
#[tokio::test]
async fn missing_rbac_for_grants_is_logged_and_nothing_reconciles_until_granted() {
    let full = chart_rbac();
    let reads_grants =
        |rule: &PolicyRule| rule.resources.iter().flatten().any(|r| r == "groupgrants");
    let without_grants = ChartRbac {
        cluster_rules: full
            .cluster_rules
            .iter()
            .filter(|rule| !reads_grants(rule))
            .cloned()
            .collect(),
        leader_election_rules: full.leader_election_rules.clone(),
        secret_rules: full.secret_rules.clone(),
    };
    assert!(
        without_grants.cluster_rules.len() < full.cluster_rules.len(),
        "the chart lets the operator read GroupGrants"
    );
    let mut h = Harness::without_operator("rbac-nogrants", &["alice"], &["default"]).await;
    let admin = h.client.clone();
    let ns = h.ns.clone();
    let sa = "igz-operator";
    let sa_client = service_account_client(&admin, &ns, sa).await;
    let cluster_grant = grant(&admin, &without_grants, &ns, sa).await;
    let role_name = cluster_grant.name.clone();
    let outcome = AssertUnwindSafe(async {
        wait_until_granted(&sa_client, &ns).await;
        h.operator = Some(Operator::start(
            &sa_client,
            &ns,
            &h.emulator.base_url(),
            ACCESS_KEY,
        ));
        h.apply("rbac-team", json!({"members": ["alice"]}))
            .await
            .expect("apply Group");

        // The error names this run's ServiceAccount, so it is this operator's line.
        let who = format!("system:serviceaccount:{ns}:{sa}");
        let logs = crate::support::logs();
        igz_testkit::wait::until(
            "the operator logs that it cannot watch GroupGrants",
            igz_testkit::wait::DEFAULT_DEADLINE,
            || async {
                let text = logs.text();
                if text
                    .lines()
                    .any(|l| l.contains("watching GroupGrants failed") && l.contains(&who))
                {
                    Ok(())
                } else {
                    Err("no such line yet".to_owned())
                }
            },
        )
        .await;
        let unjudged = h.groups.get("rbac-team").await.expect("get Group");
        let conditions = unjudged.status.map(|s| s.conditions).unwrap_or_default();
        assert!(
            conditions.is_empty(),
            "a Group the operator cannot judge gets no verdict: {conditions:?}"
        );
        assert!(
            h.platform_group("rbac-team").await.is_none(),
            "nothing is written to the platform"
        );

        // The right is granted: the watch's retry reads the grants and the Group converges.
        Api::<ClusterRole>::all(admin.clone())
            .replace(
                &role_name,
                &PostParams::default(),
                &ClusterRole {
                    metadata: ObjectMeta {
                        resource_version: Api::<ClusterRole>::all(admin.clone())
                            .get(&role_name)
                            .await
                            .expect("get ClusterRole")
                            .resource_version(),
                        ..meta(&role_name, None)
                    },
                    rules: Some(full.cluster_rules.clone()),
                    ..Default::default()
                },
            )
            .await
            .expect("grant reading GroupGrants");
        h.wait_ready("rbac-team").await;
    })
    .catch_unwind()
    .await;
    cluster_grant.remove().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
