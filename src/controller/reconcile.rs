//! One reconcile of one Group, as named stages:
//!
//! permit (may it have what it asks?) -> observe (what does its platform hold?) -> plan (what
//! must change? pure) -> execute (change it) -> report (status and Events).
//!
//! The stages decide; the Group writer performs every write to the Group object, and the report
//! stage builds status purely. A change and a deletion run the same stages with their own rules.
//! The clock is read once per reconcile (`now`): temporary members begin and end by it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;

use super::cleanup;
use super::context::Context;
use super::error::Error;
use super::execute::{self, Executed, Run};
use super::group_writer::GroupWriter;
use super::observe::{Patience, observe};
use super::permit;
use super::platforms::Platform;
use super::report::{self, Note, Outcome, Stage};
use crate::crd::{Group, GroupOrigin, ManagementPolicy, Reason};
use crate::create_record;
use crate::plan::{self, Desired, Observed, Plan, Temporary};
use crate::tenancy::{self, Decision};

/// Entry point for the kube-runtime controller.
pub async fn reconcile(group: Arc<Group>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    let started = Instant::now();
    let mut writer = GroupWriter::new(ctx.kube.clone(), &group, &ctx.record_keys);
    let result = if group.metadata.deletion_timestamp.is_some() {
        cleanup::delete(&ctx, &mut writer).await
    } else {
        change(&ctx, &mut writer).await
    };
    let key = ObjectRef::from_obj(&*group).to_string();
    match (
        &result,
        writer.has_finalizer() || group.metadata.deletion_timestamp.is_none(),
    ) {
        (Ok(_), false) => ctx.metrics.groups.forget(key),
        _ => ctx.metrics.groups.record(key, writer.group()),
    }
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
    let delay = ctx.next_error_delay(&group);
    tracing::warn!(
        group = %ObjectRef::from_obj(&*group),
        error = %error,
        retry_in_s = delay.as_secs_f64(),
        "reconcile failed"
    );
    Requeue::requeue(delay)
}

/// A Group that is not being deleted: bring its platform in line with it.
async fn change(ctx: &Context, writer: &mut GroupWriter<'_>) -> Result<Requeue, Error> {
    let now = Timestamp::now();
    let group = writer.group().clone();
    let namespace = group.namespace().unwrap_or_default();
    let mut desired = Desired::from_group(&group);

    let covering = match ctx.tenancy.decide(&namespace, &desired).await {
        Decision::Permitted(covering) => covering,
        Decision::NotGranted(why) => return frozen(ctx, writer, &desired, why, now).await,
    };
    desired.temporary_cap = tenancy::temporary_cap(&covering.iter().collect::<Vec<_>>());

    let platform = match ctx.platform(&desired.connection).await {
        Ok(platform) => platform,
        Err(e) => return Err(fail(ctx, writer, e, Stage::Observing, None, None).await),
    };
    let patience = Patience::ComeBackLater;
    let observed = match observe(ctx, &platform, &group, &desired, patience, now).await {
        Ok(Some(observed)) => observed,
        // Another reconcile is reading the platform: come back when it is read, without
        // holding one of the controller's slots meanwhile (nothing was written).
        Ok(None) => {
            let wait = ctx
                .timing
                .picture_wait(platform.picture().last_refresh_took());
            return Ok(Requeue::requeue(wait));
        }
        Err(e) => return Err(fail(ctx, writer, e, Stage::Observing, None, None).await),
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
        return report_observed(ctx, &platform, writer, &observed, plan, now).await;
    }

    let executed = execute_plan(ctx, &platform, writer, &observed, &plan).await?;
    report_applied(ctx, &platform, writer, plan, executed, now).await
}

/// The Group may not have what it asks: it is frozen, touching nothing on the platform, except
/// that temporary memberships it added still end on time (taking access away is always safe).
async fn frozen(
    ctx: &Context,
    writer: &mut GroupWriter<'_>,
    desired: &Desired,
    why: String,
    now: Timestamp,
) -> Result<Requeue, Error> {
    let added = writer
        .group()
        .status
        .as_ref()
        .is_some_and(|s| s.temporary_members.iter().any(|m| m.added));
    if !added {
        return refuse(ctx, writer, None, Reason::NotGranted, why).await;
    }
    let platform = ctx.platform(&desired.connection).await;
    let platform = match platform {
        Ok(platform) => platform,
        Err(e) => return Err(fail(ctx, writer, e, Stage::Observing, None, None).await),
    };
    let group = writer.group().clone();
    let observed = match observe(ctx, &platform, &group, desired, Patience::Wait, now).await {
        Ok(Some(observed)) => observed,
        Ok(None) => return Err(Error::StalePicture),
        Err(e) => return Err(fail(ctx, writer, e, Stage::Observing, None, None).await),
    };
    let plan = plan::temporary::frozen(desired, &observed);
    let on = Run {
        ctx,
        platform: &platform,
        writer,
        temporary: &plan.temporary,
    };
    let (executed, result) = execute::run(on, &plan.actions, plan.group_id.clone()).await;
    if let Err(e) = result {
        let temporary = (&plan.temporary, &executed);
        return Err(fail(ctx, writer, e, Stage::Changing, None, Some(temporary)).await);
    }
    writer.ensure_finalizer().await?;
    let outcome = Outcome::Refused {
        reason: Reason::NotGranted,
        message: why,
    };
    let mut status = report::with_outcome(writer.group(), &outcome, &Time(now));
    report::temporary_applied(&mut status, &plan.temporary, &executed);
    if let Some(note) = report::warning_if_new(writer.group(), &outcome) {
        ctx.events.send(writer.group(), note).await;
    }
    writer
        .record_status(&status, ctx.timing.status_refresh)
        .await?;
    Ok(wake(ctx.timing.blocked_retry, &plan.temporary, now))
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
    let now = Time(Timestamp::now());
    let status = match plan {
        Some(plan) => report::status_after(group, plan, None, &outcome, &now),
        None => report::with_outcome(group, &outcome, &now),
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
    platform: &Platform,
    writer: &mut GroupWriter<'_>,
    observed: &Observed,
    plan: Plan,
    now: Timestamp,
) -> Result<Requeue, Error> {
    let platform_group = platform_group(platform, plan.group_id.as_deref()).await;
    let temporary = plan.temporary.clone();
    let (status, note) =
        report::observe_only(writer.group(), plan, observed, platform_group, &Time(now));
    if let Some(note) = note {
        ctx.events.send(writer.group(), note).await;
    }
    writer
        .record_status(&status, ctx.timing.status_refresh)
        .await?;
    Ok(wake(ctx.timing.resync(), &temporary, now))
}

/// The execute stage of a change: our finalizer (or the create record that carries it), the
/// progress status that gates the platform writes, then the actions.
async fn execute_plan(
    ctx: &Context,
    platform: &Platform,
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
        let status = report::progress(writer.group(), plan, &Time(Timestamp::now()));
        writer.write_status(&status).await?;
    }
    if let Some(note) = report::drift_corrected(observed, plan) {
        ctx.events.send(writer.group(), note).await;
    }
    let on = Run {
        ctx,
        platform,
        writer,
        temporary: &plan.temporary,
    };
    let (executed, result) = execute::run(on, &plan.actions, group_id).await;
    match result {
        Ok(()) => Ok(executed),
        Err(e) => {
            // A failure's status names the group a create made: that settles its record.
            let identity = executed.identity.clone();
            let temporary = Some((&plan.temporary, &executed));
            Err(fail(
                ctx,
                writer,
                e,
                Stage::Changing,
                identity.as_ref(),
                temporary,
            )
            .await)
        }
    }
}

/// The report stage of a change that went through.
async fn report_applied(
    ctx: &Context,
    platform: &Platform,
    writer: &mut GroupWriter<'_>,
    plan: Plan,
    executed: Executed,
    now: Timestamp,
) -> Result<Requeue, Error> {
    let platform_group = platform_group(platform, executed.group_id.as_deref()).await;
    let outcome = report::outcome_applied(&plan);
    let temporary = plan.temporary.clone();
    let status = report::applied(
        writer.group(),
        plan,
        &executed,
        platform_group,
        &outcome,
        &Time(now),
    );
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
    if create_record::clearing_due(writer.group(), now, ctx.timing.resync_interval / 2)
        && let Err(e) = writer.clear_create_record().await
    {
        tracing::debug!(group = %ObjectRef::from_obj(writer.group()), error = %e, "could not clear the create record yet");
    }
    let usual = match outcome {
        Outcome::Partial { .. } => ctx.timing.missing_retry,
        _ => ctx.timing.resync(),
    };
    Ok(wake(usual, &temporary, now))
}

/// Comes back after `usual`, or when the next temporary membership ends (or a refused one may
/// start), whichever is sooner: timers, not scans.
pub(super) fn wake(usual: Duration, temporary: &Temporary, now: Timestamp) -> Requeue {
    let until = temporary
        .wake_at
        .map(|at| Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO));
    Requeue::requeue(until.map_or(usual, |until| until.min(usual)))
}

/// Reports a failure in the conditions and an Event, and hands the error back for the backoff.
/// `temporary`: the temporary memberships of the run that failed, whose status (when each was
/// granted, whether this Group added it) must be kept, and whose removals may now be late.
pub(super) async fn fail(
    ctx: &Context,
    writer: &mut GroupWriter<'_>,
    error: Error,
    stage: Stage,
    identity: Option<&(String, GroupOrigin)>,
    temporary: Option<(&Temporary, &Executed)>,
) -> Error {
    if error.is_stale_resource() {
        // Our copy lagged behind our own writes; the retry works from the fresh resource.
        tracing::debug!(group = %ObjectRef::from_obj(writer.group()), "resource changed meanwhile; retrying");
        return error;
    }
    let now = Time(Timestamp::now());
    let mut failure = report::failure(writer.group(), &error, stage, identity, &now);
    let delayed = match temporary {
        Some((temporary, executed)) => {
            report::temporary_applied(&mut failure.status, temporary, executed);
            let note = temporary.removal_delayed_note(&error.message());
            note.map(|note| Note::warning("MemberExpiryDelayed", note))
        }
        // Failed before a plan (the platform could not even be read): what status recorded.
        None => report::expiries_overdue(writer.group(), &error.message(), now.0),
    };
    if let Some(note) = delayed {
        ctx.events.send(writer.group(), note).await;
    }
    ctx.events.send(writer.group(), failure.note).await;
    if let Err(e) = writer
        .record_status(&failure.status, ctx.timing.status_refresh)
        .await
    {
        tracing::warn!(error = %e, "could not record the failure in status");
    }
    error
}

/// The platform group `id` as the platform's picture shows it now (our writes recorded).
async fn platform_group(platform: &Platform, id: Option<&str>) -> Option<plan::PlatformGroup> {
    let id = id?;
    platform
        .picture()
        .peek(|picture| picture.group(id))
        .await
        .flatten()
}
