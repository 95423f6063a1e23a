//! The optional ClientServer component (`deploy/components/trivy-server`): a Trivy server
//! that only scan Job pods may reach, restricted like the operator's own containers, whose
//! Service the workers point their scan Jobs at, with the token from a Secret that is not
//! shipped.

use serde_json::Value;

use super::{NS, find, render_overlay};

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
}

#[test]
fn the_trivy_server_component_serves_scan_jobs_only() {
    let objects = render_overlay("trivy-server", "", "trivy-server");
    let server = find(&objects, "StatefulSet", "trivy-server");
    let service = find(&objects, "Service", "trivy-server");
    let policy = find(&objects, "NetworkPolicy", "trivy-server");
    assert_eq!(server["metadata"]["namespace"], NS);
    assert!(
        !objects.iter().any(|o| o["kind"] == "Secret"),
        "the token Secret holds a random value: created at install, never shipped"
    );

    // The workers' scan Jobs use the Service, with the server's token Secret.
    let worker = find(&objects, "Deployment", "trivy-operator-worker");
    let container = &worker["spec"]["template"]["spec"]["containers"][0];
    let port = service["spec"]["ports"][0]["port"].as_u64().unwrap();
    assert_eq!(
        env(container, "TRIVY_SERVER_URL").unwrap()["value"],
        format!("http://trivy-server.{NS}.svc:{port}")
    );
    assert_eq!(
        env(container, "TRIVY_SERVER_TOKEN_SECRET").unwrap()["value"],
        "trivy-server-token"
    );
    let pod = &server["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let token = &env(c, "TRIVY_TOKEN").unwrap()["valueFrom"]["secretKeyRef"];
    assert_eq!(token["name"], "trivy-server-token");
    assert_eq!(token["key"], "token");
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args[0], "server");
    assert!(args.contains(&"--token-header=Trivy-Token"), "{args:?}");
    assert!(
        args.contains(&format!("--listen=0.0.0.0:{port}").as_str()),
        "{args:?}"
    );
    // The same Trivy as the scan Jobs (the worker's default --trivy-image).
    assert_eq!(c["image"], "ghcr.io/aquasecurity/trivy:0.58.1");
    // The Service selects the server's pods.
    let labels = &pod_labels(server);
    for (k, v) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "{k}");
    }

    // Restricted like the operator's containers; the DB on a volume.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["automountServiceAccountToken"], false);
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    for kind in ["requests", "limits"] {
        assert!(!c["resources"][kind]["memory"].is_null(), "{kind}");
    }
    assert_eq!(
        server["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );

    // Only scan Job pods (by their job-type label, in the operator's namespace) get in.
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"],
        labels_value(labels)
    );
    let from = &policy["spec"]["ingress"][0]["from"];
    assert_eq!(from.as_array().unwrap().len(), 1);
    assert!(
        from[0]["namespaceSelector"].is_null(),
        "this namespace only"
    );
    assert_eq!(
        from[0]["podSelector"]["matchLabels"],
        serde_json::json!({"trivy-operator-rs.dev/job-type": "vulnerability-scan"})
    );
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], port);
}

fn pod_labels(set: &Value) -> serde_json::Map<String, Value> {
    set["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap()
        .clone()
}

fn labels_value(labels: &serde_json::Map<String, Value>) -> Value {
    // The policy selects the server by its name and component labels.
    let mut out = serde_json::Map::new();
    for key in ["app.kubernetes.io/name", "app.kubernetes.io/component"] {
        out.insert(key.to_owned(), labels[key].clone());
    }
    Value::Object(out)
}
