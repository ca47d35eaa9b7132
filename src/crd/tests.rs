use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};
use std::path::Path;

/// Fails when a committed CRD differs from what the Rust types generate.
/// `IGZ_UPDATE_CRDS=1 cargo test --lib crd::` rewrites the files instead (same as `make crds`).
#[test]
fn committed_crds_match_the_rust_types() {
    for (file, crd) in all_crds() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let generated = crd_yaml(&crd);
        if std::env::var_os("IGZ_UPDATE_CRDS").is_some() {
            std::fs::write(&path, &generated).expect("write the CRD file");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{file} is out of date with src/crd; regenerate it with `make crds` and commit the result"
        );
    }
}

fn version_schema() -> Value {
    let crd = serde_json::to_value(crd()).expect("CRD to JSON");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn spec_prop(name: &str) -> Value {
    version_schema()["properties"]["spec"]["properties"][name].clone()
}

#[test]
fn names_and_subresources_are_the_public_contract() {
    let crd = serde_json::to_value(crd()).expect("CRD to JSON");
    assert_eq!(crd["metadata"]["name"], "groups.igz-operator.io");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["kind"], "Group");
    assert_eq!(
        crd["spec"]["names"]["shortNames"],
        json!(["igzgroup", "igzg"])
    );
    assert_eq!(crd["spec"]["names"]["categories"], json!(["iguazio"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], json!({}));
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("printer columns")
        .iter()
        .map(|c| c["name"].as_str().expect("column name"))
        .collect();
    assert_eq!(
        columns,
        [
            "GroupName",
            "ID",
            "Members",
            "Ready",
            "Reason",
            "NextExpiry",
            "Policy",
            "Planned",
            "Age"
        ]
    );
}

#[test]
fn every_schema_property_has_a_description_in_every_crd() {
    fn walk(path: &str, schema: &Value, missing: &mut Vec<String>) {
        if !schema.is_object() {
            return;
        }
        if let Some(props) = schema["properties"].as_object() {
            for (name, prop) in props {
                let here = format!("{path}.{name}");
                // metadata's schema belongs to Kubernetes, and apiVersion/kind are described
                // by the apiserver itself.
                if !["apiVersion", "kind", "metadata"].contains(&name.as_str())
                    && prop["description"].as_str().is_none_or(str::is_empty)
                {
                    missing.push(here.clone());
                }
                // Source line wraps are removed so `kubectl explain` can wrap the text itself.
                let description = prop["description"].as_str().unwrap_or_default();
                if description.replace("\n\n", "").contains('\n') {
                    missing.push(format!("{here} (hard-wrapped)"));
                }
                walk(&here, prop, missing);
            }
        }
        walk(&format!("{path}[]"), &schema["items"], missing);
    }
    for (file, crd) in all_crds() {
        let crd = serde_json::to_value(crd).expect("CRD to JSON");
        let mut missing = Vec::new();
        walk(
            "",
            &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
            &mut missing,
        );
        assert!(
            missing.is_empty(),
            "{file}: fields without a description: {missing:?}"
        );
    }
}

#[test]
fn list_semantics_reject_duplicates_at_admission() {
    assert_eq!(spec_prop("members")["x-kubernetes-list-type"], "set");
    assert_eq!(
        spec_prop("assignedPolicies")["x-kubernetes-list-type"],
        "set"
    );
    let roles = spec_prop("projectRoles");
    assert_eq!(roles["x-kubernetes-list-type"], "map");
    assert_eq!(roles["x-kubernetes-list-map-keys"], json!(["project"]));
    // A list-map key must be required, or the apiserver refuses the CRD.
    assert_eq!(roles["items"]["required"], json!(["project", "role"]));
}

#[test]
fn temporary_members_are_a_map_by_name_with_strict_times() {
    let temporary = spec_prop("temporaryMembers");
    assert_eq!(temporary["x-kubernetes-list-type"], "map");
    assert_eq!(temporary["x-kubernetes-list-map-keys"], json!(["name"]));
    assert_eq!(temporary["items"]["required"], json!(["expires", "name"]));
    let expires = &temporary["items"]["properties"]["expires"];
    assert_eq!(expires["format"], "date-time");
    assert_eq!(expires["pattern"], RFC3339_PATTERN);
    // Whatever the pattern admits, the operator reads (the API server's date-time check alone
    // admits more: see RFC3339_PATTERN).
    let pattern = regex::Regex::new(RFC3339_PATTERN).unwrap();
    for text in [
        "2026-05-04T18:00:00Z",
        "2026-05-04T18:00:00.123456789Z",
        "2026-05-04T18:00:00.5+01:00",
        "0001-01-01T00:00:00-23:59",
        "0000-01-01T00:00:00+23:59",
        "9899-12-31T23:59:59-23:59",
    ] {
        assert!(pattern.is_match(text), "{text}");
        let read: Result<Time, _> = serde_json::from_value(json!(text));
        assert!(read.is_ok(), "{text}: {read:?}");
    }
    for text in [
        "2026-05-04t18:00:00z",
        "2026-05-04T18:00:00x5Z",
        "2026-05-04T18:00:00+99:00",
        "2026-05-04T18:00:00.1234567891Z",
        "2026-05-04 18:00:00Z",
        "2026-05-04T18:00Z",
        "2026-05-04",
        "9999-12-31T23:59:59+23:59",
    ] {
        assert!(!pattern.is_match(text), "{text}");
    }
    let columns =
        &serde_json::to_value(crd()).unwrap()["spec"]["versions"][0]["additionalPrinterColumns"];
    let next = columns
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "NextExpiry")
        .unwrap();
    assert_eq!(next["jsonPath"], ".status.nextExpiry");
    assert_eq!(
        next["type"], "string",
        "a date column shows a time ahead as <invalid>"
    );
}

#[test]
fn enums_and_defaults_match_the_platform_vocabulary() {
    let policies: Vec<String> =
        serde_json::from_value(spec_prop("assignedPolicies")["items"]["enum"].clone())
            .expect("policy enum");
    let expected: Vec<&str> = TenantPolicy::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(policies, expected);
    assert_eq!(policies.len(), 12);
    assert_eq!(
        spec_prop("projectRoles")["items"]["properties"]["role"]["enum"],
        json!(["Admin", "Editor", "Viewer"])
    );
    assert_eq!(
        spec_prop("membersPolicy")["enum"],
        json!(["Authoritative", "Additive", "ManagedOnly"])
    );
    assert_eq!(spec_prop("membersPolicy")["default"], "Authoritative");
    assert_eq!(
        spec_prop("deletionPolicy")["enum"],
        json!(["Delete", "Orphan"])
    );
    assert_eq!(spec_prop("deletionPolicy")["default"], "Delete");
    assert_eq!(spec_prop("adoptExisting")["default"], false);
    // schemars writes bounds as floats; the apiserver reads any JSON number.
    assert_eq!(spec_prop("gid")["minimum"].as_f64(), Some(1.0));
    assert_eq!(spec_prop("gid")["maximum"].as_f64(), Some(GID_MAX as f64));
}

#[test]
fn group_name_pattern_accepts_safe_names_only() {
    let schema = spec_prop("groupName");
    assert_eq!(schema["maxLength"], GROUP_NAME_MAX_LEN);
    // The Rust regex dialect agrees with the apiserver's (RE2) on this pattern.
    let pattern =
        regex::Regex::new(schema["pattern"].as_str().expect("pattern")).expect("valid regex");
    for good in ["data-team", "Team_1", "a", "x.y", &"a".repeat(63)] {
        assert!(pattern.is_match(good), "{good} should be accepted");
    }
    for bad in [
        "",
        "-lead",
        ".hidden",
        "has space",
        "semi;colon",
        "slash/name",
        "quote\"",
        &"a".repeat(64),
    ] {
        assert!(!pattern.is_match(bad), "{bad} should be rejected");
    }
}

#[test]
fn cel_rules_guard_immutable_fields_with_actionable_messages() {
    let rules = version_schema()["x-kubernetes-validations"].clone();
    let rules = rules.as_array().expect("root CEL rules");
    let messages: Vec<&str> = rules.iter().filter_map(|r| r["message"].as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("spec.groupName is immutable"))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("spec.gid is immutable"))
    );
    assert!(messages.iter().any(|m| m.contains("set spec.groupName")));
}

#[test]
fn reason_vocabulary_is_complete_and_unique() {
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    for required in [
        "Available",
        "Creating",
        "Updating",
        "Deleting",
        "UserNotFound",
        "ProjectNotFound",
        "AlreadyExists",
        "NameConflict",
        "CredentialsInvalid",
        "ApiUnavailable",
        "ReconcileError",
    ] {
        assert!(names.contains(&required), "missing reason {required}");
    }
    let unique: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len());
    assert!(Reason::ALL.iter().all(|r| !r.description().is_empty()));
}

#[test]
fn spec_round_trips_with_defaults() {
    let group: Group = serde_json::from_value(json!({
        "apiVersion": "igz-operator.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": "data-team", "namespace": "ns"},
        "spec": {"members": ["alice"], "assignedPolicies": ["IT Admin"],
                 "projectRoles": [{"project": "p1", "role": "Viewer"}]}
    }))
    .expect("a minimal Group parses");
    assert_eq!(group.effective_group_name(), "data-team");
    assert_eq!(group.spec.members_policy, MembersPolicy::Authoritative);
    assert_eq!(group.spec.deletion_policy, DeletionPolicy::Delete);
    assert_eq!(
        group.spec.assigned_policies,
        Some(vec![TenantPolicy::ItAdmin])
    );
    assert_eq!(group.spec.project_roles[0].role, ProjectRole::Viewer);
    let named = GroupSpec {
        group_name: Some("other".into()),
        ..group.spec.clone()
    };
    assert_eq!(
        Group::new("data-team", named).effective_group_name(),
        "other"
    );
}

#[test]
fn a_new_group_starts_with_observed_generation_zero() {
    // kstatus (Flux, kpt) reads a resource without status as Current: the default makes a Group
    // nobody has reconciled yet InProgress ("generation is 1, observed 0").
    let status = &version_schema()["properties"]["status"];
    assert_eq!(status["default"], json!({"observedGeneration": 0}));
}

#[test]
fn the_default_spec_is_what_an_empty_spec_reads_as() {
    // Tests build specs with `..Default::default()`: it must mean what the API server stores.
    let empty: GroupSpec = serde_json::from_value(json!({})).unwrap();
    assert_eq!(empty, GroupSpec::default());
}

fn connection_schema() -> Value {
    let crd = serde_json::to_value(connection_crd()).expect("CRD to JSON");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn connection_names_and_columns_are_the_public_contract() {
    let crd = serde_json::to_value(connection_crd()).expect("CRD to JSON");
    assert_eq!(
        crd["metadata"]["name"],
        "platformconnections.igz-operator.io"
    );
    assert_eq!(crd["spec"]["scope"], "Cluster");
    assert_eq!(crd["spec"]["names"]["kind"], "PlatformConnection");
    assert_eq!(crd["spec"]["names"]["plural"], "platformconnections");
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], json!({}));
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("printer columns")
        .iter()
        .map(|c| c["name"].as_str().expect("column name"))
        .collect();
    assert_eq!(
        columns,
        [
            "URL", "Ready", "Version", "Groups", "Expires", "Reason", "Age"
        ]
    );
    let spec = &connection_schema()["properties"]["spec"];
    assert_eq!(spec["required"], json!(["secretRef", "url"]));
    for field in [
        "url",
        "secretRef",
        "caBundle",
        "insecureSkipTLSVerify",
        "rateLimit",
    ] {
        assert!(spec["properties"][field].is_object(), "spec.{field}");
    }
    assert_eq!(
        spec["properties"]["insecureSkipTLSVerify"]["default"],
        false
    );
}

#[test]
fn connection_spec_round_trips_with_its_wire_names() {
    let conn: PlatformConnection = serde_json::from_value(json!({
        "apiVersion": "igz-operator.io/v1alpha1",
        "kind": "PlatformConnection",
        "metadata": {"name": "prod"},
        "spec": {"url": "https://dash.example", "secretRef": {"name": "prod-key"},
                 "insecureSkipTLSVerify": true, "rateLimit": {"qps": 5}}
    }))
    .expect("a PlatformConnection parses");
    assert!(conn.spec.insecure_skip_tls_verify);
    assert_eq!(conn.spec.secret_ref.namespace, None);
    assert_eq!(conn.spec.rate_limit.as_ref().and_then(|r| r.burst), None);
    let back = serde_json::to_value(&conn.spec).unwrap();
    assert_eq!(back["insecureSkipTLSVerify"], true);
    assert_eq!(back["secretRef"], json!({"name": "prod-key"}));
}

#[test]
fn connection_reasons_are_unique_and_described() {
    let names: Vec<&str> = ConnectionReason::ALL.iter().map(|r| r.as_str()).collect();
    for required in [
        "Connected",
        "Unreachable",
        "TLSError",
        "CredentialsInvalid",
        "PermissionDenied",
        "SecretMissing",
        "SecretInvalid",
    ] {
        assert!(names.contains(&required), "missing reason {required}");
    }
    let unique: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len());
    assert!(
        ConnectionReason::ALL
            .iter()
            .all(|r| !r.description().is_empty())
    );
}

#[test]
fn a_group_names_its_connection_or_means_default_and_cannot_change_it() {
    let group = Group::new("g", GroupSpec::default());
    assert_eq!(group.connection_name(), DEFAULT_CONNECTION);
    let prod = Group::new(
        "g",
        GroupSpec {
            connection: Some("prod".into()),
            ..Default::default()
        },
    );
    assert_eq!(prod.connection_name(), "prod");
    let rules = version_schema()["x-kubernetes-validations"].clone();
    let immutable = rules
        .as_array()
        .expect("root CEL rules")
        .iter()
        .find(|r| r["fieldPath"] == ".spec.connection")
        .expect("a rule on spec.connection");
    assert!(
        immutable["message"]
            .as_str()
            .unwrap()
            .starts_with("spec.connection is immutable")
    );
    assert_eq!(
        spec_prop("connection")["pattern"].as_str(),
        Some(CONNECTION_NAME_PATTERN)
    );
    let grant_crd = serde_json::to_value(grant_crd()).unwrap();
    let connections = &grant_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        ["spec"]["properties"]["connections"];
    assert_eq!(connections["x-kubernetes-list-type"], "set");
    assert_eq!(
        connections["items"]["pattern"].as_str(),
        Some(CONNECTION_NAME_PATTERN)
    );
}
