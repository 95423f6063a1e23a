//! The built-in control-plane checks (KCV0001–KCV0047) against the command lines of the
//! static Pods a kubeadm (or kind) control plane runs: a hardened control plane passes all of
//! them, kubeadm's defaults fail the checks upstream fails them for, and each check fails for
//! the command lines upstream's check fails for (and only those) — including upstream's
//! quirks: flags are patterns found anywhere in an argument, so `--secure-port=0` is also
//! found in `--secure-port=0443`; a few checks read only the `command`, a few every container.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use common::audit::{PolicyEngine, audit};
use common::policy_config::PolicyConfig;
use serde_json::{Value, json};

fn engine() -> PolicyEngine {
    PolicyEngine::compile(&PolicyConfig::default(), true).unwrap()
}

/// kubeadm's API server command line (kind v1.32), less the binary.
const APISERVER: &[&str] = &[
    "--advertise-address=172.18.0.2",
    "--allow-privileged=true",
    "--authorization-mode=Node,RBAC",
    "--client-ca-file=/etc/kubernetes/pki/ca.crt",
    "--enable-admission-plugins=NodeRestriction",
    "--enable-bootstrap-token-auth=true",
    "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt",
    "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
    "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
    "--etcd-servers=https://127.0.0.1:2379",
    "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
    "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    "--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt",
    "--secure-port=6443",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--service-account-key-file=/etc/kubernetes/pki/sa.pub",
    "--service-account-signing-key-file=/etc/kubernetes/pki/sa.key",
    "--service-cluster-ip-range=10.96.0.0/16",
    "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
    "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
];

/// What a hardened API server adds to kubeadm's (its admission plugins replace kubeadm's).
const APISERVER_HARDENING: &[&str] = &[
    "--anonymous-auth=false",
    "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt",
    "--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages,SecurityContextDeny",
    "--profiling=false",
    "--audit-log-path=/var/log/kubernetes/audit.log",
    "--audit-log-maxage=30",
    "--audit-log-maxbackup=10",
    "--audit-log-maxsize=100",
    "--encryption-provider-config=/etc/kubernetes/encryption.yaml",
];

const CONTROLLER_MANAGER: &[&str] = &[
    "--allocate-node-cidrs=true",
    "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
    "--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf",
    "--bind-address=127.0.0.1",
    "--client-ca-file=/etc/kubernetes/pki/ca.crt",
    "--cluster-cidr=10.244.0.0/16",
    "--controllers=*,bootstrapsigner,tokencleaner",
    "--kubeconfig=/etc/kubernetes/controller-manager.conf",
    "--leader-elect=true",
    "--root-ca-file=/etc/kubernetes/pki/ca.crt",
    "--service-account-private-key-file=/etc/kubernetes/pki/sa.key",
    "--use-service-account-credentials=true",
];

const CONTROLLER_MANAGER_HARDENING: &[&str] = &[
    "--terminated-pod-gc-threshold=10",
    "--profiling=false",
    "--feature-gates=RotateKubeletServerCertificate=true",
];

const SCHEDULER: &[&str] = &[
    "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
    "--bind-address=127.0.0.1",
    "--kubeconfig=/etc/kubernetes/scheduler.conf",
    "--leader-elect=true",
];

const SCHEDULER_HARDENING: &[&str] = &["--profiling=false"];

const ETCD: &[&str] = &[
    "--advertise-client-urls=https://172.18.0.2:2379",
    "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
    "--client-cert-auth=true",
    "--data-dir=/var/lib/etcd",
    "--key-file=/etc/kubernetes/pki/etcd/server.key",
    "--listen-client-urls=https://127.0.0.1:2379,https://172.18.0.2:2379",
    "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
    "--peer-client-cert-auth=true",
    "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
    "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
    "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
];

/// A component's command line: its binary, then kubeadm's flags, hardened or not.
fn command_line(binary: &str, hardened: bool) -> Vec<String> {
    let (flags, hardening): (&[&str], &[&str]) = match binary {
        "kube-apiserver" => (APISERVER, APISERVER_HARDENING),
        "kube-controller-manager" => (CONTROLLER_MANAGER, CONTROLLER_MANAGER_HARDENING),
        "kube-scheduler" => (SCHEDULER, SCHEDULER_HARDENING),
        _ => (ETCD, &[]),
    };
    let mut line = vec![binary.to_string()];
    for flag in flags {
        let name = flag.split('=').next().unwrap();
        if !(hardened && hardening.iter().any(|h| h.split('=').next() == Some(name))) {
            line.push((*flag).to_string());
        }
    }
    if hardened {
        line.extend(hardening.iter().map(|f| (*f).to_string()));
    }
    line
}

/// The static Pod of a component, as the kubelet mirrors it into `kube-system`.
fn static_pod(binary: &str, command: &[String], args: &[String]) -> Value {
    let mut container = json!({
        "name": binary,
        "image": format!("registry.k8s.io/{binary}:v1.32.0"),
        "command": command,
    });
    if !args.is_empty() {
        container["args"] = json!(args);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": format!("{binary}-kind-control-plane"), "namespace": "kube-system"},
        "spec": {"containers": [container]},
    })
}

/// The KCV checks the workload fails.
fn failed(engine: &PolicyEngine, kind: &str, workload: &Value) -> BTreeSet<String> {
    audit(engine, kind, workload, false)
        .into_iter()
        .map(|c| c.check_id)
        .filter(|id| id.starts_with("KCV"))
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| format!("KCV{id}")).collect()
}

const BINARIES: [&str; 4] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
];

#[test]
fn a_hardened_control_plane_passes_every_control_plane_check() {
    let engine = engine();
    let mut evaluated = BTreeSet::new();
    for binary in BINARIES {
        let pod = static_pod(binary, &command_line(binary, true), &[]);
        let checks = audit(&engine, "Pod", &pod, true);
        let kcv: Vec<_> = checks
            .iter()
            .filter(|c| c.check_id.starts_with("KCV"))
            .collect();
        assert!(kcv.iter().all(|c| c.success), "{binary}: {kcv:#?}");
        evaluated.extend(kcv.iter().map(|c| c.check_id.clone()));
    }
    let all: BTreeSet<String> = (1..=47)
        .filter(|n| ![23, 31, 32].contains(n))
        .map(|n| format!("KCV{n:04}"))
        .collect();
    assert_eq!(evaluated, all);
}

/// Upstream's own expected InfraAssessmentReport for a kubeadm API server Pod
/// (trivy-operator's `tests/envtest`) lists 9 of the API server's 11 failures here: its test
/// bundle holds only nine control-plane checks, without KCV0012 and KCV0030.
#[test]
fn kubeadm_defaults_fail_what_upstream_fails() {
    let engine = engine();
    let cases = [
        (
            "kube-apiserver",
            set(&[
                "0001", "0006", "0010", "0012", "0013", "0018", "0019", "0020", "0021", "0022",
                "0030",
            ]),
        ),
        ("kube-controller-manager", set(&["0033", "0034", "0038"])),
        ("kube-scheduler", set(&["0040"])),
        ("etcd", set(&[])),
    ];
    for (binary, want) in cases {
        let pod = static_pod(binary, &command_line(binary, false), &[]);
        assert_eq!(failed(&engine, "Pod", &pod), want, "{binary}");
    }
}

/// One case: the component, how its hardened command line changes, the args it gets, and the
/// checks it then fails.
struct Case {
    binary: &'static str,
    drop: &'static [&'static str],
    add: &'static [&'static str],
    args: &'static [&'static str],
    fails: &'static [&'static str],
}

const fn case(
    binary: &'static str,
    drop: &'static [&'static str],
    add: &'static [&'static str],
    args: &'static [&'static str],
    fails: &'static [&'static str],
) -> Case {
    Case {
        binary,
        drop,
        add,
        args,
        fails,
    }
}

const API: &str = "kube-apiserver";
const CM: &str = "kube-controller-manager";
const SCHED: &str = "kube-scheduler";
const ETCD_BIN: &str = "etcd";
const PLUGINS: &str = "--enable-admission-plugins";

const CASES: &[Case] = &[
    // KCV0001: the flag in the command or the args.
    case(API, &["--anonymous-auth"], &[], &[], &["0001"]),
    case(
        API,
        &["--anonymous-auth"],
        &[],
        &["--anonymous-auth=false"],
        &[],
    ),
    case(
        API,
        &["--anonymous-auth"],
        &["--anonymous-auth=true"],
        &[],
        &["0001"],
    ),
    // KCV0002.
    case(
        API,
        &[],
        &["--token-auth-file=/etc/tokens.csv"],
        &[],
        &["0002"],
    ),
    case(
        API,
        &[],
        &[],
        &["--token-auth-file=/etc/tokens.csv"],
        &["0002"],
    ),
    // KCV0003 and KCV0012 (b): plugins enabled without AlwaysPullImages.
    case(
        API,
        &[PLUGINS],
        &[
            "--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages,SecurityContextDeny,DenyServiceExternalIPs",
        ],
        &[],
        &["0003"],
    ),
    // KCV0004: only the command is read.
    case(API, &[], &["--kubelet-https=false"], &[], &["0004"]),
    case(API, &[], &[], &["--kubelet-https=false"], &[]),
    // KCV0005: both flags in the command, or both in the args.
    case(API, &["--kubelet-client-key"], &[], &[], &["0005"]),
    case(
        API,
        &["--kubelet-client-key"],
        &[],
        &["--kubelet-client-key=/k"],
        &["0005"],
    ),
    case(
        API,
        &["--kubelet-client-key", "--kubelet-client-certificate"],
        &[],
        &["--kubelet-client-certificate=/c", "--kubelet-client-key=/k"],
        &[],
    ),
    // KCV0006.
    case(
        API,
        &["--kubelet-certificate-authority"],
        &[],
        &[],
        &["0006"],
    ),
    // KCV0007 (command only), KCV0008, KCV0009.
    case(
        API,
        &["--authorization-mode"],
        &["--authorization-mode=AlwaysAllow,Node,RBAC"],
        &[],
        &["0007"],
    ),
    case(
        API,
        &["--authorization-mode"],
        &[],
        &["--authorization-mode=AlwaysAllow,Node,RBAC"],
        &[],
    ),
    case(
        API,
        &["--authorization-mode"],
        &["--authorization-mode=RBAC"],
        &[],
        &["0008"],
    ),
    case(
        API,
        &["--authorization-mode"],
        &["--authorization-mode=Node"],
        &[],
        &["0009"],
    ),
    case(API, &["--authorization-mode"], &[], &[], &["0008", "0009"]),
    // KCV0010, KCV0011, KCV0012, KCV0013, KCV0016: the admission plugins.
    case(
        API,
        &[PLUGINS],
        &["--enable-admission-plugins=NodeRestriction,AlwaysPullImages,SecurityContextDeny"],
        &[],
        &["0010"],
    ),
    case(
        API,
        &[PLUGINS],
        &[
            "--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages,SecurityContextDeny,AlwaysAdmit",
        ],
        &[],
        &["0011"],
    ),
    case(
        API,
        &[PLUGINS],
        &["--enable-admission-plugins=NodeRestriction,EventRateLimit,SecurityContextDeny"],
        &[],
        &["0012"],
    ),
    case(
        API,
        &[PLUGINS],
        &[
            "--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages,PodSecurityPolicy",
        ],
        &[],
        &[],
    ),
    case(
        API,
        &[PLUGINS],
        &["--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages"],
        &[],
        &["0013"],
    ),
    case(
        API,
        &[PLUGINS],
        &["--enable-admission-plugins=EventRateLimit,AlwaysPullImages,SecurityContextDeny"],
        &[],
        &["0016"],
    ),
    // No plugins named at all: KCV0013 has nothing to read and passes.
    case(API, &[PLUGINS], &[], &[], &["0010", "0012", "0016"]),
    // Plugins in the args: KCV0012 reads only the command.
    case(
        API,
        &[PLUGINS],
        &[],
        &[
            "--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages,SecurityContextDeny",
        ],
        &["0012"],
    ),
    // KCV0014, KCV0015.
    case(
        API,
        &[],
        &["--disable-admission-plugins=ServiceAccount"],
        &[],
        &["0014"],
    ),
    case(
        API,
        &[],
        &[],
        &["--disable-admission-plugins=NamespaceLifecycle"],
        &["0015"],
    ),
    // KCV0017, KCV0018.
    case(
        API,
        &["--secure-port"],
        &["--secure-port=0"],
        &[],
        &["0017"],
    ),
    case(
        API,
        &["--secure-port"],
        &["--secure-port=0443"],
        &[],
        &["0017"],
    ),
    case(API, &["--profiling"], &[], &[], &["0018"]),
    case(API, &["--profiling"], &["--profiling=true"], &[], &["0018"]),
    // KCV0019 to KCV0022.
    case(API, &["--audit-log-path"], &[], &[], &["0019"]),
    case(API, &["--audit-log-maxage"], &[], &[], &["0020"]),
    case(API, &["--audit-log-maxbackup"], &[], &[], &["0021"]),
    case(API, &["--audit-log-maxsize"], &[], &[], &["0022"]),
    // KCV0024, KCV0025.
    case(
        API,
        &[],
        &["--service-account-lookup=false"],
        &[],
        &["0024"],
    ),
    case(API, &["--service-account-key-file"], &[], &[], &["0025"]),
    // KCV0026: both in the command, or the cert file in the args (upstream reads no key
    // file there).
    case(API, &["--etcd-keyfile"], &[], &[], &["0026"]),
    case(
        API,
        &["--etcd-certfile", "--etcd-keyfile"],
        &[],
        &["--etcd-certfile=/c"],
        &[],
    ),
    // KCV0027 to KCV0030.
    case(API, &["--tls-private-key-file"], &[], &[], &["0027"]),
    case(API, &["--client-ca-file"], &[], &[], &["0028"]),
    case(API, &["--etcd-cafile"], &[], &[], &["0029"]),
    case(API, &["--encryption-provider-config"], &[], &[], &["0030"]),
    // The controller manager.
    case(CM, &["--terminated-pod-gc-threshold"], &[], &[], &["0033"]),
    case(CM, &["--profiling"], &[], &[], &["0034"]),
    case(
        CM,
        &["--use-service-account-credentials"],
        &[],
        &[],
        &["0035"],
    ),
    case(
        CM,
        &["--service-account-private-key-file"],
        &[],
        &[],
        &["0036"],
    ),
    case(CM, &["--root-ca-file"], &[], &[], &["0037"]),
    case(CM, &["--feature-gates"], &[], &[], &["0038"]),
    case(
        CM,
        &["--feature-gates"],
        &[],
        &["--feature-gates=RotateKubeletServerCertificate=true"],
        &[],
    ),
    case(
        CM,
        &["--bind-address"],
        &["--bind-address=0.0.0.0"],
        &[],
        &["0039"],
    ),
    // The scheduler.
    case(SCHED, &["--profiling"], &[], &[], &["0040"]),
    case(SCHED, &["--bind-address"], &[], &[], &["0041"]),
    // etcd: the peer flags are other flags (`--key-file` is not found in `--peer-key-file`).
    case(ETCD_BIN, &["--key-file"], &[], &[], &["0042"]),
    case(
        ETCD_BIN,
        &["--key-file", "--peer-key-file"],
        &[],
        &[],
        &["0042", "0045"],
    ),
    case(ETCD_BIN, &["--peer-cert-file"], &[], &[], &["0045"]),
    case(ETCD_BIN, &["--client-cert-auth"], &[], &[], &["0043"]),
    case(
        ETCD_BIN,
        &["--client-cert-auth", "--peer-client-cert-auth"],
        &[],
        &[],
        &["0043", "0046"],
    ),
    case(ETCD_BIN, &[], &["--auto-tls=true"], &[], &["0044"]),
    case(ETCD_BIN, &[], &["--peer-auto-tls=true"], &[], &["0047"]),
    // KCV0046 reads only the command.
    case(
        ETCD_BIN,
        &["--peer-client-cert-auth"],
        &[],
        &["--peer-client-cert-auth=true"],
        &["0046"],
    ),
];

#[test]
fn each_check_fails_exactly_for_the_command_lines_upstream_fails() {
    let engine = engine();
    for (i, c) in CASES.iter().enumerate() {
        let mut command: Vec<String> = command_line(c.binary, true)
            .into_iter()
            .filter(|f| !c.drop.iter().any(|d| f.split('=').next() == Some(*d)))
            .collect();
        command.extend(c.add.iter().map(|f| (*f).to_string()));
        let args: Vec<String> = c.args.iter().map(|a| (*a).to_string()).collect();
        let pod = static_pod(c.binary, &command, &args);
        assert_eq!(
            failed(&engine, "Pod", &pod),
            set(c.fails),
            "case {i}: {} -{:?} +{:?} args {:?}",
            c.binary,
            c.drop,
            c.add,
            c.args
        );
    }
}

#[test]
fn the_component_is_the_commands_first_element_with_or_without_a_path() {
    let engine = engine();
    let mut command = command_line(API, false);
    command[0] = "/usr/local/bin/kube-apiserver".into();
    let pod = static_pod(API, &command, &[]);
    assert_eq!(failed(&engine, "Pod", &pod).len(), 11);
    command[0] = "kube-apiserver-wrapper".into();
    let pod = static_pod(API, &command, &[]);
    // Not an API server: only the checks that read every container are left.
    assert_eq!(failed(&engine, "Pod", &pod), set(&["0012"]));
    // No command (the image's entrypoint): nothing is known, nothing fails.
    let mut pod = static_pod(API, &[], &[]);
    pod["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("command");
    assert_eq!(failed(&engine, "Pod", &pod), set(&[]));
}

#[test]
fn some_checks_read_every_container_of_the_pod() {
    let engine = engine();
    let mut pod = static_pod(ETCD_BIN, &command_line(ETCD_BIN, true), &[]);
    pod["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "busybox",
            "command": ["sh", "--enable-admission-plugins=DenyServiceExternalIPs"]}));
    assert_eq!(failed(&engine, "Pod", &pod), set(&["0003", "0012"]));
}

#[test]
fn init_containers_and_pod_templates_are_read_too() {
    let engine = engine();
    let scheduler = json!({"name": "s", "image": "i", "command": ["kube-scheduler"]});
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "kube-scheduler-cp", "namespace": "kube-system"},
        "spec": {"initContainers": [scheduler], "containers": [{"name": "c", "image": "i"}]}});
    assert_eq!(failed(&engine, "Pod", &pod), set(&["0040", "0041"]));
    let daemon_set = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "etcd", "namespace": "kube-system"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "etcd", "image": "i", "command": ["etcd", "--auto-tls=true"]}]}}}});
    assert_eq!(
        failed(&engine, "DaemonSet", &daemon_set),
        set(&["0042", "0043", "0044", "0045", "0046"])
    );
    let cron_job = json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "etcd-defrag", "namespace": "kube-system"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "etcd", "image": "i", "command": ["etcd"]}]}}}}}});
    assert_eq!(
        failed(&engine, "CronJob", &cron_job),
        set(&["0042", "0043", "0045", "0046"])
    );
}

#[test]
fn only_control_plane_components_are_checked() {
    let engine = engine();
    let mut pod = static_pod(API, &command_line(API, false), &[]);
    // The same Pod outside kube-system, or under another name there: no KCV check runs.
    pod["metadata"]["namespace"] = json!("default");
    assert!(
        audit(&engine, "Pod", &pod, true)
            .iter()
            .all(|c| !c.check_id.starts_with("KCV"))
    );
    pod["metadata"]["namespace"] = json!("kube-system");
    pod["metadata"]["name"] = json!("api-proxy");
    assert!(
        audit(&engine, "Pod", &pod, true)
            .iter()
            .all(|c| !c.check_id.starts_with("KCV"))
    );
}

#[test]
fn a_failed_check_has_upstreams_texts() {
    let engine = engine();
    let pod = static_pod(API, &command_line(API, false), &[]);
    let checks = audit(&engine, "Pod", &pod, false);
    let kcv0001 = checks.iter().find(|c| c.check_id == "KCV0001").unwrap();
    assert_eq!(kcv0001.severity, "MEDIUM");
    assert_eq!(
        kcv0001.title,
        "Ensure that the --anonymous-auth argument is set to false"
    );
    assert_eq!(
        kcv0001.description,
        "Disable anonymous requests to the API server."
    );
    assert_eq!(kcv0001.messages, std::slice::from_ref(&kcv0001.title));
    assert_eq!(kcv0001.category, "Kubernetes Security Check");
    assert_eq!(kcv0001.remediation, "Set '--anonymous-auth' to 'false'.");
    let kcv0020 = checks.iter().find(|c| c.check_id == "KCV0020").unwrap();
    assert_eq!(kcv0020.severity, "LOW");
    assert_eq!(
        kcv0020.messages,
        ["Ensure that the --audit-log-maxage argument is set to 30 or as appropriate"]
    );
}
