//! One reconcile of one Group: observe -> plan -> execute -> status, wrapped in the finalizer.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::finalizer::{self, Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::context::Context;
use super::error::Error;
use super::execute::{Done, execute};
use super::grants::{self, Verdict};
use super::observe::{create_record_over, observe, picture_max_age};
use super::status;
use crate::crd::{
    CREATE_PENDING_ANNOTATION, DeletionPolicy, FINALIZER, Group, GroupOrigin, GroupStatus,
    ManagementPolicy, Reason,
};
use crate::plan::{
    self, Action, Desired, Observed, Plan, PlatformGroup, SentGroup, pending_create_record,
};

pub type ReconcileError = finalizer::Error<Error>;

/// Entry point for the kube-runtime controller.
pub async fn reconcile(group: Arc<Group>, ctx: Arc<Context>) -> Result<Requeue, ReconcileError> {
    let started = Instant::now();
    let api: Api<Group> = Api::namespaced(ctx.kube.clone(), &group.namespace().unwrap_or_default());
    let result = if needs_finalizer(&group) {
        // kube's `finalizer` helper would only add the finalizer here and wait for the watch to
        // bring the patched resource back: a second reconcile and a write of its own for every
        // new Group. `apply` adds it with its first write instead (a create's pending record
        // carries it), before anything is written to the platform.
        apply(&api, &group, &ctx)
            .await
            .map_err(finalizer::Error::ApplyFailed)
    } else {
        finalizer(&api, FINALIZER, group.clone(), |event| async {
            match event {
                FinalizerEvent::Apply(group) => apply(&api, &group, &ctx).await,
                FinalizerEvent::Cleanup(group) => cleanup(&api, &group, &ctx).await,
            }
        })
        .await
    };
    let seconds = started.elapsed().as_secs_f64();
    match &result {
        Ok(_) => {
            ctx.reset_error_delay(&ObjectRef::from_obj(&*group));
            ctx.metrics.observe("success", "None", seconds);
        }
        Err(finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e)) => {
            ctx.metrics.observe("error", e.reason().as_str(), seconds)
        }
        Err(_) => ctx
            .metrics
            .observe("error", Reason::ReconcileError.as_str(), seconds),
    }
    result
}

/// Requeue with per-Group exponential backoff after a failure (never a hot loop).
pub fn error_policy(group: Arc<Group>, error: &ReconcileError, ctx: Arc<Context>) -> Requeue {
    let delay = ctx.next_error_delay(&ObjectRef::from_obj(&*group));
    tracing::warn!(
        group = %ObjectRef::from_obj(&*group),
        error = %error,
        retry_in_s = delay.as_secs_f64(),
        "reconcile failed"
    );
    Requeue::requeue(delay)
}

async fn apply(api: &Api<Group>, group: &Group, ctx: &Context) -> Result<Requeue, Error> {
    // Status writes replace the whole status: each write builds on the resource the previous
    // write of this reconcile returned, never on the copy the reconcile started with.
    let group = &mut group.clone();
    // Tenancy first: a Group no grant covers changes nothing on the platform (it is frozen).
    let covering = match ctx.tenancy.decide(group).await {
        Verdict::Permitted(covering) => covering,
        Verdict::NotGranted(message) => {
            ensure_finalizer(api, group).await?;
            return not_granted(api, group, ctx, message).await;
        }
    };
    let desired = Desired::from_group(group);
    let observed = match observe_unless_refreshing(group, &desired, ctx).await {
        Ok(Some(observed)) => observed,
        // Another reconcile is reading the platform: come back when it is read, without
        // holding one of the controller's slots meanwhile (nothing was written).
        Ok(None) => {
            return Ok(Requeue::requeue(
                ctx.timing.picture_wait(ctx.snapshot.last_refresh_took()),
            ));
        }
        Err(e) => return Err(report_failure(api, group, ctx, e, Stage::Observing, None).await),
    };
    let plan = plan::plan(&desired, &observed);
    // Adoption needs a grant that allows it and covers what the platform group holds now.
    if let Some(existing) = adopted_by(&plan, &observed)
        && let Err(message) =
            grants::adoption_allowed(&covering, &group.namespace().unwrap_or_default(), existing)
    {
        ensure_finalizer(api, group).await?;
        return not_granted(api, group, ctx, message).await;
    }
    // Before the first write: our finalizer, unless a create's pending record will carry it.
    let create_carries_finalizer = plan.creates()
        && plan.blocked.is_none()
        && group.spec.management_policy == ManagementPolicy::Full;
    if !create_carries_finalizer {
        ensure_finalizer(api, group).await?;
    }

    if let Some(blocked) = &plan.blocked {
        let (reason, message) = (blocked.reason(), blocked.message());
        if ready_reason(group) != Some(reason.as_str()) {
            ctx.events
                .warning(group, reason.as_str(), message.clone())
                .await;
        }
        let verdict = status::Verdict::Blocked { reason, message };
        let status = status::build(group, &plan, None, &verdict, &now());
        record_status(api, group, ctx, status).await?;
        return Ok(Requeue::requeue(ctx.timing.blocked_retry));
    }
    if group.spec.management_policy == ManagementPolicy::ObserveOnly {
        return observe_only(api, group, ctx, &observed, plan).await;
    }

    let mut executed = Executed {
        group_id: plan.group_id.clone().or(observed.status_group_id.clone()),
        identity: None,
        already_members: BTreeSet::new(),
    };
    if let Err(e) = execute_plan(api, group, ctx, &observed, &plan, &mut executed).await {
        // A failure's status that names the group a create made ends that create's record too
        // (it is cleared later, like any record that is over).
        let identity = executed.identity.as_ref();
        return Err(report_failure(api, group, ctx, e, Stage::Changing, identity).await);
    }
    let group_id = executed.group_id.clone();

    let platform = match &group_id {
        Some(id) => ctx.snapshot.peek(|view| view.group(id)).await.flatten(),
        None => None,
    };
    let verdict = status::partial(&plan).unwrap_or(status::Verdict::Available);
    if let status::Verdict::Partial { reason, message } = &verdict
        && ready_reason(group) != Some(reason.as_str())
    {
        ctx.events
            .warning(group, reason.as_str(), message.clone())
            .await;
    }
    // A member the plan added who already was one (the picture was older than someone else's
    // change) was not added by us: never count them as managed.
    let managed_members = plan
        .managed_members
        .difference(&executed.already_members)
        .cloned()
        .collect();
    let plan = Plan {
        group_id,
        managed_members,
        ..plan
    };
    let mut status = status::build(group, &plan, platform.as_ref(), &verdict, &now());
    if let Some((_, origin)) = &executed.identity {
        status.origin = Some(*origin);
    }
    record_status(api, group, ctx, status).await?;
    // The status now names the group: a create's pending record is over. It is cleared later,
    // by a reconcile that finds it over and at least half a resync interval old: normally the
    // first resync. Clearing it now would add a write to every new Group in the middle of the
    // burst that creating many is, and nothing needs it gone sooner: an over record is ignored
    // (it neither proves anything nor makes a reconcile read the platform).
    if create_record_over(group) && record_clearing_due(group, ctx) {
        settle_create_pending(api, group).await;
    }
    Ok(match verdict {
        status::Verdict::Partial { .. } => Requeue::requeue(ctx.timing.missing_retry),
        _ => Requeue::requeue(ctx.timing.resync()),
    })
}

/// ObserveOnly: report what Full management would change (status.plannedChanges, and an Event
/// when that list changes) and write nothing to the platform.
async fn observe_only(
    api: &Api<Group>,
    group: &mut Group,
    ctx: &Context,
    observed: &Observed,
    plan: Plan,
) -> Result<Requeue, Error> {
    let planned = plan.planned_changes();
    let message = if planned.is_empty() {
        "managementPolicy is ObserveOnly: the platform group matches the spec; nothing is written."
            .to_owned()
    } else {
        format!(
            "managementPolicy is ObserveOnly: Full management would make {} change(s), listed \
             in status.plannedChanges; nothing is written.",
            planned.len()
        )
    };
    let previous = group.status.clone().unwrap_or_default();
    if previous.planned_changes != planned && !planned.is_empty() {
        let note = format!(
            "ObserveOnly: Full management would now: {}.",
            planned.join("; ")
        );
        ctx.events.normal(group, "ChangesPlanned", note).await;
    }
    let platform = match &plan.group_id {
        Some(id) => ctx.snapshot.peek(|view| view.group(id)).await.flatten(),
        None => None,
    };
    let adopted = plan.actions.iter().any(|a| {
        matches!(
            a,
            Action::AdoptGroup {
                lost_create: false,
                ..
            }
        )
    });
    // Nothing was executed: what this resource added stays what it was.
    let plan = Plan {
        managed_members: observed.managed_members.clone(),
        ..plan
    };
    let verdict = status::Verdict::Observed { message };
    let mut status = status::build(group, &plan, platform.as_ref(), &verdict, &now());
    status.planned_changes = planned;
    if adopted && status.origin.is_none() {
        status.origin = Some(GroupOrigin::Adopted);
    }
    record_status(api, group, ctx, status).await?;
    Ok(Requeue::requeue(ctx.timing.resync()))
}

/// The platform group the plan takes over with adoptExisting (not the result of our own lost
/// create, which is ours).
fn adopted_by<'a>(plan: &Plan, observed: &'a Observed) -> Option<&'a PlatformGroup> {
    plan.actions.iter().find_map(|action| match action {
        Action::AdoptGroup {
            id,
            lost_create: false,
            ..
        } => observed.group_by_name.as_ref().filter(|g| &g.id == id),
        _ => None,
    })
}

/// The Group asks for more than its namespace is granted: report it (Ready=False, NotGranted,
/// an Event when the reason is new) and touch nothing. The grants watch triggers a new reconcile
/// when grants change; the requeue is a safety net.
async fn not_granted(
    api: &Api<Group>,
    group: &mut Group,
    ctx: &Context,
    message: String,
) -> Result<Requeue, Error> {
    let reason = Reason::NotGranted;
    if ready_reason(group) != Some(reason.as_str()) {
        tracing::info!(group = %ObjectRef::from_obj(&*group), "not granted: {message}");
        ctx.events
            .warning(group, reason.as_str(), message.clone())
            .await;
    }
    let verdict = status::Verdict::Blocked { reason, message };
    let status = status::with_verdict(group, &verdict, &now());
    record_status(api, group, ctx, status).await?;
    Ok(Requeue::requeue(ctx.timing.blocked_retry))
}

/// What the planner needs of the platform for `group`, from a picture as fresh as
/// `picture_max_age` asks, waiting for a read in flight (deletion waits: it must act on what
/// is there).
async fn observe_now(group: &Group, desired: &Desired, ctx: &Context) -> Result<Observed, Error> {
    let rival = ctx.rival_owner(group);
    let max_age = picture_max_age(group, ctx.snapshot.ttl(), ctx.timing.resync_interval / 2);
    ctx.snapshot
        .read(max_age, |view| observe(group, desired, view, rival))
        .await
        .map_err(platform_read_error)
}

/// Like [`observe_now`], but `None` when the picture is too old for this reconcile and another
/// one is reading a new picture: the reconcile then comes back later instead of holding a
/// controller slot while it waits. A create's outcome (a picture read after it) is always
/// waited for.
async fn observe_unless_refreshing(
    group: &Group,
    desired: &Desired,
    ctx: &Context,
) -> Result<Option<Observed>, Error> {
    let max_age = picture_max_age(group, ctx.snapshot.ttl(), ctx.timing.resync_interval / 2);
    if max_age == Some(std::time::Duration::ZERO) {
        return observe_now(group, desired, ctx).await.map(Some);
    }
    let rival = ctx.rival_owner(group);
    ctx.snapshot
        .read_unless_refreshing(max_age, |view| observe(group, desired, view, rival))
        .await
        .map_err(platform_read_error)
}

fn platform_read_error(e: igz_mgmt::MgmtError) -> Error {
    Error::platform("read the platform's groups, users and projects", e)
}

/// What executing a plan did, beyond the Events it published.
struct Executed {
    /// The group's id (known after a create or adoption).
    group_id: Option<String>,
    /// The group this reconcile created or adopted, and how: status must name it.
    identity: Option<(String, GroupOrigin)>,
    /// Usernames the plan added who turned out to be members already.
    already_members: BTreeSet<String>,
}

/// Runs the plan's actions in order, with an Event for each; what was done so far is in
/// `executed` also when an action fails.
async fn execute_plan(
    api: &Api<Group>,
    group: &mut Group,
    ctx: &Context,
    observed: &Observed,
    plan: &Plan,
    executed: &mut Executed,
) -> Result<(), Error> {
    if plan.actions.is_empty() {
        return Ok(());
    }
    let name = group.effective_group_name();
    let progress = if plan
        .actions
        .iter()
        .any(|a| matches!(a, Action::CreateGroup { .. }))
    {
        let message = format!("Creating platform group \"{name}\".");
        status::Verdict::InProgress {
            reason: Reason::Creating,
            message,
        }
    } else {
        let message = format!(
            "Applying {} change(s) to platform group \"{name}\".",
            plan.actions.len()
        );
        status::Verdict::InProgress {
            reason: Reason::Updating,
            message,
        }
    };
    // Also the freshness gate: it fails (409) when our cached copy of the resource is stale,
    // before anything is written to the platform. A new Group's first create skips it: the
    // create's pending record, written under the same precondition right before the create, is
    // its gate, and a Group with no conditions yet already reads as in progress to kstatus and
    // Argo CD. One API server write less per new Group.
    let first_create = plan.creates() && status::is_blank(group);
    if !first_create {
        let mut status = status::with_verdict(group, &progress, &now());
        status.planned_changes = plan.planned_changes();
        write_status(api, group, status).await?;
    }
    if observed.spec_applied && !plan.drift.is_empty() {
        let note = format!(
            "Reverting changes made outside Kubernetes: {}.",
            plan.drift.join("; ")
        );
        ctx.events.normal(group, "DriftCorrected", note).await;
    }

    for step in plan::steps(&plan.actions) {
        if let [action] = step {
            execute_one(api, group, ctx, action, executed).await?;
            continue;
        }
        // Membership (or role) changes of different users (or projects): all in flight at once,
        // so the client carries the group's role changes in one transaction.
        let group_id = executed.group_id.clone();
        let outcomes = futures::future::join_all(
            step.iter()
                .map(|action| execute(&ctx.mgmt, &ctx.snapshot, group_id.as_deref(), action)),
        )
        .await;
        let mut first_error = None;
        for (action, outcome) in step.iter().zip(outcomes) {
            match outcome {
                Ok(done) => report_done(group, ctx, action, &done, executed).await,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    Ok(())
}

/// Executes one action that runs alone: a create (with its pending record), an adoption, an
/// attribute update or a deletion.
async fn execute_one(
    api: &Api<Group>,
    group: &mut Group,
    ctx: &Context,
    action: &Action,
    executed: &mut Executed,
) -> Result<(), Error> {
    let sent = SentGroup::of(action);
    if let Some(sent) = &sent {
        // Before the request: should its answer be lost, the record proves what it sent. It
        // stays until status names the group (the reconcile's last write), so a process
        // stopped in between finds the group again by the record.
        set_create_pending(api, group, Some(sent)).await?;
    }
    let done = match execute(
        &ctx.mgmt,
        &ctx.snapshot,
        executed.group_id.as_deref(),
        action,
    )
    .await
    {
        Ok(done) => done,
        Err(e) if sent.is_some() => return Err(create_failed(api, group, e).await),
        Err(e) => return Err(e),
    };
    if let Some(id) = done.group_id.clone() {
        // Written to status with the reconcile's outcome (success or failure); until then the
        // pending record (a create's) or adoptExisting (an adoption) finds the group again.
        let origin = match action {
            Action::AdoptGroup {
                lost_create: false, ..
            } => GroupOrigin::Adopted,
            _ => GroupOrigin::Created,
        };
        executed.identity = Some((id.clone(), origin));
        executed.group_id = Some(id);
    }
    report_done(group, ctx, action, &done, executed).await;
    Ok(())
}

/// Logs a platform change and publishes its Event; a member the plan added who already was one
/// (the picture was older than someone else's change) is noted instead: not ours to claim.
async fn report_done(
    group: &Group,
    ctx: &Context,
    action: &Action,
    done: &Done,
    executed: &mut Executed,
) {
    if let Action::AddMember { username, .. } = action
        && !done.changed
    {
        executed.already_members.insert(username.clone());
        return;
    }
    tracing::info!(group = %ObjectRef::from_obj(group), "{action}");
    ctx.events.action_done(group, action).await;
}

/// A create failed. A definite answer (the request certainly created nothing: a 409, another
/// 4xx, a 429) ends the pending state at once, so the group found later is never mistaken for
/// ours. A taken name is reported as AlreadyExists, with nothing touched.
async fn create_failed(api: &Api<Group>, group: &mut Group, error: Error) -> Error {
    if error.create_definitely_failed()
        && let Err(e) = set_create_pending(api, group, None).await
    {
        return e;
    }
    match error.create_name_taken(&group.effective_group_name()) {
        Some(blocked) => {
            tracing::info!(group = %ObjectRef::from_obj(&*group), error = %error, "create refused: {blocked}");
            Error::AlreadyExists(blocked)
        }
        None => error,
    }
}

async fn cleanup(api: &Api<Group>, group: &Group, ctx: &Context) -> Result<Requeue, Error> {
    let group = &mut group.clone();
    let name = group.effective_group_name();
    let why_untouched = if group.spec.management_policy == ManagementPolicy::ObserveOnly {
        Some("managementPolicy is ObserveOnly")
    } else if group.spec.deletion_policy == DeletionPolicy::Orphan {
        Some("deletionPolicy is Orphan")
    } else {
        None
    };
    if let Some(why) = why_untouched {
        if let Some(id) = group.status.as_ref().and_then(|s| s.group_id.clone()) {
            let note = format!("Left platform group \"{name}\" (id {id}) untouched: {why}.");
            ctx.events.normal(group, "Orphaned", note).await;
        }
        return Ok(Requeue::await_change());
    }
    // No longer granted: deleting may still remove a group this resource created (that only
    // takes access away), never one it adopted or whose origin it does not know.
    if let Verdict::NotGranted(why) = ctx.tenancy.decide(group).await {
        let status = group.status.clone().unwrap_or_default();
        let created = status.origin == Some(GroupOrigin::Created) || status.group_id.is_none();
        if !created {
            let id = status.group_id.unwrap_or_default();
            let note = format!(
                "Left platform group \"{name}\" (id {id}) untouched: this resource did not create \
                 it, and it is no longer granted ({why})."
            );
            ctx.events
                .warning(group, Reason::NotGranted.as_str(), note)
                .await;
            return Ok(Requeue::await_change());
        }
    }
    let desired = Desired::from_group(group);
    let observed = match observe_now(group, &desired, ctx).await {
        Ok(observed) => observed,
        Err(e) => return Err(report_failure(api, group, ctx, e, Stage::Deleting, None).await),
    };
    let actions = plan::plan_cleanup(group.spec.deletion_policy, &observed);
    if actions.is_empty() {
        return Ok(Requeue::await_change());
    }
    let message = format!("Cleaning up platform group \"{name}\".");
    let progress = status::Verdict::InProgress {
        reason: Reason::Deleting,
        message,
    };
    let status = status::with_verdict(group, &progress, &now());
    write_status(api, group, status).await?;
    let mut group_id = observed.status_group_id.clone();
    for step in plan::steps(&actions) {
        for action in step {
            if let Action::DeleteGroup { id, .. } = action {
                group_id = Some(id.clone());
            }
        }
        // The role removals of one step go in one transaction.
        let outcomes = futures::future::join_all(
            step.iter()
                .map(|action| execute(&ctx.mgmt, &ctx.snapshot, group_id.as_deref(), action)),
        )
        .await;
        let mut first_error = None;
        for (action, outcome) in step.iter().zip(outcomes) {
            match outcome {
                Ok(_) => {
                    tracing::info!(group = %ObjectRef::from_obj(&*group), "{action}");
                    ctx.events.action_done(group, action).await;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(report_failure(api, group, ctx, e, Stage::Deleting, None).await);
        }
    }
    Ok(Requeue::await_change())
}

/// Where a reconcile failed, which decides what the conditions say.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Reading the platform, before any change.
    Observing,
    /// Applying changes to the platform.
    Changing,
    /// Cleaning up for deletion.
    Deleting,
}

/// Reports a failure in the conditions and an Event, and hands the error back for the backoff.
async fn report_failure(
    api: &Api<Group>,
    group: &mut Group,
    ctx: &Context,
    error: Error,
    stage: Stage,
    identity: Option<&(String, GroupOrigin)>,
) -> Error {
    if error.is_stale_resource() {
        // Our cache lagged behind our own writes; the retry works from the fresh resource.
        tracing::debug!(group = %ObjectRef::from_obj(&*group), "resource changed meanwhile; retrying");
        return error;
    }
    let mut message = error.message();
    if stage == Stage::Deleting {
        message.push_str(
            " To release the resource without cleaning up the platform, set spec.deletionPolicy: Orphan.",
        );
    }
    ctx.events
        .warning(group, error.reason().as_str(), message.clone())
        .await;
    let reason = error.reason();
    // A failed re-check of a group that matched its spec leaves Ready alone (the group is as it
    // was); Synced says the platform could not be checked.
    let applied = status::spec_applied(group);
    let verdict = if stage == Stage::Observing && applied {
        status::Verdict::Degraded { reason, message }
    } else {
        status::Verdict::Failed { reason, message }
    };
    let mut status = status::with_verdict(group, &verdict, &now());
    if let Some((id, origin)) = identity {
        status.group_id = Some(id.clone());
        status.origin = Some(*origin);
    }
    if let Err(e) = record_status(api, group, ctx, status).await {
        tracing::warn!(error = %e, "could not record the failure in status");
    }
    error
}

/// Whether the resource's pending record was written at least half a resync interval ago (or
/// does not say when).
fn record_clearing_due(group: &Group, ctx: &Context) -> bool {
    let written = group
        .annotations()
        .get(CREATE_PENDING_ANNOTATION)
        .and_then(|value| plan::pending_create_recorded_at(value));
    let due = jiff::SignedDuration::try_from(ctx.timing.resync_interval / 2)
        .unwrap_or(jiff::SignedDuration::MAX);
    written.is_none_or(|at| now().0.duration_since(at) >= due)
}

/// Clears a create's pending record once status names the group. Best effort: a record left
/// behind is still over (status names another group than it does) and is cleared by a later
/// reconcile.
async fn settle_create_pending(api: &Api<Group>, group: &mut Group) {
    if !group.annotations().contains_key(CREATE_PENDING_ANNOTATION) {
        return;
    }
    if let Err(e) = set_create_pending(api, group, None).await {
        tracing::debug!(group = %ObjectRef::from_obj(&*group), error = %e, "could not clear the pending create record yet");
    }
}

fn needs_finalizer(group: &Group) -> bool {
    group.metadata.deletion_timestamp.is_none()
        && !group.finalizers().iter().any(|f| f == FINALIZER)
}

/// The finalizers with ours added (a merge patch replaces the list; the resourceVersion
/// precondition makes that safe against a concurrent change).
fn with_our_finalizer(group: &Group) -> Vec<String> {
    let mut finalizers = group.finalizers().to_vec();
    if !finalizers.iter().any(|f| f == FINALIZER) {
        finalizers.push(FINALIZER.to_owned());
    }
    finalizers
}

/// Adds our finalizer when it is missing, under the resourceVersion precondition of every
/// write (so it is a freshness gate too).
async fn ensure_finalizer(api: &Api<Group>, group: &mut Group) -> Result<(), Error> {
    if !needs_finalizer(group) {
        return Ok(());
    }
    let metadata = serde_json::json!({"finalizers": with_our_finalizer(group)});
    patch_metadata(api, group, metadata, "adding the finalizer").await
}

/// Merge-patches `metadata` onto the resource under the resourceVersion precondition of every
/// write (409 when our copy is stale), and keeps the updated resource in `group`.
async fn patch_metadata(
    api: &Api<Group>,
    group: &mut Group,
    mut metadata: serde_json::Value,
    what: &'static str,
) -> Result<(), Error> {
    metadata["resourceVersion"] = serde_json::json!(group.resource_version());
    let patch = serde_json::json!({ "metadata": metadata });
    *group = api
        .patch(
            &group.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(|e| Error::kube(what, e))?;
    Ok(())
}

/// Writes a reconcile's outcome unless it says nothing new (`status::worth_writing`): a resync
/// that changes nothing writes nothing.
async fn record_status(
    api: &Api<Group>,
    group: &mut Group,
    ctx: &Context,
    status: GroupStatus,
) -> Result<(), Error> {
    if !status::worth_writing(group.status.as_ref(), &status, ctx.timing.status_refresh) {
        return Ok(());
    }
    write_status(api, group, status).await
}

/// Writes the status and keeps the updated resource in `group`, so the next write of this
/// reconcile builds on it (and passes the resourceVersion precondition).
async fn write_status(
    api: &Api<Group>,
    group: &mut Group,
    status: GroupStatus,
) -> Result<(), Error> {
    *group = status::write(api, group, &status)
        .await
        .map_err(|e| Error::kube("writing status", e))?;
    Ok(())
}

/// Records what a create is about to send (see `CREATE_PENDING_ANNOTATION`), or clears the
/// record, under the same resourceVersion precondition as status writes.
async fn set_create_pending(
    api: &Api<Group>,
    group: &mut Group,
    sent: Option<&SentGroup>,
) -> Result<(), Error> {
    // The record names the group status names now: once status names another, it is over.
    let replaces = group.status.as_ref().and_then(|s| s.group_id.clone());
    let value =
        sent.map(|sent| pending_create_record(sent, &now().0.to_string(), replaces.as_deref()));
    let mut metadata = serde_json::json!({"annotations": {CREATE_PENDING_ANNOTATION: value}});
    // A new Group's finalizer goes with the record of its first create: one write, not two.
    if sent.is_some() && needs_finalizer(group) {
        metadata["finalizers"] = serde_json::json!(with_our_finalizer(group));
    }
    patch_metadata(api, group, metadata, "recording the pending create").await
}

fn ready_reason(group: &Group) -> Option<&str> {
    group
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.reason.as_str())
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}
