//! KSV004 and KSV116: capabilities and security contexts, of the pod and of each
//! container.

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
