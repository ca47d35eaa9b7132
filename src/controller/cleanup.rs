//! A Group being deleted, as the same stages: permit (what may still be touched: Orphan, an
//! ungranted Group, a Group that never made anything), observe (what its platform holds), plan
//! (`plan::plan_cleanup`, or the temporary memberships an Orphan deletion still ends), execute,
//! and let the Group go (the finalizer's removal, through the Group writer).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::controller::Action as Requeue;

use super::context::Context;
use super::error::Error;
use super::execute::{self, Run};
use super::group_writer::GroupWriter;
use super::observe::{Patience, observe};
use super::permit;
use super::reconcile::fail;
use super::report::{self, Note, Stage};
use crate::crd::{Group, ManagementPolicy, Reason};
use crate::create_record::{self, Standing};
use crate::plan::{self, Action, Desired, Temporary};
use crate::tenancy::Decision;

/// A Group being deleted: clean up the platform, then let it go.
pub async fn delete(ctx: &Context, writer: &mut GroupWriter<'_>) -> Result<Requeue, Error> {
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
    let orphan = report::untouched_by_policy(&group);
    if let Some(why) = orphan
        && !leaves_temporary_members(&group)
    {
        if let Some(note) = report::orphaned(&group, why) {
            ctx.events.send(&group, note).await;
        }
        return Ok(());
    }
    if nothing_of_ours_on_the_platform(&group, ctx) {
        return Ok(());
    }
    let desired = Desired::from_group(&group);
    let namespace = group.namespace().unwrap_or_default();
    if orphan.is_none()
        && let Decision::NotGranted(why) = ctx.tenancy.decide(&namespace, &desired).await
        && let Err(note) = permit::cleanup_when_not_granted(&group, &why)
    {
        let note = Note::warning(Reason::NotGranted.as_str(), note);
        ctx.events.send(&group, note).await;
        return Ok(());
    }
    let platform = match ctx.platform(&desired.connection).await {
        Ok(platform) => platform,
        Err(e) => return Err(fail(ctx, writer, e, Stage::Deleting, None, None).await),
    };
    let now = Timestamp::now();
    let observed = match observe(ctx, &platform, &group, &desired, Patience::Wait, now).await {
        Ok(Some(observed)) => observed,
        Ok(None) => return Err(Error::StalePicture),
        Err(e) => return Err(fail(ctx, writer, e, Stage::Deleting, None, None).await),
    };
    let actions = match orphan {
        // Orphan leaves the group, never the temporary memberships this Group added: nobody
        // would end them any more, and they would become standing access.
        Some(_) => plan::temporary::orphan_removals(&desired, &observed),
        None => plan::plan_cleanup(group.spec.deletion_policy, &observed),
    };
    if !actions.is_empty() {
        writer
            .write_status(&report::deleting(&group, &Time(now)))
            .await?;
        let group_id = actions
            .iter()
            .find_map(|action| match action {
                Action::DeleteGroup { id, .. } => Some(id.clone()),
                _ => None,
            })
            .or(observed.status_group_id.clone());
        let none = Temporary::default();
        let on = Run {
            ctx,
            platform: &platform,
            writer,
            temporary: &none,
        };
        let (_, result) = execute::run(on, &actions, group_id).await;
        if let Err(e) = result {
            return Err(fail(ctx, writer, e, Stage::Deleting, None, None).await);
        }
    }
    if let Some(why) = orphan
        && let Some(note) = report::orphaned(&group, why)
    {
        ctx.events.send(&group, note).await;
    }
    Ok(())
}

/// Whether an Orphan deletion still has temporary memberships of this Group's to end.
fn leaves_temporary_members(group: &Group) -> bool {
    group.spec.management_policy == ManagementPolicy::Full
        && group
            .status
            .as_ref()
            .is_some_and(|s| s.temporary_members.iter().any(|m| m.added))
}

/// A Group that never made or adopted a platform group, and has no create in flight, has
/// nothing on the platform to clean up: it may go even when its connection cannot be used.
fn nothing_of_ours_on_the_platform(group: &Group, ctx: &Context) -> bool {
    let named = group.status.as_ref().is_some_and(|s| s.group_id.is_some());
    let pending = matches!(
        create_record::standing(group, &ctx.record_keys),
        Some(Standing::Pending(_))
    );
    !named && !pending
}
