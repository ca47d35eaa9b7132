//! Admission: the real kube-apiserver, with the Group CRD installed, rejects invalid Group specs
//! (OpenAPI schema and CEL rules) with HTTP 422 and a message naming the field and what to fix,
//! and accepts valid ones with the schema's defaults applied.
//!
//! Objects are sent as raw JSON through `Api<DynamicObject>` so the tests can send values the
//! Rust types cannot express (unknown enum strings, duplicates, nulls, out-of-range numbers).
//! Every case of a table runs even when an earlier one fails; the test then lists all broken
//! cases by name. No controller runs here: accepted objects stay as they are.

use std::future::Future;
use std::time::Duration;

use igz_operator::crd::{
    DeletionPolicy, GID_MAX, GROUP_NAME_MAX_LEN, GROUP_NAME_PATTERN, Group, GroupSpec,
    MembersPolicy, ProjectRole, ProjectRoleBinding, TemporaryMember, TenantPolicy,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::support::grants;

/// Budget for one test's requests, once the control plane is up and the CRD is established.
const BUDGET: Duration = Duration::from_secs(10);

const IMMUTABLE_GROUP_NAME: &str = "spec.groupName is immutable (it defaults to metadata.name)";
const IMMUTABLE_GID: &str = "spec.gid is immutable once set: restore the previous value (files on the platform are owned by that gid)";
const NAME_TOO_LONG: &str = "metadata.name is longer than 63 characters, too long for a platform group name: set spec.groupName";

struct Fixture {
    client: Client,
    ns: String,
    groups: Api<DynamicObject>,
}

async fn setup() -> Fixture {
    let client = igz_testkit::envtest::admin_client().await;
    crate::support::install_crd(&client).await;
    grants::forget_earlier_runs(&client).await;
    let ns = igz_testkit::envtest::fresh_namespace(&client, "adm").await;
    // Schema and CEL rules are checked before the grants; valid specs still need a grant.
    grants::apply_grant(&client, &grants::everything_in(&ns)).await;
    grants::keep_admission_policy();
    grants::wait_admitted(&client, &ns, grants::minimal_spec()).await;
    let gvk = GroupVersionKind::gvk("igz-operator.io", "v1alpha1", "Group");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "groups");
    let groups = Api::namespaced_with(client.clone(), &ns, &resource);
    Fixture { client, ns, groups }
}

/// Runs a test's requests within BUDGET.
async fn within_budget<F: Future<Output = ()>>(what: &str, body: F) {
    tokio::time::timeout(BUDGET, body)
        .await
        .unwrap_or_else(|_| panic!("{what}: did not finish within {BUDGET:?}"));
}

/// A Group manifest as raw JSON. `spec: None` leaves the spec out entirely.
fn manifest(name: &str, spec: Option<Value>) -> DynamicObject {
    let mut object = json!({
        "apiVersion": "igz-operator.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": name},
    });
    if let Some(spec) = spec {
        object["spec"] = spec;
    }
    serde_json::from_value(object).expect("a Group manifest is a valid DynamicObject")
}

fn repeat(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

/// Strings every expected rejection message must contain.
fn texts(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

/// Checks one request's outcome. `expected: None` means it must be accepted; otherwise it must
/// fail with 422 Invalid and a message containing every string. Returns a description of the
/// mismatch, if any.
fn check(
    case: &str,
    result: &Result<DynamicObject, kube::Error>,
    expected: Option<&[String]>,
) -> Option<String> {
    match (result, expected) {
        (Ok(_), None) => None,
        (Ok(_), Some(texts)) => Some(format!(
            "{case}: accepted, but should be rejected with a message containing {texts:?}"
        )),
        (Err(e), None) => Some(format!("{case}: should be accepted, but was rejected: {e}")),
        (Err(kube::Error::Api(status)), Some(texts)) => {
            let mut problems = Vec::new();
            if status.code != 422 || status.reason != "Invalid" {
                problems.push(format!(
                    "HTTP {} {:?} instead of 422 \"Invalid\"",
                    status.code, status.reason
                ));
            }
            let missing: Vec<&String> = texts
                .iter()
                .filter(|t| !status.message.contains(t.as_str()))
                .collect();
            if !missing.is_empty() {
                problems.push(format!("message lacks {missing:?}"));
            }
            (!problems.is_empty()).then(|| {
                format!(
                    "{case}: {}; the apiserver said: {}",
                    problems.join(", "),
                    status.message
                )
            })
        }
        (Err(e), Some(_)) => Some(format!("{case}: failed without an API status: {e}")),
    }
}

fn report(test: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{test}: {} case(s) broke:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// A create that must be rejected (or, with `expected: None`, accepted).
struct CreateCase {
    case: &'static str,
    name: String,
    spec: Option<Value>,
    expected: Option<Vec<String>>,
}

fn reject(case: &'static str, spec: Value, expected: Vec<String>) -> CreateCase {
    CreateCase {
        case,
        name: String::new(),
        spec: Some(spec),
        expected: Some(expected),
    }
}

fn accept(case: &'static str, spec: Value) -> CreateCase {
    CreateCase {
        case,
        name: String::new(),
        spec: Some(spec),
        expected: None,
    }
}

impl CreateCase {
    fn named(mut self, name: String) -> Self {
        self.name = name;
        self
    }
}

async fn run_create_cases(fx: &Fixture, test: &str, cases: Vec<CreateCase>) {
    let mut failures = Vec::new();
    for (i, c) in cases.into_iter().enumerate() {
        let name = if c.name.is_empty() {
            format!("case-{i}")
        } else {
            c.name
        };
        let result = fx
            .groups
            .create(&PostParams::default(), &manifest(&name, c.spec))
            .await;
        failures.extend(check(c.case, &result, c.expected.as_deref()));
    }
    report(test, failures);
}

#[tokio::test]
async fn invalid_fields_are_rejected_on_create() {
    let fx = setup().await;
    let pattern = format!("spec.groupName in body should match '{GROUP_NAME_PATTERN}'");
    let all_policies: Vec<String> = TenantPolicy::ALL
        .iter()
        .map(|p| format!("\"{}\"", p.as_str()))
        .collect();
    let mut unknown_policy = texts(&[
        "spec.assignedPolicies[0]",
        "Unsupported value: \"Root\"",
        "supported values",
    ]);
    unknown_policy.extend(all_policies);
    let cases = vec![
        reject(
            "groupName with a space",
            json!({"groupName": "bad name"}),
            texts(&["spec.groupName", "Invalid value: \"bad name\"", &pattern]),
        ),
        reject(
            "groupName starting with '-'",
            json!({"groupName": "-team"}),
            texts(&["spec.groupName", &pattern]),
        ),
        reject(
            "groupName with a slash",
            json!({"groupName": "a/b"}),
            texts(&["spec.groupName", &pattern]),
        ),
        reject(
            "groupName too long",
            json!({"groupName": repeat('a', GROUP_NAME_MAX_LEN + 1)}),
            texts(&["spec.groupName", "Too long: may not be more than 63"]),
        ),
        reject(
            "groupName empty",
            json!({"groupName": ""}),
            texts(&["spec.groupName", "should be at least 1 chars long"]),
        ),
        reject(
            "metadata.name longer than 63 without groupName",
            json!({"members": ["alice"]}),
            texts(&["spec.groupName", NAME_TOO_LONG]),
        )
        .named(repeat('n', 64)),
        reject(
            "metadata.name longer than 63 with groupName null",
            json!({"groupName": null}),
            texts(&["spec.groupName", NAME_TOO_LONG]),
        )
        .named(repeat('m', 64)),
        reject(
            "gid 0",
            json!({"gid": 0}),
            texts(&["spec.gid", "Invalid value: 0", "greater than or equal to 1"]),
        ),
        reject(
            "gid negative",
            json!({"gid": -5}),
            texts(&["spec.gid", "greater than or equal to 1"]),
        ),
        reject(
            "gid above 2147483647",
            json!({"gid": GID_MAX + 1}),
            texts(&[
                "spec.gid",
                "Invalid value: 2147483648",
                "less than or equal to 2147483647",
            ]),
        ),
        reject(
            "unknown assignedPolicies value",
            json!({"assignedPolicies": ["Root"]}),
            unknown_policy,
        ),
        reject(
            "duplicate assignedPolicies",
            json!({"assignedPolicies": ["Data", "Developer", "Data"]}),
            texts(&["spec.assignedPolicies[2]", "Duplicate value: \"Data\""]),
        ),
        reject(
            "duplicate members",
            json!({"members": ["alice", "alice"]}),
            texts(&["spec.members[1]", "Duplicate value: \"alice\""]),
        ),
        reject(
            "empty member",
            json!({"members": ["alice", ""]}),
            texts(&["spec.members[1]", "should be at least 1 chars long"]),
        ),
        reject(
            "duplicate project in projectRoles",
            json!({"projectRoles": [
                {"project": "analytics", "role": "Admin"},
                {"project": "analytics", "role": "Viewer"},
            ]}),
            texts(&[
                "spec.projectRoles[1]",
                "Duplicate value",
                "\"project\":\"analytics\"",
            ]),
        ),
        reject(
            "bad role",
            json!({"projectRoles": [{"project": "analytics", "role": "Owner"}]}),
            texts(&[
                "spec.projectRoles[0].role",
                "Unsupported value: \"Owner\"",
                "supported values: \"Admin\", \"Editor\", \"Viewer\"",
            ]),
        ),
        reject(
            "missing role",
            json!({"projectRoles": [{"project": "analytics"}]}),
            texts(&["spec.projectRoles[0].role", "Required value"]),
        ),
        reject(
            "missing project",
            json!({"projectRoles": [{"role": "Admin"}]}),
            texts(&["spec.projectRoles[0].project", "Required value"]),
        ),
        reject(
            "bad membersPolicy",
            json!({"membersPolicy": "Exclusive"}),
            texts(&[
                "spec.membersPolicy",
                "Unsupported value: \"Exclusive\"",
                "supported values: \"Authoritative\", \"Additive\", \"ManagedOnly\"",
            ]),
        ),
        reject(
            "membersPolicy in the wrong case",
            json!({"membersPolicy": "authoritative"}),
            texts(&["spec.membersPolicy", "Unsupported value: \"authoritative\""]),
        ),
        reject(
            "bad deletionPolicy",
            json!({"deletionPolicy": "Retain"}),
            texts(&[
                "spec.deletionPolicy",
                "Unsupported value: \"Retain\"",
                "supported values: \"Delete\", \"Orphan\"",
            ]),
        ),
        reject(
            "description too long",
            json!({"description": repeat('d', 1025)}),
            texts(&["spec.description", "Too long: may not be more than 1024"]),
        ),
        reject(
            "duplicate temporary member",
            json!({"temporaryMembers": [
                {"name": "bob", "expires": "2031-01-01T10:00:00Z"},
                {"name": "bob", "expires": "2031-01-02T10:00:00Z"},
            ]}),
            texts(&[
                "spec.temporaryMembers[1]",
                "Duplicate value",
                "\"name\":\"bob\"",
            ]),
        ),
        reject(
            "temporary member without expires",
            json!({"temporaryMembers": [{"name": "bob"}]}),
            texts(&["spec.temporaryMembers[0].expires", "Required value"]),
        ),
        reject(
            "temporary member with an empty name",
            json!({"temporaryMembers": [{"name": "", "expires": "2031-01-01T10:00:00Z"}]}),
            texts(&[
                "spec.temporaryMembers[0].name",
                "should be at least 1 chars long",
            ]),
        ),
        reject(
            "temporary member reason too long",
            json!({"temporaryMembers": [
                {"name": "bob", "expires": "2031-01-01T10:00:00Z", "reason": repeat('r', 257)},
            ]}),
            texts(&[
                "spec.temporaryMembers[0].reason",
                "Too long: may not be more than 256",
            ]),
        ),
        CreateCase {
            case: "no spec",
            name: String::new(),
            spec: None,
            expected: Some(texts(&["spec", "Required value"])),
        },
    ];
    within_budget(
        "invalid_fields_are_rejected_on_create",
        run_create_cases(&fx, "invalid_fields_are_rejected_on_create", cases),
    )
    .await;
}

/// Times the API server's own date-time check rejects, and times it admits but the operator
/// could not read (refused by the schema's pattern): either way the create fails and says why.
#[tokio::test]
async fn malformed_expiry_times_are_rejected_on_create() {
    let fx = setup().await;
    let entry = |expires: &str| json!({"temporaryMembers": [{"name": "bob", "expires": expires}]});
    let not_a_time = |text: &str| {
        texts(&[
            "spec.temporaryMembers[0].expires",
            &format!("Invalid value: \"{text}\""),
            "must be of type date-time",
        ])
    };
    let unreadable = |text: &str| {
        texts(&[
            "spec.temporaryMembers[0].expires",
            &format!("Invalid value: \"{text}\""),
            "should match",
        ])
    };
    let mut cases = Vec::new();
    for text in [
        "tomorrow",
        "2031-01-01",
        "2031-01-01T10:00:00",
        "2031-01-01 10:00:00Z",
        "2031-13-01T10:00:00Z",
        "2031-02-30T10:00:00Z",
        "2031-01-01T24:00:00Z",
        "2031-01-01T10:00:60Z",
    ] {
        cases.push(reject(
            "not an RFC 3339 time",
            entry(text),
            not_a_time(text),
        ));
    }
    for text in [
        "2031-01-01t10:00:00z",
        "2031-01-01T10:00:00x5Z",
        "2031-01-01T10:00:00+99:00",
        "2031-01-01T10:00:00.1234567891Z",
        "9999-12-31T23:59:59Z",
    ] {
        cases.push(reject(
            "a date-time the operator cannot read",
            entry(text),
            unreadable(text),
        ));
    }
    within_budget(
        "malformed_expiry_times_are_rejected_on_create",
        run_create_cases(&fx, "malformed_expiry_times_are_rejected_on_create", cases),
    )
    .await;
}

#[tokio::test]
async fn boundary_values_are_accepted_on_create() {
    let fx = setup().await;
    let cases = vec![
        accept(
            "groupName of exactly 63 characters",
            json!({"groupName": repeat('g', GROUP_NAME_MAX_LEN)}),
        ),
        accept("groupName of one digit", json!({"groupName": "7"})),
        accept(
            "groupName with upper case, '_', '.' and '-'",
            json!({"groupName": "Team_A.data-eng"}),
        ),
        accept(
            "metadata.name of exactly 63 characters without groupName",
            json!({}),
        )
        .named(repeat('x', 63)),
        accept(
            "metadata.name longer than 63 with groupName",
            json!({"groupName": "short"}),
        )
        .named(repeat('y', 100)),
        accept("gid 1", json!({"gid": 1})),
        accept("gid 2147483647", json!({"gid": GID_MAX})),
        accept("empty assignedPolicies", json!({"assignedPolicies": []})),
        accept(
            "temporary member whose time has passed (a re-applied old commit)",
            json!({"temporaryMembers": [{"name": "bob", "expires": "2001-01-01T00:00:00Z"}]}),
        ),
        accept(
            "temporary member with an offset, a fraction and a reason",
            json!({"temporaryMembers": [
                {"name": "bob", "expires": "2031-01-01T10:00:00.123456789+02:00", "reason": "on call"},
                {"name": "carol", "expires": "9899-12-31T23:59:59-23:59"},
            ]}),
        ),
        accept("empty spec", json!({})),
    ];
    within_budget(
        "boundary_values_are_accepted_on_create",
        run_create_cases(&fx, "boundary_values_are_accepted_on_create", cases),
    )
    .await;
}

/// An object created with `before`, then replaced with `after`.
struct UpdateCase {
    case: &'static str,
    name: String,
    before: Value,
    after: Value,
    expected: Option<Vec<String>>,
}

#[tokio::test]
async fn immutable_fields_are_enforced_on_update() {
    let fx = setup().await;
    let group_name_immutable = || Some(texts(&["spec.groupName", IMMUTABLE_GROUP_NAME]));
    let gid_immutable = || Some(texts(&["spec.gid", IMMUTABLE_GID]));
    let cases = vec![
        UpdateCase {
            case: "groupName changed",
            name: "gn-changed".into(),
            before: json!({"groupName": "first"}),
            after: json!({"groupName": "second"}),
            expected: group_name_immutable(),
        },
        UpdateCase {
            case: "groupName removed (falls back to a different metadata.name)",
            name: "gn-removed".into(),
            before: json!({"groupName": "first"}),
            after: json!({}),
            expected: group_name_immutable(),
        },
        UpdateCase {
            case: "groupName added, differing from metadata.name",
            name: "gn-added".into(),
            before: json!({}),
            after: json!({"groupName": "other"}),
            expected: group_name_immutable(),
        },
        UpdateCase {
            case: "groupName added, equal to metadata.name",
            name: "gn-same".into(),
            before: json!({}),
            after: json!({"groupName": "gn-same"}),
            expected: None,
        },
        UpdateCase {
            case: "groupName equal to metadata.name removed",
            name: "gn-same-removed".into(),
            before: json!({"groupName": "gn-same-removed"}),
            after: json!({}),
            expected: None,
        },
        UpdateCase {
            case: "groupName kept, other fields changed",
            name: "gn-kept".into(),
            before: json!({"groupName": "kept", "members": ["alice"], "deletionPolicy": "Delete"}),
            after: json!({
                "groupName": "kept",
                "members": ["alice", "bob"],
                "membersPolicy": "Additive",
                "deletionPolicy": "Orphan",
                "description": "changed",
            }),
            expected: None,
        },
        UpdateCase {
            case: "groupName removed while metadata.name is longer than 63",
            name: repeat('l', 70),
            before: json!({"groupName": "short"}),
            after: json!({}),
            expected: Some(texts(&[
                "spec.groupName",
                NAME_TOO_LONG,
                IMMUTABLE_GROUP_NAME,
            ])),
        },
        UpdateCase {
            case: "gid changed",
            name: "gid-changed".into(),
            before: json!({"gid": 1000}),
            after: json!({"gid": 1001}),
            expected: gid_immutable(),
        },
        UpdateCase {
            case: "gid removed",
            name: "gid-removed".into(),
            before: json!({"gid": 1000}),
            after: json!({}),
            expected: gid_immutable(),
        },
        UpdateCase {
            case: "gid set to null",
            name: "gid-null".into(),
            before: json!({"gid": 1000}),
            after: json!({"gid": null}),
            expected: gid_immutable(),
        },
        UpdateCase {
            case: "gid set where it was unset",
            name: "gid-added".into(),
            before: json!({}),
            after: json!({"gid": 1000}),
            expected: None,
        },
        UpdateCase {
            case: "gid kept, other fields changed",
            name: "gid-kept".into(),
            before: json!({"gid": 1000}),
            after: json!({"gid": 1000, "members": ["alice"]}),
            expected: None,
        },
    ];
    within_budget("immutable_fields_are_enforced_on_update", async {
        let mut failures = Vec::new();
        for c in cases {
            let created = match fx
                .groups
                .create(&PostParams::default(), &manifest(&c.name, Some(c.before)))
                .await
            {
                Ok(created) => created,
                Err(e) => {
                    failures.push(format!("{}: initial create failed: {e}", c.case));
                    continue;
                }
            };
            let mut updated = manifest(&c.name, Some(c.after));
            updated.metadata.resource_version = created.resource_version();
            let result = fx
                .groups
                .replace(&c.name, &PostParams::default(), &updated)
                .await;
            failures.extend(check(c.case, &result, c.expected.as_deref()));
        }
        report("immutable_fields_are_enforced_on_update", failures);
    })
    .await;
}

#[tokio::test]
async fn valid_specs_are_accepted_and_defaulted() {
    let fx = setup().await;
    within_budget("valid_specs_are_accepted_and_defaulted", async {
        // Every field set, through the Rust types: nothing is rejected, pruned or rewritten.
        let spec = GroupSpec {
            connection: None,
            group_name: Some("Platform_Team.1-a".into()),
            description: Some("Everyone on the platform team".into()),
            gid: Some(4242),
            assigned_policies: Some(vec![TenantPolicy::Data, TenantPolicy::Developer]),
            members: vec!["alice".into(), "bob".into()],
            members_policy: MembersPolicy::ManagedOnly,
            project_roles: vec![
                ProjectRoleBinding {
                    project: "default".into(),
                    role: ProjectRole::Editor,
                },
                ProjectRoleBinding {
                    project: "analytics".into(),
                    role: ProjectRole::Admin,
                },
            ],
            deletion_policy: DeletionPolicy::Orphan,
            adopt_existing: true,
            management_policy: Default::default(),
            temporary_members: vec![TemporaryMember {
                name: "carol".into(),
                expires: Time("2031-05-04T18:00:00Z".parse().unwrap()),
                reason: Some("on call, INC-4211".into()),
            }],
        };
        let typed: Api<Group> = Api::namespaced(fx.client.clone(), &fx.ns);
        let created = typed
            .create(&PostParams::default(), &Group::new("full", spec.clone()))
            .await
            .expect("a full valid spec is accepted");
        assert_eq!(created.spec, spec, "the stored spec equals the one sent");
        let raw = fx
            .groups
            .get("full")
            .await
            .expect("read back the full spec");
        assert_eq!(
            raw.data["spec"],
            serde_json::to_value(&spec).unwrap(),
            "the stored JSON equals the one sent (no field pruned or defaulted over)"
        );

        // Minimal spec: the schema's defaults are stored, not only assumed by the Rust types.
        let minimal = fx
            .groups
            .create(
                &PostParams::default(),
                &manifest("minimal", Some(json!({}))),
            )
            .await
            .expect("an empty spec is accepted");
        assert_eq!(
            minimal.data["spec"],
            json!({
                "membersPolicy": "Authoritative",
                "deletionPolicy": "Delete",
                "managementPolicy": "Full",
                "adoptExisting": false,
                "members": [],
                "projectRoles": [],
            }),
            "defaults applied by the apiserver"
        );
        let minimal = typed.get("minimal").await.expect("read back typed");
        assert_eq!(minimal.spec.members_policy, MembersPolicy::Authoritative);
        assert_eq!(minimal.spec.deletion_policy, DeletionPolicy::Delete);
        assert!(!minimal.spec.adopt_existing);
        assert_eq!(minimal.spec.group_name, None);
        assert_eq!(minimal.spec.gid, None);
        assert_eq!(minimal.spec.assigned_policies, None);
        assert_eq!(minimal.effective_group_name(), "minimal");
    })
    .await;
}

/// A GroupGrant's temporaryMembers.maxDuration must be a positive duration the API server reads
/// with CEL's `duration()` (Go's syntax), or the grant is refused.
#[tokio::test]
async fn grant_max_duration_is_checked_at_admission() {
    let client = igz_testkit::envtest::admin_client().await;
    crate::support::install_crd(&client).await;
    let gvk = GroupVersionKind::gvk("igz-operator.io", "v1alpha1", "GroupGrant");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "groupgrants");
    let grants: Api<DynamicObject> = Api::all_with(client, &resource);
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let grant = |max: &str| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "igz-operator.io/v1alpha1",
            "kind": "GroupGrant",
            "metadata": {"name": "max-duration-probe"},
            "spec": {
                "namespaceSelector": {},
                "temporaryMembers": {"maxDuration": max, "required": true},
            },
        }))
        .unwrap()
    };
    within_budget("grant_max_duration_is_checked_at_admission", async {
        let mut failures = Vec::new();
        let positive = "maxDuration must be a positive duration such as \"8h\"";
        for bad in ["1d", "8 h", "8", "0s", "-1h", "2562048h"] {
            let result = grants.create(&dry_run, &grant(bad)).await;
            let expected = texts(&["spec.temporaryMembers.maxDuration", positive]);
            failures.extend(check(
                &format!("maxDuration {bad:?}"),
                &result,
                Some(&expected),
            ));
        }
        let result = grants.create(&dry_run, &grant("")).await;
        let expected = texts(&[
            "spec.temporaryMembers.maxDuration",
            "should be at least 1 chars long",
        ]);
        failures.extend(check("maxDuration \"\"", &result, Some(&expected)));
        for good in ["8h", "90m", "1h30m", "1.5h", "300ms"] {
            let result = grants.create(&dry_run, &grant(good)).await;
            failures.extend(check(&format!("maxDuration {good:?}"), &result, None));
        }
        report("grant_max_duration_is_checked_at_admission", failures);
    })
    .await;
}

/// A "no standing access" grant (`temporaryMembers: {maxDuration: 8h, required: true}`) at
/// admission: a permanent member is refused with the reconcile's words; on a create, an entry
/// reaching further than the cap from the Group's creation is refused with the cap in the
/// message. An update is not judged for the cap (admission has no clock; the reconcile refuses
/// it, NotGranted), and an entry whose time has passed is always accepted.
#[tokio::test]
async fn a_no_standing_access_grant_is_enforced_at_admission() {
    use igz_operator::crd::TemporaryMembersGrant;
    use igz_operator::tenancy::{self, Decision, Request};
    use k8s_openapi::api::core::v1::Namespace;

    let client = igz_testkit::envtest::admin_client().await;
    crate::support::install_crd(&client).await;
    grants::forget_earlier_runs(&client).await;
    let ns = igz_testkit::envtest::fresh_namespace(&client, "adm-temp").await;
    let mut grant = grants::everything_in(&ns);
    grant.spec.temporary_members = Some(TemporaryMembersGrant {
        max_duration: Some("8h".into()),
        required: true,
    });
    grants::apply_grant(&client, &grant).await;
    grants::keep_admission_policy();
    let hours = |h: i64| Time(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(h));
    let temporary = |name: &str, expires: Time| TemporaryMember {
        name: name.into(),
        expires,
        reason: Some("on call".into()),
    };
    let spec = |members: &[&str], entries: Vec<TemporaryMember>| GroupSpec {
        members: members.iter().map(|m| m.to_string()).collect(),
        temporary_members: entries,
        ..Default::default()
    };
    grants::wait_admitted(&client, &ns, spec(&[], vec![temporary("bob", hours(1))])).await;
    let groups: Api<Group> = Api::namespaced(client.clone(), &ns);
    let labels = Api::<Namespace>::all(client.clone())
        .get(&ns)
        .await
        .unwrap()
        .metadata
        .labels
        .unwrap_or_default();
    let compiled = [tenancy::compile(&grant).unwrap()];

    within_budget(
        "a_no_standing_access_grant_is_enforced_at_admission",
        async {
            let refusal = |result: Result<Group, kube::Error>| match result {
                Ok(_) => None,
                Err(kube::Error::Api(status)) => {
                    let marker = "denied request: ";
                    let at = status
                        .message
                        .find(marker)
                        .unwrap_or_else(|| panic!("not an admission refusal: {status:?}"));
                    Some(status.message[at + marker.len()..].to_owned())
                }
                Err(e) => panic!("create: {e}"),
            };
            let create = |name: &str, spec: GroupSpec| {
                let groups = groups.clone();
                let group = Group::new(name, spec);
                async move { groups.create(&PostParams::default(), &group).await }
            };

            // A permanent member: refused, in the words of the reconcile's decision.
            let mut standing = Group::new(
                "standing",
                spec(&["alice"], vec![temporary("bob", hours(1))]),
            );
            standing.metadata.namespace = Some(ns.clone());
            let Decision::NotGranted(words) = tenancy::check(
                &compiled,
                &labels,
                &Request::of(&ns, &igz_operator::plan::Desired::from_group(&standing)),
            ) else {
                panic!("the pure decision refuses a permanent member");
            };
            assert!(
                words.contains("is not granted permanent member \"alice\""),
                "{words}"
            );
            assert_eq!(
                refusal(create("standing", standing.spec.clone()).await),
                Some(words)
            );

            // Longer than the cap from now, on a create: refused with the cap.
            let message =
                refusal(create("too-long", spec(&[], vec![temporary("bob", hours(10))])).await)
                    .expect("an entry reaching 10h ahead is refused under an 8h cap");
            assert!(
                message.contains("is not granted temporary member \"bob\" until")
                    && message.contains(&format!("maxDuration 8h of GroupGrant {ns}")),
                "{message}"
            );

            // Within the cap, and an entry whose time has passed: accepted.
            let accepted = create(
                "on-call",
                spec(
                    &[],
                    vec![temporary("bob", hours(7)), temporary("carol", hours(-1))],
                ),
            )
            .await
            .expect("entries within the cap are admitted");

            // An update extending past the cap passes admission: only the reconcile can judge it.
            let mut extended = accepted.clone();
            extended.spec.temporary_members[0].expires = hours(10);
            groups
                .replace("on-call", &PostParams::default(), &extended)
                .await
                .expect("admission does not judge an update against the cap");
        },
    )
    .await;
    grants::withdraw(&client, &ns).await;
}
