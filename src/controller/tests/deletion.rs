//! A Group being deleted: cleaned up under Delete, left alone under Orphan, by policy or when it
//! is no longer granted what it did not create.

use serde_json::json;

use super::world::{NS, World, everything};
use crate::crd::{GroupOrigin, GroupStatus};

/// Creates `name` on the platform through the driver and returns the platform group's id.
async fn created(w: &World, name: &str, spec: serde_json::Value) -> String {
    w.apply(name, spec);
    w.reconcile(name).await.unwrap();
    w.group(name)
        .unwrap()
        .status
        .unwrap()
        .group_id
        .expect("created")
}

#[tokio::test]
async fn deletion_under_delete_removes_the_roles_and_the_group_then_lets_go() {
    let w = World::new(everything()).await;
    let spec =
        json!({"members": ["alice"], "projectRoles": [{"project": "default", "role": "Viewer"}]});
    let id = created(&w, "team", spec).await;
    w.kube.delete(NS, "team");
    w.reconcile("team").await.unwrap();
    assert!(
        w.group("team").is_none(),
        "the finalizer was removed and the Group is gone"
    );
    assert!(
        w.platform.get_group(&id).await.unwrap().is_none(),
        "the platform group is deleted"
    );
    w.wait_event("RoleRemoved", "default").await;
    w.wait_event("Deleted", "team").await;
}

#[tokio::test]
async fn deletion_under_orphan_leaves_the_platform_group_and_says_so() {
    let w = World::new(everything()).await;
    let id = created(
        &w,
        "kept",
        json!({"members": ["alice"], "deletionPolicy": "Orphan"}),
    )
    .await;
    let writes_before = w.platform_writes().await;
    w.kube.delete(NS, "kept");
    w.reconcile("kept").await.unwrap();
    assert!(w.group("kept").is_none());
    assert!(w.platform.get_group(&id).await.unwrap().is_some());
    assert_eq!(w.platform_writes().await, writes_before);
    w.wait_event("Orphaned", "deletionPolicy is Orphan").await;
}

/// No longer granted: deletion may still remove a group this resource created (that only takes
/// access away), never one it adopted.
#[tokio::test]
async fn an_ungranted_group_deletes_only_what_it_created() {
    let mut grant = everything();
    grant.group_name_pattern = Some("^nothing-matches$".into());
    let w = World::new(grant).await;
    for (name, origin) in [
        ("made", GroupOrigin::Created),
        ("taken", GroupOrigin::Adopted),
    ] {
        let platform = w
            .platform
            .create_group(&igz_mgmt::NewUserGroup {
                name: name.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut group = crate::crd::Group::new(name, Default::default());
        group.metadata.namespace = Some(NS.into());
        group.metadata.finalizers = Some(vec![crate::crd::FINALIZER.into()]);
        group.status = Some(GroupStatus {
            group_id: Some(platform.id.clone()),
            origin: Some(origin),
            ..Default::default()
        });
        w.kube.create(group);
        w.kube.delete(NS, name);
        w.reconcile(name).await.unwrap();
        assert!(w.group(name).is_none(), "{name}: let go");
        let left = w.platform.get_group(&platform.id).await.unwrap();
        assert_eq!(left.is_some(), origin == GroupOrigin::Adopted, "{name}");
    }
    w.wait_event("NotGranted", "did not create it").await;
}

/// A record that does not verify proves nothing on deletion either: the group with the name is
/// not deleted.
#[tokio::test]
async fn deletion_never_deletes_a_group_an_unproven_record_points_at() {
    let w = World::new(everything()).await;
    let theirs = w
        .platform
        .create_group(&igz_mgmt::NewUserGroup {
            name: "team".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut group = crate::crd::Group::new("team", Default::default());
    group.metadata.namespace = Some(NS.into());
    group.metadata.finalizers = Some(vec![crate::crd::FINALIZER.into()]);
    let sent = crate::create_record::Sent::of(&crate::plan::Action::CreateGroup {
        name: "team".into(),
        description: None,
        gid: None,
        assigned_policies: Default::default(),
        members: Default::default(),
    })
    .unwrap();
    let record = json!({"since": "2026-12-01T00:00:00Z", "sha256": sent.sha256, "mac": "00"});
    group.metadata.annotations = Some(
        [(
            crate::create_record::ANNOTATION.to_owned(),
            record.to_string(),
        )]
        .into(),
    );
    w.kube.create(group);
    w.kube.delete(NS, "team");
    w.reconcile("team").await.unwrap();
    assert!(w.group("team").is_none());
    assert!(
        w.platform.get_group(&theirs.id).await.unwrap().is_some(),
        "not deleted"
    );
}
