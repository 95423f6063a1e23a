//! Events are one resource served in two APIs, as on the API server: an Event recorded
//! through `events.k8s.io/v1` (kube-rs' Recorder, as the operator records them) is what
//! `kubectl get events` and `kubectl describe` show through `core/v1`, with the field
//! mapping (`regarding` ↔ `involvedObject`, `note` ↔ `message`, `reportingController` ↔
//! `reportingComponent`, ...) and the field selectors of each API; and the other way round.
#![allow(clippy::unwrap_used)]

mod sim_support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use sim_support::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_events_are_seen_through_both_apis() {
    let sim = start().await;
    sim.kubectl(&["create", "ns", "ev"]).await;
    sim.kubectl(&[
        "create",
        "configmap",
        "plugin",
        "-n",
        "ev",
        "--from-literal=a=b",
    ])
    .await;
    let client = sim.client().await;
    let cm: ConfigMap = kube::Api::namespaced(client.clone(), "ev")
        .get("plugin")
        .await
        .unwrap();
    let recorder = Recorder::new(
        client,
        Reporter {
            controller: "trivy-operator-leader".into(),
            instance: Some("leader-0".into()),
        },
    );
    let event = Event {
        type_: EventType::Warning,
        reason: "PolicyConfigInvalid".into(),
        note: Some("policy.bad.rego: parse error".into()),
        action: "CompilePolicies".into(),
        secondary: None,
    };
    // Twice: the second is a patch of the first's series.
    for _ in 0..2 {
        recorder.publish(&event, &cm.object_ref(&())).await.unwrap();
    }

    let core = sim
        .kubectl(&[
            "get",
            "events",
            "-n",
            "ev",
            "--field-selector",
            "involvedObject.name=plugin,involvedObject.kind=ConfigMap,type=Warning,reason=PolicyConfigInvalid",
            "-o",
            "jsonpath={.items[*].message}|{.items[*].reportingComponent}|{.items[*].reportingInstance}|{.items[*].series.count}",
        ])
        .await;
    assert_eq!(
        core,
        "policy.bad.rego: parse error|trivy-operator-leader|leader-0|2"
    );
    let none = sim
        .kubectl(&[
            "get",
            "events",
            "-n",
            "ev",
            "--field-selector",
            "involvedObject.kind=Pod",
            "-o",
            "name",
        ])
        .await;
    assert!(none.trim().is_empty(), "{none}");
    let table = sim.kubectl(&["get", "events", "-n", "ev"]).await;
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("Warning")
            && row.contains("PolicyConfigInvalid")
            && row.contains("plugin")
            && !row.contains("<unknown>"),
        "{table}"
    );
    let described = sim
        .kubectl(&["describe", "configmap", "plugin", "-n", "ev"])
        .await;
    let events = described.split("Events:").nth(1).unwrap_or_default();
    assert!(
        events.contains("PolicyConfigInvalid") && events.contains("policy.bad.rego: parse error"),
        "{described}"
    );

    // The events.k8s.io API: its own field names and selectors over the same objects.
    let view = sim
        .kubectl(&[
            "get",
            "events.v1.events.k8s.io",
            "-n",
            "ev",
            "--field-selector",
            "regarding.name=plugin,reportingController=trivy-operator-leader",
            "-o",
            "jsonpath={.items[*].note}|{.items[*].regarding.kind}|{.items[*].apiVersion}",
        ])
        .await;
    assert_eq!(
        view,
        "policy.bad.rego: parse error|ConfigMap|events.k8s.io/v1"
    );
    let wrong = sim
        .kubectl_in(
            &[
                "get",
                "events",
                "-n",
                "ev",
                "--field-selector",
                "regarding.name=plugin",
            ],
            None,
        )
        .await;
    assert!(
        !wrong.ok && wrong.stderr.contains("field label not supported"),
        "{}",
        wrong.stderr
    );

    // An Event written through core/v1 is an events.k8s.io Event too.
    sim.apply(
        "apiVersion: v1\nkind: Event\nmetadata: {name: by-hand, namespace: ev}\ninvolvedObject: {kind: ConfigMap, name: plugin, namespace: ev}\nreason: Checked\nmessage: looked at it\ntype: Normal\nsource: {component: someone}\ncount: 3\n",
        &[],
    )
    .await;
    let converted = sim
        .kubectl(&[
            "get",
            "events.v1.events.k8s.io",
            "by-hand",
            "-n",
            "ev",
            "-o",
            "jsonpath={.regarding.name}|{.note}|{.deprecatedSource.component}|{.deprecatedCount}",
        ])
        .await;
    assert_eq!(converted, "plugin|looked at it|someone|3");
    let by_source = sim
        .kubectl(&[
            "get",
            "events",
            "-n",
            "ev",
            "--field-selector",
            "source=someone",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(by_source.trim(), "event/by-hand");
}
