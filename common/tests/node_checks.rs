//! The built-in node checks (KCV) against NodeInfo documents shaped like the
//! node-collector's: a hardened node passes all of them, and each check fails for the
//! values upstream's check fails for (and only those), with upstream's message.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use common::audit::{PolicyEngine, audit};
use common::policy_config::{NODE_KIND, PolicyConfig};
use serde_json::{Value, json};

fn engine() -> PolicyEngine {
    PolicyEngine::compile(&PolicyConfig::default(), true).unwrap()
}

/// A control-plane node on which every check passes.
fn hardened(node_type: &str) -> Value {
    let ciphers = json!([
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    ]);
    let mut info = serde_json::Map::new();
    for key in [
        "kubeAPIServerSpecFilePermission",
        "kubeControllerManagerSpecFilePermission",
        "kubeSchedulerSpecFilePermission",
        "kubeEtcdSpecFilePermission",
        "containerNetworkInterfaceFilePermissions",
        "adminConfFilePermissions",
        "schedulerConfFilePermissions",
        "controllerManagerConfFilePermissions",
        "kubePKIKeyFilePermissions",
        "kubernetesPKICertificateFilePermissions",
        "kubeletServiceFilePermissions",
        "kubeconfigFileExistsPermissions",
        "kubeletConfFilePermissions",
        "certificateAuthoritiesFilePermissions",
        "kubeletConfigYamlConfigurationFilePermission",
    ] {
        info.insert(key.into(), json!({"values": [600]}));
    }
    for key in [
        "kubeAPIServerSpecFileOwnership",
        "kubeControllerManagerSpecFileOwnership",
        "kubeSchedulerSpecFileOwnership",
        "kubeEtcdSpecFileOwnership",
        "containerNetworkInterfaceFileOwnership",
        "adminConfFileOwnership",
        "schedulerConfFileOwnership",
        "controllerManagerConfFileOwnership",
        "kubePKIDirectoryFileOwnership",
        "kubeletServiceFileOwnership",
        "kubeconfigFileExistsOwnership",
        "kubeletConfFileOwnership",
        "certificateAuthoritiesFileOwnership",
        "kubeletConfigYamlConfigurationFileOwnership",
    ] {
        info.insert(key.into(), json!({"values": ["root:root"]}));
    }
    let rest = json!({
        "etcdDataDirectoryPermissions": {"values": [700]},
        "etcdDataDirectoryOwnership": {"values": ["etcd:etcd"]},
        "kubeletAnonymousAuthArgumentSet": {"values": ["false"]},
        "kubeletAuthorizationModeArgumentSet": {"values": ["Webhook"]},
        "kubeletClientCaFileArgumentSet": {"values": ["/etc/kubernetes/pki/ca.crt"]},
        "kubeletReadOnlyPortArgumentSet": {"values": [0]},
        "kubeletProtectKernelDefaultsArgumentSet": {"values": ["true"]},
        "kubeletMakeIptablesUtilChainsArgumentSet": {"values": ["true"]},
        "kubeletStreamingConnectionIdleTimeoutArgumentSet": {"values": ["4h0m0s"]},
        "kubeletHostnameOverrideArgumentSet": {"values": []},
        "kubeletEventQpsArgumentSet": {"values": [5]},
        "kubeletTlsCertFileTlsArgumentSet": {"values": ["/var/lib/kubelet/pki/kubelet.crt"]},
        "kubeletTlsPrivateKeyFileArgumentSet": {"values": ["/var/lib/kubelet/pki/kubelet.key"]},
        "kubeletRotateCertificatesArgumentSet": {"values": ["true"]},
        "kubeletRotateKubeletServerCertificateArgumentSet": {"values": ["true"]},
        "kubeletOnlyUseStrongCryptographic": {"values": ciphers},
    });
    info.extend(rest.as_object().unwrap().clone());
    json!({
        "apiVersion": "v1",
        "kind": "NodeInfo",
        "metadata": {"creationTimestamp": "2026-12-02T08:00:00Z"},
        "type": node_type,
        "info": info,
    })
}

fn failed(engine: &PolicyEngine, node: &Value) -> BTreeSet<String> {
    audit(engine, NODE_KIND, node, false)
        .into_iter()
        .map(|c| c.check_id)
        .collect()
}

fn with(node_type: &str, item: &str, values: Value) -> Value {
    let mut node = hardened(node_type);
    node["info"][item] = json!({ "values": values });
    node
}

#[test]
fn a_hardened_node_passes_every_node_check_and_no_workload_check_runs() {
    let engine = engine();
    let checks = audit(&engine, NODE_KIND, &hardened("master"), true);
    assert_eq!(checks.len(), 45, "{checks:#?}");
    assert!(checks.iter().all(|c| c.success), "{checks:#?}");
    assert!(checks.iter().all(|c| c.check_id.starts_with("KCV")));
    // Worker nodes get the checks of every node, not the control plane's.
    let worker = audit(&engine, NODE_KIND, &hardened("worker"), true);
    assert_eq!(worker.len(), 45);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    assert!(
        audit(&engine, "Pod", &pod, true)
            .iter()
            .all(|c| !c.check_id.starts_with("KCV"))
    );
}

/// (check, node type, item, values, fails)
const CASES: &[(&str, &str, &str, &str, bool)] = &[
    // File modes: the octal digits compared as a number; a string fails.
    (
        "KCV0073",
        "worker",
        "kubeletConfFilePermissions",
        "[644]",
        true,
    ),
    (
        "KCV0073",
        "worker",
        "kubeletConfFilePermissions",
        "[640]",
        true,
    ),
    (
        "KCV0073",
        "worker",
        "kubeletConfFilePermissions",
        "[400]",
        false,
    ),
    (
        "KCV0073",
        "worker",
        "kubeletConfFilePermissions",
        "[577]",
        false,
    ),
    (
        "KCV0073",
        "worker",
        "kubeletConfFilePermissions",
        "[]",
        false,
    ),
    (
        "KCV0073",
        "worker",
        "kubeletConfFilePermissions",
        r#"["600"]"#,
        true,
    ),
    (
        "KCV0056",
        "master",
        "containerNetworkInterfaceFilePermissions",
        "[600, 755]",
        true,
    ),
    (
        "KCV0056",
        "master",
        "containerNetworkInterfaceFilePermissions",
        "[500, 600]",
        false,
    ),
    // Control-plane checks do not apply to workers.
    (
        "KCV0056",
        "worker",
        "containerNetworkInterfaceFilePermissions",
        "[755]",
        false,
    ),
    (
        "KCV0058",
        "master",
        "etcdDataDirectoryPermissions",
        "[700]",
        false,
    ),
    (
        "KCV0058",
        "master",
        "etcdDataDirectoryPermissions",
        "[755]",
        true,
    ),
    // Owners.
    (
        "KCV0074",
        "worker",
        "kubeletConfFileOwnership",
        r#"["root:root"]"#,
        false,
    ),
    (
        "KCV0074",
        "worker",
        "kubeletConfFileOwnership",
        r#"["user:root"]"#,
        true,
    ),
    (
        "KCV0059",
        "master",
        "etcdDataDirectoryOwnership",
        r#"["root:root"]"#,
        true,
    ),
    (
        "KCV0061",
        "master",
        "adminConfFileOwnership",
        r#"["root:admin"]"#,
        true,
    ),
    // Kubelet arguments.
    (
        "KCV0079",
        "worker",
        "kubeletAnonymousAuthArgumentSet",
        r#"["true"]"#,
        true,
    ),
    (
        "KCV0079",
        "worker",
        "kubeletAnonymousAuthArgumentSet",
        "[]",
        false,
    ),
    (
        "KCV0080",
        "worker",
        "kubeletAuthorizationModeArgumentSet",
        r#"["AlwaysAllow"]"#,
        true,
    ),
    (
        "KCV0080",
        "worker",
        "kubeletAuthorizationModeArgumentSet",
        r#"["Node","RBAC"]"#,
        false,
    ),
    (
        "KCV0080",
        "worker",
        "kubeletAuthorizationModeArgumentSet",
        "[]",
        true,
    ),
    (
        "KCV0081",
        "worker",
        "kubeletClientCaFileArgumentSet",
        r#"[""]"#,
        true,
    ),
    (
        "KCV0081",
        "worker",
        "kubeletClientCaFileArgumentSet",
        "[]",
        true,
    ),
    (
        "KCV0082",
        "worker",
        "kubeletReadOnlyPortArgumentSet",
        "[10255]",
        true,
    ),
    (
        "KCV0082",
        "worker",
        "kubeletReadOnlyPortArgumentSet",
        r#"["0"]"#,
        true,
    ),
    (
        "KCV0082",
        "worker",
        "kubeletReadOnlyPortArgumentSet",
        "[]",
        false,
    ),
    (
        "KCV0083",
        "worker",
        "kubeletProtectKernelDefaultsArgumentSet",
        r#"["false"]"#,
        true,
    ),
    (
        "KCV0083",
        "worker",
        "kubeletProtectKernelDefaultsArgumentSet",
        "[]",
        true,
    ),
    (
        "KCV0084",
        "worker",
        "kubeletMakeIptablesUtilChainsArgumentSet",
        r#"["false"]"#,
        true,
    ),
    (
        "KCV0084",
        "worker",
        "kubeletMakeIptablesUtilChainsArgumentSet",
        "[]",
        false,
    ),
    (
        "KCV0085",
        "worker",
        "kubeletStreamingConnectionIdleTimeoutArgumentSet",
        "[0]",
        true,
    ),
    (
        "KCV0085",
        "worker",
        "kubeletStreamingConnectionIdleTimeoutArgumentSet",
        r#"["0s"]"#,
        false,
    ),
    (
        "KCV0086",
        "worker",
        "kubeletHostnameOverrideArgumentSet",
        r#"["node-a"]"#,
        true,
    ),
    (
        "KCV0087",
        "worker",
        "kubeletEventQpsArgumentSet",
        "[-1]",
        true,
    ),
    (
        "KCV0087",
        "worker",
        "kubeletEventQpsArgumentSet",
        "[0]",
        false,
    ),
    (
        "KCV0087",
        "worker",
        "kubeletEventQpsArgumentSet",
        r#"["-1"]"#,
        false,
    ),
    (
        "KCV0088",
        "worker",
        "kubeletTlsCertFileTlsArgumentSet",
        r#"["/pki/kubelet.pem"]"#,
        true,
    ),
    (
        "KCV0088",
        "worker",
        "kubeletTlsCertFileTlsArgumentSet",
        "[]",
        true,
    ),
    (
        "KCV0089",
        "worker",
        "kubeletTlsPrivateKeyFileArgumentSet",
        r#"["/pki/kubelet.pem"]"#,
        true,
    ),
    (
        "KCV0090",
        "worker",
        "kubeletRotateCertificatesArgumentSet",
        r#"["false"]"#,
        true,
    ),
    (
        "KCV0090",
        "worker",
        "kubeletRotateCertificatesArgumentSet",
        "[]",
        true,
    ),
    (
        "KCV0091",
        "worker",
        "kubeletRotateKubeletServerCertificateArgumentSet",
        r#"["false"]"#,
        true,
    ),
    (
        "KCV0092",
        "worker",
        "kubeletOnlyUseStrongCryptographic",
        r#"["TLS_RSA_WITH_RC4_128_SHA"]"#,
        true,
    ),
    (
        "KCV0092",
        "worker",
        "kubeletOnlyUseStrongCryptographic",
        "[]",
        true,
    ),
];

#[test]
fn each_check_fails_exactly_for_the_values_upstream_fails() {
    let engine = engine();
    for (id, node_type, item, values, fails) in CASES {
        let node = with(node_type, item, serde_json::from_str(values).unwrap());
        let expected: BTreeSet<String> = if *fails {
            [id.to_string()].into()
        } else {
            BTreeSet::new()
        };
        assert_eq!(
            failed(&engine, &node),
            expected,
            "{id} on a {node_type} with {item} = {values}"
        );
    }
}

#[test]
fn an_item_the_collector_did_not_report_fails_nothing() {
    let engine = engine();
    let mut node = hardened("master");
    node["info"] = json!({});
    assert!(failed(&engine, &node).is_empty());
    // Another document kind, or a node of unknown type, is not assessed.
    for (field, value) in [("kind", "Pod"), ("type", "unknown")] {
        let mut other = with("master", "kubeletConfFilePermissions", json!([777]));
        other[field] = json!(value);
        assert!(failed(&engine, &other).is_empty(), "{field}={value}");
    }
}

#[test]
fn a_failed_check_has_upstreams_texts() {
    let engine = engine();
    let node = with("worker", "kubeletConfFileOwnership", json!(["user:user"]));
    let check = audit(&engine, NODE_KIND, &node, false)
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(check.check_id, "KCV0074");
    assert_eq!(check.severity, "HIGH");
    assert_eq!(
        check.title,
        "Ensure that the --kubeconfig kubelet.conf file ownership is set to root:root"
    );
    assert_eq!(
        check.messages,
        ["Ensure that the kubelet.conf file ownership is set to root:root."]
    );
    assert_eq!(check.category, "Kubernetes Security Check");
    assert!(!check.remediation.is_empty());
}
