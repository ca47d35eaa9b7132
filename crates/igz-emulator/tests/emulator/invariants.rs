//! Invariants under concurrent load: membership symmetry, unique group names, and no reference
//! to a deleted group, whatever the interleaving of parallel requests.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Emu, ids, start};

const USERS: usize = 12;
const GROUP_NAMES: usize = 6;
const WORKERS: usize = 12;
const OPS_PER_WORKER: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_name_one_group_under_parallel_creates() {
    let emu = Arc::new(start().await);
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let emu = emu.clone();
            tokio::spawn(async move { emu.create_group("contested", &[]).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT)
    );
    let (_, list) = emu
        .send(emu.api(Method::GET, "user_groups?filter[name]=contested"))
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

/// One random write against the shared pool of users, group names and projects. The choices
/// come from each worker's seeded generator, so a failing mix can be replayed; the
/// interleaving of the workers is what varies, and the invariants must hold for any.
async fn random_op(
    emu: &Emu,
    rng: &mut StdRng,
    users: &[String],
    projects: &[(String, Vec<String>)],
) {
    let (op, name, picks, project, role) = {
        let name = format!("g{}", rng.random_range(0..GROUP_NAMES));
        let picks: Vec<String> = users
            .iter()
            .filter(|_| rng.random_bool(0.4))
            .cloned()
            .collect();
        let project = &projects[rng.random_range(0..projects.len())];
        (
            rng.random_range(0..5),
            name,
            picks,
            project.clone(),
            rng.random_range(0..3usize),
        )
    };
    let group_id = |list: Value| list["data"][0]["id"].as_str().map(str::to_owned);
    match op {
        0 => {
            emu.create_group(&name, &picks).await;
        }
        1 => {
            let (_, list) = emu
                .send(emu.api(Method::GET, &format!("user_groups?filter[name]={name}")))
                .await;
            if let Some(id) = group_id(list) {
                emu.send(emu.api(Method::DELETE, &format!("user_groups/{id}")))
                    .await;
            }
        }
        2 => {
            let (_, list) = emu
                .send(emu.api(Method::GET, &format!("user_groups?filter[name]={name}")))
                .await;
            if let Some(id) = group_id(list) {
                let body = Emu::group_body(&name, &picks);
                emu.send(
                    emu.api(Method::PUT, &format!("user_groups/{id}"))
                        .json(&body),
                )
                .await;
            }
        }
        3 => {
            // The SDK's add/remove: replace one user's whole group list.
            let (_, groups) = emu.send(emu.api(Method::GET, "user_groups")).await;
            let chosen: Vec<Value> = groups["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["attributes"]["name"] != "all_users" && rng.random_bool(0.5))
                .map(|g| json!({"type": "user_group", "id": g["id"]}))
                .collect();
            let user = &users[rng.random_range(0..users.len())];
            let body = json!({"data": {"type": "user", "attributes": {},
                "relationships": {"user_groups": {"data": chosen}}}});
            emu.send(emu.api(Method::PUT, &format!("users/{user}")).json(&body))
                .await;
        }
        _ => {
            // Put the group (if it exists) in one role of a project, out of the other two.
            let (_, list) = emu
                .send(emu.api(Method::GET, &format!("user_groups?filter[name]={name}")))
                .await;
            if let Some(id) = group_id(list) {
                let (pid, roles) = project;
                let requests: Vec<Value> = roles
                    .iter()
                    .enumerate()
                    .map(|(i, rid)| {
                        let groups = if i == role { vec![json!({"type": "user_group", "id": id})] } else { vec![] };
                        json!({"method": "put", "resource": format!("project_authorization_roles/{rid}"),
                            "body": {"data": {"type": "project_authorization_role", "attributes": {},
                                "relationships": {"principal_user_groups": {"data": groups}}}}})
                    })
                    .collect();
                let body = json!({"data": {"attributes": {
                    "metadata": {"project_ids": [pid], "notify_by_email": false}, "requests": requests}}});
                emu.send(emu.api(Method::POST, "async_transactions").json(&body))
                    .await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn membership_and_references_stay_consistent_under_load() {
    let emu = Arc::new(start().await);
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(emu.create_user(&format!("u{i}")).await);
    }
    let mut projects = Vec::new();
    for name in ["p1", "p2"] {
        let pid = emu.create_project(name).await;
        let (_, doc) = emu
            .send(emu.api(
                Method::GET,
                &format!("projects/{pid}?include=project_authorization_roles"),
            ))
            .await;
        projects.push((
            pid,
            ids(&doc["data"]["relationships"]["project_authorization_roles"]),
        ));
    }
    let (users, projects) = (Arc::new(users), Arc::new(projects));
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (emu, users, projects) = (emu.clone(), users.clone(), projects.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(worker as u64);
                for _ in 0..OPS_PER_WORKER {
                    random_op(&emu, &mut rng, &users, &projects).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }

    assert_eq!(emu.admin.state().await.invariants, "ok");
    check_through_the_api(&emu).await;
}

/// The same invariants, observed the way a client sees them.
async fn check_through_the_api(emu: &Emu) {
    let (_, groups) = emu
        .send(emu.api(Method::GET, "user_groups?include=users"))
        .await;
    let (_, users) = emu
        .send(emu.api(Method::GET, "users?include=user_groups"))
        .await;
    let groups = groups["data"].as_array().unwrap().clone();
    let names: Vec<&str> = groups
        .iter()
        .map(|g| g["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        names.iter().collect::<BTreeSet<_>>().len(),
        "duplicate group names: {names:?}"
    );

    let mut members_by_user_side: HashMap<String, BTreeSet<String>> = HashMap::new();
    for user in users["data"].as_array().unwrap() {
        for gid in ids(&user["relationships"]["user_groups"]) {
            members_by_user_side
                .entry(gid)
                .or_default()
                .insert(user["id"].as_str().unwrap().to_owned());
        }
    }
    let group_ids: BTreeSet<String> = groups
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        members_by_user_side.keys().all(|g| group_ids.contains(g)),
        "a user references a deleted group"
    );
    for group in &groups {
        let id = group["id"].as_str().unwrap();
        let from_group: BTreeSet<String> =
            ids(&group["relationships"]["users"]).into_iter().collect();
        assert_eq!(
            from_group,
            members_by_user_side.remove(id).unwrap_or_default(),
            "asymmetric {id}"
        );
    }

    let (_, roles) = emu
        .send(emu.api(Method::GET, "project_authorization_roles"))
        .await;
    for role in roles["data"].as_array().unwrap() {
        for gid in ids(&role["relationships"]["principal_user_groups"]) {
            assert!(
                group_ids.contains(&gid),
                "role {} references deleted group {gid}",
                role["id"]
            );
        }
    }
}
