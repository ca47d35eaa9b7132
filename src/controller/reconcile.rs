//! One reconcile of one Group, as named stages:
//!
//! permit (may it have what it asks?) -> observe (what does the platform hold?) -> plan (what
//! must change? pure) -> execute (change it) -> report (status and Events).
//!
//! The stages decide; the Group writer performs every write to the Group object, and the report
//! stage builds status purely. A change and a deletion run the same stages with their own rules.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;

use super::context::Context;
use super::error::Error;
use super::execute::{self, Executed};
use super::group_writer::GroupWriter;
use super::observe::{Patience, observe};
use super::permit;
use super::report::{self, Note, Outcome, Stage};
use crate::crd::{Group, GroupOrigin, ManagementPolicy, Reason};
use crate::create_record;
use crate::plan::{self, Action, Desired, Observed, Plan};
use crate::tenancy::Decision;

/// Entry point for the kube-runtime controller.
pub async fn reconcile(group: Arc<Group>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    let started = Instant::now();
    let mut writer = GroupWriter::new(ctx.kube.clone(), &group, &ctx.record_keys);
    let result = if group.metadata.deletion_timestamp.is_some() {
        delete(&ctx, &mut writer).await
    } else {
        change(&ctx, &mut writer).await
    };
    let seconds = started.elapsed().as_secs_f64();
    match &result {
        Ok(_) => {
            ctx.reset_error_delay(&ObjectRef::from_obj(&*group));
            ctx.metrics.observe("success", "None", seconds);
        }
        Err(e) => ctx.metrics.observe("error", e.reason().as_str(), seconds),
    }
    result
}

/// Requeue with per-Group exponential backoff after a failure (never a hot loop).
pub fn error_policy(group: Arc<Group>, error: &Error, ctx: Arc<Context>) -> Requeue {
    let delay = ctx.next_error_delay(&ObjectRef::from_obj(&*group));
    tracing::warn!(
        group = %ObjectRef::from_obj(&*group),
        error = %error,
        retry_in_s = delay.as_secs_f64(),
        "reconcile failed"
    );
    Requeue::requeue(delay)
}

/// A Group that is not being deleted: bring the platform in line with it.
async fn change(ctx: &Context, writer: &mut GroupWriter<'_>) -> Result<Requeue, Error> {
    let group = writer.group().clone();
    let namespace = group.namespace().unwrap_or_default();
    let desired = Desired::from_group(&group);

    let covering = match ctx.tenancy.decide(&namespace, &desired).await {
        Decision::Permitted(covering) => covering,
        Decision::NotGranted(why) => {
            return refuse(ctx, writer, None, Reason::NotGranted, why).await;
        }
    };

    let observed = match observe(ctx, &group, &desired, Patience::ComeBackLater).await {
        Ok(Some(observed)) => observed,
        // Another reconcile is reading the platform: come back when it is read, without
        // holding one of the controller's slots meanwhile (nothing was written).
        Ok(None) => {
            let wait = ctx.timing.picture_wait(ctx.picture.last_refresh_took());
            return Ok(Requeue::requeue(wait));
        }
        Err(e) => return Err(fail(ctx, writer, e, Stage::Observing, None).await),
    };

    let plan = plan::plan(&desired, &observed);
    if let Err(why) = permit::adoption(&covering, &namespace, &plan, &observed) {
        return refuse(ctx, writer, None, Reason::NotGranted, why).await;
    }
    if let Some(conflict) = &plan.conflict {
        let (reason, why) = (conflict.reason(), conflict.message());
        return refuse(ctx, writer, Some(&plan), reason, why).await;
    }
    if group.spec.management_policy == ManagementPolicy::ObserveOnly {
        writer.ensure_finalizer().await?;
        return report_observed(ctx, writer, &observed, plan).await;
    }

    let executed = execute_plan(ctx, writer, &observed, &plan).await?;
    report_applied(ctx, writer, plan, executed).await
}

/// The Group may not have what it asks (`plan` is given when the plan found the platform group
/// someone else's): report it, an Event when the reason is new, and touch nothing on the
/// platform. The grants watch reconciles again when grants change; the requeue is a safety net.
async fn refuse(
    ctx: &Context,
    writer: &mut GroupWriter<'_>,
    plan: Option<&Plan>,
    reason: Reason,
    message: String,
) -> Result<Requeue, Error> {
    writer.ensure_finalizer().await?;
    let group = writer.group();
    let outcome = Outcome::Refused { reason, message };
    let status = match plan {
        Some(plan) => report::status_after(group, plan, None, &outcome, &now()),
        None => report::with_outcome(group, &outcome, &now()),
    };
    if let Some(note) = report::warning_if_new(group, &outcome) {
        tracing::info!(group = %ObjectRef::from_obj(group), "{}: {}", note.reason, note.message);
        ctx.events.send(group, note).await;
    }
    writer
        .record_status(&status, ctx.timing.status_refresh)
        .await?;
    Ok(Requeue::requeue(ctx.timing.blocked_retry))
}

/// ObserveOnly: report what Full management would change and write nothing to the platform.
async fn report_observed(
    ctx: &Context,
    writer: &mut GroupWriter<'_>,
    observed: &Observed,
    plan: Plan,
) -> Result<Requeue, Error> {
    let platform = platform_group(ctx, plan.group_id.as_deref()).await;
    let (status, note) = report::observe_only(writer.group(), plan, observed, platform, &now());
    if let Some(note) = note {
        ctx.events.send(writer.group(), note).await;
    }
    writer
        .record_status(&status, ctx.timing.status_refresh)
        .await?;
    Ok(Requeue::requeue(ctx.timing.resync()))
}

/// The execute stage of a change: our finalizer (or the create record that carries it), the
/// progress status that gates the platform writes, then the actions.
async fn execute_plan(
    ctx: &Context,
    writer: &mut GroupWriter<'_>,
    observed: &Observed,
    plan: &Plan,
) -> Result<Executed, Error> {
    let group_id = plan.group_id.clone().or(observed.status_group_id.clone());
    if !plan.creates() {
        writer.ensure_finalizer().await?;
    }
    if plan.actions.is_empty() {
        return Ok(Executed {
            group_id,
            ..Executed::default()
        });
    }
    // The progress status is also the freshness gate: it fails (409) when our copy of the Group
    // is stale, before anything reaches the platform. A new Group's first create skips it: the
    // create record, written under the same precondition right before the create, is its gate,
    // and a Group with no conditions yet already reads as in progress to kstatus and Argo CD.
    if !(plan.creates() && report::is_blank(writer.group())) {
        let status = report::progress(writer.group(), plan, &now());
        writer.write_status(&status).await?;
    }
    if let Some(note) = report::drift_corrected(observed, plan) {
        ctx.events.send(writer.group(), note).await;
    }
    let (executed, result) = execute::run(ctx, writer, &plan.actions, group_id).await;
    match result {
        Ok(()) => Ok(executed),
        Err(e) => {
            // A failure's status names the group a create made: that settles its record.
            let identity = executed.identity.as_ref();
            Err(fail(ctx, writer, e, Stage::Changing, identity).await)
        }
    }
}

/// The report stage of a change that went through.
async fn report_applied(
    ctx: &Context,
    writer: &mut GroupWriter<'_>,
    plan: Plan,
    executed: Executed,
) -> Result<Requeue, Error> {
    let platform = platform_group(ctx, executed.group_id.as_deref()).await;
    let outcome = report::partial(&plan).unwrap_or(Outcome::Available);
    let status = report::applied(writer.group(), plan, &executed, platform, &outcome, &now());
    if let Some(note) = report::warning_if_new(writer.group(), &outcome) {
        ctx.events.send(writer.group(), note).await;
    }
    writer
        .record_status(&status, ctx.timing.status_refresh)
        .await?;
    // Status now names the group: a create's record is settled. It is cleared once it is half a
    // resync interval old, normally by the first resync: clearing it now would add a write to
    // every new Group in the middle of the burst that creating many is, and nothing needs it
    // gone sooner (a settled record is ignored). Best effort: a later reconcile clears it.
    if create_record::clearing_due(writer.group(), now().0, ctx.timing.resync_interval / 2)
        && let Err(e) = writer.clear_create_record().await
    {
        tracing::debug!(group = %ObjectRef::from_obj(writer.group()), error = %e, "could not clear the create record yet");
    }
    Ok(match outcome {
        Outcome::Partial { .. } => Requeue::requeue(ctx.timing.missing_retry),
        _ => Requeue::requeue(ctx.timing.resync()),
    })
}

/// A Group being deleted: clean up the platform, then let it go.
async fn delete(ctx: &Context, writer: &mut GroupWriter<'_>) -> Result<Requeue, Error> {
    if !writer.has_finalizer() {
        return Ok(Requeue::await_change());
    }
    clean_up(ctx, writer).await?;
    writer.remove_finalizer().await?;
    Ok(Requeue::await_change())
}

/// The stages of a deletion: what may be touched, what is there, what to remove, remove it.
async fn clean_up(ctx: &Context, writer: &mut GroupWriter<'_>) -> Result<(), Error> {
    let group = writer.group().clone();
    if let Some(why) = report::untouched_by_policy(&group) {
        if let Some(note) = report::orphaned(&group, why) {
            ctx.events.send(&group, note).await;
        }
        return Ok(());
    }
    let desired = Desired::from_group(&group);
    let namespace = group.namespace().unwrap_or_default();
    if let Decision::NotGranted(why) = ctx.tenancy.decide(&namespace, &desired).await
        && let Err(note) = permit::cleanup_when_not_granted(&group, &why)
    {
        let note = Note::warning(Reason::NotGranted.as_str(), note);
        ctx.events.send(&group, note).await;
        return Ok(());
    }
    let observed = match observe(ctx, &group, &desired, Patience::Wait).await {
        Ok(Some(observed)) => observed,
        Ok(None) => return Err(Error::StalePicture),
        Err(e) => return Err(fail(ctx, writer, e, Stage::Deleting, None).await),
    };
    let actions = plan::plan_cleanup(group.spec.deletion_policy, &observed);
    if actions.is_empty() {
        return Ok(());
    }
    writer
        .write_status(&report::deleting(&group, &now()))
        .await?;
    let group_id = actions
        .iter()
        .find_map(|action| match action {
            Action::DeleteGroup { id, .. } => Some(id.clone()),
            _ => None,
        })
        .or(observed.status_group_id);
    let (_, result) = execute::run(ctx, writer, &actions, group_id).await;
    match result {
        Ok(()) => Ok(()),
        Err(e) => Err(fail(ctx, writer, e, Stage::Deleting, None).await),
    }
}

/// Reports a failure in the conditions and an Event, and hands the error back for the backoff.
async fn fail(
    ctx: &Context,
    writer: &mut GroupWriter<'_>,
    error: Error,
    stage: Stage,
    identity: Option<&(String, GroupOrigin)>,
) -> Error {
    if error.is_stale_resource() {
        // Our copy lagged behind our own writes; the retry works from the fresh resource.
        tracing::debug!(group = %ObjectRef::from_obj(writer.group()), "resource changed meanwhile; retrying");
        return error;
    }
    let failure = report::failure(writer.group(), &error, stage, identity, &now());
    ctx.events.send(writer.group(), failure.note).await;
    if let Err(e) = writer
        .record_status(&failure.status, ctx.timing.status_refresh)
        .await
    {
        tracing::warn!(error = %e, "could not record the failure in status");
    }
    error
}

/// The platform group `id` as the picture shows it now (after our writes were recorded).
async fn platform_group(ctx: &Context, id: Option<&str>) -> Option<plan::PlatformGroup> {
    let id = id?;
    ctx.picture
        .peek(|picture| picture.group(id))
        .await
        .flatten()
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}
