//! The emulator's integration tests, in one binary (the crate is linked once): its HTTP surface
//! beyond what the vendor-SDK suite covers, credentials that change at run time, each fault
//! knob, invariants under concurrent load, and its command line.

mod api;
mod cli;
mod credentials;
mod faults;
mod invariants;
mod support;
