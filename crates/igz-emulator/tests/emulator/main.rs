//! The emulator's integration tests, in one binary (the crate is linked once): its HTTP surface
//! beyond what the vendor-SDK suite covers, each fault knob, invariants under concurrent load,
//! and its command line.

mod api;
mod cli;
mod faults;
mod invariants;
mod support;
