//! A 60 s outage of the management API (every request answered 500/503): the operator keeps
//! its requests to the stated bound while it is down, reports it, and afterwards completes
//! what was asked meanwhile: a deletion, and a change of another Group. The outage is the
//! emulator's certain error rate for 60 s of wall time; every wait polls for its condition.

use std::time::{Duration, Instant};

use igz_mgmt::BreakerPolicy;
use igz_testkit::wait;
use serde_json::json;

use crate::support::{ACCESS_KEY, Harness, Operator, condition, errors};

const GROUPS: usize = 6;
const OUTAGE: Duration = Duration::from_secs(60);
/// The breaker used here: probes at least a second apart.
const BREAKER: BreakerPolicy = BreakerPolicy {
    threshold: 5,
    min_pause: Duration::from_secs(1),
    max_pause: Duration::from_secs(5),
};
/// Requests the platform may see during the outage, whatever the timing: the failures that
/// open the breaker, the requests already on the wire then (at most `max_in_flight`, 8), and one
/// probe per pause of at least `min_pause`.
const BOUND: u64 =
    BREAKER.threshold as u64 + 8 + OUTAGE.as_secs() / BREAKER.min_pause.as_secs() + 1;

fn spec(i: usize, extra: Option<&str>) -> serde_json::Value {
    let mut members = vec![format!("user{i}"), format!("user{}", (i + 1) % GROUPS)];
    members.extend(extra.map(str::to_owned));
    let role = ["Admin", "Editor", "Viewer"][i % 3];
    json!({
        "members": members,
        "projectRoles": [
            {"project": "proj-a", "role": role},
            {"project": "proj-b", "role": "Viewer"},
        ],
    })
}

#[tokio::test]
async fn a_deletion_requested_during_a_60s_outage_completes_after_it() {
    let users: Vec<String> = (0..GROUPS)
        .map(|i| format!("user{i}"))
        .chain(["late".into()])
        .collect();
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    let mut h = Harness::without_operator("e2e-outage60", &users, &["proj-a", "proj-b"]).await;
    h.operator = Some(Operator::start_tuned(
        &h.client,
        &h.ns,
        &h.emulator.base_url(),
        ACCESS_KEY,
        |_| {},
        |config| config.breaker = BREAKER,
    ));
    for i in 0..GROUPS {
        h.apply(&format!("g{i}"), spec(i, None)).await.unwrap();
    }
    for i in 0..GROUPS {
        h.wait_ready(&format!("g{i}")).await;
    }
    let gone_id = h.platform_group("g0").await.unwrap().id;

    // Down.
    let before = h.admin.stats().await.requests_total;
    h.faults(errors(1.0)).await;
    let down = Instant::now();
    h.delete("g0").await;
    h.apply("g1", spec(1, Some("late"))).await.unwrap();
    let g0 = h.wait_reason("g0", "ApiUnavailable").await;
    assert!(g0.metadata.deletion_timestamp.is_some());
    h.wait_reason("g1", "ApiUnavailable").await;
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    // Still there at the end of the outage: the finalizer waits for the platform.
    let g0 = h.groups.get("g0").await.expect("g0 still exists");
    assert!(condition(&g0, "Ready").is_some_and(|c| c.1 == "ApiUnavailable"));
    let sent = h.admin.stats().await.requests_total - before;
    assert!(
        sent <= BOUND,
        "{sent} requests reached the platform during the outage; the bound is {BOUND}"
    );

    // Back.
    h.faults(errors(0.0)).await;
    h.wait_gone("g0").await;
    assert!(
        h.platform.get_group(&gone_id).await.unwrap().is_none(),
        "deleted on the platform"
    );
    let g1 = h
        .wait_for("g1", "Ready with the member added in the outage", |g| {
            g.status.as_ref().and_then(|s| s.observed_generation) == g.metadata.generation
                && condition(g, "Ready").is_some_and(|c| c.0 == "True")
        })
        .await;
    let id = g1.status.unwrap().group_id.unwrap();
    let group = h.platform.get_group(&id).await.unwrap().unwrap();
    assert_eq!(h.member_names(&group).await, ["late", "user1", "user2"]);
    for i in 1..GROUPS {
        h.wait_ready(&format!("g{i}")).await;
    }
    // Exactly the remaining groups, each in its roles.
    let projects = h.platform.list_projects().await.unwrap();
    wait::until(
        "no role left for the deleted group",
        wait::DEFAULT_DEADLINE,
        || async {
            let projects = h
                .platform
                .list_projects()
                .await
                .map_err(|e| e.to_string())?;
            match projects.iter().find(|p| p.group_role(&gone_id).is_some()) {
                Some(p) => Err(format!("still in {}", p.name)),
                None => Ok(()),
            }
        },
    )
    .await;
    for i in 1..GROUPS {
        let group = h.platform_group(&format!("g{i}")).await.unwrap();
        let role = |name: &str| {
            projects
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.group_role(&group.id))
                .map(|r| r.to_string())
        };
        assert_eq!(
            role("proj-a").as_deref(),
            Some(["Admin", "Editor", "Viewer"][i % 3])
        );
        assert_eq!(role("proj-b").as_deref(), Some("Viewer"));
    }
    assert_eq!(h.platform_groups_named("g0").await, 0);
    h.stop().await;
}
