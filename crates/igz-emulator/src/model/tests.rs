use std::time::{Duration, Instant};

use super::*;

fn user(model: &mut Model, name: &str) -> Id {
    model
        .create_user(NewUser {
            username: name.into(),
            email: format!("{name}@x.io"),
            ..Default::default()
        })
        .expect("create user")
}

fn group(model: &mut Model, name: &str, members: Vec<Id>) -> Id {
    model
        .create_group(NewUserGroup {
            name: name.into(),
            members,
            ..Default::default()
        })
        .expect("create group")
}

#[test]
fn new_user_is_in_all_users() {
    let mut m = Model::new(Duration::ZERO);
    let u = user(&mut m, "alice");
    assert!(m.user(&u).unwrap().groups.contains(&m.all_users_id()));
    assert!(m.group(&m.all_users_id()).unwrap().members.contains(&u));
    m.check_invariants().unwrap();
}

#[test]
fn duplicate_names_and_gids_conflict() {
    let mut m = Model::new(Duration::ZERO);
    group(&mut m, "devs", vec![]);
    let dup = m.create_group(NewUserGroup {
        name: "devs".into(),
        ..Default::default()
    });
    assert_eq!(dup.unwrap_err().kind, ErrorKind::Conflict);
    m.create_group(NewUserGroup {
        name: "a".into(),
        gid: Some(5000),
        ..Default::default()
    })
    .unwrap();
    let dup_gid = m.create_group(NewUserGroup {
        name: "b".into(),
        gid: Some(5000),
        ..Default::default()
    });
    assert_eq!(dup_gid.unwrap_err().kind, ErrorKind::Conflict);
    user(&mut m, "bob");
    let dup_user = m.create_user(NewUser {
        username: "bob".into(),
        ..Default::default()
    });
    assert_eq!(dup_user.unwrap_err().kind, ErrorKind::Conflict);
    m.check_invariants().unwrap();
}

#[test]
fn auto_gids_skip_taken_ones() {
    let mut m = Model::new(Duration::ZERO);
    let all_gid = m.group(&m.all_users_id()).unwrap().gid;
    m.create_group(NewUserGroup {
        name: "x".into(),
        gid: Some(all_gid + 1),
        ..Default::default()
    })
    .unwrap();
    let auto = group(&mut m, "y", vec![]);
    assert_eq!(m.group(&auto).unwrap().gid, all_gid + 2);
}

#[test]
fn failed_create_changes_nothing() {
    let mut m = Model::new(Duration::ZERO);
    let err = m.create_group(NewUserGroup {
        name: "g".into(),
        members: vec![Uuid::new_v4()],
        ..Default::default()
    });
    assert_eq!(err.unwrap_err().kind, ErrorKind::NotFound);
    assert!(m.group_by_name("g").is_none());
    let bad_policy = m.create_group(NewUserGroup {
        name: "g".into(),
        assigned_policies: vec!["Root".into()],
        ..Default::default()
    });
    assert_eq!(bad_policy.unwrap_err().kind, ErrorKind::BadRequest);
}

#[test]
fn group_put_replaces_or_keeps_membership() {
    let mut m = Model::new(Duration::ZERO);
    let (a, b) = (user(&mut m, "a"), user(&mut m, "b"));
    let g = group(&mut m, "g", vec![a]);
    m.update_group(
        g,
        UserGroupPatch {
            description: Some("d".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m.group(&g).unwrap().members, [a].into());
    m.update_group(
        g,
        UserGroupPatch {
            members: Some(vec![b]),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m.group(&g).unwrap().members, [b].into());
    assert!(!m.user(&a).unwrap().groups.contains(&g));
    assert!(m.user(&b).unwrap().groups.contains(&g));
    m.check_invariants().unwrap();
}

#[test]
fn user_put_replaces_groups_but_keeps_all_users() {
    let mut m = Model::new(Duration::ZERO);
    let a = user(&mut m, "a");
    let (g1, g2) = (group(&mut m, "g1", vec![a]), group(&mut m, "g2", vec![]));
    m.update_user(
        a,
        UserPatch {
            groups: Some(vec![g2]),
            ..Default::default()
        },
    )
    .unwrap();
    let groups = &m.user(&a).unwrap().groups;
    assert!(groups.contains(&g2) && !groups.contains(&g1) && groups.contains(&m.all_users_id()));
    assert!(m.group(&g2).unwrap().members.contains(&a));
    m.check_invariants().unwrap();
}

#[test]
fn deleting_a_group_removes_every_reference() {
    let mut m = Model::new(Duration::ZERO);
    let a = user(&mut m, "a");
    let g = group(&mut m, "g", vec![a]);
    m.update_user(
        a,
        UserPatch {
            primary_group: Some(Some(g)),
            ..Default::default()
        },
    )
    .unwrap();
    let p = m
        .create_project(
            NewProject {
                name: "p".into(),
                ..Default::default()
            },
            Instant::now(),
        )
        .unwrap();
    let admin = m.project(&p).unwrap().roles[0];
    let update = RoleUpdate {
        role: admin,
        name: None,
        project: None,
        users: Some(vec![a]),
        groups: Some(vec![g]),
    };
    m.update_role(update).unwrap();
    m.delete_group(g).unwrap();
    assert!(!m.user(&a).unwrap().groups.contains(&g));
    assert_eq!(m.user(&a).unwrap().primary_group, None);
    assert!(m.role(&admin).unwrap().groups.is_empty());
    assert_eq!(m.delete_group(g).unwrap_err().kind, ErrorKind::NotFound);
    m.delete_user(a, Instant::now()).unwrap();
    assert!(m.role(&admin).unwrap().users.is_empty());
    m.check_invariants().unwrap();
}

#[test]
fn all_users_cannot_be_deleted_or_edited() {
    let mut m = Model::new(Duration::ZERO);
    user(&mut m, "member");
    let all = m.all_users_id();
    assert_eq!(m.delete_group(all).unwrap_err().kind, ErrorKind::Forbidden);
    let edit = m.update_group(
        all,
        UserGroupPatch {
            members: Some(vec![]),
            ..Default::default()
        },
    );
    assert_eq!(edit.unwrap_err().kind, ErrorKind::Forbidden);
}

#[test]
fn transactions_apply_when_the_job_completes() {
    let delay = Duration::from_millis(100);
    let mut m = Model::new(delay);
    let g = group(&mut m, "g", vec![]);
    let t0 = Instant::now();
    let p = m
        .create_project(
            NewProject {
                name: "p".into(),
                ..Default::default()
            },
            t0,
        )
        .unwrap();
    assert_eq!(m.project(&p).unwrap().operational_status, "creating");
    let editor = m.project(&p).unwrap().roles[1];
    let update = RoleUpdate {
        role: editor,
        name: Some(RoleName::Editor),
        project: Some(p),
        users: None,
        groups: Some(vec![g]),
    };
    let job = m.submit_transaction(&[p], vec![update], t0).unwrap();
    assert_eq!(m.job(&job).unwrap().state, JobState::InProgress);
    assert!(m.role(&editor).unwrap().groups.is_empty());
    m.advance(t0 + delay);
    assert_eq!(m.job(&job).unwrap().state, JobState::Completed);
    assert_eq!(m.project(&p).unwrap().operational_status, "online");
    assert_eq!(m.role(&editor).unwrap().groups, [g].into());
}

#[test]
fn a_group_deleted_while_a_transaction_is_pending_is_not_resurrected() {
    let delay = Duration::from_millis(100);
    let mut m = Model::new(delay);
    let g = group(&mut m, "g", vec![]);
    let t0 = Instant::now();
    let p = m
        .create_project(
            NewProject {
                name: "p".into(),
                ..Default::default()
            },
            t0,
        )
        .unwrap();
    let viewer = m.project(&p).unwrap().roles[2];
    let update = RoleUpdate {
        role: viewer,
        name: None,
        project: None,
        users: None,
        groups: Some(vec![g]),
    };
    m.submit_transaction(&[p], vec![update], t0).unwrap();
    m.delete_group(g).unwrap();
    m.advance(t0 + delay);
    assert!(m.role(&viewer).unwrap().groups.is_empty());
    m.check_invariants().unwrap();
}

#[test]
fn renaming_a_role_is_refused() {
    let mut m = Model::new(Duration::ZERO);
    let p = m
        .create_project(
            NewProject {
                name: "p".into(),
                ..Default::default()
            },
            Instant::now(),
        )
        .unwrap();
    let admin = m.project(&p).unwrap().roles[0];
    let update = RoleUpdate {
        role: admin,
        name: Some(RoleName::Viewer),
        project: None,
        users: None,
        groups: None,
    };
    assert_eq!(
        m.update_role(update).unwrap_err().kind,
        ErrorKind::BadRequest
    );
}

#[test]
fn login_checks_the_password() {
    let mut m = Model::new(Duration::ZERO);
    m.create_user(NewUser {
        username: "u".into(),
        password: Some("pw".into()),
        ..Default::default()
    })
    .unwrap();
    let now = Instant::now();
    let token = m.login("u", "pw", now).unwrap();
    assert_eq!(m.session_user(&token, now), Some("u"));
    assert_eq!(
        m.login("u", "nope", now).unwrap_err().kind,
        ErrorKind::Unauthorized
    );
    assert_eq!(
        m.login("ghost", "pw", now).unwrap_err().kind,
        ErrorKind::Unauthorized
    );
}

#[test]
fn sessions_end_after_their_ttl_or_when_expired_at_once() {
    let mut m = Model::new(Duration::ZERO);
    m.create_user(NewUser {
        username: "u".into(),
        password: Some("pw".into()),
        ..Default::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let secs = Duration::from_secs;
    let old = m.login("u", "pw", t0).unwrap();
    assert_eq!(
        m.session_user(&old, t0 + secs(3600)),
        Some("u"),
        "no ttl: no end"
    );
    // A ttl applies to sessions already started too.
    m.set_session_ttl(Some(secs(60)));
    assert_eq!(m.session_user(&old, t0 + secs(59)), Some("u"));
    assert_eq!(m.session_user(&old, t0 + secs(60)), None);
    let fresh = m.login("u", "pw", t0 + secs(60)).unwrap();
    assert_eq!(m.session_user(&fresh, t0 + secs(61)), Some("u"));
    assert_eq!(
        m.expire_sessions(),
        1,
        "the expired one was forgotten at login"
    );
    assert_eq!(m.session_user(&fresh, t0 + secs(61)), None);
}
