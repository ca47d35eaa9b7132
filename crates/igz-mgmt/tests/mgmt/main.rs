//! The management client against the emulator, in one binary (the crate is linked once):
//! sessions, groups and users, project roles, faults and limits, and secret redaction.

mod auth;
mod connections;
mod credentials;
mod faults;
mod groups;
mod probe;
mod projects;
mod redaction;
mod rejected;
mod support;
