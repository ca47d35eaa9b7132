//! `GET /__emulator/state`: every resource as the API renders it, for tests and demos.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole platform, each resource a JSON:API resource object with every relationship.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateReport {
    pub users: Vec<Value>,
    pub user_groups: Vec<Value>,
    pub projects: Vec<Value>,
    pub project_authorization_roles: Vec<Value>,
    pub jobs: Vec<Value>,
    /// `ok`, or the first broken invariant (e.g. a membership recorded on one side only).
    pub invariants: String,
}

impl StateReport {
    /// The user group with this name, as rendered.
    pub fn user_group(&self, name: &str) -> Option<&Value> {
        self.user_groups
            .iter()
            .find(|g| g["attributes"]["name"] == name)
    }
}
