//! The Group writer: the only code that writes a Group object (its finalizer, its create record,
//! its status). The stages decide what to write; this performs it.
//!
//! Every write carries the resourceVersion of the copy it was decided from (409 when our copy is
//! stale: the retry works from the fresh one), and the object each write returns becomes the
//! copy the next write builds on. That makes every write a freshness gate, and keeps a reconcile
//! working from a cache that lags behind our own writes from undoing them (erasing a groupId
//! recorded a moment ago, say).

use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::error::Error;
use super::report;
use crate::crd::{FINALIZER, Group, GroupStatus};
use crate::create_record::{self, RecordKeys, Sent};

/// Field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "igz-operator";

pub struct GroupWriter<'k> {
    api: Api<Group>,
    group: Group,
    keys: &'k RecordKeys,
}

impl<'k> GroupWriter<'k> {
    pub fn new(client: Client, group: &Group, keys: &'k RecordKeys) -> Self {
        let namespace = group.namespace().unwrap_or_default();
        Self {
            api: Api::namespaced(client, &namespace),
            group: group.clone(),
            keys,
        }
    }

    /// The Group as the last write left it (or as the reconcile found it).
    pub fn group(&self) -> &Group {
        &self.group
    }

    pub fn has_finalizer(&self) -> bool {
        self.group.finalizers().iter().any(|f| f == FINALIZER)
    }

    /// Adds our finalizer when it is missing (the first write before anything on the platform).
    pub async fn ensure_finalizer(&mut self) -> Result<(), Error> {
        if self.has_finalizer() {
            return Ok(());
        }
        let finalizers = self.finalizers_with_ours();
        self.patch_metadata(json!({ "finalizers": finalizers }), "adding the finalizer")
            .await
    }

    /// Removes our finalizer once cleanup is done; the API server then deletes the Group. A
    /// Group already gone is fine.
    pub async fn remove_finalizer(&mut self) -> Result<(), Error> {
        let finalizers: Vec<&String> = self
            .group
            .finalizers()
            .iter()
            .filter(|f| *f != FINALIZER)
            .collect();
        let patch = json!({ "finalizers": finalizers });
        match self.patch_metadata(patch, "removing the finalizer").await {
            Err(Error::Kube {
                source: kube::Error::Api(status),
                ..
            }) if status.code == 404 => Ok(()),
            result => result,
        }
    }

    /// Writes the create record of a create about to send `sent`, with our finalizer when the
    /// Group has none yet: one write, before anything reaches the platform.
    pub async fn write_create_record(&mut self, sent: &Sent) -> Result<(), Error> {
        let record = create_record::seal(self.keys, &self.group, sent, jiff::Timestamp::now());
        let mut metadata = json!({ "annotations": { create_record::ANNOTATION: record } });
        if !self.has_finalizer() {
            metadata["finalizers"] = json!(self.finalizers_with_ours());
        }
        self.patch_metadata(metadata, "writing the create record")
            .await
    }

    /// Clears the create record (its create was refused, or it is settled and due).
    pub async fn clear_create_record(&mut self) -> Result<(), Error> {
        if !self
            .group
            .annotations()
            .contains_key(create_record::ANNOTATION)
        {
            return Ok(());
        }
        let metadata = json!({ "annotations": { create_record::ANNOTATION: null } });
        self.patch_metadata(metadata, "clearing the create record")
            .await
    }

    /// Writes `status` whatever it says: progress written before platform writes is their
    /// freshness gate.
    pub async fn write_status(&mut self, status: &GroupStatus) -> Result<(), Error> {
        let body = json!({
            "apiVersion": "igz-operator.io/v1alpha1",
            "kind": "Group",
            "metadata": {"resourceVersion": self.group.resource_version()},
            "status": status,
        });
        self.group = self
            .api
            .patch_status(
                &self.group.name_any(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&body),
            )
            .await
            .map_err(|e| Error::kube("writing status", e))?;
        Ok(())
    }

    /// Writes a reconcile's outcome unless it says nothing new (`report::worth_writing`): a
    /// resync that changes nothing writes nothing.
    pub async fn record_status(
        &mut self,
        status: &GroupStatus,
        refresh: std::time::Duration,
    ) -> Result<(), Error> {
        if !report::worth_writing(self.group.status.as_ref(), status, refresh) {
            return Ok(());
        }
        self.write_status(status).await
    }

    /// The finalizers with ours added (a merge patch replaces the list; the resourceVersion
    /// precondition makes that safe against a concurrent change).
    fn finalizers_with_ours(&self) -> Vec<String> {
        let mut finalizers = self.group.finalizers().to_vec();
        if !finalizers.iter().any(|f| f == FINALIZER) {
            finalizers.push(FINALIZER.to_owned());
        }
        finalizers
    }

    async fn patch_metadata(
        &mut self,
        mut metadata: serde_json::Value,
        doing: &'static str,
    ) -> Result<(), Error> {
        metadata["resourceVersion"] = json!(self.group.resource_version());
        let patch = json!({ "metadata": metadata });
        self.group = self
            .api
            .patch(
                &self.group.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|e| Error::kube(doing, e))?;
        Ok(())
    }
}
