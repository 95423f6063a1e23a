//! KSV004, KSV116, KSV118 and KSV120: capabilities and security contexts, of the pod and of
//! each container.

use serde_json::{Value, json};

use super::{Case, assert_cases, engine, pod, workload};

#[test]
fn ksv004_a_container_must_name_capabilities_to_drop() {
    let sc = |caps: Value| json!({"name": "app", "image": "a:1", "securityContext": {"capabilities": caps}});
    const APP: &str = "Container 'app' of 'pod' 'w' in 'shop' namespace should set securityContext.capabilities.drop";
    let cases: Vec<Case> = vec![
        (
            "no securityContext",
            pod(json!({"containers": [{"name": "app", "image": "a:1"}]})),
            &[APP],
        ),
        (
            "adds only",
            pod(json!({"containers": [sc(json!({"add": ["NET_ADMIN"]}))]})),
            &[APP],
        ),
        (
            "drops ALL",
            pod(json!({"containers": [sc(json!({"drop": ["ALL"]}))]})),
            &[],
        ),
        (
            "drops one",
            pod(json!({"containers": [sc(json!({"drop": ["NET_RAW"]}))]})),
            &[],
        ),
        (
            "an empty drop list names the field",
            pod(json!({"containers": [sc(json!({"drop": []}))]})),
            &[],
        ),
        (
            "so does a null one",
            pod(json!({"containers": [sc(json!({"drop": null}))]})),
            &[],
        ),
        (
            "an init container",
            pod(json!({
                "containers": [sc(json!({"drop": ["ALL"]}))],
                "initContainers": [{"name": "init", "image": "a:1"}],
            })),
            &[
                "Container 'init' of 'pod' 'w' in 'shop' namespace should set securityContext.capabilities.drop",
            ],
        ),
        (
            "ephemeral containers are not looked at",
            pod(json!({
                "containers": [sc(json!({"drop": ["ALL"]}))],
                "ephemeralContainers": [{"name": "debug", "image": "a:1"}],
            })),
            &[],
        ),
        (
            "the verdict goes by name: a namesake that drops passes both",
            pod(json!({
                "containers": [sc(json!({"drop": ["ALL"]}))],
                "initContainers": [{"name": "app", "image": "a:1"}],
            })),
            &[],
        ),
        (
            "a nameless container passes",
            pod(json!({"containers": [{"image": "a:1"}]})),
            &[],
        ),
        (
            "a CronJob's template, in the default namespace",
            workload(
                "CronJob",
                None,
                json!({"containers": [{"name": "app", "image": "a:1"}]}),
            ),
            &[
                "Container 'app' of 'cronjob' 'w' in 'default' namespace should set securityContext.capabilities.drop",
            ],
        ),
        (
            "a Deployment's template",
            workload(
                "Deployment",
                Some("shop"),
                json!({"containers": [{"name": "app", "image": "a:1"}]}),
            ),
            &[
                "Container 'app' of 'deployment' 'w' in 'shop' namespace should set securityContext.capabilities.drop",
            ],
        ),
    ];
    assert_cases(&engine(), "KSV004", cases);
}
#[test]
fn ksv116_a_root_group_at_pod_level_fails() {
    let with_sc = |kind: &str, sc: Value| {
        workload(
            kind,
            Some("shop"),
            json!({"securityContext": sc, "containers": [{"name": "app", "image": "a:1"}]}),
        )
    };
    const POD_MSG: &str = "pod w in shop namespace should set spec.securityContext.runAsGroup, spec.securityContext.supplementalGroups[*] and spec.securityContext.fsGroup to integer greater than 0";
    let cases: Vec<Case> = vec![
        (
            "all three root",
            with_sc(
                "Pod",
                json!({"runAsGroup": 0, "supplementalGroups": [0], "fsGroup": 0}),
            ),
            &[POD_MSG],
        ),
        (
            "runAsGroup 0",
            with_sc("Pod", json!({"runAsGroup": 0})),
            &[POD_MSG],
        ),
        (
            "a root supplementary group",
            with_sc("Pod", json!({"supplementalGroups": [1002, 0]})),
            &[POD_MSG],
        ),
        (
            "fsGroup 0",
            with_sc("Pod", json!({"fsGroup": 0})),
            &[POD_MSG],
        ),
        (
            "non-zero groups",
            with_sc(
                "Pod",
                json!({"runAsGroup": 1001, "supplementalGroups": [1002], "fsGroup": 1003}),
            ),
            &[],
        ),
        (
            "unset",
            pod(json!({"containers": [{"name": "app", "image": "a:1"}]})),
            &[],
        ),
        (
            "a container's own runAsGroup 0 is not looked at",
            pod(
                json!({"containers": [{"name": "app", "image": "a:1", "securityContext": {"runAsGroup": 0}}]}),
            ),
            &[],
        ),
        (
            "a Deployment's template",
            with_sc("Deployment", json!({"fsGroup": 0})),
            &[
                "deployment w in shop namespace should set spec.securityContext.runAsGroup, spec.securityContext.supplementalGroups[*] and spec.securityContext.fsGroup to integer greater than 0",
            ],
        ),
        (
            "a CronJob's template",
            with_sc("CronJob", json!({"supplementalGroups": [0]})),
            &[
                "cronjob w in shop namespace should set spec.securityContext.runAsGroup, spec.securityContext.supplementalGroups[*] and spec.securityContext.fsGroup to integer greater than 0",
            ],
        ),
    ];
    assert_cases(&engine(), "KSV116", cases);
}

#[test]
fn ksv118_a_default_security_context_fails_at_each_level() {
    const POD_MSG: &str = "pod w in shop namespace is using the default security context, which allows root privileges";
    const CONTAINER_MSG: &str =
        "container w in shop namespace is using the default security context";
    let bare = || json!({"name": "app", "image": "a:1"});
    let set = || json!({"name": "app", "image": "a:1", "securityContext": {"runAsUser": 1001}});
    let cases: Vec<Case> = vec![
        (
            "neither set",
            pod(json!({"containers": [bare()]})),
            &[POD_MSG, CONTAINER_MSG],
        ),
        (
            "the container inherits the pod's runAsUser",
            pod(
                json!({"securityContext": {"runAsUser": 1001}, "containers": [{"name": "app", "image": "a:1", "securityContext": {}}]}),
            ),
            &[],
        ),
        (
            "both set",
            pod(json!({"securityContext": {"runAsUser": 1001}, "containers": [set()]})),
            &[],
        ),
        (
            "an empty pod-level one",
            pod(json!({"securityContext": {}, "containers": [set()]})),
            &[POD_MSG],
        ),
        (
            "a pod-level field containers do not inherit",
            pod(json!({"securityContext": {"fsGroup": 2000}, "containers": [bare()]})),
            &[CONTAINER_MSG],
        ),
        (
            "several bare containers give one message",
            pod(
                json!({"securityContext": {"fsGroup": 2000}, "containers": [bare(), {"name": "b", "image": "b:1"}], "initContainers": [{"name": "i", "image": "i:1"}]}),
            ),
            &[CONTAINER_MSG],
        ),
        (
            "a bare init container",
            pod(
                json!({"securityContext": {"fsGroup": 2000}, "containers": [set()], "initContainers": [{"name": "i", "image": "i:1"}]}),
            ),
            &[CONTAINER_MSG],
        ),
        (
            "ephemeral containers are not looked at",
            pod(
                json!({"securityContext": {"fsGroup": 2000}, "containers": [set()], "ephemeralContainers": [{"name": "d", "image": "d:1"}]}),
            ),
            &[],
        ),
        (
            "a Deployment's template without one",
            workload("Deployment", Some("shop"), json!({"containers": [set()]})),
            &[
                "deployment w in shop namespace is using the default security context, which allows root privileges",
            ],
        ),
        (
            "a CronJob's template, in the default namespace",
            workload("CronJob", None, json!({"containers": [bare()]})),
            &[
                "cronjob w in default namespace is using the default security context, which allows root privileges",
                "container w in default namespace is using the default security context",
            ],
        ),
        (
            "a Job's template",
            workload(
                "Job",
                Some("shop"),
                json!({"securityContext": {"runAsNonRoot": true}, "containers": [bare()]}),
            ),
            &[],
        ),
    ];
    assert_cases(&engine(), "KSV118", cases);
}

#[test]
fn ksv120_sys_module_added_fails_and_prints_the_container() {
    let adding = |cap: &str| json!({"name": "hello", "image": "busybox", "securityContext": {"capabilities": {"add": [cap]}}});
    let cases: Vec<Case> = vec![
        (
            "nothing added",
            pod(json!({"containers": [{"name": "hello", "image": "busybox"}]})),
            &[],
        ),
        (
            "SYS_MODULE added",
            pod(json!({"containers": [adding("SYS_MODULE")]})),
            &[
                r#"container {"image": "busybox", "name": "hello", "securityContext": {"capabilities": {"add": ["SYS_MODULE"]}}} of pod w in shop namespace should not include 'SYS_MODULE' in securityContext.capabilities.add"#,
            ],
        ),
        (
            "spelled otherwise",
            pod(json!({"containers": [adding("sys_module"), adding("CAP_SYS_MODULE")]})),
            &[],
        ),
        (
            "printed with the pod-level fields it inherits",
            workload(
                "Deployment",
                Some("shop"),
                json!({"securityContext": {"runAsUser": 1001, "fsGroup": 2000}, "initContainers": [adding("SYS_MODULE")], "containers": []}),
            ),
            &[
                r#"container {"image": "busybox", "name": "hello", "securityContext": {"capabilities": {"add": ["SYS_MODULE"]}, "runAsUser": 1001}} of deployment w in shop namespace should not include 'SYS_MODULE' in securityContext.capabilities.add"#,
            ],
        ),
        (
            "ephemeral containers are not looked at",
            pod(
                json!({"containers": [{"name": "a", "image": "a:1"}], "ephemeralContainers": [adding("SYS_MODULE")]}),
            ),
            &[],
        ),
    ];
    assert_cases(&engine(), "KSV120", cases);
}
