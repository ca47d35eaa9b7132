//! The binaries as a user runs them: help texts, the CRD printer, and fail-fast start-up errors.

use std::process::Command;

fn operator() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_igz-operator"));
    for var in [
        "IGZ_MGMT_URL",
        "IGZ_ACCESS_KEY",
        "IGZ_ACCESS_KEY_FILE",
        "IGZ_USERNAME",
        "IGZ_PASSWORD_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn crd_subcommand_prints_the_committed_crds() {
    let out = operator().arg("crd").output().unwrap();
    assert!(out.status.success());
    let committed: Vec<String> = ["groups", "groupgrants", "platformconnections"]
        .iter()
        .map(|plural| {
            let path = format!(
                "{}/crds/{plural}.igz-operator.io.yaml",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::read_to_string(path).unwrap()
        })
        .collect();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        committed.join("---\n")
    );
}

#[test]
fn run_help_explains_every_flag() {
    let out = operator().args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--mgmt-url",
        "--access-key-file",
        "--username",
        "--resync-interval",
        "--concurrency",
        "--watch-namespace",
        "--metrics-addr",
        "--log-format",
        "--ca-file",
        "--insecure-skip-tls-verify",
    ] {
        let line = help
            .lines()
            .position(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} missing"));
        let explained = help.lines().nth(line + 1).unwrap_or_default().trim();
        assert!(
            !explained.is_empty() && !explained.starts_with("--"),
            "{flag} has no explanation"
        );
    }
}

#[test]
fn run_without_credentials_fails_fast_and_says_what_to_set() {
    let out = operator()
        .args(["run", "--mgmt-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--access-key-file") && err.contains("IGZ_ACCESS_KEY"),
        "{err}"
    );
}

#[test]
fn run_with_a_bad_url_fails_fast_without_showing_the_key() {
    let out = operator()
        .args(["run", "--mgmt-url", "http://exa mple.com"])
        .env("IGZ_ACCESS_KEY", "very-secret-key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("--mgmt-url"), "{all}");
    assert!(!all.contains("very-secret-key"), "the key leaked: {all}");
}

#[test]
fn run_without_a_url_outside_a_pod_fails_fast() {
    let out = operator()
        .arg("run")
        .env("IGZ_ACCESS_KEY", "k")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--mgmt-url") && err.contains("not running in a Kubernetes pod"),
        "{err}"
    );
}
