//! Label and annotation keys on reports, as upstream writes them, and pure builders for them.

use std::collections::BTreeMap;

use crate::names::{is_valid_label_value, short_hash};

/// Label: kind of the workload a report describes, e.g. `ReplicaSet`.
pub const RESOURCE_KIND: &str = "trivy-operator.resource.kind";
/// Label: name of the workload (when it is a valid label value). Also the key of the
/// annotation holding the full name when it is not.
pub const RESOURCE_NAME: &str = "trivy-operator.resource.name";
/// Label: namespace of the workload.
pub const RESOURCE_NAMESPACE: &str = "trivy-operator.resource.namespace";
/// Label: hash of the workload name, used instead of [`RESOURCE_NAME`] when the name is not a
/// valid label value.
pub const RESOURCE_NAME_HASH: &str = "trivy-operator.resource.name-hash";
/// Annotation: the full workload name, set when it is not a valid label value.
pub const RESOURCE_NAME_ANNOTATION: &str = RESOURCE_NAME;
/// Label: hash of the workload's pod spec.
pub const RESOURCE_SPEC_HASH: &str = "resource-spec-hash";
/// Label (ConfigAuditReport): hash of the policy configuration that applies to the kind.
pub const PLUGIN_CONFIG_HASH: &str = "plugin-config-hash";
/// Label (VulnerabilityReport): the container the report is about.
pub const CONTAINER_NAME: &str = "trivy-operator.container.name";
/// Label: the manager of the object.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY`] on everything the operator creates.
pub const MANAGED_BY_VALUE: &str = "trivy-operator";
/// Annotation: how long a report lives before it is rescanned (a Go duration, e.g. `24h0m0s`).
pub const REPORT_TTL: &str = "trivy-operator.aquasecurity.github.io/report-ttl";

/// Annotation with the scan a VulnerabilityReport came from (image digest or normalized
/// reference); ours, not upstream's. The leader reads it from metadata for dedupe.
pub const SCAN_KEY: &str = "trivy-operator-rs.dev/scan-key";
/// Annotation with the RFC 3339 time of the scan a VulnerabilityReport came from; the leader
/// reads it from metadata for the TTL.
pub const SCANNED_AT: &str = "trivy-operator-rs.dev/scanned-at";
/// Annotation on a VulnerabilityReport trimmed to fit etcd's object size limit.
pub const TRIMMED: &str = "trivy-operator-rs.dev/trimmed";

/// Labels of a report.
pub type Labels = BTreeMap<String, String>;
/// Annotations of a report.
pub type Annotations = BTreeMap<String, String>;

/// The labels identifying the workload `kind`/`name` in `namespace`: kind, namespace, and the
/// name, or its hash ([`RESOURCE_NAME_HASH`]) when the name is not a valid label value.
pub fn workload_labels(kind: &str, name: &str, namespace: &str) -> Labels {
    let mut labels = Labels::new();
    labels.insert(RESOURCE_KIND.to_owned(), kind.to_owned());
    labels.insert(RESOURCE_NAMESPACE.to_owned(), namespace.to_owned());
    if is_valid_label_value(name) {
        labels.insert(RESOURCE_NAME.to_owned(), name.to_owned());
    } else {
        labels.insert(RESOURCE_NAME_HASH.to_owned(), short_hash(name));
    }
    labels
}

/// The labels and annotations every report of the workload `kind`/`name` carries: the workload
/// labels, `resource-spec-hash`, `app.kubernetes.io/managed-by: trivy-operator`, and, when
/// the name is not a valid label value, the full name in the annotation
/// `trivy-operator.resource.name`.
pub fn report_labels(
    kind: &str,
    name: &str,
    namespace: &str,
    spec_hash: &str,
) -> (Labels, Annotations) {
    let mut labels = workload_labels(kind, name, namespace);
    labels.insert(RESOURCE_SPEC_HASH.to_owned(), spec_hash.to_owned());
    labels.insert(MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned());
    let mut annotations = Annotations::new();
    if !is_valid_label_value(name) {
        annotations.insert(RESOURCE_NAME_ANNOTATION.to_owned(), name.to_owned());
    }
    (labels, annotations)
}

/// Adds the VulnerabilityReport's container label.
pub fn add_container_label(labels: &mut Labels, container: &str) {
    labels.insert(CONTAINER_NAME.to_owned(), container.to_owned());
}

/// Adds the ConfigAuditReport's `plugin-config-hash` label.
pub fn add_plugin_config_hash(labels: &mut Labels, config_hash: &str) {
    labels.insert(PLUGIN_CONFIG_HASH.to_owned(), config_hash.to_owned());
}

/// Adds the report TTL annotation (a Go duration string such as `24h0m0s`).
pub fn add_report_ttl(annotations: &mut Annotations, ttl: &str) {
    annotations.insert(REPORT_TTL.to_owned(), ttl.to_owned());
}

/// A label selector string matching the reports of the workload `kind`/`name` in
/// `namespace`, e.g. `trivy-operator.resource.kind=Pod,trivy-operator.resource.name=x,...`.
pub fn label_selector_for_workload(kind: &str, name: &str, namespace: &str) -> String {
    to_selector(&workload_labels(kind, name, namespace))
}

/// Renders labels as an equality-based label selector (`k=v,k=v`, sorted by key).
pub fn to_selector(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The workload name a report describes: the [`RESOURCE_NAME`] label, else the annotation of
/// the same key (set when the name was too long for a label).
pub fn workload_name<'a>(labels: &'a Labels, annotations: &'a Annotations) -> Option<&'a str> {
    labels
        .get(RESOURCE_NAME)
        .or_else(|| annotations.get(RESOURCE_NAME_ANNOTATION))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn report_labels_short_and_long_names() {
        let long = "n".repeat(64);
        let dotted_ok = "a.b_c";
        let cases = [
            (
                "ReplicaSet",
                "wordpress-84bbf6f4dd",
                map(&[
                    (RESOURCE_KIND, "ReplicaSet"),
                    (RESOURCE_NAME, "wordpress-84bbf6f4dd"),
                    (RESOURCE_NAMESPACE, "default"),
                    (RESOURCE_SPEC_HASH, "h"),
                    (MANAGED_BY, "trivy-operator"),
                ]),
                map(&[]),
            ),
            (
                "Pod",
                dotted_ok,
                map(&[
                    (RESOURCE_KIND, "Pod"),
                    (RESOURCE_NAME, dotted_ok),
                    (RESOURCE_NAMESPACE, "default"),
                    (RESOURCE_SPEC_HASH, "h"),
                    (MANAGED_BY, "trivy-operator"),
                ]),
                map(&[]),
            ),
            (
                "Pod",
                &"n".repeat(63),
                map(&[
                    (RESOURCE_KIND, "Pod"),
                    (RESOURCE_NAME, &"n".repeat(63)),
                    (RESOURCE_NAMESPACE, "default"),
                    (RESOURCE_SPEC_HASH, "h"),
                    (MANAGED_BY, "trivy-operator"),
                ]),
                map(&[]),
            ),
            (
                "Pod",
                &long,
                map(&[
                    (RESOURCE_KIND, "Pod"),
                    (RESOURCE_NAME_HASH, &short_hash(&long)),
                    (RESOURCE_NAMESPACE, "default"),
                    (RESOURCE_SPEC_HASH, "h"),
                    (MANAGED_BY, "trivy-operator"),
                ]),
                map(&[(RESOURCE_NAME, &long)]),
            ),
        ];
        for (kind, name, want_labels, want_annotations) in cases {
            let (labels, annotations) = report_labels(kind, name, "default", "h");
            assert_eq!(labels, want_labels, "{name}");
            assert_eq!(annotations, want_annotations, "{name}");
            assert!(labels.values().all(|v| is_valid_label_value(v)));
            assert_eq!(workload_name(&labels, &annotations), Some(name));
        }
    }

    #[test]
    fn kind_specific_additions() {
        let (mut labels, mut annotations) = report_labels("Pod", "p", "ns", "h");
        add_container_label(&mut labels, "app");
        add_plugin_config_hash(&mut labels, "c");
        add_report_ttl(&mut annotations, "24h0m0s");
        assert_eq!(
            labels
                .get("trivy-operator.container.name")
                .map(String::as_str),
            Some("app")
        );
        assert_eq!(
            labels.get("plugin-config-hash").map(String::as_str),
            Some("c")
        );
        assert_eq!(
            annotations
                .get("trivy-operator.aquasecurity.github.io/report-ttl")
                .map(String::as_str),
            Some("24h0m0s")
        );
    }

    #[test]
    fn selectors() {
        assert_eq!(
            label_selector_for_workload("ReplicaSet", "nginx-1", "default"),
            "trivy-operator.resource.kind=ReplicaSet,trivy-operator.resource.name=nginx-1,\
             trivy-operator.resource.namespace=default"
        );
        let long = "x".repeat(70);
        assert_eq!(
            label_selector_for_workload("Pod", &long, "ns"),
            format!(
                "trivy-operator.resource.kind=Pod,trivy-operator.resource.name-hash={},\
                 trivy-operator.resource.namespace=ns",
                short_hash(&long)
            )
        );
    }
}
