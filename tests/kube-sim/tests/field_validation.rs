//! Server-side field validation as kubectl 1.32 and kube-rs use it: an unknown field is
//! refused under `Strict` (kubectl's default), warned about under `Warn` (the default of a
//! request that names no mode), silently dropped under `Ignore`, and never stored — for
//! built-in kinds and for custom resources (their CRD's structural schema).
#![allow(clippy::unwrap_used)]

mod sim_support;

use kube::api::{DynamicObject, Patch, PatchParams, ValidationDirective};
use kube::discovery::ApiResource;
use serde_json::json;
use sim_support::start;

const DEPLOYMENT: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: fv}
spec:
  replicas: 1
  colour: red
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: nginx, imagePullPolcy: Always}
";

const CRD: &str = "
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_refused_warned_or_dropped() {
    let sim = start().await;
    sim.kubectl(&["create", "ns", "fv"]).await;

    // kubectl's default is strict: nothing is created, every unknown field is named.
    let strict = sim
        .kubectl_in(&["apply", "-f", "-"], Some(DEPLOYMENT))
        .await;
    assert!(!strict.ok);
    for field in [
        "strict decoding error",
        r#"unknown field "spec.colour""#,
        r#"unknown field "spec.template.spec.containers[0].imagePullPolcy""#,
    ] {
        assert!(strict.stderr.contains(field), "{}", strict.stderr);
    }
    let none = sim
        .kubectl_in(&["get", "deploy", "web", "-n", "fv"], None)
        .await;
    assert!(!none.ok, "created despite the error");

    // Warn: created, a warning per field, and the fields are not stored.
    let warned = sim
        .kubectl_in(&["apply", "--validate=warn", "-f", "-"], Some(DEPLOYMENT))
        .await;
    assert!(warned.ok, "{}", warned.stderr);
    assert!(
        warned
            .stderr
            .contains(r#"Warning: unknown field "spec.colour""#),
        "{}",
        warned.stderr
    );
    let stored = sim
        .kubectl(&["get", "deploy", "web", "-n", "fv", "-o", "json"])
        .await;
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert!(stored["spec"].get("colour").is_none());
    assert!(
        stored["spec"]["template"]["spec"]["containers"][0]
            .get("imagePullPolcy")
            .is_none()
    );
    assert_eq!(stored["spec"]["replicas"], 1);

    // Ignore: no warning, still not stored.
    let ignored = sim
        .kubectl_in(
            &["apply", "--validate=false", "-f", "-"],
            Some(&DEPLOYMENT.replace("colour: red", "colour: blue")),
        )
        .await;
    assert!(
        ignored.ok && !ignored.stderr.contains("Warning"),
        "{}",
        ignored.stderr
    );

    // Custom resources: their schema decides; preserved subtrees keep anything.
    sim.apply(CRD, &[]).await;
    sim.kubectl(&[
        "wait",
        "--for=condition=established",
        "crd/widgets.example.com",
    ])
    .await;
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: fv}\nspec: {size: 2, shape: round, extra: {anything: {goes: 1}}}\n";
    let strict = sim.kubectl_in(&["apply", "-f", "-"], Some(widget)).await;
    assert!(
        !strict.ok && strict.stderr.contains(r#"unknown field "spec.shape""#),
        "{}",
        strict.stderr
    );
    let warned = sim
        .kubectl_in(&["apply", "--validate=warn", "-f", "-"], Some(widget))
        .await;
    assert!(warned.ok, "{}", warned.stderr);
    let spec = sim
        .kubectl(&["get", "widget", "w", "-n", "fv", "-o", "jsonpath={.spec}"])
        .await;
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec, json!({"size": 2, "extra": {"anything": {"goes": 1}}}));

    // kube-rs (server-side apply): Strict refuses with 400, the default (Warn) stores the
    // object without the field.
    let client = sim.client().await;
    let resource = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
    let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(client, "fv", &resource);
    let mut cm = DynamicObject::new("cm", &resource);
    cm.data = json!({"data": {"k": "v"}, "bogus": true});
    let strict = PatchParams {
        field_validation: Some(ValidationDirective::Strict),
        ..PatchParams::apply("test")
    };
    match api.patch("cm", &strict, &Patch::Apply(&cm)).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 400);
            assert!(
                status.message.contains(r#"unknown field "bogus""#),
                "{status:?}"
            );
        }
        other => panic!("applied: {other:?}"),
    }
    let applied = api
        .patch("cm", &PatchParams::apply("test"), &Patch::Apply(&cm))
        .await
        .unwrap();
    assert!(applied.data.get("bogus").is_none(), "{:?}", applied.data);
    assert_eq!(applied.data["data"]["k"], "v");
}
