//! Which Group resource owns a platform group name when several name the same one on the same
//! connection (the same name on two connections is two platform groups, on two platforms).
//!
//! Rule: a resource whose status already holds a group id keeps it; otherwise the
//! oldest resource wins. Ties on creation time fall back to namespace/name, so every replica and
//! every reconcile agree without coordination.

use kube::ResourceExt;

use crate::crd::Group;

/// "namespace/name" of the resource that owns `me`'s platform group name, when it is not `me`.
pub fn rival_owner<'a>(me: &'a Group, all: impl IntoIterator<Item = &'a Group>) -> Option<String> {
    let owner = all
        .into_iter()
        .filter(|other| other.metadata.uid != me.metadata.uid && names_the_same_group(me, other))
        .chain(std::iter::once(me))
        .min_by_key(|g| ownership_key(g))?;
    (owner.metadata.uid != me.metadata.uid).then(|| key(owner))
}

/// Whether `a` and `b` name the same platform group: the same name on the same connection.
pub fn names_the_same_group(a: &Group, b: &Group) -> bool {
    a.effective_group_name() == b.effective_group_name()
        && a.connection_name() == b.connection_name()
}

fn ownership_key(group: &Group) -> (bool, Option<jiff::Timestamp>, String) {
    let holds_id = group.status.as_ref().is_some_and(|s| s.group_id.is_some());
    let created = group.metadata.creation_timestamp.as_ref().map(|t| t.0);
    (!holds_id, created, key(group))
}

fn key(group: &Group) -> String {
    format!(
        "{}/{}",
        group.namespace().unwrap_or_default(),
        group.name_any()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{GroupSpec, GroupStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn group(
        ns: &str,
        name: &str,
        group_name: Option<&str>,
        created_s: i64,
        id: Option<&str>,
    ) -> Group {
        let mut g = Group::new(
            name,
            GroupSpec {
                group_name: group_name.map(str::to_owned),
                ..Default::default()
            },
        );
        g.metadata.namespace = Some(ns.into());
        g.metadata.uid = Some(format!("uid-{ns}-{name}"));
        g.metadata.creation_timestamp =
            Some(Time(jiff::Timestamp::from_second(created_s).unwrap()));
        g.status = id.map(|id| GroupStatus {
            group_id: Some(id.into()),
            ..Default::default()
        });
        g
    }

    #[test]
    fn alone_means_no_rival() {
        let me = group("a", "x", None, 10, None);
        assert_eq!(rival_owner(&me, [&me]), None);
    }

    #[test]
    fn older_resource_wins_across_namespaces() {
        let old = group("a", "x", Some("team"), 10, None);
        let new = group("b", "y", Some("team"), 20, None);
        assert_eq!(rival_owner(&new, [&old, &new]), Some("a/x".into()));
        assert_eq!(rival_owner(&old, [&old, &new]), None);
    }

    #[test]
    fn default_name_counts_as_group_name() {
        let old = group("a", "team", None, 10, None);
        let new = group("b", "y", Some("team"), 20, None);
        assert_eq!(rival_owner(&new, [&old, &new]), Some("a/team".into()));
    }

    #[test]
    fn holder_of_the_id_keeps_it_even_when_younger() {
        let old = group("a", "x", Some("team"), 10, None);
        let holder = group("b", "y", Some("team"), 20, Some("g1"));
        assert_eq!(rival_owner(&old, [&old, &holder]), Some("b/y".into()));
        assert_eq!(rival_owner(&holder, [&old, &holder]), None);
    }

    #[test]
    fn different_names_never_conflict() {
        let a = group("a", "x", Some("one"), 10, None);
        let b = group("a", "y", Some("two"), 5, Some("g"));
        assert_eq!(rival_owner(&a, [&a, &b]), None);
    }

    #[test]
    fn the_same_name_on_another_connection_is_another_group() {
        let old = group("a", "x", Some("team"), 10, Some("g1"));
        let mut elsewhere = group("b", "y", Some("team"), 20, None);
        elsewhere.spec.connection = Some("prod".into());
        assert_eq!(rival_owner(&elsewhere, [&old, &elsewhere]), None);
        assert_eq!(rival_owner(&old, [&old, &elsewhere]), None);
        // Omitted and "default" are the same connection.
        let mut explicit = group("c", "z", Some("team"), 30, None);
        explicit.spec.connection = Some("default".into());
        assert_eq!(
            rival_owner(&explicit, [&old, &explicit]),
            Some("a/x".into())
        );
    }

    #[test]
    fn same_creation_time_is_decided_by_namespace_and_name() {
        let a = group("a", "x", Some("team"), 10, None);
        let b = group("b", "x", Some("team"), 10, None);
        assert_eq!(rival_owner(&b, [&a, &b]), Some("a/x".into()));
        assert_eq!(rival_owner(&a, [&a, &b]), None);
    }
}
