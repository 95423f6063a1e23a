//! The fake nodes' `v1` Node objects, registered in the store when the kubelet starts, with
//! what a kind node (kindest/node v1.32.0) shows: the well-known labels (a name containing
//! `control-plane` gets the control-plane role), a Ready status, `nodeInfo` and addresses,
//! and the node's Lease in `kube-node-lease` (owned by the Node; never renewed). After that a
//! Node is an ordinary object: deleting it deletes the object and, through the garbage
//! collector, what it owns; nothing re-registers it and pods already bound keep running.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::meta::now_rfc3339;
use crate::store::{GroupResource, Store, StoreError, WriteOptions};

/// The kubelet version the fake nodes report.
pub const KUBELET_VERSION: &str = "v1.32.0";

/// The label of a control-plane node (value `""`).
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";

/// `GroupResource` of nodes.
pub fn nodes() -> GroupResource {
    GroupResource::new("", "nodes")
}

/// The IP of the `index`-th fake node (the pods' `hostIP`): `172.18.0.2`, `172.18.0.3`, …
/// like the nodes of a kind cluster on its Docker network.
pub fn host_ip(index: usize) -> String {
    format!("172.18.{}.{}", index / 250, 2 + index % 250)
}

/// Whether a node of this name is a control-plane node (kind's naming: `kind-control-plane`).
pub fn is_control_plane(name: &str) -> bool {
    name.contains("control-plane")
}

/// The Node object of the `index`-th fake node, as its kubelet would register it.
pub fn object(name: &str, index: usize) -> Value {
    let mut labels = json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    });
    if is_control_plane(name) {
        labels[CONTROL_PLANE_LABEL] = json!("");
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("");
    }
    let now = now_rfc3339();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let resources = json!({"cpu": "2", "ephemeral-storage": "102626232Ki",
        "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "8141020Ki", "pods": "110"});
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": format!("10.244.{index}.0/24"),
            "podCIDRs": [format!("10.244.{index}.0/24")],
            // kubeadm (kind) taints its control plane: only pods that tolerate it go there.
            "taints": if is_control_plane(name) {
                json!([{"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}])
            } else {
                json!([])
            },
        },
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                          "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                          "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID",
                          "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": host_ip(index)},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": id(name, "boot", true),
                "containerRuntimeVersion": "containerd://1.7.24",
                "kernelVersion": "6.8.0-51-generic",
                "kubeProxyVersion": KUBELET_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "machineID": id(name, "machine", false),
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": id(name, "system", true),
            },
        },
    })
}

/// The node's heartbeat Lease, owned by the Node object `node`.
pub fn lease(node: &Value) -> Value {
    let name = node.pointer("/metadata/name").cloned().unwrap_or_default();
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": "kube-node-lease",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name,
                                 "uid": node.pointer("/metadata/uid").cloned().unwrap_or_default()}],
        },
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now_micros()},
    })
}

/// Registers a Node object and its Lease for each fake node (existing ones are left as
/// they are).
pub fn register(store: &Store, names: &[String]) -> Result<(), StoreError> {
    let opts = WriteOptions {
        keep_status: true,
        ..Default::default()
    };
    let leases = GroupResource::new("coordination.k8s.io", "leases");
    for (index, name) in names.iter().enumerate() {
        let node = match store.create_opts(&nodes(), object(name, index), &opts) {
            Ok(node) => node,
            Err(StoreError::AlreadyExists { .. }) => continue,
            Err(e) => return Err(e),
        };
        match store.create(&leases, lease(&node)) {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A `MicroTime` (RFC 3339 with microseconds), as Leases carry.
fn now_micros() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
        .to_string()
}

/// A stable per-node identifier: 32 hex digits, or a UUID when `uuid`.
fn id(name: &str, what: &str, uuid: bool) -> String {
    let hex: String = Sha256::digest(format!("{what}/{name}"))
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    if !uuid {
        return hex;
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_plane_nodes_get_the_role_label_and_workers_do_not() {
        let cp = object("kind-control-plane", 0);
        let worker = object("kind-worker2", 2);
        assert_eq!(cp["metadata"]["labels"][CONTROL_PLANE_LABEL], "");
        assert!(
            worker["metadata"]["labels"]
                .get(CONTROL_PLANE_LABEL)
                .is_none()
        );
        assert_eq!(
            worker["metadata"]["labels"]["kubernetes.io/hostname"],
            "kind-worker2"
        );
        assert_eq!(worker["status"]["addresses"][0]["address"], "172.18.0.4");
        assert_eq!(worker["status"]["nodeInfo"]["kubeletVersion"], "v1.32.0");
        assert_eq!(worker["status"]["conditions"][3]["type"], "Ready");
        assert_eq!(id("n", "system", true).len(), 36);
        assert_ne!(id("a", "boot", true), id("b", "boot", true));
        let renew = now_micros();
        assert_eq!(renew.len(), "2025-01-02T03:04:05.123456Z".len(), "{renew}");
    }
}
