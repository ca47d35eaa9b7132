//! Property tests of grant matching: one grant covers all or nothing is permitted, asking for
//! less never turns a permit into a refusal, and an all-allowing grant permits everything.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

use super::check::violation;
use super::*;
use crate::crd::{
    GroupGrant, GroupGrantSpec, ProjectRole, ProjectRoleGrant, TemporaryMembersGrant, TenantPolicy,
};

const PROJECTS: [&str; 3] = ["analytics", "fraud", "team-a-lab"];
const MEMBERS: [&str; 4] = ["alice", "bob", "carol9", "Dave"];
const NAMES: [&str; 3] = ["a-data", "a-ops", "platform-admins"];
const CONNECTIONS: [&str; 2] = ["default", "prod"];

fn role() -> impl Strategy<Value = ProjectRole> {
    select(ProjectRole::ALL.to_vec())
}

fn policies() -> impl Strategy<Value = Vec<TenantPolicy>> {
    subsequence(
        vec![
            TenantPolicy::Data,
            TenantPolicy::Developer,
            TenantPolicy::ItAdmin,
            TenantPolicy::TenantAdmin,
        ],
        0..=3,
    )
}

fn grant() -> impl Strategy<Value = CompiledGrant> {
    (
        "[a-c]",
        proptest::option::of(select(vec!["a", "b"])),
        proptest::option::of(select(vec!["^a-.*$", "^platform-", "ops"])),
        policies(),
        proptest::collection::vec(
            (select(vec!["^analytics$", "^team-a-", ".*"]), role()),
            0..3,
        ),
        proptest::option::of(select(vec!["^[a-z]+$", "^[a-z0-9]+$"])),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(subsequence(CONNECTIONS.to_vec(), 0..=2)),
    )
        .prop_map(
            |(name, tenant, names, policies, roles, members, adoption, required, connections)| {
                let selector = LabelSelector {
                    match_labels: tenant.map(|t| [("tenant".to_owned(), t.to_owned())].into()),
                    ..Default::default()
                };
                let grant = GroupGrant::new(
                    &name,
                    GroupGrantSpec {
                        namespace_selector: selector,
                        connections: connections
                            .map(|c| c.into_iter().map(str::to_owned).collect()),
                        group_name_pattern: names.map(str::to_owned),
                        tenant_policies: policies,
                        project_roles: roles
                            .into_iter()
                            .map(|(p, r)| ProjectRoleGrant {
                                project_pattern: p.to_owned(),
                                max_role: r,
                            })
                            .collect(),
                        member_pattern: members.map(str::to_owned),
                        allow_adoption: adoption,
                        temporary_members: required.map(|required| TemporaryMembersGrant {
                            max_duration: Some("8h".into()),
                            required,
                        }),
                    },
                );
                compile(&grant).expect("generated grants are valid")
            },
        )
}

fn request() -> impl Strategy<Value = Request> {
    (
        select(NAMES.to_vec()),
        policies(),
        proptest::collection::btree_map(select(PROJECTS.to_vec()), role(), 0..3),
        subsequence(MEMBERS.to_vec(), 0..=4),
        subsequence(MEMBERS.to_vec(), 0..=2),
        any::<bool>(),
        select(CONNECTIONS.to_vec()),
    )
        .prop_map(
            |(name, policies, roles, members, temporary, adopt, connection)| Request {
                namespace: "team-a".to_owned(),
                connection: connection.to_owned(),
                group_name: name.to_owned(),
                policies: policies.iter().map(|p| p.as_str().to_owned()).collect(),
                project_roles: roles.into_iter().map(|(p, r)| (p.to_owned(), r)).collect(),
                members: members.into_iter().map(str::to_owned).collect(),
                temporary_members: temporary.into_iter().map(str::to_owned).collect(),
                adopt,
            },
        )
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::option::of(select(vec!["a", "b", "c"])).prop_map(|t| {
        t.map(|t| [("tenant".to_owned(), t.to_owned())].into())
            .unwrap_or_default()
    })
}

/// A request that asks for at most what `request` asks: `keep` drops items and weakens roles.
fn smaller(request: &Request, keep: &[bool]) -> Request {
    let flags = std::cell::RefCell::new(keep.iter().copied().cycle());
    let take = || flags.borrow_mut().next().unwrap_or(true);
    Request {
        policies: request
            .policies
            .iter()
            .filter(|_| take())
            .cloned()
            .collect(),
        project_roles: request
            .project_roles
            .iter()
            .filter(|_| take())
            .map(|(p, r)| (p.clone(), if take() { *r } else { ProjectRole::Viewer }))
            .collect(),
        members: request.members.iter().filter(|_| take()).cloned().collect(),
        temporary_members: request
            .temporary_members
            .iter()
            .filter(|_| take())
            .cloned()
            .collect(),
        adopt: request.adopt && take(),
        ..request.clone()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn a_permit_comes_from_one_grant_that_covers_everything(
        grants in proptest::collection::vec(grant(), 0..4),
        labels in labels(),
        request in request(),
    ) {
        match check(&grants, &labels, &request) {
            Decision::Permitted(covering) => {
                prop_assert!(!covering.is_empty());
                for grant in covering {
                    prop_assert!(selects(&grant.selector, &labels));
                    prop_assert_eq!(violation(&grant, &request), None);
                }
            }
            Decision::NotGranted(message) => {
                for grant in &grants {
                    prop_assert!(
                        !selects(&grant.selector, &labels) || violation(grant, &request).is_some(),
                        "refused although {} covers it", grant.name
                    );
                }
                prop_assert!(message.contains("team-a"), "names the namespace: {}", message);
            }
        }
    }

    #[test]
    fn asking_for_less_never_turns_a_permit_into_a_refusal(
        grants in proptest::collection::vec(grant(), 0..4),
        labels in labels(),
        request in request(),
        keep in proptest::collection::vec(any::<bool>(), 1..16),
    ) {
        if matches!(check(&grants, &labels, &request), Decision::Permitted(_)) {
            let less = smaller(&request, &keep);
            prop_assert!(matches!(check(&grants, &labels, &less), Decision::Permitted(_)), "{:?}", less);
        }
    }

    #[test]
    fn no_grant_no_permit(labels in labels(), request in request()) {
        prop_assert!(matches!(check(&[], &labels, &request), Decision::NotGranted(_)));
    }

    #[test]
    fn grants_are_never_combined(
        a in grant(),
        b in grant(),
        labels in labels(),
        request in request(),
    ) {
        // Whatever two grants decide together is what one of them decides alone.
        let both = [a.clone(), b.clone()];
        let together = matches!(check(&both, &labels, &request), Decision::Permitted(_));
        let alone = matches!(check(&[a], &labels, &request), Decision::Permitted(_))
            || matches!(check(&[b], &labels, &request), Decision::Permitted(_));
        prop_assert_eq!(together, alone);
    }

    #[test]
    fn an_all_allowing_grant_permits_everything(labels in labels(), request in request()) {
        let everything = GroupGrant::new("all", GroupGrantSpec {
            namespace_selector: LabelSelector::default(),
            connections: Some(CONNECTIONS.iter().map(|c| c.to_string()).collect()),
            group_name_pattern: None,
            tenant_policies: TenantPolicy::ALL.to_vec(),
            project_roles: vec![ProjectRoleGrant { project_pattern: ".*".into(), max_role: ProjectRole::Admin }],
            member_pattern: None,
            allow_adoption: true,
            temporary_members: None,
        });
        let grants = [compile(&everything).unwrap()];
        prop_assert!(matches!(check(&grants, &labels, &request), Decision::Permitted(_)));
    }
}
