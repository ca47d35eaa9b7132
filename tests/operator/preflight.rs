//! The preflight (`hack/preflight.sh`): `make test` checks its prerequisites before it builds
//! anything, and names every missing one at once with the command that installs it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// PATH as it is, except that every directory holding one of `hidden` is replaced by a copy made
/// of symlinks to everything else in it (under `farm`).
fn path_without(hidden: &[&str], farm: &Path) -> OsString {
    let path = std::env::var_os("PATH").expect("PATH is set");
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .enumerate()
        .map(|(i, dir)| {
            if !hidden.iter().any(|name| dir.join(name).exists()) {
                return dir;
            }
            let copy = farm.join(i.to_string());
            std::fs::create_dir_all(&copy).expect("create the PATH copy");
            for entry in std::fs::read_dir(&dir)
                .expect("read a PATH directory")
                .flatten()
            {
                let name = entry.file_name();
                if !hidden.iter().any(|h| name == *h) {
                    std::os::unix::fs::symlink(entry.path(), copy.join(&name))
                        .expect("symlink into the PATH copy");
                }
            }
            copy
        })
        .collect();
    std::env::join_paths(dirs).expect("join PATH")
}

/// `make TARGET` in the repository with this PATH, cargo's target directory and the tool cache in
/// `scratch` (so that anything built would show there), and none of the calling make's settings.
fn make(target: &str, path: &OsString, scratch: &Path) -> Output {
    Command::new("make")
        .arg(target)
        .current_dir(igz_testkit::paths::repo_root())
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", scratch.join("target"))
        .env("IGZ_CACHE", scratch.join("cache"))
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .expect("run make")
}

#[test]
fn make_test_without_go_and_kubectl_names_both_and_builds_nothing() {
    let scratch = tempfile::tempdir().expect("temporary directory");
    let path = path_without(&["go", "kubectl"], &scratch.path().join("path"));
    let out = make("test", &path, scratch.path());
    let stderr = String::from_utf8_lossy(&out.stderr);

    assert_eq!(out.status.code(), Some(2), "make fails: {stderr}");
    assert!(
        stderr.contains("[preflight] make test:") && stderr.contains("nothing was built"),
        "the preflight stopped it: {stderr}"
    );
    let line = |name: &str| {
        stderr
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name} is not named: {stderr}"))
            .to_owned()
    };
    assert!(line("go 1.26+").contains("https://go.dev/dl/go1.26"));
    assert!(line("kubectl").contains("apt-get install -y kubectl"));
    // Nothing ran after it: no build (cargo's target directory and the tool cache are untouched)
    // and no step of hack/test.sh.
    for dir in ["target", "cache"] {
        assert!(
            !scratch.path().join(dir).exists(),
            "{dir} was written: {stderr}"
        );
    }
    assert!(!stderr.contains("==> "), "hack/test.sh started: {stderr}");
}

#[test]
fn the_preflight_passes_where_make_test_runs() {
    let out = Command::new("bash")
        .arg(igz_testkit::paths::repo_root().join("hack/preflight.sh"))
        .arg("test")
        .output()
        .expect("run hack/preflight.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_preflight_refuses_an_unknown_target() {
    let out = Command::new("bash")
        .arg(igz_testkit::paths::repo_root().join("hack/preflight.sh"))
        .arg("tset")
        .output()
        .expect("run hack/preflight.sh");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown target 'tset'"));
}
