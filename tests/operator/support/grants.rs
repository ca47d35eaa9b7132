//! GroupGrants for tests: every test namespace gets a grant of its own (the operator refuses
//! Groups no grant covers, at admission and at reconcile), and one keeper per test binary keeps
//! the admission policy in line with all grants (many controllers writing it at once would race).

use std::sync::OnceLock;

use igz_operator::crd::{
    Group, GroupGrant, GroupGrantSpec, GroupSpec, ProjectRole, ProjectRoleGrant, TenantPolicy,
};
use igz_operator::tenancy::admission;
use igz_testkit::wait::{self, DEFAULT_DEADLINE};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// Label on every grant a test makes: grants are cluster-scoped and outlive the test.
pub const TEST_GRANT_LABEL: &str = "igz-operator.io/test";

/// A grant that selects exactly `namespace` and allows everything.
pub fn everything_in(namespace: &str) -> GroupGrant {
    GroupGrant::new(
        namespace,
        GroupGrantSpec {
            namespace_selector: select_namespace(namespace),
            // The connections the tests and the documentation's examples name.
            connections: Some(vec!["default".into(), "prod".into()]),
            group_name_pattern: None,
            tenant_policies: TenantPolicy::ALL.to_vec(),
            project_roles: vec![ProjectRoleGrant {
                project_pattern: ".*".into(),
                max_role: ProjectRole::Admin,
            }],
            member_pattern: None,
            allow_adoption: true,
            temporary_members: None,
        },
    )
}

/// A selector for one namespace (every namespace carries its name as a label).
pub fn select_namespace(namespace: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            [(
                "kubernetes.io/metadata.name".to_owned(),
                namespace.to_owned(),
            )]
            .into(),
        ),
        ..Default::default()
    }
}

/// Applies `grant` (server-side, as a cluster admin would).
pub async fn apply_grant(client: &Client, grant: &GroupGrant) {
    let grants: Api<GroupGrant> = Api::all(client.clone());
    let name = grant.metadata.name.clone().expect("grant name");
    let mut body = serde_json::to_value(grant).expect("grant to JSON");
    body["apiVersion"] = "igz-operator.io/v1alpha1".into();
    body["kind"] = "GroupGrant".into();
    body["metadata"]["labels"] = serde_json::json!({TEST_GRANT_LABEL: "true"});
    grants
        .patch(
            &name,
            &PatchParams::apply("igz-e2e").force(),
            &Patch::Apply(&body),
        )
        .await
        .expect("apply GroupGrant");
}

/// Removes (once per test binary, before its first grant) the grants earlier runs left in a
/// control plane that outlived them: they would pile up in the admission policy, which holds
/// a few hundred at most.
pub async fn forget_earlier_runs(client: &Client) {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let grants: Api<GroupGrant> = Api::all(client.clone());
        let selector = ListParams::default().labels(&format!("{TEST_GRANT_LABEL}=true"));
        grants
            .delete_collection(&Default::default(), &selector)
            .await
            .expect("delete the test grants of earlier runs");
    })
    .await;
}

/// Deletes `namespace`'s grant (the test is over).
pub async fn withdraw(client: &Client, namespace: &str) {
    let _ = Api::<GroupGrant>::all(client.clone())
        .delete(namespace, &Default::default())
        .await;
}

/// Starts (once per test binary) the keeper of the admission policy, on a thread of its own:
/// each test has its own runtime, and the keeper must outlive any one test.
pub fn keep_admission_policy() {
    static KEEPER: OnceLock<()> = OnceLock::new();
    KEEPER.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("keeper runtime");
            runtime.block_on(async {
                let client = igz_testkit::envtest::admin_client().await;
                igz_operator::controller::admission_policy_keeper(client).await;
            });
        });
    });
}

/// Waits until admission admits a Group `spec` in `namespace` (a dry run: nothing is stored).
/// Grants reach the admission policy a moment after they are written.
///
/// First it waits until the grants' policy is in force (it refuses a Group on a connection no
/// grant lists): before the first policy is loaded everything is admitted, and the first policy
/// may have been written before this namespace's grant was seen. A policy in force that admits
/// `spec` was written from a cache holding the grant, and so is every later one.
pub async fn wait_admitted(client: &Client, namespace: &str, spec: GroupSpec) {
    let groups: Api<Group> = Api::namespaced(client.clone(), namespace);
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let ungranted = Group::new(
        "admission-probe",
        GroupSpec {
            connection: Some("admission-probe-no-grant-lists-this".into()),
            ..minimal_spec()
        },
    );
    wait::until(
        &format!("the admission policy is in force in {namespace}"),
        DEFAULT_DEADLINE,
        || async {
            match groups.create(&dry_run, &ungranted).await {
                Err(kube::Error::Api(e)) if e.message.contains(admission::POLICY_NAME) => Ok(()),
                Err(e) => Err(e.to_string()),
                Ok(_) => Err("a Group on an ungranted connection is admitted".to_owned()),
            }
        },
    )
    .await;
    let probe = Group::new("admission-probe", spec);
    wait::until(
        &format!("admission admits Groups in {namespace}"),
        DEFAULT_DEADLINE,
        || async {
            groups
                .create(&dry_run, &probe)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    )
    .await;
}

/// A spec asking for nothing but one member.
pub fn minimal_spec() -> GroupSpec {
    GroupSpec {
        members: vec!["alice".into()],
        ..Default::default()
    }
}
