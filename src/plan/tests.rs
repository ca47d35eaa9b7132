//! Example-based tests, one or more per planning rule.

use super::testkit::*;
use super::*;
use crate::crd::{GroupSpec, ProjectRoleBinding, Reason, TemporaryMember, TenantPolicy};

fn team() -> Desired {
    Desired {
        members: names(&["alice", "bob"]),
        project_roles: BTreeMap::from([
            ("p1".to_owned(), ProjectRole::Admin),
            ("p2".to_owned(), ProjectRole::Viewer),
        ]),
        ..desired("team")
    }
}

fn platform() -> Observed {
    Observed {
        users: directory(&["alice", "bob", "carol"]),
        projects: names(&["p1", "p2", "p3"]),
        ..Observed::default()
    }
}

/// `team()` fully applied, owned through status.groupId.
fn team_in_sync() -> Observed {
    let mut group = platform_group("g1", "team");
    group.member_ids = names(&["uid-alice", "uid-bob"]);
    group.project_roles = BTreeMap::from([
        ("p1".to_owned(), ProjectRole::Admin),
        ("p2".to_owned(), ProjectRole::Viewer),
    ]);
    Observed {
        managed_members: names(&["alice", "bob"]),
        ..with_platform(owning(group))
    }
}

fn with_platform(observed: Observed) -> Observed {
    let base = platform();
    Observed {
        users: base.users,
        projects: base.projects,
        ..observed
    }
}

fn set_role(project: &str, role: ProjectRole) -> Action {
    Action::SetProjectRole {
        project: project.to_owned(),
        role,
    }
}

fn add(username: &str) -> Action {
    Action::AddMember {
        username: username.to_owned(),
        user_id: user_id(username),
    }
}

fn remove(username: &str) -> Action {
    Action::RemoveMember {
        username: username.to_owned(),
        user_id: user_id(username),
    }
}

fn edit_group(observed: &mut Observed, change: impl Fn(&mut PlatformGroup)) {
    for group in [&mut observed.group_by_id, &mut observed.group_by_name]
        .into_iter()
        .flatten()
    {
        change(group);
    }
}

#[test]
fn new_group_is_created_with_members_then_given_its_roles() {
    let plan = plan(&team(), &platform());
    assert_eq!(
        plan.actions,
        vec![
            Action::CreateGroup {
                name: "team".into(),
                description: None,
                gid: None,
                assigned_policies: BTreeSet::new(),
                members: directory(&["alice", "bob"]),
            },
            set_role("p1", ProjectRole::Admin),
            set_role("p2", ProjectRole::Viewer),
        ]
    );
    assert_eq!(plan.group_id, None);
    assert_eq!(plan.managed_members, names(&["alice", "bob"]));
    assert!(plan.drift.is_empty());
    assert!(plan.conflict.is_none());
}

#[test]
fn creation_carries_the_declared_attributes() {
    let wanted = Desired {
        description: Some("Data team".into()),
        gid: Some(7001),
        assigned_policies: Some(names(&["Data", "Developer"])),
        ..desired("team")
    };
    let plan = plan(&wanted, &platform());
    let Some(Action::CreateGroup {
        description,
        gid,
        assigned_policies,
        ..
    }) = plan.actions.first()
    else {
        panic!("expected a create, got {:?}", plan.actions);
    };
    assert_eq!(description.as_deref(), Some("Data team"));
    assert_eq!(*gid, Some(7001));
    assert_eq!(*assigned_policies, names(&["Data", "Developer"]));
}

#[test]
fn applied_spec_yields_an_empty_plan() {
    for policy in [
        MembersPolicy::Authoritative,
        MembersPolicy::Additive,
        MembersPolicy::ManagedOnly,
    ] {
        let wanted = Desired {
            members_policy: policy,
            ..team()
        };
        let plan = plan(&wanted, &team_in_sync());
        assert!(plan.is_converged(), "{policy:?}: {plan:?}");
        assert_eq!(plan.group_id.as_deref(), Some("g1"));
        assert_eq!(plan.managed_members, names(&["alice", "bob"]));
    }
}

#[test]
fn owned_group_is_found_by_id_never_by_name() {
    let mut observed = team_in_sync();
    // A look-alike with the same name must not be touched or cause a conflict.
    observed.group_by_name = Some(platform_group("impostor", "team"));
    let plan = plan(&team(), &observed);
    assert!(plan.is_converged(), "{plan:?}");
    assert_eq!(plan.group_id.as_deref(), Some("g1"));
}

#[test]
fn group_renamed_outside_is_renamed_back() {
    let mut observed = team_in_sync();
    edit_group(&mut observed, |g| g.name = "hijacked".into());
    let plan = plan(&team(), &observed);
    assert_eq!(
        plan.actions,
        vec![Action::UpdateGroup(GroupUpdate {
            name: Some("team".into()),
            ..GroupUpdate::default()
        })]
    );
    assert_eq!(plan.drift.len(), 1);
    assert!(plan.drift[0].contains("renamed to \"hijacked\""));
}

#[test]
fn group_deleted_outside_is_recreated_and_reported_as_drift() {
    let mut observed = team_in_sync();
    observed.group_by_id = None;
    observed.group_by_name = None;
    let plan = plan(&team(), &observed);
    assert!(matches!(plan.actions[0], Action::CreateGroup { .. }));
    assert_eq!(plan.actions.len(), 3, "create plus two roles: {plan:?}");
    assert!(plan.drift[0].contains("(id g1) was deleted outside Kubernetes"));
    // status.groupId follows the new group once executed.
    let after = apply(&observed, &plan);
    assert_eq!(after.status_group_id.as_deref(), Some("created-team"));
}

#[test]
fn existing_group_is_not_touched_without_adopt_existing() {
    let mut observed = platform();
    let mut foreign = platform_group("foreign", "team");
    foreign.member_ids = names(&["uid-carol"]);
    observed.group_by_name = Some(foreign);
    let plan = plan(&team(), &observed);
    assert!(plan.actions.is_empty());
    let conflict = plan.conflict.expect("a conflict");
    assert_eq!(conflict.reason(), Reason::AlreadyExists);
    assert!(conflict.message().contains("spec.adoptExisting: true"));
    assert!(conflict.message().contains("(id foreign)"));
}

#[test]
fn group_deleted_outside_whose_name_was_retaken_is_not_adopted() {
    let mut observed = team_in_sync();
    observed.group_by_id = None;
    observed.group_by_name = Some(platform_group("someone-else", "team"));
    let plan = plan(&team(), &observed);
    assert!(plan.actions.is_empty());
    assert_eq!(
        plan.conflict.map(|b| b.reason()),
        Some(Reason::AlreadyExists)
    );
}

#[test]
fn adopt_existing_takes_over_and_aligns_the_group_without_drift() {
    let mut observed = platform();
    let mut foreign = platform_group("foreign", "team");
    foreign.member_ids = names(&["uid-alice", "uid-carol"]);
    foreign.project_roles = BTreeMap::from([("p3".to_owned(), ProjectRole::Editor)]);
    observed.group_by_name = Some(foreign);
    let wanted = Desired {
        adopt_existing: true,
        ..team()
    };
    let plan = plan(&wanted, &observed);
    assert_eq!(
        plan.actions,
        vec![
            Action::AdoptGroup {
                id: "foreign".into(),
                name: "team".into(),
                lost_create: false,
            },
            add("bob"),
            remove("carol"),
            set_role("p1", ProjectRole::Admin),
            set_role("p2", ProjectRole::Viewer),
            Action::RemoveProjectRole {
                project: "p3".into()
            },
        ]
    );
    assert_eq!(plan.group_id.as_deref(), Some("foreign"));
    assert!(
        plan.drift.is_empty(),
        "adoption is not drift: {:?}",
        plan.drift
    );
    // alice was already a member: not added by us, so not managed.
    assert_eq!(plan.managed_members, names(&["bob"]));
}

#[test]
fn lost_create_is_recovered_when_the_group_carries_what_it_sent() {
    let mut observed = platform();
    let mut ours = platform_group("lost", "team");
    ours.member_ids = names(&["uid-alice", "uid-bob"]);
    observed.create_record = Some(record_for(&ours));
    observed.group_by_name = Some(ours);
    let plan = plan(&team(), &observed);
    assert!(plan.conflict.is_none());
    assert_eq!(
        plan.actions[0],
        Action::AdoptGroup {
            id: "lost".into(),
            name: "team".into(),
            lost_create: true,
        }
    );
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| matches!(a, Action::CreateGroup { .. })),
        "no duplicate create"
    );
}

#[test]
fn a_create_record_never_takes_a_group_that_differs_from_what_it_sent() {
    // A hand-made group with the name, and a create of ours whose answer was lost: the group
    // does not carry what we sent, so it is not ours, whatever the record says.
    let mut observed = platform();
    let mut theirs = platform_group("hand-made", "team");
    theirs.member_ids = names(&["uid-bob"]);
    observed.group_by_name = Some(theirs);
    for pending in [
        record_elsewhere(),
        // A record from an older version (a bare timestamp) proves nothing.
        Standing::Unproven,
    ] {
        observed.create_record = Some(pending);
        let plan = plan(&team(), &observed);
        assert!(plan.actions.is_empty(), "{:?}", plan.actions);
        let conflict = plan.conflict.expect("a conflict");
        assert_eq!(conflict.reason(), Reason::AlreadyExists);
        let message = conflict.message();
        assert!(
            message.contains("outcome of this resource's earlier create request is unknown"),
            "{message}"
        );
        assert!(message.contains("spec.adoptExisting: true"), "{message}");
        assert!(message.contains("hand-made"), "names the group: {message}");
    }
}

#[test]
fn create_record_that_never_happened_is_created() {
    let mut observed = platform();
    observed.create_record = Some(record_elsewhere());
    let plan = plan(&team(), &observed);
    assert!(matches!(plan.actions[0], Action::CreateGroup { .. }));
}

#[test]
fn rival_owner_blocks_everything() {
    let mut observed = platform();
    observed.group_by_name = Some(platform_group("theirs", "team"));
    observed.rival_owner = Some("ns/older".into());
    observed.create_record = Some(record_for(&platform_group("theirs", "team")));
    observed.managed_members = names(&["zed"]);
    let wanted = Desired {
        adopt_existing: true,
        ..team()
    };
    let plan = plan(&wanted, &observed);
    assert!(plan.actions.is_empty());
    let conflict = plan.conflict.clone().expect("a conflict");
    assert_eq!(conflict.reason(), Reason::NameConflict);
    assert!(conflict.message().contains("ns/older"));
    assert_eq!(plan.managed_members, names(&["zed"]), "status kept as is");
    assert!(!plan.is_converged());
}

#[test]
fn authoritative_removes_every_undeclared_member_even_unknown_ones() {
    let mut observed = team_in_sync();
    edit_group(&mut observed, |g| {
        g.member_ids.insert("uid-carol".into());
        g.member_ids.insert("uid-deleted-user".into());
    });
    let plan = plan(&team(), &observed);
    assert_eq!(
        plan.actions,
        vec![
            remove("carol"),
            Action::RemoveMember {
                username: "uid-deleted-user".into(),
                user_id: "uid-deleted-user".into()
            },
        ]
    );
    assert!(
        plan.drift
            .contains(&"carol was added to the group outside Kubernetes".to_owned())
    );
}

#[test]
fn additive_never_removes() {
    let mut observed = team_in_sync();
    edit_group(&mut observed, |g| {
        g.member_ids.insert("uid-carol".into());
    });
    let wanted = Desired {
        members_policy: MembersPolicy::Additive,
        members: names(&["alice"]),
        ..team()
    };
    let plan = plan(&wanted, &observed);
    assert!(plan.actions.is_empty(), "{plan:?}");
    // bob left the spec; Additive keeps him, still recorded as added by this resource.
    assert_eq!(plan.managed_members, names(&["alice", "bob"]));
}

#[test]
fn managed_only_removes_only_members_this_resource_added() {
    let mut observed = team_in_sync();
    // carol was added by someone else; bob was added by us.
    edit_group(&mut observed, |g| {
        g.member_ids.insert("uid-carol".into());
    });
    let wanted = Desired {
        members_policy: MembersPolicy::ManagedOnly,
        members: names(&["alice"]),
        ..team()
    };
    let plan = plan(&wanted, &observed);
    assert_eq!(plan.actions, vec![remove("bob")]);
    assert_eq!(plan.managed_members, names(&["alice"]));
}

#[test]
fn managed_only_keeps_members_present_before_they_were_declared() {
    let mut observed = team_in_sync();
    observed.managed_members = names(&["alice"]); // bob was already there when adopted
    let wanted = Desired {
        members_policy: MembersPolicy::ManagedOnly,
        members: names(&["carol"]),
        ..team()
    };
    let plan = plan(&wanted, &observed);
    assert_eq!(plan.actions, vec![add("carol"), remove("alice")]);
    assert_eq!(plan.managed_members, names(&["carol"]));
}

#[test]
fn managed_member_removed_outside_is_added_back_and_stays_managed() {
    let mut observed = team_in_sync();
    edit_group(&mut observed, |g| {
        g.member_ids.remove("uid-bob");
    });
    let plan = plan(&team(), &observed);
    assert_eq!(plan.actions, vec![add("bob")]);
    assert_eq!(plan.managed_members, names(&["alice", "bob"]));
    assert_eq!(plan.drift, vec!["member bob was missing from the group"]);
}

#[test]
fn unset_attributes_are_left_alone() {
    let mut observed = team_in_sync();
    edit_group(&mut observed, |g| {
        g.description = Some("written by hand".into());
        g.gid = 9999;
        g.assigned_policies = names(&["Data", "Application Admin"]);
    });
    assert!(plan(&team(), &observed).is_converged());
}

#[test]
fn declared_attributes_are_corrected_in_one_update() {
    let mut observed = team_in_sync();
    edit_group(&mut observed, |g| {
        g.description = Some("written by hand".into());
        g.gid = 9999;
        g.assigned_policies = names(&["Data", "Application Admin"]);
    });
    let wanted = Desired {
        description: Some("Data team".into()),
        gid: Some(7001),
        assigned_policies: Some(BTreeSet::new()),
        ..team()
    };
    let plan = plan(&wanted, &observed);
    assert_eq!(
        plan.actions,
        vec![Action::UpdateGroup(GroupUpdate {
            name: None,
            description: Some("Data team".into()),
            gid: Some(7001),
            assigned_policies: Some(BTreeSet::new()),
        })]
    );
    assert_eq!(plan.drift.len(), 3);
}

#[test]
fn empty_description_equals_no_description() {
    let wanted = Desired {
        description: Some(String::new()),
        ..team()
    };
    assert!(plan(&wanted, &team_in_sync()).is_converged());
}

#[test]
fn roles_are_set_changed_and_removed_as_the_spec_says() {
    let mut observed = team_in_sync();
    edit_group(&mut observed, |g| {
        g.project_roles.insert("p1".into(), ProjectRole::Viewer);
        g.project_roles.remove("p2");
        g.project_roles.insert("p3".into(), ProjectRole::Editor);
    });
    let plan = plan(&team(), &observed);
    assert_eq!(
        plan.actions,
        vec![
            set_role("p1", ProjectRole::Admin),
            set_role("p2", ProjectRole::Viewer),
            Action::RemoveProjectRole {
                project: "p3".into()
            },
        ]
    );
    assert_eq!(
        plan.drift,
        vec![
            "the group's role in project p1 was changed to Viewer outside Kubernetes",
            "the group's role in project p2 was removed outside Kubernetes",
            "the group was given role Editor in project p3 outside Kubernetes",
        ]
    );
}

#[test]
fn missing_users_and_projects_are_reported_while_the_rest_is_applied() {
    let wanted = Desired {
        members: names(&["alice", "ghost"]),
        project_roles: BTreeMap::from([
            ("p1".to_owned(), ProjectRole::Editor),
            ("nowhere".to_owned(), ProjectRole::Admin),
        ]),
        ..desired("team")
    };
    let observed = platform();
    let first = plan(&wanted, &observed);
    assert_eq!(first.missing_users, vec!["ghost"]);
    assert_eq!(first.missing_projects, vec!["nowhere"]);
    assert_eq!(
        first.actions,
        vec![
            Action::CreateGroup {
                name: "team".into(),
                description: None,
                gid: None,
                assigned_policies: BTreeSet::new(),
                members: directory(&["alice"]),
            },
            set_role("p1", ProjectRole::Editor),
        ]
    );
    assert!(!first.is_converged());

    // Nothing changes until the user and the project appear; then they are picked up without
    // any spec change.
    let mut after = apply(&observed, &first);
    let again = plan(&wanted, &after);
    assert!(again.actions.is_empty());
    assert_eq!(again.missing_users, vec!["ghost"]);

    after.users.insert("ghost".into(), user_id("ghost"));
    after.projects.insert("nowhere".into());
    let later = plan(&wanted, &after);
    assert_eq!(
        later.actions,
        vec![add("ghost"), set_role("nowhere", ProjectRole::Admin)]
    );
    assert!(apply(&after, &later).group_by_id.is_some());
    assert!(plan(&wanted, &apply(&after, &later)).is_converged());
}

#[test]
fn spec_changes_are_not_reported_as_drift() {
    let mut observed = team_in_sync();
    observed.spec_applied = false;
    let wanted = Desired {
        members: names(&["alice", "bob", "carol"]),
        ..team()
    };
    let plan = plan(&wanted, &observed);
    assert_eq!(plan.actions, vec![add("carol")]);
    assert!(plan.drift.is_empty());
}

#[test]
fn cleanup_removes_roles_then_deletes_the_owned_group() {
    let observed = team_in_sync();
    let actions = plan_cleanup(DeletionPolicy::Delete, &observed);
    assert_eq!(
        actions,
        vec![
            Action::RemoveProjectRole {
                project: "p1".into()
            },
            Action::RemoveProjectRole {
                project: "p2".into()
            },
            Action::DeleteGroup {
                id: "g1".into(),
                name: "team".into()
            },
        ]
    );
    let after = apply(
        &observed,
        &Plan {
            actions,
            ..Plan::default()
        },
    );
    assert!(after.group_by_id.is_none());
}

#[test]
fn cleanup_with_orphan_touches_nothing() {
    assert!(plan_cleanup(DeletionPolicy::Orphan, &team_in_sync()).is_empty());
}

#[test]
fn cleanup_of_a_group_already_gone_is_done() {
    let mut observed = team_in_sync();
    observed.group_by_id = None;
    assert!(plan_cleanup(DeletionPolicy::Delete, &observed).is_empty());
}

#[test]
fn cleanup_never_touches_a_group_this_resource_does_not_own() {
    // A conflict, AlreadyExists: no status id, a foreign group with the name.
    let mut observed = platform();
    observed.group_by_name = Some(platform_group("foreign", "team"));
    assert!(plan_cleanup(DeletionPolicy::Delete, &observed).is_empty());
    // A create of ours pending that did not make this group.
    observed.create_record = Some(record_elsewhere());
    assert!(plan_cleanup(DeletionPolicy::Delete, &observed).is_empty());
    // NameConflict, even with a create of ours pending that matches.
    observed.create_record = Some(record_for(&platform_group("foreign", "team")));
    observed.rival_owner = Some("ns/older".into());
    assert!(plan_cleanup(DeletionPolicy::Delete, &observed).is_empty());
}

#[test]
fn cleanup_deletes_the_group_of_a_lost_create() {
    let mut observed = platform();
    observed.create_record = Some(record_for(&platform_group("lost", "team")));
    observed.group_by_name = Some(platform_group("lost", "team"));
    assert_eq!(
        plan_cleanup(DeletionPolicy::Delete, &observed),
        vec![Action::DeleteGroup {
            id: "lost".into(),
            name: "team".into()
        }]
    );
}

#[test]
fn desired_state_is_read_from_the_resource() {
    let spec = GroupSpec {
        connection: None,
        group_name: None,
        description: Some("d".into()),
        gid: Some(5),
        assigned_policies: Some(vec![TenantPolicy::ItAdminReadOnly, TenantPolicy::Data]),
        members: vec!["bob".into(), "alice".into()],
        members_policy: MembersPolicy::ManagedOnly,
        project_roles: vec![ProjectRoleBinding {
            project: "p1".into(),
            role: ProjectRole::Editor,
        }],
        deletion_policy: DeletionPolicy::Orphan,
        adopt_existing: true,
        management_policy: Default::default(),
        temporary_members: vec![TemporaryMember {
            name: "carol".into(),
            expires: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2026-05-04T18:00:00+02:00".parse().unwrap(),
            ),
            reason: Some("on call".into()),
        }],
    };
    let wanted = Desired::from_group(&Group::new("from-metadata", spec));
    assert_eq!(
        wanted.temporary_members["carol"],
        TemporaryEntry {
            expires: "2026-05-04T16:00:00Z".parse().unwrap(),
            reason: Some("on call".into()),
        }
    );
    assert_eq!(
        wanted.temporary_cap, None,
        "set by the driver from the grants"
    );
    assert_eq!(wanted.group_name, "from-metadata");
    assert_eq!(
        wanted.assigned_policies,
        Some(names(&["IT Admin Read Only", "Data"]))
    );
    assert_eq!(wanted.members, names(&["alice", "bob"]));
    assert_eq!(wanted.project_roles["p1"], ProjectRole::Editor);
    assert_eq!(wanted.members_policy, MembersPolicy::ManagedOnly);
    assert!(wanted.adopt_existing);
    assert_eq!(wanted.gid, Some(5));
}

#[test]
fn actions_read_as_plain_sentences() {
    let update = Action::UpdateGroup(GroupUpdate {
        description: Some("x".into()),
        assigned_policies: Some(BTreeSet::new()),
        ..GroupUpdate::default()
    });
    assert_eq!(
        update.to_string(),
        "Updated group attributes: description, assigned_policies"
    );
    assert_eq!(add("bob").to_string(), "Added member bob");
    assert_eq!(
        set_role("p1", ProjectRole::Viewer).to_string(),
        "Set role Viewer in project p1"
    );
}

#[test]
fn users_and_projects_reported_missing_that_appear_are_applied_without_drift() {
    let mut observed = team_in_sync();
    edit_group(&mut observed, |g| {
        g.member_ids.remove("uid-bob");
        g.project_roles.remove("p2");
    });
    observed.reported_missing_users = names(&["bob"]);
    observed.reported_missing_projects = names(&["p2"]);
    let plan = plan(&team(), &observed);
    assert_eq!(
        plan.actions,
        vec![add("bob"), set_role("p2", ProjectRole::Viewer)]
    );
    assert!(
        plan.drift.is_empty(),
        "the awaited pick-up is not drift: {:?}",
        plan.drift
    );
}

#[test]
fn a_plan_says_whether_it_creates() {
    let observed = platform();
    assert!(plan(&team(), &observed).creates());
    let mut existing = platform();
    existing.status_group_id = Some("g1".into());
    existing.group_by_id = Some(platform_group("g1", "team"));
    assert!(!plan(&team(), &existing).creates());
}
