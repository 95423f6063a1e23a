//! RBAC of the rendered manifests: no wildcards or escalation verbs, bindings that point at
//! shipped roles and accounts, a scan account with no permissions at all, and — expanded to
//! (account, scope, group, resource, verb, names) — exactly the grants the processes use
//! (read from their code; kube-sim's RBAC mode proves them sufficient by running the suite).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{NODES_NS, NS, find, kind_name, rendered, strings};

/// One permission: account, scope (`*` = every namespace and cluster-scoped objects, else a
/// namespace), API group, resource, verb, resource names (empty = any).
type Grant = (String, String, String, String, String, Vec<String>);

const LEADER: &str = "trivy-operator-leader";
const WORKER: &str = "trivy-operator-worker";
const SCAN: &str = "trivy-operator-scan";
const COLLECTOR: &str = "trivy-operator-node-collector";
const LEASE: &str = "trivy-operator-leader";
const POLICIES: &str = "trivy-operator-policies-config";

/// A row of [`EXPECTED`]: (account, scope, group, resources, verbs, resource names).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// What each account must be granted, and nothing more.
#[rustfmt::skip]
const EXPECTED: &[Row] = &[
    // leader: list/watch what it plans from, delete outdated audit reports.
    (LEADER, "*", "", &["pods", "replicationcontrollers", "namespaces", "serviceaccounts"], &["list", "watch"], &[]),
    (LEADER, "*", "apps", &["replicasets", "statefulsets", "daemonsets", "deployments"], &["list", "watch"], &[]),
    (LEADER, "*", "batch", &["jobs", "cronjobs"], &["list", "watch"], &[]),
    (LEADER, "*", "aquasecurity.github.io", &["vulnerabilityreports", "exposedsecretreports", "sbomreports"], &["list", "watch"], &[]),
    (LEADER, "*", "aquasecurity.github.io", &["configauditreports"], &["list", "watch", "delete"], &[]),
    // per-image storage mode: watch image reports, delete those no workload report names.
    (LEADER, "*", "trivy-operator-rs.dev", &["imagevulnerabilityreports"], &["list", "watch", "delete"], &[]),
    (LEADER, "*", "authentication.k8s.io", &["tokenreviews"], &["create"], &[]),
    // RBAC assessments: the roles and their reports.
    (LEADER, "*", "rbac.authorization.k8s.io", &["roles", "clusterroles"], &["list", "watch"], &[]),
    (LEADER, "*", "aquasecurity.github.io", &["rbacassessmentreports", "clusterrbacassessmentreports"], &["list", "watch"], &[]),
    // config audits of the other kinds: the objects and their cluster-scoped reports.
    (LEADER, "*", "", &["services", "configmaps", "resourcequotas", "limitranges", "persistentvolumeclaims", "persistentvolumes"], &["list", "watch"], &[]),
    (LEADER, "*", "rbac.authorization.k8s.io", &["rolebindings", "clusterrolebindings"], &["list", "watch"], &[]),
    (LEADER, "*", "networking.k8s.io", &["networkpolicies", "ingresses"], &["list", "watch"], &[]),
    (LEADER, "*", "apiextensions.k8s.io", &["customresourcedefinitions"], &["list", "watch"], &[]),
    (LEADER, "*", "aquasecurity.github.io", &["clusterconfigauditreports"], &["list", "watch"], &[]),
    // control-plane components' infra assessments.
    (LEADER, "*", "aquasecurity.github.io", &["infraassessmentreports"], &["list", "watch"], &[]),
    // node assessments: the nodes and their reports.
    (LEADER, "*", "", &["nodes"], &["list", "watch"], &[]),
    (LEADER, "*", "aquasecurity.github.io", &["clusterinfraassessmentreports"], &["list", "watch"], &[]),
    // leader, operator namespace: its Lease, the plugin ConfigMap, Events on it.
    (LEADER, NS, "coordination.k8s.io", &["leases"], &["create"], &[]),
    (LEADER, NS, "coordination.k8s.io", &["leases"], &["get", "patch"], &[LEASE]),
    (LEADER, NS, "", &["configmaps"], &["get", "list", "watch"], &[POLICIES]),
    (LEADER, NS, "events.k8s.io", &["events"], &["create", "patch"], &[]),
    // worker: get the workload of a task and the pull secrets the leader names, write
    // reports and Events.
    (WORKER, "*", "", &["pods", "replicationcontrollers", "secrets"], &["get"], &[]),
    (WORKER, "*", "apps", &["replicasets", "statefulsets", "daemonsets"], &["get"], &[]),
    (WORKER, "*", "batch", &["jobs", "cronjobs"], &["get"], &[]),
    (WORKER, "*", "aquasecurity.github.io", &["vulnerabilityreports", "configauditreports", "exposedsecretreports", "sbomreports"], &["get", "create", "patch"], &[]),
    (WORKER, "*", "trivy-operator-rs.dev", &["imagevulnerabilityreports"], &["get", "create", "patch"], &[]),
    (WORKER, "*", "events.k8s.io", &["events"], &["create", "patch"], &[]),
    (WORKER, "*", "aquasecurity.github.io", &["infraassessmentreports"], &["create", "patch"], &[]),
    (WORKER, "*", "rbac.authorization.k8s.io", &["roles", "clusterroles"], &["get"], &[]),
    (WORKER, "*", "aquasecurity.github.io", &["rbacassessmentreports", "clusterrbacassessmentreports"], &["create", "patch"], &[]),
    // config audits of the other kinds: the object of a task (when the leader did not send
    // it), the cluster-scoped reports.
    (WORKER, "*", "", &["services", "configmaps", "resourcequotas", "limitranges", "persistentvolumeclaims", "persistentvolumes"], &["get"], &[]),
    (WORKER, "*", "rbac.authorization.k8s.io", &["rolebindings", "clusterrolebindings"], &["get"], &[]),
    (WORKER, "*", "networking.k8s.io", &["networkpolicies", "ingresses"], &["get"], &[]),
    (WORKER, "*", "apiextensions.k8s.io", &["customresourcedefinitions"], &["get"], &[]),
    (WORKER, "*", "aquasecurity.github.io", &["clusterconfigauditreports"], &["create", "patch"], &[]),
    // worker, operator namespace: scan Jobs, their pods and logs, credentials Secrets.
    (WORKER, NS, "batch", &["jobs"], &["create", "get", "list", "watch", "delete"], &[]),
    (WORKER, NS, "", &["pods"], &["list"], &[]),
    (WORKER, NS, "", &["pods/log"], &["get"], &[]),
    (WORKER, NS, "", &["secrets"], &["create"], &[]),
    (WORKER, NS, "", &["configmaps"], &["get", "list", "watch"], &[POLICIES]),
    // worker, node assessments: write the node reports; the collector Jobs in their namespace.
    (WORKER, "*", "aquasecurity.github.io", &["clusterinfraassessmentreports"], &["create", "patch"], &[]),
    (WORKER, NODES_NS, "batch", &["jobs"], &["create", "get", "list", "watch", "delete"], &[]),
    (WORKER, NODES_NS, "", &["pods"], &["list"], &[]),
    (WORKER, NODES_NS, "", &["pods/log"], &["get"], &[]),
    // node-collector: the kubelet's live configuration.
    (COLLECTOR, "*", "", &["nodes/proxy"], &["get"], &[]),
];

fn expected() -> BTreeSet<Grant> {
    let mut grants = BTreeSet::new();
    for (account, scope, group, resources, verbs, names) in EXPECTED {
        for resource in *resources {
            for verb in *verbs {
                grants.insert((
                    (*account).to_owned(),
                    (*scope).to_owned(),
                    (*group).to_owned(),
                    (*resource).to_owned(),
                    (*verb).to_owned(),
                    names.iter().map(|n| (*n).to_owned()).collect(),
                ));
            }
        }
    }
    grants
}

/// The rules of the role a binding refers to.
fn rules_of<'a>(objects: &'a [Value], binding: &Value) -> &'a [Value] {
    let role_ref = &binding["roleRef"];
    assert_eq!(role_ref["apiGroup"], "rbac.authorization.k8s.io");
    let kind = role_ref["kind"].as_str().unwrap();
    let name = role_ref["name"].as_str().unwrap();
    // A RoleBinding refers to the Role of its own namespace.
    let role = objects
        .iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && (kind != "Role"
                    || o["metadata"]["namespace"] == binding["metadata"]["namespace"])
        })
        .unwrap_or_else(|| panic!("{kind} {name} of binding {:?} missing", kind_name(binding)));
    role["rules"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Every grant of the rendered bindings, expanded.
fn granted(objects: &[Value]) -> BTreeSet<Grant> {
    let mut grants = BTreeSet::new();
    for binding in objects {
        let scope = match binding["kind"].as_str() {
            Some("ClusterRoleBinding") => "*".to_owned(),
            Some("RoleBinding") => binding["metadata"]["namespace"]
                .as_str()
                .unwrap()
                .to_owned(),
            _ => continue,
        };
        let rules = rules_of(objects, binding);
        for subject in binding["subjects"].as_array().unwrap() {
            assert_eq!(subject["kind"], "ServiceAccount", "{subject}");
            let account = subject["name"].as_str().unwrap();
            // The node-collector's account lives beside its Jobs; every other in NS.
            let home = if account == COLLECTOR { NODES_NS } else { NS };
            assert_eq!(subject["namespace"], home, "{subject}");
            for rule in rules {
                let names: Vec<String> = strings(&rule["resourceNames"])
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                for group in strings(&rule["apiGroups"]) {
                    for resource in strings(&rule["resources"]) {
                        for verb in strings(&rule["verbs"]) {
                            grants.insert((
                                account.to_owned(),
                                scope.clone(),
                                group.to_owned(),
                                resource.to_owned(),
                                verb.to_owned(),
                                names.clone(),
                            ));
                        }
                    }
                }
            }
        }
    }
    grants
}

#[test]
fn no_wildcards_no_escalation() {
    let objects = rendered();
    let roles: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "Role" || o["kind"] == "ClusterRole")
        .collect();
    assert_eq!(roles.len(), 6);
    for role in roles {
        let at = format!("{:?}", kind_name(role));
        assert!(role["aggregationRule"].is_null(), "{at}: aggregated");
        for rule in role["rules"].as_array().unwrap() {
            assert!(rule["nonResourceURLs"].is_null(), "{at}: {rule}");
            for key in ["apiGroups", "resources", "verbs", "resourceNames"] {
                assert!(
                    !strings(&rule[key]).iter().any(|v| v.contains('*')),
                    "{at}: wildcard in {key}: {rule}"
                );
            }
            assert!(!strings(&rule["resources"]).is_empty(), "{at}: {rule}");
            assert!(!strings(&rule["verbs"]).is_empty(), "{at}: {rule}");
            for verb in strings(&rule["verbs"]) {
                assert!(
                    !["escalate", "bind", "impersonate", "deletecollection"].contains(&verb),
                    "{at}: verb {verb}"
                );
            }
            // `create` is authorized before the name is known: resourceNames would deny it.
            if !strings(&rule["resourceNames"]).is_empty() {
                assert!(!strings(&rule["verbs"]).contains(&"create"), "{at}: {rule}");
            }
        }
    }
}

#[test]
fn scan_jobs_get_no_api_access() {
    let objects = rendered();
    let account = find(&objects, "ServiceAccount", SCAN);
    assert_eq!(account["automountServiceAccountToken"], false);
    for o in &objects {
        for subject in o["subjects"].as_array().into_iter().flatten() {
            assert_ne!(
                subject["name"],
                SCAN,
                "{:?} binds the scan account",
                kind_name(o)
            );
        }
    }
    let worker = find(&objects, "Deployment", WORKER);
    assert_eq!(
        worker["spec"]["template"]["spec"]["serviceAccountName"],
        WORKER
    );
    let leader = find(&objects, "Deployment", LEADER);
    assert_eq!(
        leader["spec"]["template"]["spec"]["serviceAccountName"],
        LEADER
    );
}

#[test]
fn grants_are_exactly_what_the_processes_use() {
    let objects = rendered();
    let granted = granted(&objects);
    let expected = expected();
    let extra: Vec<&Grant> = granted.difference(&expected).collect();
    let missing: Vec<&Grant> = expected.difference(&granted).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "RBAC differs from what the processes use;\nnot needed: {extra:#?}\nmissing: {missing:#?}"
    );
    // The broadest grants stay out of cluster scope: no cluster-wide write of workloads,
    // Secrets or Jobs, and no listing of Secrets anywhere. (A TokenReview is a question to
    // the API server, not a write: it is cluster-scoped and stores nothing.)
    for (account, scope, group, resource, verb, _) in &granted {
        if group == "authentication.k8s.io" && resource == "tokenreviews" {
            continue;
        }
        if resource == "secrets" {
            assert!(
                verb == "get" || (verb == "create" && scope == NS),
                "{account}: {verb}"
            );
        }
        if scope == "*"
            && ![
                "aquasecurity.github.io",
                "trivy-operator-rs.dev",
                "events.k8s.io",
            ]
            .contains(&group.as_str())
        {
            assert!(
                ["get", "list", "watch"].contains(&verb.as_str()),
                "{account} may {verb} {resource} cluster-wide"
            );
        }
    }
}
