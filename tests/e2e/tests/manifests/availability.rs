//! Availability of the rendered manifests: two leader replicas behind a PodDisruptionBudget
//! and a Service that selects them, and NetworkPolicies that let only workers (and status
//! clients) of the operator's namespace reach the gRPC port, and only the monitoring
//! namespace the admin ports — peers chosen by namespace, never by labels a pod elsewhere
//! sets on itself.

use serde_json::Value;

use super::{NS, find, rendered, strings};

fn template_labels(d: &Value) -> &serde_json::Map<String, Value> {
    d["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap()
}

fn selects(selector: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    let wanted = selector.as_object().unwrap();
    !wanted.is_empty() && wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn leader_is_highly_available_and_reachable_only_by_workers() {
    let objects = rendered();
    let leader = find(&objects, "Deployment", "trivy-operator-leader");
    let worker = find(&objects, "Deployment", "trivy-operator-worker");
    assert_eq!(leader["spec"]["replicas"], 2);
    let labels = template_labels(leader);

    let pdb = find(&objects, "PodDisruptionBudget", "trivy-operator-leader");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"], labels));

    let svc = find(&objects, "Service", "trivy-operator-leader");
    assert!(selects(&svc["spec"]["selector"], labels));
    assert!(!selects(&svc["spec"]["selector"], template_labels(worker)));
    let ports: Vec<&Value> = svc["spec"]["ports"].as_array().unwrap().iter().collect();
    assert!(
        ports
            .iter()
            .any(|p| p["name"] == "grpc" && p["port"] == 7070)
    );
    let env = worker["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let addr = env.iter().find(|e| e["name"] == "LEADER_ADDR").unwrap();
    assert_eq!(
        addr["value"],
        format!("http://trivy-operator-leader.{NS}.svc:7070")
    );
    let args = strings(&worker["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert!(args.contains(&"--scan-job-service-account=trivy-operator-scan"));

    // gRPC from workers and labelled status clients only.
    let netpol = find(&objects, "NetworkPolicy", "trivy-operator-leader");
    assert!(selects(
        &netpol["spec"]["podSelector"]["matchLabels"],
        labels
    ));
    let grpc_rules: Vec<&Value> = netpol["spec"]["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["port"] == 7070)
        })
        .collect();
    assert_eq!(grpc_rules.len(), 1, "one rule opens the gRPC port");
    let peers = grpc_rules[0]["from"]
        .as_array()
        .expect("gRPC open to anyone");
    assert!(!peers.is_empty());
    for peer in peers {
        assert!(
            peer.get("namespaceSelector").is_none() && peer.get("ipBlock").is_none(),
            "gRPC peer outside the operator's namespace: {peer}"
        );
        let pods = &peer["podSelector"]["matchLabels"];
        let worker_pods = selects(pods, template_labels(worker));
        let status_clients = pods["trivy-operator.aquasecurity.github.io/status-client"] == "true";
        assert!(worker_pods || status_clients, "unexpected gRPC peer {peer}");
    }
    // Admin ports: only from the monitoring namespace, named by its immutable name label.
    for name in ["trivy-operator-leader", "trivy-operator-worker"] {
        let netpol = find(&objects, "NetworkPolicy", name);
        for rule in netpol["spec"]["ingress"].as_array().unwrap() {
            let peers = rule["from"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: a rule open to anyone: {rule}"));
            for peer in peers {
                let by_namespace = &peer["namespaceSelector"]["matchLabels"];
                assert!(
                    peer.get("namespaceSelector").is_none()
                        || by_namespace["kubernetes.io/metadata.name"].is_string(),
                    "{name}: a peer chosen by a label its namespace's owner may set: {peer}"
                );
            }
        }
    }
}
