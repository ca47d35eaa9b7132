//! Users: lookups for name -> id resolution, and group membership changes through the route
//! the vendor SDK uses (PUT on the user with its full `user_groups` list).

use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Map, Value};

use super::batch::{Pending, Round};
use super::client::{FALLBACK_CONCURRENCY, MgmtClient, Notice};
use super::error::{ErrorKind, MgmtError};
use super::jsonapi::{Document, KeepNone, Outgoing, Resource};
use super::model::{User, UserAttributes};
use super::routes;
use super::transport::Request;

impl MgmtClient {
    /// The user with exactly this username, with its group ids.
    pub async fn find_user(&self, username: &str) -> Result<Option<User>, MgmtError> {
        let req = Request::get(routes::USERS, &[])
            .query("filter[username]", username)
            .query("include", "user_groups");
        let doc: Document<Vec<Resource<UserAttributes>>, KeepNone> = self.fetch(req).await?;
        let Some(found) = doc
            .data
            .into_iter()
            .find(|u| u.attributes.username == username)
        else {
            return Ok(None);
        };
        let id = found.id.clone();
        match User::from_resource(found) {
            Some(user) => Ok(Some(user)),
            None => self.get_user(&id).await,
        }
    }

    /// Every user with its group ids, page by page (for bulk username -> id resolution).
    pub async fn list_users(&self) -> Result<Vec<User>, MgmtError> {
        let listing = self
            .list_all::<UserAttributes, KeepNone>(
                routes::USERS,
                &[("include", "user_groups"), ("sort", "username")],
            )
            .await?;
        let mut complete = Vec::with_capacity(listing.items.len());
        let mut incomplete = Vec::new();
        for item in listing.items {
            let id = item.id.clone();
            match User::from_resource(item) {
                Some(user) => complete.push(user),
                None => incomplete.push(id),
            }
        }
        if !incomplete.is_empty() {
            self.notice_once(Notice::UserListWithoutGroups);
            let fetched: Vec<Option<User>> = futures::stream::iter(incomplete)
                .map(|id| async move { self.get_user(&id).await })
                .buffered(FALLBACK_CONCURRENCY)
                .try_collect()
                .await?;
            complete.extend(fetched.into_iter().flatten());
        }
        Ok(complete)
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, MgmtError> {
        match self.get_user_raw(id).await {
            Ok(raw) => {
                let groups = raw.related_ids("user_groups").unwrap_or_default();
                let username = raw
                    .attributes
                    .get("username")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                Ok(Some(User {
                    id: raw.id,
                    username,
                    group_ids: groups,
                }))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The user resource with its attributes kept as sent, to echo them back on update.
    async fn get_user_raw(&self, id: &str) -> Result<Resource<Map<String, Value>>, MgmtError> {
        let req = Request::get(routes::USER, &[id]).query("include", "user_groups");
        let doc: Document<Resource<Map<String, Value>>, KeepNone> = self.fetch(req).await?;
        Ok(doc.data)
    }

    /// Adds the user to the group (no request beyond the read when it is already a member).
    /// Returns whether this call changed anything: `false` when the user already was a member.
    pub async fn add_user_to_group(
        &self,
        user_id: &str,
        group_id: &str,
    ) -> Result<bool, MgmtError> {
        self.change_user_groups(user_id, group_id, true).await
    }

    /// Removes the user from the group (no request beyond the read when it is not a member).
    /// Returns whether this call changed anything.
    pub async fn remove_user_from_group(
        &self,
        user_id: &str,
        group_id: &str,
    ) -> Result<bool, MgmtError> {
        self.change_user_groups(user_id, group_id, false).await
    }

    /// Read-modify-write of one user's group list. Changes for one user are never written side
    /// by side (the second would undo the first); those that arrive while the user's write is in
    /// flight go together in the next one: one read and one write for all of them.
    async fn change_user_groups(
        &self,
        user_id: &str,
        group_id: &str,
        member: bool,
    ) -> Result<bool, MgmtError> {
        let (pending, outcome) = Pending::new(MemberChange {
            group_id: group_id.to_owned(),
            member,
        });
        let schedule = {
            let mut queue = self.inner.memberships.lock();
            queue.push(user_id, pending);
            !std::mem::replace(&mut queue.scheduled, true)
        };
        if schedule {
            self.dispatch_memberships();
        }
        outcome.await.unwrap_or_else(|_| {
            Err(MgmtError::new(
                ErrorKind::Unavailable,
                "PUT /api/users/{id}",
                "the membership change was abandoned before it completed",
            ))
        })
    }

    /// Starts a round for every user with queued changes and no write in flight, each in its
    /// own task (a caller that gives up never strands the others).
    fn dispatch_memberships(&self) {
        loop {
            let round = {
                let mut queue = self.inner.memberships.lock();
                // One user per round; users side by side (each round is one user's read and write).
                match queue.take(1, usize::MAX) {
                    Some(round) => round,
                    None => {
                        queue.scheduled = false;
                        return;
                    }
                }
            };
            let client = self.clone();
            tokio::spawn(async move { client.run_membership_round(round).await });
        }
    }

    async fn run_membership_round(&self, round: Round<MemberChange, bool>) {
        let mut keys = Vec::with_capacity(round.len());
        for (user_id, pending) in round {
            let changes: Vec<(&str, bool)> = pending
                .iter()
                .map(|p| (p.change.group_id.as_str(), p.change.member))
                .collect();
            match self.write_user_groups(&user_id, &changes).await {
                Ok(changed) => {
                    for (p, changed) in pending.into_iter().zip(changed) {
                        let _ = p.done.send(Ok(changed));
                    }
                }
                Err(e) => {
                    for p in pending {
                        let _ = p.done.send(Err(e.clone()));
                    }
                }
            }
            keys.push(user_id);
        }
        let schedule = {
            let mut queue = self.inner.memberships.lock();
            queue.finish(&keys);
            queue.has_free_work(usize::MAX) && !std::mem::replace(&mut queue.scheduled, true)
        };
        if schedule {
            self.dispatch_memberships();
        }
    }

    /// One fresh read of the user's groups and at most one write carrying every change, in
    /// order. Returns, for each change, whether it changed anything.
    async fn write_user_groups(
        &self,
        user_id: &str,
        changes: &[(&str, bool)],
    ) -> Result<Vec<bool>, MgmtError> {
        let user = self.get_user_raw(user_id).await?;
        let current = user.related_ids("user_groups").unwrap_or_default();
        let (groups, changed) = with_memberships(&current, changes);
        if groups == current {
            return Ok(changed);
        }
        // Echo the attributes as read (as the SDK does), minus nulls the server never takes.
        let attributes: Map<String, Value> = user
            .attributes
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .collect();
        let body =
            Outgoing::new("user", attributes).with_many("user_groups", "user_group", &groups);
        self.send(Request::put(routes::USER, &[user_id]).json(&body))
            .await?;
        Ok(changed)
    }
}

/// One group's membership to set for a user (the key of its queue).
#[derive(Debug, Clone)]
pub(crate) struct MemberChange {
    group_id: String,
    member: bool,
}

/// The user's group list after every change in order, and whether each change changed it.
fn with_memberships(groups: &[String], changes: &[(&str, bool)]) -> (Vec<String>, Vec<bool>) {
    let mut groups = groups.to_vec();
    let changed = changes
        .iter()
        .map(|&(group_id, member)| {
            let present = groups.iter().any(|g| g == group_id);
            if present == member {
                return false;
            }
            if member {
                groups.push(group_id.to_owned());
            } else {
                groups.retain(|g| g != group_id);
            }
            true
        })
        .collect();
    (groups, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn membership_changes_keep_other_groups() {
        assert_eq!(
            with_memberships(&ids(&["all", "a"]), &[("b", true)]),
            (ids(&["all", "a", "b"]), vec![true])
        );
        assert_eq!(
            with_memberships(&ids(&["all", "a", "b"]), &[("a", false)]),
            (ids(&["all", "b"]), vec![true])
        );
        assert_eq!(
            with_memberships(&ids(&["all", "a"]), &[("a", true)]),
            (ids(&["all", "a"]), vec![false])
        );
        assert_eq!(
            with_memberships(&ids(&["all"]), &[("a", false)]),
            (ids(&["all"]), vec![false])
        );
    }

    #[test]
    fn changes_queued_together_apply_in_order_and_report_each() {
        let (groups, changed) = with_memberships(
            &ids(&["all", "x"]),
            &[("a", true), ("x", false), ("a", true), ("b", true)],
        );
        assert_eq!(groups, ids(&["all", "a", "b"]));
        assert_eq!(changed, [true, true, false, true]);
    }
}
