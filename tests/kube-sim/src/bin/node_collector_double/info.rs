//! The NodeInfo document: node-collector 0.3's 45 items for platform `k8s` (what trivy-checks'
//! `commands/kubernetes` asks for), with built-in answers modelled on a kind (kubeadm) node
//! whose kubelet `configz` the collector could read, and the per-node overrides.
//!
//! Typing as the collector's: `stat -c %a` modes and numeric flags are JSON integers,
//! ownership, paths and flag values strings, booleans the strings `"true"`/`"false"`, one
//! element per file or per comma-separated part, `[]` when a file, flag or setting is missing.
//! A worker runs the same commands; the control-plane files are missing there, so its
//! master-only items are `[]`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// `master` or `worker`, as the collector reports the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    /// A control-plane node.
    Master,
    /// Any other.
    Worker,
}

impl NodeType {
    /// The collector finds control-plane files on kind's `*-control-plane` nodes only.
    pub fn of(node: &str) -> NodeType {
        if node.contains("control-plane") {
            NodeType::Master
        } else {
            NodeType::Worker
        }
    }

    /// The document's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Master => "master",
            NodeType::Worker => "worker",
        }
    }
}

/// `info`: item key → `{"values": [...]}`, in key order (as Go marshals a map).
pub type Info = BTreeMap<String, Value>;

fn values(v: Value) -> Value {
    json!({ "values": v })
}

fn repeat(v: Value, n: usize) -> Value {
    Value::Array(vec![v; n])
}

/// Items read from control-plane files: `(key, value on a master)`; `[]` on a worker.
fn master_items() -> Vec<(&'static str, Value)> {
    let root = || json!(["root:root"]);
    vec![
        ("kubeAPIServerSpecFilePermission", json!([600])),
        ("kubeAPIServerSpecFileOwnership", root()),
        ("kubeControllerManagerSpecFilePermission", json!([600])),
        ("kubeControllerManagerSpecFileOwnership", root()),
        ("kubeSchedulerSpecFilePermission", json!([600])),
        ("kubeSchedulerSpecFileOwnership", root()),
        ("kubeEtcdSpecFilePermission", json!([600])),
        ("kubeEtcdSpecFileOwnership", root()),
        // kindnet's /etc/cni/net.d is 700 (fails KCV-0056, "600 or more restrictive").
        ("containerNetworkInterfaceFilePermissions", json!([700])),
        ("containerNetworkInterfaceFileOwnership", root()),
        ("etcdDataDirectoryPermissions", json!([700])),
        // etcd runs as root on kubeadm (fails KCV-0059, "etcd:etcd").
        ("etcdDataDirectoryOwnership", root()),
        ("adminConfFilePermissions", json!([600])),
        ("adminConfFileOwnership", root()),
        ("schedulerConfFilePermissions", json!([600])),
        ("schedulerConfFileOwnership", root()),
        ("controllerManagerConfFilePermissions", json!([600])),
        ("controllerManagerConfFileOwnership", root()),
        // Every file under /etc/kubernetes/pki: 10 certificates, 11 keys, sa.pub.
        (
            "kubePKIDirectoryFileOwnership",
            repeat(json!("root:root"), 22),
        ),
        // The collector's command for this one is broken (`awk'…'`): always empty.
        ("kubernetesPKICertificateFilePermissions", json!([])),
        ("kubePKIKeyFilePermissions", repeat(json!(600), 11)),
    ]
}

/// Items of the kubelet's files and flags: `(key, master, worker)`.
fn node_items() -> Vec<(&'static str, Value, Value)> {
    let both = |v: Value| (v.clone(), v);
    let items = [
        // kubeadm's 10-kubeadm.conf and config.yaml are 644 (fail KCV-0069, KCV-0077).
        ("kubeletServiceFilePermissions", both(json!([644]))),
        ("kubeletServiceFileOwnership", both(json!(["root:root"]))),
        // kube-proxy runs with --config, not --kubeconfig.
        ("kubeconfigFileExistsPermissions", both(json!([]))),
        ("kubeconfigFileExistsOwnership", both(json!([]))),
        ("kubeletConfFilePermissions", both(json!([600]))),
        ("kubeletConfFileOwnership", both(json!(["root:root"]))),
        // `ps` finds --client-ca-file on the API server's command line (its `--kubelet-*`
        // flags match "kubelet"); ca.crt is 644 (fails KCV-0075). Workers have no such line.
        (
            "certificateAuthoritiesFilePermissions",
            (json!([644]), json!([])),
        ),
        (
            "certificateAuthoritiesFileOwnership",
            (json!(["root:root"]), json!([])),
        ),
        (
            "kubeletConfigYamlConfigurationFilePermission",
            both(json!([644])),
        ),
        (
            "kubeletConfigYamlConfigurationFileOwnership",
            both(json!(["root:root"])),
        ),
        // From the kubelet's configz.
        ("kubeletAnonymousAuthArgumentSet", both(json!(["false"]))),
        (
            "kubeletAuthorizationModeArgumentSet",
            both(json!(["Webhook"])),
        ),
        (
            "kubeletClientCaFileArgumentSet",
            both(json!(["/etc/kubernetes/pki/ca.crt"])),
        ),
        ("kubeletReadOnlyPortArgumentSet", both(json!([]))),
        (
            "kubeletStreamingConnectionIdleTimeoutArgumentSet",
            both(json!(["4h0m0s"])),
        ),
        // protectKernelDefaults is false, so configz omits it (fails KCV-0083).
        ("kubeletProtectKernelDefaultsArgumentSet", both(json!([]))),
        (
            "kubeletMakeIptablesUtilChainsArgumentSet",
            both(json!(["true"])),
        ),
        ("kubeletHostnameOverrideArgumentSet", both(json!([]))),
        ("kubeletEventQpsArgumentSet", both(json!([]))),
        // kubeadm sets no tlsCertFile/tlsPrivateKeyFile: on a master `ps` finds the API
        // server's; a worker has none (fails KCV-0088, KCV-0089).
        (
            "kubeletTlsCertFileTlsArgumentSet",
            (json!(["/etc/kubernetes/pki/apiserver.crt"]), json!([])),
        ),
        (
            "kubeletTlsPrivateKeyFileArgumentSet",
            (json!(["/etc/kubernetes/pki/apiserver.key"]), json!([])),
        ),
        (
            "kubeletRotateCertificatesArgumentSet",
            both(json!(["true"])),
        ),
        // No RotateKubeletServerCertificate feature gate, no tlsCipherSuites (fail KCV-0091,
        // KCV-0092).
        (
            "kubeletRotateKubeletServerCertificateArgumentSet",
            both(json!([])),
        ),
        ("kubeletOnlyUseStrongCryptographic", both(json!([]))),
    ];
    items.into_iter().map(|(k, (m, w))| (k, m, w)).collect()
}

/// The built-in `info` of a node of this type.
pub fn builtin(node_type: NodeType) -> Info {
    let master = node_type == NodeType::Master;
    let mut info = Info::new();
    for (key, value) in master_items() {
        let value = if master { value } else { json!([]) };
        info.insert(key.to_owned(), values(value));
    }
    for (key, on_master, on_worker) in node_items() {
        let value = if master { on_master } else { on_worker };
        info.insert(key.to_owned(), values(value));
    }
    info
}

/// Applies a node's overrides: each item replaces (or adds) the item of that key, as given;
/// `null` removes it.
pub fn apply_overrides(info: &mut Info, overrides: Map<String, Value>) {
    for (key, item) in overrides {
        if item.is_null() {
            info.remove(&key);
        } else {
            info.insert(key, item);
        }
    }
}

/// The document as the collector prints it: compact, in the collector's field order.
pub fn document(node_type: NodeType, info: &Info, created: &str) -> String {
    format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"NodeInfo\",\"metadata\":{{\"creationTimestamp\":{}}},\
         \"type\":{},\"info\":{}}}",
        to_json(created),
        to_json(node_type.as_str()),
        to_json(info),
    )
}

/// Strings and JSON values always serialize.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn master_and_worker_by_name() {
        assert_eq!(NodeType::of("kind-control-plane"), NodeType::Master);
        assert_eq!(NodeType::of("prod-control-plane-2"), NodeType::Master);
        assert_eq!(NodeType::of("kind-worker2"), NodeType::Worker);
        assert_eq!(NodeType::of("kube-sim-node-1"), NodeType::Worker);
    }

    #[test]
    fn both_types_have_the_45_items_typed_as_the_collector_types_them() {
        let master = builtin(NodeType::Master);
        let worker = builtin(NodeType::Worker);
        assert_eq!(master.len(), 45);
        assert_eq!(
            master.keys().collect::<Vec<_>>(),
            worker.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            master["kubeAPIServerSpecFilePermission"],
            json!({"values": [600]})
        );
        assert_eq!(
            worker["kubeAPIServerSpecFilePermission"],
            json!({"values": []})
        );
        assert_eq!(
            master["kubePKIKeyFilePermissions"]["values"][10],
            json!(600)
        );
        for info in [&master, &worker] {
            for (key, item) in info.iter() {
                let values = item["values"].as_array().unwrap();
                let numeric = key.contains("Permission");
                assert!(
                    values
                        .iter()
                        .all(|v| v.is_i64() == numeric && (numeric || v.is_string())),
                    "{key}: {values:?}"
                );
            }
        }
        assert_eq!(
            worker["kubeletAnonymousAuthArgumentSet"],
            json!({"values": ["false"]})
        );
        assert_eq!(
            worker["kubeletTlsCertFileTlsArgumentSet"],
            json!({"values": []})
        );
    }

    #[test]
    fn overrides_replace_add_and_remove_items() {
        let mut info = builtin(NodeType::Worker);
        let overrides = json!({
            "kubeletAnonymousAuthArgumentSet": {"values": ["true"]},
            "kubeletReadOnlyPortArgumentSet": {"values": [10255]},
            "somethingNew": {"values": ["x"]},
            "kubeletEventQpsArgumentSet": null,
        });
        apply_overrides(&mut info, overrides.as_object().cloned().unwrap());
        assert_eq!(
            info["kubeletAnonymousAuthArgumentSet"],
            json!({"values": ["true"]})
        );
        assert_eq!(
            info["kubeletReadOnlyPortArgumentSet"],
            json!({"values": [10255]})
        );
        assert_eq!(info["somethingNew"], json!({"values": ["x"]}));
        assert!(!info.contains_key("kubeletEventQpsArgumentSet"));
        assert_eq!(info.len(), 45);
    }

    #[test]
    fn the_document_is_compact_in_the_collectors_order() {
        let mut info = Info::new();
        info.insert("b".into(), json!({"values": [1]}));
        info.insert("a".into(), json!({"values": []}));
        let doc = document(NodeType::Worker, &info, "2025-01-02T03:04:05Z");
        assert_eq!(
            doc,
            "{\"apiVersion\":\"v1\",\"kind\":\"NodeInfo\",\"metadata\":{\"creationTimestamp\":\
             \"2025-01-02T03:04:05Z\"},\"type\":\"worker\",\"info\":{\"a\":{\"values\":[]},\
             \"b\":{\"values\":[1]}}}"
        );
    }
}
