//! The worker binary as a user runs it: `--help` documents the flags, a missing leader
//! address is refused, and without a reachable cluster it exits with a clear message.

#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_trivy-operator-worker");

#[test]
fn help_documents_the_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--leader-addr",
        "--worker-id",
        "--capacity",
        "[env: LEADER_ADDR=]",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn leader_address_is_required() {
    let out = Command::new(BIN)
        .args(["--worker-id", "w"])
        .env_remove("LEADER_ADDR")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--leader-addr"));
}

#[test]
fn no_cluster_is_a_clear_error() {
    let (kubeconfig, _server) = test_support::unreachable_kubeconfig("worker-cli");
    let out = Command::new(BIN)
        .args([
            "--leader-addr",
            "http://127.0.0.1:1",
            "--worker-id",
            "w",
            "--connect-timeout",
            "5s",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no Kubernetes cluster reachable at http://127.0.0.1:"),
        "{stderr}"
    );
}
