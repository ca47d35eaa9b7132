//! Capturing every log line of a test binary, to check that no secret reaches them.
//!
//! One global subscriber per binary, installed before the first test logs anything: tracing's
//! per-callsite interest cache is global, so a capturing subscriber scoped to one test would race
//! the tests that run beside it without one. Tests that check logs read everything every test
//! of the binary logged so far, which only makes the check stricter.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// A `MakeWriter` that appends every log line to a shared buffer.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The binary's log buffer, installing the capturing subscriber with `filter` (an `EnvFilter`
/// directive such as `igz_mgmt=trace`) on first use; later calls return the same buffer.
pub fn capture(filter: &str) -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(captured.clone())
                .with_ansi(false)
                .init();
            captured
        })
        .clone()
}
