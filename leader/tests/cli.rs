//! The leader binary as a user runs it: `crd` prints the committed CRDs, `--help` documents
//! the flags, and without a reachable cluster it exits at once with a clear message.

#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_trivy-operator-leader");

#[test]
fn crd_prints_the_generated_crds() {
    let out = Command::new(BIN).arg("crd").output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed, common::reports::crd::all_crds_yaml().unwrap());
    assert!(printed.contains("name: vulnerabilityreports.aquasecurity.github.io"));
    assert!(printed.contains("name: configauditreports.aquasecurity.github.io"));
}

#[test]
fn help_documents_the_flags() {
    let out = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--grpc-addr",
        "--namespaces",
        "--exclude-namespaces",
        "--namespace-selector",
        "[env: OPERATOR_NAMESPACE=",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn no_cluster_is_a_clear_error() {
    let (kubeconfig, _server) = test_support::unreachable_kubeconfig("leader-cli");
    let out = Command::new(BIN)
        .args([
            "run",
            "--grpc-addr",
            "127.0.0.1:0",
            "--connect-timeout",
            "5s",
            "--status-open",
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
