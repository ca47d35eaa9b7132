//! The execute stage: runs planned actions on the platform, step by step, for a change and for
//! a deletion alike. The changes of one step (members of different users, roles in different
//! projects) are in flight at once, so the client can carry a group's role changes in one
//! transaction; a failure stops the run after its step, and what was done so far is reported.

use std::collections::BTreeSet;

use futures::future::join_all;
use kube::runtime::reflector::ObjectRef;

use super::context::Context;
use super::error::Error;
use super::group_writer::GroupWriter;
use super::perform::{Done, perform};
use super::platforms::Platform;
use super::report::Note;
use crate::crd::GroupOrigin;
use crate::create_record::Sent;
use crate::plan::{Action, Temporary, steps};

/// What a run did, also when it failed part-way.
#[derive(Debug, Default)]
pub struct Executed {
    /// The platform group the actions apply to (known after a create or an adoption).
    pub group_id: Option<String>,
    /// The group this run created or adopted, and how: status must name it.
    pub identity: Option<(String, GroupOrigin)>,
    /// Usernames the plan added who turned out to be members already (the picture was older
    /// than someone else's change): not ours to claim.
    pub already_members: BTreeSet<String>,
}

/// Where a run works and what it tells people: the platform, the Group's writer, and the
/// temporary memberships the plan starts and ends (their Events say until when, and why).
pub struct Run<'r, 'k> {
    pub ctx: &'r Context,
    pub platform: &'r Platform,
    pub writer: &'r mut GroupWriter<'k>,
    pub temporary: &'r Temporary,
}

/// Runs `actions` on `group_id` (none before a create), with an Event for each change. A create
/// is preceded by its create record (the writer adds our finalizer with it), and a definite
/// refusal clears the record at once, so the group found later is never mistaken for ours.
pub async fn run(
    mut on: Run<'_, '_>,
    actions: &[Action],
    group_id: Option<String>,
) -> (Executed, Result<(), Error>) {
    let mut executed = Executed {
        group_id,
        ..Executed::default()
    };
    for step in steps(actions) {
        let outcome = match step {
            [action] => run_one(&mut on, action, &mut executed).await,
            several => run_together(&on, several, &mut executed).await,
        };
        if let Err(e) = outcome {
            return (executed, Err(e));
        }
    }
    (executed, Ok(()))
}

/// One action that runs alone: a create (with its record), an adoption, an attribute update or
/// a deletion.
async fn run_one(
    on: &mut Run<'_, '_>,
    action: &Action,
    executed: &mut Executed,
) -> Result<(), Error> {
    let sent = Sent::of(action);
    if let Some(sent) = &sent {
        on.writer.write_create_record(sent).await?;
    }
    let group_id = executed.group_id.as_deref();
    let (client, picture) = (on.platform.client(), on.platform.picture());
    let done = match perform(client, picture, group_id, action).await {
        Ok(done) => done,
        Err(e) if sent.is_some() => return Err(create_failed(on.writer, e).await),
        Err(e) => return Err(e),
    };
    if let Some(id) = done.group_id.clone() {
        // Written to status with the reconcile's outcome (success or failure); until then the
        // create record (a create's) or adoptExisting (an adoption) finds the group again.
        let origin = match action {
            Action::AdoptGroup {
                lost_create: false, ..
            } => GroupOrigin::Adopted,
            _ => GroupOrigin::Created,
        };
        executed.identity = Some((id.clone(), origin));
        executed.group_id = Some(id);
    }
    announce(on, action, &done, executed).await;
    Ok(())
}

/// Changes of different users (or projects) in flight at once; the first failure is returned
/// after every change of the step has ended.
async fn run_together(
    on: &Run<'_, '_>,
    step: &[Action],
    executed: &mut Executed,
) -> Result<(), Error> {
    let group_id = executed.group_id.clone();
    let (client, picture) = (on.platform.client(), on.platform.picture());
    let outcomes = join_all(
        step.iter()
            .map(|action| perform(client, picture, group_id.as_deref(), action)),
    )
    .await;
    let mut first_error = None;
    for (action, outcome) in step.iter().zip(outcomes) {
        match outcome {
            Ok(done) => announce(on, action, &done, executed).await,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Logs a platform change and sends its Event (a temporary membership's says until when, or
/// that it ended); a member the plan added who already was one is noted instead.
async fn announce(on: &Run<'_, '_>, action: &Action, done: &Done, executed: &mut Executed) {
    if let Action::AddMember { username, .. } = action
        && !done.changed
    {
        executed.already_members.insert(username.clone());
        return;
    }
    let group = on.writer.group();
    tracing::info!(group = %ObjectRef::from_obj(group), "{action}");
    match on.temporary.event(action) {
        Some((reason, note)) => on.ctx.events.send(group, Note::normal(reason, note)).await,
        None => on.ctx.events.action_done(group, action).await,
    }
    for (reason, note) in on.temporary.created_with(action) {
        on.ctx.events.send(group, Note::normal(reason, note)).await;
    }
    if let Action::RemoveMember { username, .. } = action
        && let Some(ended) = on.temporary.expiring.get(username)
    {
        on.ctx
            .metrics
            .groups
            .expiry_removed(*ended, jiff::Timestamp::now());
    }
}

/// A create failed. A definite answer (the request certainly created nothing: a 409, another
/// 4xx, a 429) ends its record at once. A taken name is reported as AlreadyExists, with
/// nothing touched.
async fn create_failed(writer: &mut GroupWriter<'_>, error: Error) -> Error {
    if error.create_definitely_failed()
        && let Err(e) = writer.clear_create_record().await
    {
        return e;
    }
    let name = writer.group().effective_group_name();
    match error.create_name_taken(name) {
        Some(conflict) => {
            tracing::info!(group = %ObjectRef::from_obj(writer.group()), error = %error, "create refused: {conflict}");
            Error::AlreadyExists(conflict)
        }
        None => error,
    }
}
