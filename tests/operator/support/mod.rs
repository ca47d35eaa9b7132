//! What the operator's integration tests share: the end-to-end harness (control plane, emulator,
//! controller) and small helpers. The control plane itself comes from `igz_testkit::envtest`.

mod harness;

pub use harness::*;

/// `FaultsPatch` setting only the error rate.
pub fn errors(rate: f64) -> igz_emulator::FaultsPatch {
    igz_emulator::FaultsPatch {
        error_rate: Some(rate),
        ..Default::default()
    }
}

/// This binary's log buffer. Every test's logs land in it from the harness's start on, so the
/// checks that no secret reaches a log line cover all of them.
pub fn logs() -> igz_testkit::logs::Captured {
    igz_testkit::logs::capture(
        "igz_operator=trace,igz_mgmt=trace,kube=debug,reqwest=trace,hyper=debug",
    )
}
