//! The management client against the emulator, in one binary (the crate is linked once):
//! sessions, groups and users, project roles, faults and limits, and secret redaction.

mod auth;
mod faults;
mod groups;
mod projects;
mod redaction;
mod support;
