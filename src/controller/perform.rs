//! Performs one planned action through the management client and records its effect in the
//! shared platform picture. Every call is idempotent, so a retry after a failure is safe.

use super::error::Error;
use super::picture::{Recorded, SharedPicture};
use crate::plan::Action;
use igz_mgmt::{MgmtClient, NewUserGroup, UserGroupPatch};

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The group's id, when the action created or adopted it.
    pub group_id: Option<String>,
    /// False when the platform already was as the action wanted it (a plan from a stale
    /// picture): e.g. a member added by someone else meanwhile, whom we must not count as ours.
    pub changed: bool,
}

impl Done {
    fn changed(changed: bool) -> Self {
        Done {
            group_id: None,
            changed,
        }
    }

    fn group(id: String) -> Self {
        Done {
            group_id: Some(id),
            changed: true,
        }
    }
}

/// Performs `action` on group `group_id` (for a create: the id status recorded, if any). A
/// failure that shows the shared picture was wrong (something in it vanished or already exists)
/// makes the next reconcile re-read it.
pub async fn perform(
    mgmt: &MgmtClient,
    picture: &SharedPicture,
    group_id: Option<&str>,
    action: &Action,
) -> Result<Done, Error> {
    let outcome = call(mgmt, picture, group_id, action).await;
    if let Err(e) = &outcome
        && e.invalidates_picture()
    {
        picture.invalidate().await;
    }
    outcome
}

async fn call(
    mgmt: &MgmtClient,
    picture: &SharedPicture,
    group_id: Option<&str>,
    action: &Action,
) -> Result<Done, Error> {
    let failed = |e| Error::platform(doing(action), e);
    let id = || group_id.unwrap_or_default().to_owned();
    match action {
        Action::CreateGroup {
            name,
            description,
            gid,
            assigned_policies,
            members,
        } => {
            // Recreating a group status names: it was missing from the shared picture. Check
            // the one group before creating another (a picture can miss a group, e.g. a list
            // paged while other groups were deleted).
            if let Some(recorded) = group_id
                && mgmt.get_group(recorded).await.map_err(failed)?.is_some()
            {
                return Err(Error::StalePicture);
            }
            let new = NewUserGroup {
                name: name.clone(),
                description: description.clone(),
                gid: *gid,
                assigned_policies: assigned_policies.iter().cloned().collect(),
                member_ids: members.values().cloned().collect(),
            };
            let created = mgmt.create_group(&new).await.map_err(failed)?;
            let created_id = created.id.clone();
            picture.record(Recorded::Group(created)).await;
            Ok(Done::group(created_id))
        }
        Action::AdoptGroup { id, .. } => Ok(Done::group(id.clone())),
        Action::UpdateGroup(update) => {
            let patch = UserGroupPatch {
                name: update.name.clone(),
                description: update.description.clone(),
                gid: update.gid,
                assigned_policies: update
                    .assigned_policies
                    .as_ref()
                    .map(|p| p.iter().cloned().collect()),
            };
            let updated = mgmt.update_group(&id(), &patch).await.map_err(failed)?;
            picture.record(Recorded::Attributes(updated)).await;
            Ok(Done::changed(true))
        }
        Action::AddMember { user_id, .. } => {
            let group_id = id();
            let changed = mgmt
                .add_user_to_group(user_id, &group_id)
                .await
                .map_err(failed)?;
            picture
                .record(Recorded::Membership {
                    group_id,
                    user_id: user_id.clone(),
                    member: true,
                })
                .await;
            Ok(Done::changed(changed))
        }
        Action::RemoveMember { user_id, .. } => {
            let group_id = id();
            let changed = mgmt
                .remove_user_from_group(user_id, &group_id)
                .await
                .map_err(failed)?;
            picture
                .record(Recorded::Membership {
                    group_id,
                    user_id: user_id.clone(),
                    member: false,
                })
                .await;
            Ok(Done::changed(changed))
        }
        Action::SetProjectRole { project, role } => {
            let group_id = id();
            mgmt.set_group_project_role(project, &group_id, Some((*role).into()))
                .await
                .map_err(failed)?;
            picture
                .record(Recorded::ProjectRole {
                    project: project.clone(),
                    group_id,
                    role: Some(*role),
                })
                .await;
            Ok(Done::changed(true))
        }
        Action::RemoveProjectRole { project } => {
            let group_id = id();
            mgmt.set_group_project_role(project, &group_id, None)
                .await
                .map_err(failed)?;
            picture
                .record(Recorded::ProjectRole {
                    project: project.clone(),
                    group_id,
                    role: None,
                })
                .await;
            Ok(Done::changed(true))
        }
        Action::DeleteGroup { id, .. } => {
            mgmt.delete_group(id).await.map_err(failed)?;
            picture
                .record(Recorded::Deleted {
                    group_id: id.clone(),
                })
                .await;
            Ok(Done::changed(true))
        }
    }
}

/// What the action was about to do, for error messages ("could not ...").
pub fn doing(action: &Action) -> String {
    match action {
        Action::CreateGroup { name, .. } => format!("create platform group \"{name}\""),
        Action::AdoptGroup { name, .. } => format!("adopt platform group \"{name}\""),
        Action::UpdateGroup(update) => format!("update the group's {}", update.changed_fields()),
        Action::AddMember { username, .. } => format!("add member {username}"),
        Action::RemoveMember { username, .. } => format!("remove member {username}"),
        Action::SetProjectRole { project, role } => {
            format!("give the group role {} in project {project}", role.as_str())
        }
        Action::RemoveProjectRole { project } => {
            format!("remove the group's role in project {project}")
        }
        Action::DeleteGroup { name, .. } => format!("delete platform group \"{name}\""),
    }
}
