//! The node-collector Job of one node: pinned to the node (`nodeName`), upstream's
//! collector image and arguments (`node-collector k8s --node <name>`), the host paths the
//! collector reads mounted read-only, in the collector namespace. Pure.
//!
//! What the collector needs, and why: it reads the kubelet's process flags (`hostPID`), the
//! permissions and owners of the Kubernetes files on the host (the host paths, read-only,
//! as root: the files are root's and mode 600 when the node is hardened), and the kubelet's
//! live configuration (its ServiceAccount's token, `nodes/proxy` get). It needs no
//! capability, no privilege escalation and no writable root filesystem. That is more than
//! the `restricted` Pod Security profile allows (host namespaces, host paths, root), so the
//! Jobs run in a namespace of their own, never in the operator's.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, HostPathVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;

use super::NodeSettings;
use crate::scan::container_parts::{runtime_default, unprivileged};

/// The collector container.
pub const CONTAINER: &str = "node-collector";
/// Label upstream puts on node-collector Jobs.
pub const COLLECTOR_LABEL: &str = "node-info.collector";
/// Annotation naming the node a Job collects from (checked before adopting a Job).
pub const NODE_ANNOTATION: &str = "trivy-operator-rs.dev/node";

/// The host directories the collector reads: (volume name, host path).
const HOST_PATHS: [(&str, &str); 8] = [
    ("var-lib-etcd", "/var/lib/etcd"),
    ("var-lib-kubelet", "/var/lib/kubelet"),
    ("var-lib-kube-scheduler", "/var/lib/kube-scheduler"),
    (
        "var-lib-kube-controller-manager",
        "/var/lib/kube-controller-manager",
    ),
    ("etc-systemd", "/etc/systemd"),
    ("lib-systemd", "/lib/systemd"),
    ("etc-kubernetes", "/etc/kubernetes"),
    ("etc-cni-netd", "/etc/cni/net.d"),
];

/// What the collector collects and where the components keep their files (ours, in
/// node-collector 0.3's schema; see collector_config/README.md), as the collector takes
/// them: bzip2 then base64, computed once.
static COLLECTOR_ARGS: std::sync::LazyLock<[String; 6]> = std::sync::LazyLock::new(|| {
    let encode = |yaml: &str| common::trivy::bzip2_base64(yaml.as_bytes());
    [
        "--node-config".to_owned(),
        encode(include_str!("collector_config/node.yaml")),
        "--kubelet-config-mapping".to_owned(),
        encode(include_str!("collector_config/kubelet_mapping.yaml")),
        "--node-commands".to_owned(),
        encode(include_str!("collector_config/commands.yaml")),
    ]
});

/// Seconds a finished Job stays if the worker could not delete it.
const TTL_AFTER_FINISHED: i32 = 600;

/// The deterministic name of a node's collector Job (a node name can be 253 characters;
/// a Job name must leave room for its pods' suffixes).
pub fn job_name(node: &str) -> String {
    format!("node-collector-{}", common::names::short_hash(node))
}

/// The collector Job of `node`.
pub fn collector_job(settings: &NodeSettings, node: &str, tolerations: &[Toleration]) -> Job {
    let mut labels = BTreeMap::from([
        (COLLECTOR_LABEL.to_owned(), "Trivy".to_owned()),
        (
            common::labels::MANAGED_BY.to_owned(),
            common::labels::MANAGED_BY_VALUE.to_owned(),
        ),
        (common::labels::RESOURCE_KIND.to_owned(), "Node".to_owned()),
    ]);
    if common::names::is_valid_label_value(node) {
        labels.insert(common::labels::RESOURCE_NAME.to_owned(), node.to_owned());
    }
    let deadline = i64::try_from(settings.timeout.as_secs().max(1)).unwrap_or(i64::MAX);
    let mounts = HOST_PATHS
        .iter()
        .map(|(name, path)| VolumeMount {
            name: (*name).to_owned(),
            mount_path: (*path).to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        })
        .collect();
    let volumes = HOST_PATHS
        .iter()
        .map(|(name, path)| Volume {
            name: (*name).to_owned(),
            host_path: Some(HostPathVolumeSource {
                path: (*path).to_owned(),
                type_: None,
            }),
            ..Volume::default()
        })
        .collect();
    let quantities = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
        ])
    };
    let container = Container {
        name: CONTAINER.to_owned(),
        image: Some(settings.image.clone()),
        command: Some(vec!["node-collector".to_owned()]),
        args: Some(
            ["k8s", "--node", node]
                .map(str::to_owned)
                .into_iter()
                .chain(COLLECTOR_ARGS.iter().cloned())
                .collect(),
        ),
        resources: Some(ResourceRequirements {
            requests: Some(quantities("50m", "50M")),
            limits: Some(quantities("100m", "100M")),
            ..ResourceRequirements::default()
        }),
        security_context: Some(unprivileged()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(node)),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                NODE_ANNOTATION.to_owned(),
                node.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            active_deadline_seconds: Some(deadline),
            backoff_limit: Some(0),
            completions: Some(1),
            ttl_seconds_after_finished: Some(TTL_AFTER_FINISHED),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(BTreeMap::from([(
                        "app".to_owned(),
                        "node-collector".to_owned(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    node_name: Some(node.to_owned()),
                    host_pid: Some(true),
                    restart_policy: Some("Never".to_owned()),
                    service_account_name: settings.service_account.clone(),
                    automount_service_account_token: Some(true),
                    tolerations: (!tolerations.is_empty()).then(|| tolerations.to_vec()),
                    security_context: Some(PodSecurityContext {
                        run_as_user: Some(0),
                        run_as_group: Some(0),
                        seccomp_profile: Some(runtime_default()),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings() -> NodeSettings {
        NodeSettings {
            namespace: "trivy-system-nodes".into(),
            image: "ghcr.io/aquasecurity/node-collector:0.3.1".into(),
            service_account: Some("trivy-operator-node-collector".into()),
            timeout: Duration::from_secs(300),
            include_passed: false,
            recorder: None,
        }
    }

    #[test]
    fn the_job_is_pinned_to_its_node_and_reads_the_host_read_only() {
        let job = collector_job(&settings(), "kind-worker", &[]);
        assert_eq!(
            job.metadata.name.as_deref(),
            Some(job_name("kind-worker").as_str())
        );
        assert_eq!(
            job.metadata.namespace.as_deref(),
            Some("trivy-system-nodes")
        );
        let labels = job.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[COLLECTOR_LABEL], "Trivy");
        assert_eq!(labels[common::labels::RESOURCE_NAME], "kind-worker");
        let spec = job.spec.unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.active_deadline_seconds, Some(300));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.node_name.as_deref(), Some("kind-worker"));
        assert_eq!(pod.host_pid, Some(true));
        assert_eq!(pod.host_network, None);
        let c = &pod.containers[0];
        let args = c.args.as_ref().unwrap();
        assert_eq!(args[..3], ["k8s", "--node", "kind-worker"]);
        let flags: Vec<&str> = args[3..].iter().step_by(2).map(String::as_str).collect();
        assert_eq!(
            flags,
            [
                "--node-config",
                "--kubelet-config-mapping",
                "--node-commands"
            ]
        );
        let mounts = c.volume_mounts.as_ref().unwrap();
        assert_eq!(mounts.len(), 8);
        assert!(mounts.iter().all(|m| m.read_only == Some(true)));
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.privileged, Some(false));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(pod.volumes.unwrap().len(), 8);
    }

    /// The value of a collector argument, decoded.
    fn decoded(args: &[String], flag: &str) -> String {
        let i = args.iter().position(|a| a == flag).unwrap();
        let bytes = common::trivy::decode_scanner_output(args[i + 1].as_bytes()).unwrap();
        String::from_utf8(bytes.into_owned()).unwrap()
    }

    #[test]
    fn the_collector_collects_every_item_the_node_checks_read() {
        let job = collector_job(&settings(), "n", &[]);
        let args = job.spec.unwrap().template.spec.unwrap().containers[0]
            .args
            .clone()
            .unwrap();
        let commands = decoded(&args, "--node-commands");
        let keys: std::collections::BTreeSet<String> = commands
            .lines()
            .filter_map(|l| l.trim().strip_prefix("key: "))
            .map(str::to_owned)
            .collect();
        let wanted: std::collections::BTreeSet<String> =
            common::audit::node_check_items().into_iter().collect();
        assert_eq!(keys, wanted);
        assert!(decoded(&args, "--node-config").contains("kubelet:"));
        for key in [
            "kubeletAnonymousAuthArgumentSet",
            "kubeletEventQpsArgumentSet",
        ] {
            assert!(decoded(&args, "--kubelet-config-mapping").contains(key));
        }
    }

    #[test]
    fn the_shipped_admission_policy_admits_exactly_this_job() {
        let policy =
            include_str!("../../../deploy/components/scan-job-policy/node-collector-policy.yaml");
        for (_, path) in HOST_PATHS {
            assert!(
                policy.contains(&format!("\"{path}\"")),
                "{path} not admitted"
            );
        }
        let allowed = policy.matches("\"/").count();
        assert_eq!(
            allowed,
            HOST_PATHS.len(),
            "the policy admits other host paths"
        );
        let image = settings().image;
        let (repository, _) = image.rsplit_once(':').unwrap();
        assert!(policy.contains(&format!("startsWith(\"{repository}:\")")));
        let account = settings().service_account.unwrap();
        assert!(policy.contains(&format!("== \"{account}\"")));
        let pod = collector_job(&settings(), "n", &[])
            .spec
            .unwrap()
            .template
            .spec
            .unwrap();
        assert!(pod.init_containers.is_none() && pod.host_network.is_none());
    }

    #[test]
    fn names_are_deterministic_and_valid() {
        assert_eq!(job_name("a"), job_name("a"));
        assert_ne!(job_name("a"), job_name("b"));
        let long = "n".repeat(253);
        assert!(common::names::is_dns1123_label(&job_name(&long)));
        let job = collector_job(&settings(), &long, &[]);
        assert!(
            !job.metadata
                .labels
                .unwrap()
                .contains_key(common::labels::RESOURCE_NAME)
        );
    }
}
