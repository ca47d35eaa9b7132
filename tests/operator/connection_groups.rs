//! Groups on PlatformConnections, end to end on the real API server with two emulators: the
//! Group controller and the connection controller together, as the operator runs them.
//!
//! - Rejected credentials are never read as an answer: with the key revoked at the platform,
//!   Groups changed, created and deleted meanwhile write nothing there; once the Secret holds a
//!   valid key, every change and deletion lands, without a restart.
//! - A rotated Secret keeps every Group Ready (the old key revoked after the swap).
//! - Groups on two connections land each on its own platform; a Group whose grant stops listing
//!   its connection is NotGranted.
//! - A Group deleted while its connection's Secret is gone waits, Stalled with what to do, and
//!   goes once the Secret is back.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use igz_emulator::IssueAccessKey;
use igz_operator::crd::Group;
use igz_testkit::wait;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

use crate::support::connections::ConnectionHarness;
use crate::support::{condition, grants};

const GROUPS: usize = 100;

/// A key the emulator `n` accepts, issued now (so it can be revoked alone).
async fn issue(h: &ConnectionHarness, n: usize) -> String {
    h.admins[n]
        .issue_access_key(&IssueAccessKey::default())
        .await
        .key
}

/// Connection `short` on emulator `n`, its Secret holding `key`; waits until it is Connected.
async fn connect(h: &ConnectionHarness, short: &str, n: usize, key: &str) {
    let secret = format!("igz-{short}");
    h.apply_secret(&secret, &[("access-key", key)]).await;
    h.apply_connection(
        short,
        json!({"url": h.url(n), "secretRef": {"name": secret}}),
    )
    .await
    .expect("apply the connection");
    h.wait_reason(short, "Connected").await;
}

async fn apply(h: &ConnectionHarness, name: &str, short: &str, members: &[&str]) {
    apply_spec(
        h,
        name,
        json!({"connection": h.name(short), "members": members}),
    )
    .await;
}

/// Group `name` managing the platform group `group_name` on connection `short`.
async fn apply_named(
    h: &ConnectionHarness,
    name: &str,
    group_name: &str,
    short: &str,
    members: &[&str],
) {
    let spec = json!({"connection": h.name(short), "groupName": group_name, "members": members});
    apply_spec(h, name, spec).await;
}

async fn apply_spec(h: &ConnectionHarness, name: &str, spec: serde_json::Value) {
    let body = json!({
        "apiVersion": "igz-operator.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": name},
        "spec": spec,
    });
    h.groups
        .patch(
            name,
            &PatchParams::apply("kubectl").force(),
            &Patch::Apply(&body),
        )
        .await
        .unwrap_or_else(|e| panic!("apply Group {name}: {e}"));
}

/// Waits until every Group in the namespace satisfies `check` (and there are `count`).
async fn wait_all(h: &ConnectionHarness, what: &str, count: usize, check: impl Fn(&Group) -> bool) {
    wait::until(what, Duration::from_secs(180), || async {
        let groups = h
            .groups
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let failing: Vec<String> = groups
            .items
            .iter()
            .filter(|g| !check(g))
            .map(|g| {
                format!(
                    "{}: {:?}",
                    g.metadata.name.clone().unwrap_or_default(),
                    condition(g, "Ready")
                )
            })
            .take(3)
            .collect();
        if groups.items.len() == count && failing.is_empty() {
            Ok(())
        } else {
            Err(format!("{} Groups; e.g. {failing:?}", groups.items.len()))
        }
    })
    .await;
}

fn ready(g: &Group) -> bool {
    condition(g, "Ready").is_some_and(|c| c.0 == "True")
        && g.status.as_ref().and_then(|s| s.observed_generation) == g.metadata.generation
}

/// The platform's groups: name -> member usernames.
async fn platform(
    h: &ConnectionHarness,
    n: usize,
) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let state = h.admins[n].state().await;
    let username = |id: &serde_json::Value| {
        state
            .users
            .iter()
            .find(|u| &u["id"] == id)
            .and_then(|u| u["attributes"]["username"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    state
        .user_groups
        .iter()
        .filter(|g| g["attributes"]["name"] != "all_users")
        .map(|g| {
            let members = g["relationships"]["users"]["data"]
                .as_array()
                .map(|users| users.iter().map(|u| username(&u["id"])).collect())
                .unwrap_or_default();
            (
                g["attributes"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                members,
            )
        })
        .collect()
}

#[tokio::test]
async fn revoked_credentials_write_nothing_and_every_change_lands_once_the_secret_is_fixed() {
    let h = ConnectionHarness::start("conn-revoke", &["prod"]).await;
    let old_key = issue(&h, 0).await;
    connect(&h, "prod", 0, &old_key).await;
    let groups = h.start_groups();
    for i in 0..GROUPS {
        apply(&h, &format!("g{i:03}"), "prod", &["alice"]).await;
    }
    wait_all(&h, "100 Groups Ready", GROUPS, ready).await;

    let before = platform(&h, 0).await;
    let writes_before = h.admins[0].stats().await.writes_total;
    h.admins[0].revoke_access_key(&old_key).await;
    // Meanwhile: 10 changed, 5 created, 5 deleted.
    for i in 0..10 {
        apply(&h, &format!("g{i:03}"), "prod", &["alice", "bob"]).await;
    }
    for i in 0..5 {
        apply(&h, &format!("n{i:03}"), "prod", &["carol"]).await;
    }
    for i in 90..95 {
        h.groups
            .delete(&format!("g{i:03}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    // Every changed Group says its credentials were refused, and the connection too.
    h.wait_reason("prod", "CredentialsInvalid").await;
    wait::until(
        "the changed Groups report the refusal",
        Duration::from_secs(60),
        || async {
            let g = h.groups.get("g000").await.map_err(|e| e.to_string())?;
            let reason = condition(&g, "Ready").map(|c| c.1);
            (reason.as_deref() == Some("CredentialsInvalid"))
                .then_some(())
                .ok_or(format!("{reason:?}"))
        },
    )
    .await;
    let deleting = h
        .groups
        .get("g090")
        .await
        .expect("held by its finalizer while refused");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(
        h.admins[0].stats().await.writes_total,
        writes_before,
        "no write reached the platform while the key was refused"
    );
    assert_eq!(
        platform(&h, 0).await,
        before,
        "the platform is unchanged by the refusal"
    );

    let fixed = Instant::now();
    let new_key = issue(&h, 0).await;
    h.apply_secret("igz-prod", &[("access-key", &new_key)])
        .await;
    wait::until(
        "every change and deletion on the platform",
        Duration::from_secs(120),
        || async {
            let now = platform(&h, 0).await;
            let changed = (0..10).all(|i| {
                now.get(&format!("g{i:03}"))
                    .is_some_and(|m| m.contains("bob"))
            });
            let created = (0..5).all(|i| now.contains_key(&format!("n{i:03}")));
            let deleted = (90..95).all(|i| !now.contains_key(&format!("g{i:03}")));
            (changed && created && deleted)
                .then_some(())
                .ok_or("not yet".to_owned())
        },
    )
    .await;
    eprintln!(
        "every change landed {:?} after the Secret was fixed",
        fixed.elapsed()
    );
    wait_all(&h, "every Group Ready again", GROUPS, ready).await;
    groups.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_keeps_every_group_ready() {
    let h = ConnectionHarness::start("conn-rotate", &["prod"]).await;
    let old_key = issue(&h, 0).await;
    connect(&h, "prod", 0, &old_key).await;
    let groups = h.start_groups();
    for i in 0..10 {
        apply(&h, &format!("r{i}"), "prod", &["alice"]).await;
    }
    wait_all(&h, "10 Groups Ready", 10, ready).await;
    let new_key = issue(&h, 0).await;
    h.apply_secret("igz-prod", &[("access-key", &new_key)])
        .await;
    h.wait_for("prod", "the new Secret in use", |c| {
        c.status
            .as_ref()
            .and_then(|s| s.secret_resource_version.as_ref())
            .is_some()
            && crate::support::connections::ready(c).is_some_and(|r| r.1 == "Connected")
    })
    .await;
    h.admins[0].revoke_access_key(&old_key).await;
    // A change after the old key is gone lands with the new one.
    apply(&h, "r0", "prod", &["alice", "bob"]).await;
    wait::until(
        "r0's change on the platform",
        Duration::from_secs(60),
        || async {
            let now = platform(&h, 0).await;
            now.get("r0")
                .is_some_and(|m| m.contains("bob"))
                .then_some(())
                .ok_or("not yet".to_owned())
        },
    )
    .await;
    wait_all(&h, "every Group Ready", 10, ready).await;
    let refused: Vec<_> = h
        .groups
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|g| condition(g, "Synced").is_some_and(|c| c.0 != "True"))
        .collect();
    assert!(refused.is_empty(), "no Group failed through the rotation");
    groups.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn groups_on_two_connections_land_on_their_own_platform() {
    let h = ConnectionHarness::start("conn-two", &["a", "b"]).await;
    let (key_a, key_b) = (issue(&h, 0).await, issue(&h, 1).await);
    connect(&h, "a", 0, &key_a).await;
    connect(&h, "b", 1, &key_b).await;
    let groups = h.start_groups();
    apply(&h, "on-a", "a", &["alice"]).await;
    apply(&h, "on-b", "b", &["bob"]).await;
    // The same platform group name on the other connection is another group, not a rival.
    apply_named(&h, "twin-on-b", "on-a", "b", &["carol"]).await;
    wait_all(&h, "all three Ready", 3, ready).await;
    let (a, b) = (platform(&h, 0).await, platform(&h, 1).await);
    let members = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(a.keys().collect::<Vec<_>>(), ["on-a"], "{a:?}");
    assert_eq!(a["on-a"], members(&["alice"]), "{a:?}");
    assert_eq!(b.keys().collect::<Vec<_>>(), ["on-a", "on-b"], "{b:?}");
    assert_eq!(b["on-a"], members(&["carol"]), "{b:?}");

    // The grant stops listing connection b: its Group is refused at reconcile.
    let mut grant = grants::everything_in(&h.ns);
    grant.spec.connections = Some(vec![h.name("a")]);
    grants::apply_grant(&h.client, &grant).await;
    wait::until("on-b NotGranted", Duration::from_secs(60), || async {
        let g = h.groups.get("on-b").await.map_err(|e| e.to_string())?;
        let ready = condition(&g, "Ready");
        match &ready {
            Some((_, reason, message))
                if reason == "NotGranted" && message.contains(&h.name("b")) =>
            {
                Ok(())
            }
            _ => Err(format!("{ready:?}")),
        }
    })
    .await;
    groups.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn a_group_deleted_while_its_secret_is_gone_waits_saying_why_then_goes() {
    let h = ConnectionHarness::start("conn-gone", &["prod"]).await;
    let key = issue(&h, 0).await;
    connect(&h, "prod", 0, &key).await;
    let groups = h.start_groups();
    apply(&h, "held", "prod", &["alice"]).await;
    wait_all(&h, "Ready", 1, ready).await;
    h.secrets
        .delete("igz-prod", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_reason("prod", "SecretMissing").await;
    h.groups
        .delete("held", &DeleteParams::default())
        .await
        .unwrap();
    let stalled = wait::until(
        "held Stalled in deletion",
        Duration::from_secs(60),
        || async {
            let g = h.groups.get("held").await.map_err(|e| e.to_string())?;
            match condition(&g, "Stalled") {
                Some((status, reason, message))
                    if status == "True" && reason == "ConnectionUnavailable" =>
                {
                    Ok(message)
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert!(
        stalled.contains("igz-prod"),
        "the message names the Secret: {stalled}"
    );
    assert!(
        stalled.contains("deletionPolicy: Orphan"),
        "and the escape: {stalled}"
    );
    assert!(
        platform(&h, 0).await.contains_key("held"),
        "nothing was done meanwhile"
    );
    h.apply_secret("igz-prod", &[("access-key", &key)]).await;
    wait::until(
        "held gone, and its platform group",
        Duration::from_secs(60),
        || async {
            let gone = h
                .groups
                .get_opt("held")
                .await
                .map_err(|e| e.to_string())?
                .is_none();
            let deleted = !platform(&h, 0).await.contains_key("held");
            (gone && deleted).then_some(()).ok_or("not yet".to_owned())
        },
    )
    .await;
    groups.stop().await;
    h.stop().await;
}
