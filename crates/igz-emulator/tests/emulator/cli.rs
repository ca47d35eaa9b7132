//! The `igz-emulator` binary as a user runs it.

use std::process::Command;
use std::time::Duration;

#[test]
fn refuses_a_non_loopback_address_without_allow_remote() {
    let out = Command::new(env!("CARGO_BIN_EXE_igz-emulator"))
        .args(["--listen", "0.0.0.0:0", "--access-key", "k"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-remote"), "{err}");
}

#[test]
fn writes_its_url_to_the_ready_file_once_listening() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("url");
    let mut child = Command::new(env!("CARGO_BIN_EXE_igz-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--access-key",
            "k",
            "--ready-file",
        ])
        .arg(&ready)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            url = text.trim().to_owned();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let answered = url
        .strip_prefix("http://")
        .map(|addr| std::net::TcpStream::connect(addr).is_ok());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "ready file: {url:?}");
    assert_eq!(
        answered,
        Some(true),
        "the emulator accepts connections at {url}"
    );
}
