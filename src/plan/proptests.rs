//! Property tests: for any observed state, executing the plan reaches the spec, and planning
//! again finds nothing to do.

use super::testkit::*;
use super::*;
use proptest::collection::{btree_map, btree_set};
use proptest::prelude::*;
use proptest::sample::select;

const USERS: [&str; 5] = ["u0", "u1", "u2", "u3", "u4"];
const PROJECTS: [&str; 4] = ["p0", "p1", "p2", "p3"];
const POLICIES: [&str; 3] = ["Data", "Developer", "IT Admin"];
const NAME: &str = "team";

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    select(pool).prop_map(str::to_owned)
}

fn subset(pool: &'static [&'static str]) -> impl Strategy<Value = BTreeSet<String>> {
    btree_set(pick(pool), 0..=pool.len())
}

fn role() -> impl Strategy<Value = ProjectRole> {
    select(ProjectRole::ALL.to_vec())
}

fn members_policy() -> impl Strategy<Value = MembersPolicy> {
    select(vec![
        MembersPolicy::Authoritative,
        MembersPolicy::Additive,
        MembersPolicy::ManagedOnly,
    ])
}

pub(super) fn desired_state() -> impl Strategy<Value = Desired> {
    (
        proptest::option::of(pick(&["", "a", "b"])),
        proptest::option::of(select(vec![10_i64, 20])),
        proptest::option::of(subset(&POLICIES)),
        // "ghost" never exists; "u4" may or may not.
        subset(&["u0", "u1", "u2", "u4", "ghost"]),
        members_policy(),
        btree_map(pick(&["p0", "p1", "p2", "nowhere"]), role(), 0..4),
        any::<bool>(),
    )
        .prop_map(
            |(
                description,
                gid,
                assigned_policies,
                members,
                members_policy,
                project_roles,
                adopt,
            )| {
                Desired {
                    connection: "default".to_owned(),
                    group_name: NAME.to_owned(),
                    description,
                    gid,
                    assigned_policies,
                    members,
                    members_policy,
                    project_roles,
                    adopt_existing: adopt,
                    temporary_members: BTreeMap::new(),
                    temporary_cap: None,
                }
            },
        )
}

/// A platform group; member ids may belong to users the directory no longer knows, and roles
/// may name projects that are filtered out later.
fn platform_group_state(
    id: &'static str,
    name: BoxedStrategy<String>,
) -> impl Strategy<Value = PlatformGroup> {
    (
        name,
        proptest::option::of(pick(&["", "a", "b"])),
        select(vec![10_i64, 20, AUTO_GID]),
        subset(&POLICIES),
        subset(&USERS),
        btree_map(pick(&PROJECTS), role(), 0..4),
    )
        .prop_map(
            move |(name, description, gid, assigned_policies, members, project_roles)| {
                PlatformGroup {
                    id: id.to_owned(),
                    name,
                    description,
                    gid,
                    assigned_policies,
                    member_ids: members.iter().map(|u| user_id(u)).collect(),
                    project_roles,
                }
            },
        )
}

pub(super) fn observed_state() -> impl Strategy<Value = Observed> {
    let owned_name = pick(&[NAME, NAME, "renamed"]).boxed();
    (
        (
            proptest::option::of(platform_group_state("g1", owned_name)),
            proptest::option::of(platform_group_state("g2", Just(NAME.to_owned()).boxed())),
            any::<bool>(), // status.groupId set
            0..4_u8,       // create record: none, made the group by name, sent other, unproven
            any::<bool>(), // spec applied
        ),
        subset(&USERS),
        subset(&USERS),
        subset(&PROJECTS),
        proptest::option::weighted(0.1, Just("ns/rival".to_owned())),
        (subset(&USERS), subset(&PROJECTS)),
    )
        .prop_map(
            |(
                (by_id, by_name, has_status_id, record_kind, spec_applied),
                users,
                managed,
                projects,
                rival,
                (reported_missing_users, reported_missing_projects),
            )| {
                let users: Vec<&str> = users.iter().map(String::as_str).collect();
                let keep_existing_projects = |mut group: PlatformGroup| {
                    group.project_roles.retain(|p, _| projects.contains(p));
                    group
                };
                let by_id = by_id.filter(|_| has_status_id).map(keep_existing_projects);
                // Names are unique on the platform: when the owned group carries the name, it is
                // also the group found by name.
                let by_name = match &by_id {
                    Some(owned) if owned.name == NAME => Some(owned.clone()),
                    _ => by_name.map(keep_existing_projects),
                };
                let create_record = match (record_kind, &by_name) {
                    (1, Some(group)) => Some(record_for(group)),
                    (1 | 2, _) => Some(record_elsewhere()),
                    (3, _) => Some(Standing::Unproven),
                    _ => None,
                };
                Observed {
                    status_group_id: has_status_id.then(|| "g1".to_owned()),
                    create_record,
                    spec_applied,
                    managed_members: managed,
                    group_by_id: by_id,
                    group_by_name: by_name,
                    rival_owner: rival,
                    users: directory(&users),
                    projects: projects.clone(),
                    reported_missing_users,
                    reported_missing_projects,
                    ..Observed::default()
                }
            },
        )
}

fn owned(observed: &Observed) -> Option<&PlatformGroup> {
    observed.owned_group()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn executing_the_plan_converges(desired in desired_state(), observed in observed_state()) {
        let first = plan(&desired, &observed);
        let after = apply(&observed, &first);
        let second = plan(&desired, &after);
        prop_assert!(second.actions.is_empty(), "not converged: {:?}", second.actions);
        prop_assert!(second.drift.is_empty(), "drift after convergence: {:?}", second.drift);
        prop_assert_eq!(&second.conflict, &first.conflict);
        prop_assert_eq!(&second.missing_users, &first.missing_users);
        prop_assert_eq!(&second.missing_projects, &first.missing_projects);
        prop_assert_eq!(&second.managed_members, &first.managed_members);
    }

    #[test]
    fn executing_the_plan_reaches_the_spec(desired in desired_state(), observed in observed_state()) {
        let plan = plan(&desired, &observed);
        prop_assume!(plan.conflict.is_none());
        let after = apply(&observed, &plan);
        let group = owned(&after).expect("an owned group after executing the plan");
        prop_assert_eq!(&group.name, &desired.group_name);
        if let Some(description) = &desired.description {
            prop_assert_eq!(group.description.as_deref().unwrap_or_default(), description.as_str());
        }
        if let Some(gid) = desired.gid {
            prop_assert_eq!(group.gid, gid);
        }
        let created = matches!(plan.actions.first(), Some(Action::CreateGroup { .. }));
        match (&desired.assigned_policies, created) {
            (Some(policies), _) => prop_assert_eq!(&group.assigned_policies, policies),
            (None, true) => prop_assert!(group.assigned_policies.is_empty(), "default policies granted"),
            (None, false) => {}
        }

        let wanted_ids: BTreeSet<String> = desired
            .members
            .iter()
            .filter_map(|u| after.users.get(u).cloned())
            .collect();
        prop_assert!(wanted_ids.is_subset(&group.member_ids));
        let before_ids = observed_target(&observed, &plan).map(|g| g.member_ids.clone()).unwrap_or_default();
        match desired.members_policy {
            MembersPolicy::Authoritative => prop_assert_eq!(&group.member_ids, &wanted_ids),
            MembersPolicy::Additive => prop_assert!(before_ids.is_subset(&group.member_ids)),
            MembersPolicy::ManagedOnly => {
                for id in before_ids.difference(&group.member_ids) {
                    let username = after.users.iter().find(|(_, uid)| *uid == id).map(|(u, _)| u);
                    prop_assert!(username.is_some_and(|u| observed.managed_members.contains(u)),
                        "removed non-managed member {}", id);
                }
            }
        }
        // Every managed member really is a member.
        for username in &plan.managed_members {
            prop_assert!(after.users.get(username).is_some_and(|id| group.member_ids.contains(id)));
        }

        let expected_roles: BTreeMap<String, ProjectRole> = desired
            .project_roles
            .iter()
            .filter(|(p, _)| observed.projects.contains(*p))
            .map(|(p, r)| (p.clone(), *r))
            .collect();
        prop_assert_eq!(&group.project_roles, &expected_roles);
    }

    #[test]
    fn additive_never_removes(desired in desired_state(), observed in observed_state()) {
        let desired = Desired { members_policy: MembersPolicy::Additive, ..desired };
        let plan = plan(&desired, &observed);
        let removes = plan.actions.iter().any(|a| matches!(a, Action::RemoveMember { .. }));
        prop_assert!(!removes, "{:?}", plan.actions);
    }

    #[test]
    fn managed_only_removes_only_managed_members(desired in desired_state(), observed in observed_state()) {
        let desired = Desired { members_policy: MembersPolicy::ManagedOnly, ..desired };
        for action in plan(&desired, &observed).actions {
            if let Action::RemoveMember { username, .. } = action {
                prop_assert!(observed.managed_members.contains(&username), "removed {}", username);
            }
        }
    }

    #[test]
    fn blocked_plans_change_nothing(desired in desired_state(), observed in observed_state()) {
        let plan = plan(&desired, &observed);
        if plan.conflict.is_some() {
            prop_assert!(plan.actions.is_empty());
            prop_assert_eq!(&plan.managed_members, &observed.managed_members);
        }
        if observed.rival_owner.is_some() {
            prop_assert!(plan.conflict.is_some());
        }
    }

    #[test]
    fn a_group_found_by_name_is_taken_only_when_asked_or_provably_ours(
        desired in desired_state(),
        observed in observed_state(),
    ) {
        let plan = plan(&desired, &observed);
        for action in &plan.actions {
            if let Action::AdoptGroup { id, .. } = action {
                let group = observed.group_by_name.as_ref().expect("adopted a group seen by name");
                prop_assert_eq!(&group.id, id);
                let ours = observed.create_record.as_ref().is_some_and(|p| p.proves(group));
                prop_assert!(desired.adopt_existing || ours, "took over {} unasked", id);
            }
        }
    }

    #[test]
    fn planning_is_deterministic(desired in desired_state(), observed in observed_state()) {
        prop_assert_eq!(plan(&desired, &observed), plan(&desired, &observed));
    }

    #[test]
    fn a_platform_equal_to_the_spec_yields_an_empty_plan(desired in desired_state(), managed in subset(&USERS)) {
        let everyone: Vec<&str> = desired.members.iter().map(String::as_str).collect();
        let mut group = platform_group("g1", &desired.group_name);
        group.description = desired.description.clone();
        group.gid = desired.gid.unwrap_or(AUTO_GID);
        group.assigned_policies = desired.assigned_policies.clone().unwrap_or_default();
        group.member_ids = desired.members.iter().map(|u| user_id(u)).collect();
        group.project_roles = desired.project_roles.clone();
        let observed = Observed {
            users: directory(&everyone),
            projects: desired.project_roles.keys().cloned().collect(),
            managed_members: managed,
            ..owning(group)
        };
        let plan = plan(&desired, &observed);
        prop_assert!(plan.is_converged(), "{:?}", plan);
        prop_assert!(plan.drift.is_empty());
    }

    #[test]
    fn cleanup_deletes_only_the_owned_group(observed in observed_state(), orphan in any::<bool>()) {
        let policy = if orphan { DeletionPolicy::Orphan } else { DeletionPolicy::Delete };
        let actions = plan_cleanup(policy, &observed);
        if orphan {
            prop_assert!(actions.is_empty());
            return Ok(());
        }
        match actions.last() {
            Some(Action::DeleteGroup { id, .. }) => {
                let by_status = observed.status_group_id.as_ref() == Some(id);
                let lost_create = observed.status_group_id.is_none()
                    && observed.rival_owner.is_none()
                    && observed.group_by_name.as_ref().is_some_and(|g| {
                        &g.id == id && observed.create_record.as_ref().is_some_and(|p| p.proves(g))
                    });
                prop_assert!(by_status || lost_create, "deleted {} which this resource does not own", id);
                let group = [&observed.group_by_id, &observed.group_by_name]
                    .into_iter()
                    .flatten()
                    .find(|g| &g.id == id)
                    .expect("deleting an observed group");
                let removed: BTreeSet<&String> = actions.iter().filter_map(|a| match a {
                    Action::RemoveProjectRole { project } => Some(project),
                    _ => None,
                }).collect();
                prop_assert_eq!(removed, group.project_roles.keys().collect::<BTreeSet<_>>());
            }
            None => {
                prop_assert!(owned(&observed).is_none());
                let lost_create = observed.status_group_id.is_none()
                    && observed.rival_owner.is_none()
                    && observed.group_by_name.as_ref().is_some_and(|g| {
                        observed.create_record.as_ref().is_some_and(|p| p.proves(g))
                    });
                prop_assert!(!lost_create, "the group of our lost create was left behind");
            }
            Some(other) => prop_assert!(false, "cleanup must end with a delete, got {:?}", other),
        }
    }
}

/// The existing group the plan works on (owned, or adopted by name), before execution.
fn observed_target<'a>(observed: &'a Observed, plan: &Plan) -> Option<&'a PlatformGroup> {
    let id = plan.group_id.as_ref()?;
    [&observed.group_by_id, &observed.group_by_name]
        .into_iter()
        .flatten()
        .find(|g| &g.id == id)
}
