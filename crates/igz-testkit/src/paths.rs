//! Where things are. The shell scripts in `hack/` own the layout (`hack/lib.sh`, the one settings
//! file); Rust code asks it instead of repeating paths.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The repository root (this crate lives in `crates/igz-testkit`).
pub fn repo_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .expect("the repository root exists")
    })
}

/// Runs a script from `hack/` and returns its stdout; its stderr goes to the test's output.
/// Panics with the script's exit status when it fails.
pub fn run_script(script: &str, args: &[&str]) -> String {
    let path = repo_root().join("hack").join(script);
    let out = Command::new("bash")
        .arg(&path)
        .args(args)
        .current_dir(repo_root())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "hack/{script} failed ({}); see its messages above",
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of `NAME` in the `NAME=value` lines that `hack/lib.sh` prints when it is run.
pub fn hack_path(name: &str) -> PathBuf {
    static PATHS: OnceLock<String> = OnceLock::new();
    let listing = PATHS.get_or_init(|| run_script("lib.sh", &[]));
    listing
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("hack/lib.sh does not print {name}: {listing}"))
}
