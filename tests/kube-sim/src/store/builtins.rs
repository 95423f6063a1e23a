//! The built-in kinds kube-sim serves, with their short names, scope, subresources and the
//! columns `kubectl get` shows for them.

use super::registry::GroupResource;
use super::registry::{PrinterColumn, ResourceInfo};

/// A printer column; `priority` 1 means `-o wide` only.
fn col(name: &str, type_: &str, json_path: &str, priority: i64) -> PrinterColumn {
    PrinterColumn {
        name: name.to_owned(),
        type_: type_.to_owned(),
        format: String::new(),
        description: String::new(),
        priority,
        json_path: json_path.to_owned(),
    }
}

fn age() -> PrinterColumn {
    col("Age", "date", ".metadata.creationTimestamp", 0)
}

struct Def {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    namespaced: bool,
    status: bool,
    all: bool,
    columns: Vec<PrinterColumn>,
}

fn def(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
) -> Def {
    Def {
        group,
        version,
        kind,
        plural,
        short: &[],
        namespaced: true,
        status: false,
        all: false,
        columns: vec![age()],
    }
}

impl Def {
    fn short(mut self, s: &'static [&'static str]) -> Self {
        self.short = s;
        self
    }
    fn cluster(mut self) -> Self {
        self.namespaced = false;
        self
    }
    fn status(mut self) -> Self {
        self.status = true;
        self
    }
    fn all(mut self) -> Self {
        self.all = true;
        self
    }
    fn columns(mut self, c: Vec<PrinterColumn>) -> Self {
        self.columns = c;
        self
    }
}

/// The built-in resource types.
pub fn builtin_resources() -> Vec<ResourceInfo> {
    let defs = vec![
        def("", "v1", "Namespace", "namespaces")
            .short(&["ns"])
            .cluster()
            .status()
            .columns(vec![col("Status", "string", ".status.phase", 0), age()]),
        def("", "v1", "Node", "nodes")
            .short(&["no"])
            .cluster()
            .status()
            .columns(vec![
                col("Status", "string", "#nodeStatus", 0),
                col("Roles", "string", "#nodeRoles", 0),
                age(),
                col("Version", "string", ".status.nodeInfo.kubeletVersion", 0),
                col("Internal-IP", "string", "#nodeInternalIP", 1),
                col("External-IP", "string", "#nodeExternalIP", 1),
                col("OS-Image", "string", ".status.nodeInfo.osImage", 1),
                col(
                    "Kernel-Version",
                    "string",
                    ".status.nodeInfo.kernelVersion",
                    1,
                ),
                col(
                    "Container-Runtime",
                    "string",
                    ".status.nodeInfo.containerRuntimeVersion",
                    1,
                ),
            ]),
        def("", "v1", "Pod", "pods")
            .short(&["po"])
            .status()
            .all()
            .columns(vec![
                col("Ready", "string", "#podReady", 0),
                col("Status", "string", ".status.phase", 0),
                col("Restarts", "integer", "#podRestarts", 0),
                age(),
                col("IP", "string", ".status.podIP", 1),
                col("Node", "string", ".spec.nodeName", 1),
            ]),
        def("", "v1", "ConfigMap", "configmaps").short(&["cm"]),
        def("", "v1", "ResourceQuota", "resourcequotas")
            .short(&["quota"])
            .status(),
        def("", "v1", "LimitRange", "limitranges").short(&["limits"]),
        def("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims")
            .short(&["pvc"])
            .status(),
        def("", "v1", "PersistentVolume", "persistentvolumes")
            .short(&["pv"])
            .cluster()
            .status(),
        def("", "v1", "Secret", "secrets").columns(vec![col("Type", "string", ".type", 0), age()]),
        def("", "v1", "ServiceAccount", "serviceaccounts").short(&["sa"]),
        def("", "v1", "Event", "events")
            .short(&["ev"])
            .columns(event_columns()),
        def("", "v1", "Service", "services")
            .short(&["svc"])
            .status()
            .all()
            .columns(vec![
                col("Type", "string", ".spec.type", 0),
                col("Cluster-IP", "string", ".spec.clusterIP", 0),
                age(),
            ]),
        def("", "v1", "ReplicationController", "replicationcontrollers")
            .short(&["rc"])
            .status()
            .all()
            .columns(replica_columns()),
        def("apps", "v1", "Deployment", "deployments")
            .short(&["deploy"])
            .status()
            .all()
            .columns(vec![
                col("Ready", "string", "#readyOfReplicas", 0),
                col("Up-to-date", "integer", ".status.updatedReplicas", 0),
                col("Available", "integer", ".status.availableReplicas", 0),
                age(),
            ]),
        def("apps", "v1", "ReplicaSet", "replicasets")
            .short(&["rs"])
            .status()
            .all()
            .columns(replica_columns()),
        def("apps", "v1", "StatefulSet", "statefulsets")
            .short(&["sts"])
            .status()
            .all()
            .columns(vec![col("Ready", "string", "#readyOfReplicas", 0), age()]),
        def("apps", "v1", "DaemonSet", "daemonsets")
            .short(&["ds"])
            .status()
            .all()
            .columns(vec![
                col("Desired", "integer", ".status.desiredNumberScheduled", 0),
                col("Current", "integer", ".status.currentNumberScheduled", 0),
                col("Ready", "integer", ".status.numberReady", 0),
                age(),
            ]),
        def("apps", "v1", "ControllerRevision", "controllerrevisions"),
        def("batch", "v1", "Job", "jobs")
            .status()
            .all()
            .columns(vec![
                col("Status", "string", "#jobStatus", 0),
                col("Completions", "string", "#jobCompletions", 0),
                age(),
            ]),
        def("batch", "v1", "CronJob", "cronjobs")
            .short(&["cj"])
            .status()
            .all()
            .columns(vec![
                col("Schedule", "string", ".spec.schedule", 0),
                col("Suspend", "boolean", "#suspend", 0),
                col("Last Schedule", "date", ".status.lastScheduleTime", 0),
                age(),
            ]),
        def("coordination.k8s.io", "v1", "Lease", "leases").columns(vec![
            col("Holder", "string", ".spec.holderIdentity", 0),
            age(),
        ]),
        // Stored as core Events; its table rows come from the stored (core) form.
        def("events.k8s.io", "v1", "Event", "events")
            .short(&["ev"])
            .columns(event_columns()),
        def(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
        )
        .short(&["crd", "crds"])
        .cluster()
        .status()
        .columns(vec![col(
            "Created At",
            "date",
            ".metadata.creationTimestamp",
            0,
        )]),
        def("rbac.authorization.k8s.io", "v1", "Role", "roles"),
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
        )
        .cluster(),
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
        ),
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
        )
        .cluster(),
        def("authentication.k8s.io", "v1", "TokenReview", "tokenreviews").cluster(),
        def(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
        )
        .short(&["netpol"]),
        def("networking.k8s.io", "v1", "Ingress", "ingresses")
            .short(&["ing"])
            .status(),
        def(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
        )
        .short(&["pdb"])
        .status(),
    ];
    defs.into_iter()
        .map(|d| ResourceInfo {
            group: d.group.to_owned(),
            versions: vec![d.version.to_owned()],
            kind: d.kind.to_owned(),
            plural: d.plural.to_owned(),
            singular: d.kind.to_lowercase(),
            short_names: d.short.iter().map(|s| (*s).to_owned()).collect(),
            categories: if d.all {
                vec!["all".to_owned()]
            } else {
                Vec::new()
            },
            namespaced: d.namespaced,
            status_subresource: d.status,
            other_subresources: match (d.group, d.plural) {
                ("", "pods") => vec!["log".to_owned()],
                ("", "serviceaccounts") => vec!["token".to_owned()],
                _ => Vec::new(),
            },
            create_only: d.plural == "tokenreviews",
            stored_as: (d.group == "events.k8s.io").then(|| GroupResource::new("", "events")),
            printer_columns: d.columns,
            custom: false,
        })
        .collect()
}

fn event_columns() -> Vec<PrinterColumn> {
    vec![
        col("Last Seen", "date", "#eventLastSeen", 0),
        col("Type", "string", ".type", 0),
        col("Reason", "string", ".reason", 0),
        col("Object", "string", ".involvedObject.name", 0),
        col("Message", "string", ".message", 0),
    ]
}

fn replica_columns() -> Vec<PrinterColumn> {
    vec![
        col("Desired", "integer", ".spec.replicas", 0),
        col("Current", "integer", ".status.replicas", 0),
        col("Ready", "integer", ".status.readyReplicas", 0),
        age(),
    ]
}
