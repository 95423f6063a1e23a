//! The built-in checks one mutation at a time: starting from a Pod every check passes,
//! each change fails exactly the checks it should.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use common::audit::{PolicyEngine, audit};
use common::policy_config::PolicyConfig;
use common::reports::config_audit::Check;
use serde_json::{Value, json};

fn builtin_engine() -> PolicyEngine {
    PolicyEngine::compile(&PolicyConfig::default(), true).unwrap()
}

fn failed_ids(checks: &[Check]) -> BTreeSet<String> {
    checks
        .iter()
        .filter(|c| !c.success)
        .map(|c| c.check_id.clone())
        .collect()
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A Pod every built-in passes, to mutate one thing at a time.
fn hardened_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "automountServiceAccountToken": false,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "runAsGroup": 30000},
            "containers": [{
                "name": "web",
                "image": "nginx:1.27",
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "runAsNonRoot": true,
                    "runAsUser": 30000,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "resources": {
                    "requests": {"cpu": "10m", "memory": "32Mi"},
                    "limits": {"cpu": "100m", "memory": "64Mi"},
                },
            }],
        },
    })
}

type Mutation = fn(&mut Value);

fn container(pod: &mut Value) -> &mut Value {
    pod.pointer_mut("/spec/containers/0").unwrap()
}

fn sc(pod: &mut Value) -> &mut Value {
    pod.pointer_mut("/spec/containers/0/securityContext")
        .unwrap()
}

fn obj(v: &mut Value) -> &mut serde_json::Map<String, Value> {
    v.as_object_mut().unwrap()
}

#[test]
fn one_mutation_fails_exactly_its_checks() {
    let cases: &[(&str, Mutation, &[&str])] = &[
        ("unchanged", |_| {}, &[]),
        (
            "privileged",
            |p| sc(p)["privileged"] = json!(true),
            &["KSV017"],
        ),
        (
            "escalation allowed",
            |p| sc(p)["allowPrivilegeEscalation"] = json!(true),
            &["KSV001"],
        ),
        (
            "escalation unset",
            |p| drop(obj(sc(p)).remove("allowPrivilegeEscalation")),
            &["KSV001"],
        ),
        (
            "runAsNonRoot false",
            |p| sc(p)["runAsNonRoot"] = json!(false),
            &["KSV012"],
        ),
        (
            "runAsNonRoot from the pod",
            |p| {
                obj(sc(p)).remove("runAsNonRoot");
                p["spec"]["securityContext"]["runAsNonRoot"] = json!(true);
            },
            &[],
        ),
        (
            "container overrides the pod's runAsNonRoot",
            |p| {
                sc(p)["runAsNonRoot"] = json!(false);
                p["spec"]["securityContext"]["runAsNonRoot"] = json!(true);
            },
            &["KSV012"],
        ),
        (
            "root UID",
            |p| sc(p)["runAsUser"] = json!(0),
            &["KSV020", "KSV105"],
        ),
        (
            "root UID from the pod",
            |p| {
                obj(sc(p)).remove("runAsUser");
                p["spec"]["securityContext"]["runAsUser"] = json!(0);
            },
            &["KSV020", "KSV105"],
        ),
        ("low UID", |p| sc(p)["runAsUser"] = json!(1000), &["KSV020"]),
        (
            "low GID",
            |p| sc(p)["runAsGroup"] = json!(1000),
            &["KSV021"],
        ),
        (
            "writable root fs",
            |p| sc(p)["readOnlyRootFilesystem"] = json!(false),
            &["KSV014"],
        ),
        (
            "no drop",
            |p| drop(obj(sc(p)).remove("capabilities")),
            &["KSV003", "KSV004", "KSV106"],
        ),
        (
            "drop lower-case all",
            |p| sc(p)["capabilities"]["drop"] = json!(["all"]),
            &[],
        ),
        (
            "add SYS_ADMIN",
            |p| sc(p)["capabilities"]["add"] = json!(["SYS_ADMIN"]),
            &["KSV005", "KSV022", "KSV106"],
        ),
        (
            "add NET_ADMIN",
            |p| sc(p)["capabilities"]["add"] = json!(["NET_ADMIN"]),
            &["KSV022", "KSV106"],
        ),
        (
            "add CHOWN",
            |p| sc(p)["capabilities"]["add"] = json!(["CHOWN"]),
            &["KSV106"],
        ),
        (
            "add NET_BIND_SERVICE",
            |p| sc(p)["capabilities"]["add"] = json!(["NET_BIND_SERVICE"]),
            &[],
        ),
        (
            "hostNetwork",
            |p| p["spec"]["hostNetwork"] = json!(true),
            &["KSV009"],
        ),
        (
            "hostPID",
            |p| p["spec"]["hostPID"] = json!(true),
            &["KSV010"],
        ),
        (
            "hostIPC",
            |p| p["spec"]["hostIPC"] = json!(true),
            &["KSV008"],
        ),
        (
            "hostNetwork false",
            |p| p["spec"]["hostNetwork"] = json!(false),
            &[],
        ),
        (
            "hostPath",
            |p| p["spec"]["volumes"] = json!([{"name": "logs", "hostPath": {"path": "/var/log"}}]),
            &["KSV023"],
        ),
        (
            "docker socket",
            |p| {
                p["spec"]["volumes"] =
                    json!([{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}])
            },
            &["KSV006", "KSV023"],
        ),
        (
            "emptyDir",
            |p| p["spec"]["volumes"] = json!([{"name": "t", "emptyDir": {}}]),
            &[],
        ),
        (
            "hostPort",
            |p| container(p)["ports"] = json!([{"containerPort": 8000, "hostPort": 8080}]),
            &["KSV024"],
        ),
        (
            "containerPort only",
            |p| container(p)["ports"] = json!([{"containerPort": 8080}]),
            &[],
        ),
        (
            "a privileged containerPort",
            |p| container(p)["ports"] = json!([{"containerPort": 80}]),
            &["KSV117"],
        ),
        (
            "hostAliases",
            |p| p["spec"]["hostAliases"] = json!([{"ip": "10.0.0.1", "hostnames": ["db"]}]),
            &["KSV007"],
        ),
        (
            "a Tiller image",
            |p| container(p)["image"] = json!("gcr.io/kubernetes-helm/tiller:v2.16.1"),
            &["KSV102"],
        ),
        (
            "labelled as Helm's",
            |p| p["metadata"]["labels"] = json!({"app": "helm"}),
            &["KSV102"],
        ),
        (
            "hostPath to /boot",
            |p| {
                p["spec"]["volumes"] = json!([{"name": "b", "hostPath": {"path": "/boot"}}]);
            },
            &["KSV023", "KSV121"],
        ),
        (
            "hostPath to an allowed path",
            |p| {
                p["spec"]["volumes"] = json!([{"name": "d", "hostPath": {"path": "/data"}}]);
            },
            &["KSV023"],
        ),
        (
            "no cpu limit",
            |p| drop(obj(&mut container(p)["resources"]["limits"]).remove("cpu")),
            &["KSV011"],
        ),
        (
            "no memory limit",
            |p| drop(obj(&mut container(p)["resources"]["limits"]).remove("memory")),
            &["KSV018"],
        ),
        (
            "no cpu request",
            |p| drop(obj(&mut container(p)["resources"]["requests"]).remove("cpu")),
            &["KSV015"],
        ),
        (
            "no memory request",
            |p| drop(obj(&mut container(p)["resources"]["requests"]).remove("memory")),
            &["KSV016"],
        ),
        (
            "no resources",
            |p| drop(obj(container(p)).remove("resources")),
            &["KSV011", "KSV015", "KSV016", "KSV018"],
        ),
        (
            "latest tag",
            |p| container(p)["image"] = json!("nginx:latest"),
            &["KSV013"],
        ),
        (
            "no tag",
            |p| container(p)["image"] = json!("nginx"),
            &["KSV013"],
        ),
        (
            "registry port, no tag",
            |p| container(p)["image"] = json!("reg:5000/nginx"),
            &["KSV013", "KSV0125"],
        ),
        (
            "registry port, tag",
            |p| container(p)["image"] = json!("reg:5000/nginx:1.2"),
            &["KSV0125"],
        ),
        (
            "digest",
            |p| {
                container(p)["image"] = json!(
                    "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000"
                )
            },
            &[],
        ),
        (
            "no seccomp",
            |p| {
                obj(&mut p["spec"]["securityContext"]).remove("seccompProfile");
                obj(sc(p)).remove("seccompProfile");
            },
            &["KSV030", "KSV104"],
        ),
        (
            "seccomp on the Pod only (upstream's KSV104 reads a Pod's containers only)",
            |p| drop(obj(sc(p)).remove("seccompProfile")),
            &["KSV104"],
        ),
        (
            "seccomp Unconfined on the container",
            |p| sc(p)["seccompProfile"] = json!({"type": "Unconfined"}),
            &["KSV030", "KSV104"],
        ),
        (
            "seccomp Unconfined on the Pod",
            |p| p["spec"]["securityContext"]["seccompProfile"] = json!({"type": "Unconfined"}),
            &["KSV030"],
        ),
        (
            "seccomp Localhost",
            |p| {
                p["spec"]["securityContext"]["seccompProfile"] =
                    json!({"type": "Localhost", "localhostProfile": "p.json"})
            },
            &[],
        ),
        (
            "seccomp from the legacy pod annotation only",
            |p| {
                obj(&mut p["spec"]["securityContext"]).remove("seccompProfile");
                obj(sc(p)).remove("seccompProfile");
                p["metadata"]["annotations"] =
                    json!({"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"});
            },
            &["KSV104"],
        ),
        (
            "seccomp from the legacy pod and container annotations",
            |p| {
                obj(&mut p["spec"]["securityContext"]).remove("seccompProfile");
                obj(sc(p)).remove("seccompProfile");
                p["metadata"]["annotations"] = json!({
                    "seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
                    "container.seccomp.security.alpha.kubernetes.io/web": "runtime/default",
                });
            },
            &[],
        ),
        (
            "legacy pod annotation other than runtime/default",
            |p| {
                p["metadata"]["annotations"] =
                    json!({"seccomp.security.alpha.kubernetes.io/pod": "unconfined"});
            },
            &["KSV030"],
        ),
        (
            "AppArmor unconfined for the container",
            |p| {
                p["metadata"]["annotations"] =
                    json!({"container.apparmor.security.beta.kubernetes.io/web": "unconfined"})
            },
            &["KSV002"],
        ),
        (
            "AppArmor runtime/default, and another container's annotation",
            |p| {
                p["metadata"]["annotations"] = json!({
                    "container.apparmor.security.beta.kubernetes.io/web": "runtime/default",
                    "container.apparmor.security.beta.kubernetes.io/other": "unconfined",
                })
            },
            &[],
        ),
        (
            "procMount set, even to Default",
            |p| sc(p)["procMount"] = json!("Default"),
            &["KSV027"],
        ),
        (
            "Windows hostProcess on the container",
            |p| sc(p)["windowsOptions"] = json!({"hostProcess": true}),
            &["KSV103"],
        ),
        (
            "Windows hostProcess on the Pod",
            |p| p["spec"]["securityContext"]["windowsOptions"] = json!({"hostProcess": true}),
            &["KSV103"],
        ),
        (
            "Windows options without hostProcess",
            |p| sc(p)["windowsOptions"] = json!({"hostProcess": false, "runAsUserName": "x"}),
            &[],
        ),
        (
            "SELinux type outside the allowed ones, on the Pod",
            |p| p["spec"]["securityContext"]["seLinuxOptions"] = json!({"type": "spc_t"}),
            &["KSV025"],
        ),
        (
            "SELinux allowed type and level on the container",
            |p| sc(p)["seLinuxOptions"] = json!({"type": "container_t", "level": "s0:c1"}),
            &[],
        ),
        (
            "SELinux user and role",
            |p| sc(p)["seLinuxOptions"] = json!({"user": "u", "role": "r"}),
            &["KSV025"],
        ),
        (
            "an NFS volume",
            |p| {
                p["spec"]["volumes"] =
                    json!([{"name": "data", "nfs": {"server": "nfs", "path": "/x"}}])
            },
            &["KSV028"],
        ),
        (
            "an emptyDir and a configMap volume",
            |p| {
                p["spec"]["volumes"] = json!([{"name": "a", "emptyDir": {}}, {"name": "b", "configMap": {"name": "c"}}])
            },
            &[],
        ),
        (
            "drop ALL, add NET_RAW",
            |p| sc(p)["capabilities"]["add"] = json!(["NET_RAW"]),
            &["KSV022", "KSV106", "KSV119"],
        ),
        (
            "a safe and an unsafe sysctl",
            |p| {
                p["spec"]["securityContext"]["sysctls"] = json!([
                    {"name": "net.ipv4.tcp_syncookies", "value": "1"},
                    {"name": "kernel.msgmax", "value": "65536"},
                ])
            },
            &["KSV026"],
        ),
        (
            "safe sysctls only",
            |p| {
                p["spec"]["securityContext"]["sysctls"] =
                    json!([{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}])
            },
            &[],
        ),
        (
            "in kube-system",
            |p| p["metadata"]["namespace"] = json!("kube-system"),
            &["KSV037"],
        ),
        (
            "a control-plane component in kube-system",
            |p| {
                p["metadata"]["namespace"] = json!("kube-system");
                p["metadata"]["labels"] = json!({"tier": "control-plane", "component": "etcd"});
                p["spec"]["priorityClassName"] = json!("system-node-critical");
            },
            &[],
        ),
        (
            "token setting left out, nothing mounts the token",
            |p| drop(obj(&mut p["spec"]).remove("automountServiceAccountToken")),
            &[],
        ),
        (
            "token mounted explicitly",
            |p| {
                p["spec"]["automountServiceAccountToken"] = json!(true);
                p["spec"]["serviceAccountName"] = json!("web");
            },
            &["KSV036"],
        ),
        (
            "token setting left out, a container mounts the token path",
            |p| {
                obj(&mut p["spec"]).remove("automountServiceAccountToken");
                p["spec"]["containers"][0]["volumeMounts"] = json!([{
                    "name": "token",
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "readOnly": true,
                }]);
            },
            &["KSV036"],
        ),
        (
            "token disabled, a container mounts the token path anyway (upstream: passes)",
            |p| {
                p["spec"]["automountServiceAccountToken"] = json!(false);
                p["spec"]["containers"][0]["volumeMounts"] = json!([{
                    "name": "token",
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                }]);
            },
            &[],
        ),
        (
            "a bad init container",
            |p| p["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox:1.36"}]),
            &[
                "KSV001", "KSV003", "KSV004", "KSV011", "KSV012", "KSV014", "KSV015", "KSV016",
                "KSV018", "KSV020", "KSV104", "KSV106",
            ],
        ),
    ];
    let engine = builtin_engine();
    let mut failures = Vec::new();
    for (name, mutate, want) in cases {
        let mut pod = hardened_pod();
        mutate(&mut pod);
        let checks = audit(&engine, "Pod", &pod, false);
        let got = failed_ids(&checks);
        if got != ids(want) {
            failures.push(format!("{name}: got {got:?}, want {want:?}\n{checks:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn init_container_messages_name_it() {
    let engine = builtin_engine();
    let mut pod = hardened_pod();
    pod["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox:1.36"}]);
    let checks = audit(&engine, "Pod", &pod, false);
    let ksv014 = checks.iter().find(|c| c.check_id == "KSV014").unwrap();
    assert_eq!(
        ksv014.messages,
        vec![
            "Container 'init' of Pod 'web' should set 'securityContext.readOnlyRootFilesystem' to true"
        ]
    );
}
