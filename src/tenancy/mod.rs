//! Tenancy: what a namespace may ask the operator to do on the platform, as GroupGrants say.
//!
//! The operator holds one wide platform credential and acts for whoever can write a Group; grants
//! bound what each namespace may ask for, so it is a deputy and not a backdoor. Everything here is
//! pure: [`check`] decides for one Group (the reconcile's authority), [`admission`] renders the
//! same rules as a ValidatingAdmissionPolicy (so `kubectl apply` is refused with the same words).
//!
//! Rules: a Group is permitted only when one grant that selects its namespace covers all of it
//! (platform group name, every tenant policy, every project role up to the grant's strongest,
//! every member, and adoption; with `temporaryMembers.required`, no permanent member). Grants are
//! never combined; no grant means no. Invalid grants grant nothing. How long a temporary member
//! may last depends on the clock, so the planner judges it (`temporary_cap` gives it the cap).

pub mod admission;
mod check;
pub mod duration;
mod grant;
mod selector;

pub use check::{Decision, Request, check, check_adoption, temporary_cap};
pub use grant::{CompiledGrant, InvalidGrant, TemporaryRules, compile};
pub use selector::selects;

#[cfg(test)]
mod proptests;
