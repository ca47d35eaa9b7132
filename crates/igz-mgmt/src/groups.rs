//! User groups: read, find, list, create (safe against lost answers), update, delete.

use std::sync::atomic::{AtomicBool, Ordering};

use backon::Retryable as _;
use futures::{StreamExt as _, TryStreamExt as _};

use super::client::{FALLBACK_CONCURRENCY, MgmtClient, Notice};
use super::error::{ErrorKind, MgmtError};
use super::jobs::JobKind;
use super::jsonapi::{Document, KeepNone, Outgoing, Resource, decode};
use super::model::{
    NewUserGroup, NewUserGroupAttributes, UserGroup, UserGroupAttributes, UserGroupPatch,
};
use super::routes;
use super::transport::{Request, Response};

/// A group's members are in its relationships; the included user resources are not kept.
type UserGroupDoc = Document<Resource<UserGroupAttributes>, KeepNone>;

impl MgmtClient {
    /// The group with this id and its members; `None` when it does not exist.
    pub async fn get_group(&self, id: &str) -> Result<Option<UserGroup>, MgmtError> {
        let req = Request::get(routes::GROUP, &[id]).query("include", "users");
        match self.fetch::<UserGroupDoc>(req).await {
            // A detail GET without the members relationship means the group has none.
            Ok(doc) => {
                let members = doc.data.related_ids("users").unwrap_or_default();
                Ok(Some(UserGroup::with_members(doc.data, members)))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The group with exactly this name, members included.
    pub async fn find_group_by_name(&self, name: &str) -> Result<Option<UserGroup>, MgmtError> {
        let req = Request::get(routes::GROUPS, &[])
            .query("filter[name]", name)
            .query("include", "users");
        let doc: Document<Vec<Resource<UserGroupAttributes>>, KeepNone> = self.fetch(req).await?;
        // The filter is applied here again: a server may match loosely or ignore it.
        let Some(found) = doc.data.into_iter().find(|g| g.attributes.name == name) else {
            return Ok(None);
        };
        self.complete_group(found).await
    }

    /// Every group with its members, page by page.
    pub async fn list_groups(&self) -> Result<Vec<UserGroup>, MgmtError> {
        let listing = self
            .list_all::<UserGroupAttributes, KeepNone>(
                routes::GROUPS,
                &[("include", "users"), ("sort", "name")],
            )
            .await?;
        let mut complete = Vec::with_capacity(listing.items.len());
        let mut incomplete = Vec::new();
        for item in listing.items {
            match item.related_ids("users") {
                Some(members) => complete.push(UserGroup::with_members(item, members)),
                None => incomplete.push(item.id),
            }
        }
        if !incomplete.is_empty() {
            self.notice_once(Notice::GroupListWithoutMembers);
            let fetched: Vec<Option<UserGroup>> = futures::stream::iter(incomplete)
                .map(|id| async move { self.get_group(&id).await })
                .buffered(FALLBACK_CONCURRENCY)
                .try_collect()
                .await?;
            // A group deleted between the list and its GET is simply gone.
            complete.extend(fetched.into_iter().flatten());
        }
        Ok(complete)
    }

    /// Creates a group with its initial members. A create is never repeated blindly: when its
    /// answer is lost (timeout, dropped connection, gateway error) the group is looked up by
    /// name, and taken as the answer only when it carries everything that was sent (name,
    /// description, gid when given, policies, members); otherwise the call fails with
    /// `Conflict` and [`MgmtError::outcome_unknown`] set, and the group is left alone. When no
    /// such group exists, the create is sent again.
    pub async fn create_group(&self, new: &NewUserGroup) -> Result<UserGroup, MgmtError> {
        let attributes = NewUserGroupAttributes {
            name: &new.name,
            description: new.description.as_deref(),
            gid: new.gid,
            assigned_policies: &new.assigned_policies,
        };
        let mut body = Outgoing::new("user_group", attributes);
        if !new.member_ids.is_empty() {
            body = body.with_many("users", "user", &new.member_ids);
        }
        let answer_lost = AtomicBool::new(false);
        let outcome = (|| self.create_round(&body, new, &answer_lost))
            .retry(self.inner.retry_backoff)
            .sleep(tokio::time::sleep)
            .when(MgmtError::is_ambiguous)
            .await;
        match outcome {
            Err(e) if answer_lost.load(Ordering::Relaxed) => Err(e.after_lost_answer()),
            other => other,
        }
    }

    /// One create attempt plus the recovery lookup after an ambiguous failure.
    async fn create_round<A: serde::Serialize>(
        &self,
        body: &Outgoing<A>,
        new: &NewUserGroup,
        answer_lost: &AtomicBool,
    ) -> Result<UserGroup, MgmtError> {
        match self.send(Request::post(routes::GROUPS).json(body)).await {
            Ok(resp) => created_group(&resp, &new.member_ids),
            // After a lost answer, a 409 may mean our own create went through, or not.
            Err(e) if e.kind() == ErrorKind::Conflict && answer_lost.load(Ordering::Relaxed) => {
                self.recover_create(new).await?.ok_or(e)
            }
            Err(e) if e.is_ambiguous() => {
                answer_lost.store(true, Ordering::Relaxed);
                tracing::warn!(error = %e, "group create got no clear answer; looking it up by name");
                self.recover_create(new).await?.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// After a lost answer: the group named like ours, when it is provably what we sent;
    /// `None` when there is none (the create may be sent again); an error when one exists
    /// that differs (someone else's, or ours changed since: either way not ours to take).
    async fn recover_create(&self, new: &NewUserGroup) -> Result<Option<UserGroup>, MgmtError> {
        match self.find_group_by_name(&new.name).await? {
            None => Ok(None),
            Some(found) if new.describes(&found) => Ok(Some(found)),
            Some(found) => {
                tracing::warn!(
                    name = %new.name,
                    id = %found.id,
                    "a group with this name exists but differs from what the lost create sent; leaving it alone"
                );
                Err(MgmtError::new(
                    ErrorKind::Conflict,
                    "POST /api/user_groups",
                    format!(
                        "user group {:?} exists (id {}) but does not match what this create sent; \
                         the create's answer was lost, so whether it created the group is unknown",
                        new.name, found.id
                    ),
                )
                .after_lost_answer())
            }
        }
    }

    /// Uses the members a resource carries, or fetches them when the server left them out.
    async fn complete_group(
        &self,
        res: Resource<UserGroupAttributes>,
    ) -> Result<Option<UserGroup>, MgmtError> {
        let id = res.id.clone();
        match UserGroup::from_resource(res) {
            Some(group) => Ok(Some(group)),
            None => self.get_group(&id).await,
        }
    }

    /// Changes attributes only; membership is left as it is.
    pub async fn update_group(
        &self,
        id: &str,
        patch: &UserGroupPatch,
    ) -> Result<UserGroup, MgmtError> {
        let req = Request::put(routes::GROUP, &[id]).json(&Outgoing::new("user_group", patch));
        let resp = self.send(req).await?;
        // Some platform versions answer a PUT without the updated resource: read it back then.
        if let Ok(doc) = decode::<UserGroupDoc>("PUT /api/user_groups/{id}", &resp.body)
            && let Some(group) = UserGroup::from_resource(doc.data)
            && group.id == id
        {
            return Ok(group);
        }
        self.get_group(id).await?.ok_or_else(|| {
            MgmtError::new(
                ErrorKind::NotFound,
                "GET /api/user_groups/{id}",
                "group vanished after its update",
            )
        })
    }

    /// Deletes a group and waits for the deletion jobs the platform reports. A group that is
    /// already gone counts as deleted.
    pub async fn delete_group(&self, id: &str) -> Result<(), MgmtError> {
        let resp = match self.send(Request::delete(routes::GROUP, &[id])).await {
            Ok(resp) => resp,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if resp.status != 202 || resp.body.is_empty() {
            return Ok(());
        }
        let doc: Document<Resource<serde_json::Value>> =
            decode("DELETE /api/user_groups/{id}", &resp.body)?;
        if doc.data.kind != "deletion_response" {
            return Ok(());
        }
        for job in doc.data.related_ids("jobs").unwrap_or_default() {
            self.wait_job(&job, JobKind::Deletion).await?;
        }
        Ok(())
    }
}
/// The group a successful create answered with. The platform answers without relationships
/// unless asked to include them, and a 201 means the group was made with exactly the members we
/// sent, so those are its members: no extra GET per created group.
fn created_group(resp: &Response, member_ids: &[String]) -> Result<UserGroup, MgmtError> {
    let doc: UserGroupDoc = decode("POST /api/user_groups", &resp.body)?;
    let members = doc
        .data
        .related_ids("users")
        .unwrap_or_else(|| member_ids.to_vec());
    Ok(UserGroup::with_members(doc.data, members))
}
