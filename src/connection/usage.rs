//! Which Groups use which connection: a small index kept from the Group watch's events (only
//! each Group's connection name, not the Group), for the `groups` count in status and for the
//! finalizer that holds a connection while Groups use it. Pure: events in, affected connection
//! names out.

use std::collections::{BTreeSet, HashMap};

use kube::ResourceExt;
use kube::runtime::watcher;

use crate::crd::Group;

/// How many Groups in `Holders::first` at most (status and Events name the first few).
pub const NAMED_HOLDERS: usize = 10;

/// The Groups using one connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holders {
    pub count: usize,
    /// `namespace/name` of the first `NAMED_HOLDERS`, sorted.
    pub first: Vec<String>,
}

impl Holders {
    /// "team-a/x, team-a/y and 3 more".
    pub fn describe(&self) -> String {
        let mut text = self.first.join(", ");
        if self.count > self.first.len() {
            text.push_str(&format!(" and {} more", self.count - self.first.len()));
        }
        text
    }
}

/// `namespace/name` of a Group.
type Key = String;

/// Connection by Group, as the Group watch last told.
#[derive(Default)]
pub struct Usage {
    by_group: HashMap<Key, Box<str>>,
    /// Groups of a re-list in progress (the watch's Init..InitDone), swapped in at InitDone.
    relisting: Option<HashMap<Key, Box<str>>>,
    /// True once the first full list is in.
    synced: bool,
}

/// What an event changed: the connections whose users changed (`All` after a re-list).
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    None,
    Some(BTreeSet<String>),
    All,
}

fn key(group: &Group) -> Key {
    format!(
        "{}/{}",
        group.namespace().unwrap_or_default(),
        group.name_any()
    )
}

impl Usage {
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Takes one event of the Group watch.
    pub fn apply(&mut self, event: watcher::Event<Group>) -> Changed {
        match event {
            watcher::Event::Init => {
                self.relisting = Some(HashMap::new());
                Changed::None
            }
            watcher::Event::InitApply(group) => {
                let relisting = self.relisting.get_or_insert_with(HashMap::new);
                relisting.insert(key(&group), group.connection_name().into());
                Changed::None
            }
            watcher::Event::InitDone => {
                if let Some(fresh) = self.relisting.take() {
                    self.by_group = fresh;
                }
                self.synced = true;
                Changed::All
            }
            watcher::Event::Apply(group) => {
                let connection: Box<str> = group.connection_name().into();
                let before = self.by_group.insert(key(&group), connection.clone());
                match before {
                    Some(old) if old == connection => Changed::None,
                    Some(old) => Changed::Some([old.into(), connection.into()].into()),
                    None => Changed::Some([connection.into()].into()),
                }
            }
            watcher::Event::Delete(group) => match self.by_group.remove(&key(&group)) {
                Some(old) => Changed::Some([old.into()].into()),
                None => Changed::None,
            },
        }
    }

    /// The Groups using `connection`.
    pub fn holders(&self, connection: &str) -> Holders {
        let mut names: Vec<&str> = self
            .by_group
            .iter()
            .filter(|(_, c)| c.as_ref() == connection)
            .map(|(k, _)| k.as_str())
            .collect();
        names.sort_unstable();
        Holders {
            count: names.len(),
            first: names
                .into_iter()
                .take(NAMED_HOLDERS)
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// The usage indexes of several Group watches (one per watched namespace, or one for all): each
/// watch's re-lists are its own, so each keeps its own index.
pub struct UsageSet {
    parts: Vec<Usage>,
}

impl UsageSet {
    pub fn new(watches: usize) -> Self {
        Self {
            parts: (0..watches.max(1)).map(|_| Usage::default()).collect(),
        }
    }

    /// Takes one event of watch `part`.
    pub fn apply(&mut self, part: usize, event: watcher::Event<Group>) -> Changed {
        self.parts[part].apply(event)
    }

    /// True once every watch has been read in full.
    pub fn is_synced(&self) -> bool {
        self.parts.iter().all(Usage::is_synced)
    }

    /// The Groups using `connection`, over every watch.
    pub fn holders(&self, connection: &str) -> Holders {
        let mut count = 0;
        let mut first = Vec::new();
        for part in &self.parts {
            let holders = part.holders(connection);
            count += holders.count;
            first.extend(holders.first);
        }
        first.sort_unstable();
        first.truncate(NAMED_HOLDERS);
        Holders { count, first }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::GroupSpec;

    fn group(ns: &str, name: &str, connection: Option<&str>) -> Group {
        let mut g = Group::new(
            name,
            GroupSpec {
                connection: connection.map(str::to_owned),
                ..Default::default()
            },
        );
        g.metadata.namespace = Some(ns.into());
        g
    }

    fn names(list: &[&str]) -> Changed {
        Changed::Some(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn groups_count_for_the_connection_they_name_and_default_when_none() {
        let mut usage = Usage::default();
        usage.apply(watcher::Event::Init);
        usage.apply(watcher::Event::InitApply(group("a", "x", None)));
        usage.apply(watcher::Event::InitApply(group("a", "y", Some("prod"))));
        assert!(!usage.is_synced());
        assert_eq!(usage.apply(watcher::Event::InitDone), Changed::All);
        assert!(usage.is_synced());
        assert_eq!(usage.holders("default").first, ["a/x"]);
        assert_eq!(usage.holders("prod").count, 1);
        assert_eq!(usage.holders("other"), Holders::default());
    }

    #[test]
    fn events_name_the_connections_they_change() {
        let mut usage = Usage::default();
        usage.apply(watcher::Event::InitDone);
        assert_eq!(
            usage.apply(watcher::Event::Apply(group("a", "x", Some("prod")))),
            names(&["prod"])
        );
        assert_eq!(
            usage.apply(watcher::Event::Apply(group("a", "x", Some("prod")))),
            Changed::None
        );
        assert_eq!(
            usage.apply(watcher::Event::Delete(group("a", "x", Some("prod")))),
            names(&["prod"])
        );
        assert_eq!(
            usage.apply(watcher::Event::Delete(group("a", "x", Some("prod")))),
            Changed::None
        );
    }

    #[test]
    fn a_relist_replaces_what_was_known() {
        let mut usage = Usage::default();
        usage.apply(watcher::Event::InitDone);
        usage.apply(watcher::Event::Apply(group("a", "gone", Some("prod"))));
        usage.apply(watcher::Event::Init);
        usage.apply(watcher::Event::InitApply(group("a", "kept", Some("prod"))));
        assert_eq!(
            usage.holders("prod").first,
            ["a/gone"],
            "until the re-list is complete"
        );
        usage.apply(watcher::Event::InitDone);
        assert_eq!(usage.holders("prod").first, ["a/kept"]);
    }

    #[test]
    fn several_watches_add_up_and_are_synced_only_together() {
        let mut set = UsageSet::new(2);
        set.apply(0, watcher::Event::Init);
        set.apply(1, watcher::Event::Init);
        set.apply(0, watcher::Event::InitApply(group("b", "x", None)));
        set.apply(1, watcher::Event::InitApply(group("a", "y", None)));
        set.apply(0, watcher::Event::InitDone);
        assert!(!set.is_synced(), "the second namespace is still being read");
        set.apply(1, watcher::Event::InitDone);
        assert!(set.is_synced());
        assert_eq!(set.holders("default").first, ["a/y", "b/x"]);
        assert_eq!(set.holders("default").count, 2);
    }

    #[test]
    fn holders_name_the_first_few_and_count_the_rest() {
        let mut usage = Usage::default();
        usage.apply(watcher::Event::InitDone);
        for i in 0..12 {
            usage.apply(watcher::Event::Apply(group(
                "ns",
                &format!("g{i:02}"),
                None,
            )));
        }
        let holders = usage.holders("default");
        assert_eq!(holders.count, 12);
        assert_eq!(holders.first.len(), NAMED_HOLDERS);
        assert_eq!(holders.first[0], "ns/g00");
        assert!(
            holders.describe().ends_with("ns/g09 and 2 more"),
            "{}",
            holders.describe()
        );
    }
}
