//! The planner's vocabulary: platform changes and reasons not to make any.

use crate::crd::{ProjectRole, Reason};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One platform change. The executor may batch them (for example all member changes and the
/// attribute update of a group into one PUT) but must apply them in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create the group with its attributes and initial members in one request.
    CreateGroup {
        name: String,
        description: Option<String>,
        /// `None`: the platform assigns one.
        gid: Option<i64>,
        /// Sent even when empty, so the platform applies no default policies.
        assigned_policies: BTreeSet<String>,
        /// Username -> user id.
        members: BTreeMap<String, String>,
    },
    /// Record an existing group's id in status: adoptExisting, or (`lost_create`) the group a
    /// create of ours made although its answer was lost.
    AdoptGroup {
        id: String,
        name: String,
        lost_create: bool,
    },
    /// Change the group's attributes; only the fields that differ are set.
    UpdateGroup(GroupUpdate),
    AddMember {
        username: String,
        user_id: String,
    },
    /// `username` is the user id when the platform's user directory does not know the member.
    RemoveMember {
        username: String,
        user_id: String,
    },
    /// Give the group `role` in `project` (and take it out of the project's other roles).
    SetProjectRole {
        project: String,
        role: ProjectRole,
    },
    /// Take the group out of every role of `project`.
    RemoveProjectRole {
        project: String,
    },
    /// Delete the group (cleanup only).
    DeleteGroup {
        id: String,
        name: String,
    },
}

/// Attribute changes for an existing group; `None` fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub gid: Option<i64>,
    pub assigned_policies: Option<BTreeSet<String>>,
}

/// Past-tense sentences, ready for an Event once the action succeeded.
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreateGroup { name, members, .. } => write!(
                f,
                "Created platform group \"{name}\" with {} member(s)",
                members.len()
            ),
            Action::AdoptGroup {
                id,
                name,
                lost_create: false,
            } => write!(f, "Adopted existing platform group \"{name}\" (id {id})"),
            Action::AdoptGroup {
                id,
                name,
                lost_create: true,
            } => write!(
                f,
                "Found platform group \"{name}\" (id {id}), created by this resource's earlier request whose answer was lost"
            ),
            Action::UpdateGroup(update) => {
                write!(f, "Updated group attributes: {}", update.changed_fields())
            }
            Action::AddMember { username, .. } => write!(f, "Added member {username}"),
            Action::RemoveMember { username, .. } => write!(f, "Removed member {username}"),
            Action::SetProjectRole { project, role } => {
                write!(f, "Set role {} in project {project}", role.as_str())
            }
            Action::RemoveProjectRole { project } => {
                write!(f, "Removed the group's role in project {project}")
            }
            Action::DeleteGroup { id, name } => {
                write!(f, "Deleted platform group \"{name}\" (id {id})")
            }
        }
    }
}

impl Action {
    /// What the action would do, in plain sentences (one per changed attribute), for
    /// `status.plannedChanges`. Only real platform changes: taking over a group by recording its
    /// id writes nothing to the platform.
    pub fn planned(&self) -> Vec<String> {
        match self {
            Action::CreateGroup {
                name,
                members,
                assigned_policies,
                ..
            } => {
                let policies: Vec<&str> = assigned_policies.iter().map(String::as_str).collect();
                let policies = if policies.is_empty() {
                    "no tenant policies".to_owned()
                } else {
                    format!("tenant policies {}", policies.join(", "))
                };
                vec![format!(
                    "Create platform group \"{name}\" with {} member(s) and {policies}",
                    members.len()
                )]
            }
            Action::AdoptGroup { .. } => Vec::new(),
            Action::UpdateGroup(update) => {
                let mut sentences = Vec::new();
                if let Some(name) = &update.name {
                    sentences.push(format!("Rename the platform group back to \"{name}\""));
                }
                if let Some(description) = &update.description {
                    sentences.push(format!("Set the group's description to \"{description}\""));
                }
                if let Some(gid) = update.gid {
                    sentences.push(format!("Set the group's gid to {gid}"));
                }
                if let Some(policies) = &update.assigned_policies {
                    let names: Vec<&str> = policies.iter().map(String::as_str).collect();
                    sentences.push(if names.is_empty() {
                        "Remove every tenant policy from the group".to_owned()
                    } else {
                        format!("Set the group's tenant policies to {}", names.join(", "))
                    });
                }
                sentences
            }
            Action::AddMember { username, .. } => vec![format!("Add member {username}")],
            Action::RemoveMember { username, .. } => vec![format!("Remove member {username}")],
            Action::SetProjectRole { project, role } => {
                vec![format!(
                    "Give the group role {} in project {project}",
                    role.as_str()
                )]
            }
            Action::RemoveProjectRole { project } => {
                vec![format!("Remove the group's role in project {project}")]
            }
            Action::DeleteGroup { id, name } => {
                vec![format!("Delete platform group \"{name}\" (id {id})")]
            }
        }
    }

    /// Actions that touch different platform objects of one kind, so several of them may be in
    /// flight at once: membership changes (one user each) and role changes (one project each).
    fn side_by_side(&self) -> Option<u8> {
        match self {
            Action::AddMember { .. } | Action::RemoveMember { .. } => Some(0),
            Action::SetProjectRole { .. } | Action::RemoveProjectRole { .. } => Some(1),
            _ => None,
        }
    }
}

/// The actions cut into steps that run one after the other, in plan order; the actions of one
/// step may run side by side. A plan names each user and each project at most once, so a step
/// of membership (or role) changes never touches one object twice; running them together lets
/// the client carry a group's role changes in one transaction and its member changes at once.
pub fn steps(actions: &[Action]) -> Vec<&[Action]> {
    let mut steps = Vec::new();
    let mut start = 0;
    for i in 1..=actions.len() {
        let joins = i < actions.len()
            && actions[i].side_by_side().is_some()
            && actions[i].side_by_side() == actions[start].side_by_side();
        if !joins {
            steps.push(&actions[start..i]);
            start = i;
        }
    }
    steps
}

impl GroupUpdate {
    pub fn is_empty(&self) -> bool {
        *self == GroupUpdate::default()
    }

    /// The names of the fields this update sets, e.g. "description, assigned_policies".
    pub fn changed_fields(&self) -> String {
        let fields = [
            ("name", self.name.is_some()),
            ("description", self.description.is_some()),
            ("gid", self.gid.is_some()),
            ("assigned_policies", self.assigned_policies.is_some()),
        ];
        let set: Vec<&str> = fields
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(field, _)| *field)
            .collect();
        set.join(", ")
    }
}

/// Why a resource must leave the platform group untouched: it is someone else's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// A platform group with the name exists and this resource neither created it nor may adopt
    /// it. `id` is unknown when a create learnt of the group only from a 409.
    /// `create_outcome_unknown`: the Group carries a create record (an earlier create lost its
    /// answer) that does not prove this group is what that create made, so whether it is ours
    /// cannot be told.
    AlreadyExists {
        name: String,
        id: Option<String>,
        create_outcome_unknown: bool,
    },
    /// Another Group resource (`owner`, "namespace/name") holds the name.
    NameConflict { name: String, owner: String },
}

impl Conflict {
    pub fn reason(&self) -> Reason {
        match self {
            Conflict::AlreadyExists { .. } => Reason::AlreadyExists,
            Conflict::NameConflict { .. } => Reason::NameConflict,
        }
    }

    /// A message a platform admin can act on.
    pub fn message(&self) -> String {
        match self {
            Conflict::AlreadyExists {
                name,
                id,
                create_outcome_unknown: false,
            } => format!(
                "A platform group named \"{name}\"{} already exists and was not created by this \
                 resource, so it is left untouched. Set spec.adoptExisting: true to manage it, or \
                 choose another spec.groupName.",
                id_note(id)
            ),
            Conflict::AlreadyExists {
                name,
                id,
                create_outcome_unknown: true,
            } => format!(
                "A platform group named \"{name}\"{} exists, and the outcome of this resource's \
                 earlier create request is unknown (its answer was lost): its create record does \
                 not prove the group is the one it made (the group differs from what the request \
                 sent, or the record was not written by this operator), so it is left untouched. \
                 If the group is in fact this resource's, set spec.adoptExisting: true to manage \
                 it; otherwise choose another spec.groupName.",
                id_note(id)
            ),
            Conflict::NameConflict { name, owner } => format!(
                "Group resource {owner} already manages the platform group \"{name}\", so this \
                 resource leaves it untouched (deleting this resource will not affect it). Choose \
                 another spec.groupName, or delete one of the two resources."
            ),
        }
    }
}

fn id_note(id: &Option<String>) -> String {
    id.as_ref()
        .map(|id| format!(" (id {id})"))
        .unwrap_or_default()
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str) -> Action {
        Action::AddMember {
            username: name.into(),
            user_id: format!("id-{name}"),
        }
    }

    fn role(project: &str) -> Action {
        Action::SetProjectRole {
            project: project.into(),
            role: ProjectRole::Viewer,
        }
    }

    #[test]
    fn like_actions_in_a_row_form_one_step_and_order_is_kept() {
        let create = Action::CreateGroup {
            name: "g".into(),
            description: None,
            gid: None,
            assigned_policies: BTreeSet::new(),
            members: BTreeMap::new(),
        };
        let update = Action::UpdateGroup(GroupUpdate {
            description: Some("d".into()),
            ..Default::default()
        });
        let removal = Action::RemoveMember {
            username: "old".into(),
            user_id: "id-old".into(),
        };
        let actions = vec![
            create.clone(),
            update.clone(),
            member("a"),
            removal.clone(),
            role("p1"),
            Action::RemoveProjectRole {
                project: "p2".into(),
            },
            Action::DeleteGroup {
                id: "x".into(),
                name: "g".into(),
            },
        ];
        let lens: Vec<usize> = steps(&actions).iter().map(|s| s.len()).collect();
        assert_eq!(lens, [1, 1, 2, 2, 1]);
        assert_eq!(steps(&actions).concat(), actions);
        assert!(steps(&[]).is_empty());
        // Two creates or updates never share a step.
        let lens: Vec<usize> = steps(&[update.clone(), update])
            .iter()
            .map(|s| s.len())
            .collect();
        assert_eq!(lens, [1, 1]);
    }
}
