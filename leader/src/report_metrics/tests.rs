//! Reports → gauge text, from the real upstream report examples.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use common::reports::config_audit::ConfigAuditReport;
use common::reports::vulnerability::VulnerabilityReport;

use super::*;

fn example(name: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/report-examples/"
    );
    std::fs::read_to_string(format!("{path}{name}")).unwrap()
}

fn audit(ns: &str, name: &str, labels: &[(&str, &str)], counts: [u64; 4]) -> ConfigAuditView {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ConfigAuditView {
        metadata: ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        report: ConfigAuditViewData {
            summary: SeverityCounts {
                critical_count: counts[0],
                high_count: counts[1],
                medium_count: counts[2],
                low_count: counts[3],
                unknown_count: 0,
            },
        },
    }
}

#[test]
fn vulnerability_example_becomes_five_series() {
    let yaml = example("vulnerability-ttl.yaml");
    let view: VulnerabilityView = serde_yaml_ng::from_str(&yaml).unwrap();
    // The slim view reads the same summary as the full report type.
    let full: VulnerabilityReport = serde_yaml_ng::from_str(&yaml).unwrap();
    let s = &full.report.summary;
    assert_eq!(
        view.report.summary,
        SeverityCounts {
            critical_count: s.critical_count,
            high_count: s.high_count,
            medium_count: s.medium_count,
            low_count: s.low_count,
            unknown_count: s.unknown_count,
        }
    );
    let mut gauges = ReportGauges::default();
    gauges.add_vulnerability(&view);
    let text = gauges.finish();
    let base = "trivy_image_vulnerabilities{namespace=\"kube-system\",\
        name=\"replicaset-coredns-558bd4d5db-coredns\",resource_kind=\"ReplicaSet\",\
        resource_name=\"coredns-558bd4d5db\",container_name=\"coredns\",\
        image_registry=\"k8s.gcr.io\",image_repository=\"coredns/coredns\",image_tag=\"v1.8.0\",\
        image_digest=\"\",";
    for (severity, count) in [
        ("Critical", 0),
        ("High", 12),
        ("Medium", 6),
        ("Low", 0),
        ("Unknown", 9),
    ] {
        let line = format!("{base}severity=\"{severity}\"}} {count}\n");
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    assert_eq!(text.matches("trivy_image_vulnerabilities{").count(), 5);
    assert!(text.starts_with(
        "# HELP trivy_image_vulnerabilities Number of container image vulnerabilities\n\
         # TYPE trivy_image_vulnerabilities gauge\n"
    ));
    // No config audits, exposed secrets nor node reports: the families are declared and
    // empty.
    assert!(
        text.ends_with(
            "# TYPE trivy_resource_configaudits gauge\n\
             # HELP trivy_image_exposedsecrets Number of image exposed secrets\n\
             # TYPE trivy_image_exposedsecrets gauge\n\
             # HELP trivy_resource_infraassessments Number of failing k8s infra assessment checks\n\
             # TYPE trivy_resource_infraassessments gauge\n\
             # HELP trivy_role_rbacassessments Number of rbac risky role assessment checks\n\
             # TYPE trivy_role_rbacassessments gauge\n\
             # HELP trivy_clusterrole_clusterrbacassessments Number of rbac risky cluster role assessment checks\n\
             # TYPE trivy_clusterrole_clusterrbacassessments gauge\n"
        ),
        "{text}"
    );
}

#[test]
fn config_audit_example_becomes_four_series() {
    // The upstream example has `uid: null` in its owner reference, which ObjectMeta rejects;
    // the gauges only read metadata name/namespace/labels and the summary.
    let yaml = example("pod-configauditreport-expected.yaml").replace("uid: null", "uid: u");
    let view: ConfigAuditView = serde_yaml_ng::from_str(&yaml).unwrap();
    let full: ConfigAuditReport = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(
        view.report.summary.high_count,
        u64::from(full.report.summary.high_count)
    );
    let mut gauges = ReportGauges::default();
    gauges.add_config_audit(&view);
    let text = gauges.finish();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("trivy_resource_configaudits{"))
        .collect();
    let severities: Vec<&str> = lines
        .iter()
        .map(|l| {
            l.split("severity=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(severities, ["Critical", "High", "Medium", "Low"]);
    let values: Vec<u64> = lines
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    let s = &full.report.summary;
    let want: Vec<u64> = [s.critical_count, s.high_count, s.medium_count, s.low_count]
        .into_iter()
        .map(u64::from)
        .collect();
    assert_eq!(values, want);
    assert!(lines[0].contains(&format!(
        "namespace=\"{}\",name=\"{}\",resource_kind=\"{}\"",
        full.metadata.namespace.as_deref().unwrap(),
        full.metadata.name.as_deref().unwrap(),
        full.metadata.labels.as_ref().unwrap()[labels::RESOURCE_KIND],
    )));
    assert!(!text.contains("container_name"));
}

#[test]
fn label_values_are_escaped_and_long_names_come_from_the_annotation() {
    let mut view = audit(
        "ns",
        "pod-x",
        &[(labels::RESOURCE_KIND, "Pod\"\\\n")],
        [1, 0, 0, 2],
    );
    view.metadata.annotations = Some(BTreeMap::from([(
        labels::RESOURCE_NAME.to_string(),
        "a-very-long-name".to_string(),
    )]));
    let mut gauges = ReportGauges::default();
    gauges.add_config_audit(&view);
    gauges.add_config_audit(&audit("ns2", "pod-y", &[], [0, 0, 0, 0]));
    let text = gauges.finish();
    assert!(
        text.contains(
            "trivy_resource_configaudits{namespace=\"ns\",name=\"pod-x\",\
             resource_kind=\"Pod\\\"\\\\\\n\",resource_name=\"a-very-long-name\",\
             severity=\"Critical\"} 1\n"
        ),
        "{text}"
    );
    assert!(text.contains(
        "trivy_resource_configaudits{namespace=\"ns2\",name=\"pod-y\",resource_kind=\"\",\
         resource_name=\"\",severity=\"Low\"} 0\n"
    ));
    // Every sample is one line: no raw line feed leaked out of a value.
    assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 8);
}

#[test]
fn slim_views_skip_everything_else() {
    let json = serde_json::json!({
        "apiVersion": "aquasecurity.github.io/v1alpha1",
        "kind": "VulnerabilityReport",
        "metadata": {"name": "r", "namespace": "n"},
        "report": {
            "artifact": {"repository": "library/nginx", "digest": "sha256:abc"},
            "summary": {"criticalCount": 3},
            "vulnerabilities": [{"anything": ["goes", 1, null]}]
        }
    });
    let view: VulnerabilityView = serde_json::from_value(json).unwrap();
    assert_eq!(view.report.summary.critical_count, 3);
    assert_eq!(view.report.artifact.digest.as_deref(), Some("sha256:abc"));
    let mut gauges = ReportGauges::default();
    gauges.add_vulnerability(&view);
    let text = gauges.finish();
    assert!(text.contains("image_registry=\"\",image_repository=\"library/nginx\",image_tag=\"\",image_digest=\"sha256:abc\",severity=\"Critical\"} 3\n"), "{text}");
}

/// A minimal API server: answers report lists from `pages`, keyed by path and `continue`
/// token, and records every request target. One request per connection.
async fn fake_api(
    pages: Vec<(&'static str, &'static str, serde_json::Value)>,
) -> (kube::Client, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
            }
            let head = String::from_utf8_lossy(&raw).to_string();
            let target = head.split(' ').nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(target.clone());
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let token = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("continue="))
                .unwrap_or("");
            let body = pages
                .iter()
                .find(|(p, t, _)| *p == path && *t == token)
                .map(|(_, _, body)| body.to_string());
            let (status, body) = match body {
                Some(body) => ("200 OK", body),
                None => ("404 Not Found", serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "nope"}).to_string()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
        }
    });
    let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    (kube::Client::try_from(config).unwrap(), seen)
}

fn list(kind: &str, next: &str, items: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "aquasecurity.github.io/v1alpha1",
        "kind": format!("{kind}List"),
        "metadata": {"resourceVersion": "7", "continue": next},
        "items": items,
    })
}

fn vuln_item(ns: &str, name: &str, critical: u64) -> serde_json::Value {
    serde_json::json!({
        "metadata": {"namespace": ns, "name": name,
            "labels": {"trivy-operator.resource.kind": "Pod", "trivy-operator.container.name": "c"}},
        "report": {"artifact": {"repository": "app"}, "summary": {"criticalCount": critical}},
    })
}

#[tokio::test]
async fn render_lists_every_page_of_both_kinds() {
    const VULNS: &str = "/apis/aquasecurity.github.io/v1alpha1/vulnerabilityreports";
    const AUDITS: &str = "/apis/aquasecurity.github.io/v1alpha1/configauditreports";
    let audit = serde_json::json!({"metadata": {"namespace": "b", "name": "pod-z"},
        "report": {"summary": {"highCount": 4}}});
    let (client, seen) = fake_api(vec![
        (
            VULNS,
            "",
            list(
                "VulnerabilityReport",
                "page-2",
                serde_json::json!([vuln_item("a", "pod-x-c", 1)]),
            ),
        ),
        (
            VULNS,
            "page-2",
            list(
                "VulnerabilityReport",
                "",
                serde_json::json!([vuln_item("b", "pod-y-c", 2)]),
            ),
        ),
        (
            AUDITS,
            "",
            list("ConfigAuditReport", "", serde_json::json!([audit])),
        ),
    ])
    .await;
    let text = render(&client, &[], true).await.unwrap();
    assert!(text.contains("namespace=\"a\",name=\"pod-x-c\",resource_kind=\"Pod\",resource_name=\"\",container_name=\"c\""), "{text}");
    assert!(text.contains("name=\"pod-x-c\"") && text.contains("name=\"pod-y-c\""));
    assert!(
        text.contains("image_digest=\"\",severity=\"Critical\"} 2\n"),
        "{text}"
    );
    assert!(text.contains("trivy_resource_configaudits{namespace=\"b\",name=\"pod-z\",resource_kind=\"\",resource_name=\"\",severity=\"High\"} 4\n"), "{text}");
    assert_eq!(text.matches("trivy_image_vulnerabilities{").count(), 10);
    let seen = seen.lock().unwrap().clone();
    // The exposed secret, infra and RBAC assessment lists answered 404 (no CRD): no series,
    // no error.
    assert_eq!(text.matches("trivy_image_exposedsecrets{").count(), 0);
    assert_eq!(text.matches("trivy_resource_infraassessments{").count(), 0);
    assert_eq!(text.matches("rbacassessments{").count(), 0);
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert!(seen[5].contains("/infraassessmentreports?"), "{seen:?}");
    assert!(seen[6].contains("/rbacassessmentreports?"), "{seen:?}");
    assert!(
        seen[7].contains("/clusterrbacassessmentreports?"),
        "{seen:?}"
    );
    assert!(seen.iter().all(|t| t.contains("limit=500")), "{seen:?}");
    assert!(seen[1].contains("continue=page-2"), "{seen:?}");

    // Restricted to namespaces: namespaced paths; a failed list is an error, not a partial answer.
    let (client, seen) = fake_api(vec![(
        "/apis/aquasecurity.github.io/v1alpha1/namespaces/a/vulnerabilityreports",
        "",
        list(
            "VulnerabilityReport",
            "",
            serde_json::json!([vuln_item("a", "pod-x-c", 1)]),
        ),
    )])
    .await;
    let err = render(&client, &["a".to_string()], true).await.unwrap_err();
    assert_eq!(err.kind(), "ListReports");
    assert!(
        err.to_string().starts_with("listing ConfigAuditReports"),
        "{err}"
    );
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen[1]
            .starts_with("/apis/aquasecurity.github.io/v1alpha1/namespaces/a/configauditreports"),
        "{seen:?}"
    );
}

/// The gauges from the watched metadata are the gauges a listing gives, for upstream's own
/// examples once our workers' annotations are on them; a report without the annotations
/// (or watches not synced yet) sends the scrape back to listing.
#[test]
fn watched_gauges_equal_listed_gauges() {
    let mut vuln: VulnerabilityReport =
        serde_yaml_ng::from_str(&example("vulnerability-ttl.yaml")).unwrap();
    let yaml = example("pod-configauditreport-expected.yaml").replace("uid: null", "uid: u");
    let mut audit: ConfigAuditReport = serde_yaml_ng::from_str(&yaml).unwrap();
    common::reports::gauge::annotate_vulnerability_report(&mut vuln);
    common::reports::gauge::annotate_config_audit_report(&mut audit);
    let owner = |kind: &str| k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: "owner".into(),
        uid: format!("uid-{kind}"),
        controller: Some(true),
        ..Default::default()
    };
    vuln.metadata.owner_references = Some(vec![owner("ReplicaSet")]);
    audit.metadata.owner_references = Some(vec![owner("Pod")]);

    let mut listed = ReportGauges::default();
    let view: VulnerabilityView =
        serde_json::from_value(serde_json::to_value(&vuln).unwrap()).unwrap();
    listed.add_vulnerability(&view);
    let view: ConfigAuditView =
        serde_json::from_value(serde_json::to_value(&audit).unwrap()).unwrap();
    listed.add_config_audit(&view);
    let listed = listed.finish();

    let mut observed = crate::observed::Observed::default();
    let now = jiff::Timestamp::now();
    let (uid, meta) = crate::observed::vuln_report_from_meta(&vuln.metadata, now).unwrap();
    observed.put_vuln_report(uid, meta);
    assert_eq!(
        render_observed(&observed, &[], false),
        None,
        "not synced yet"
    );
    for watch in crate::watch::REPORT_WATCHES
        .iter()
        .chain(&[crate::watch::INFRA_REPORTS])
    {
        observed.synced.insert((*watch).to_owned());
    }
    let (uid, meta) = crate::observed::audit_report_from_meta(&audit.metadata).unwrap();
    observed.put_audit_report(uid, meta);
    assert_eq!(render_observed(&observed, &[], false).unwrap(), listed);
    // Out of the scanned namespaces: left out, as a listing of those namespaces would.
    let other = render_observed(&observed, &["elsewhere".to_owned()], false).unwrap();
    assert!(!other.contains("severity"), "{other}");

    // A report without our annotations: the watches cannot tell, so list.
    let mut foreign = audit.clone();
    foreign.metadata.name = Some("foreign".into());
    foreign.metadata.annotations = None;
    let (uid, meta) = crate::observed::audit_report_from_meta(&foreign.metadata).unwrap();
    observed.put_audit_report(uid, meta);
    assert_eq!(render_observed(&observed, &[], false), None);
}

fn secret_report() -> common::reports::exposed_secret::ExposedSecretReport {
    let json = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/trivy-json/exposedsecret_report.json"
    ))
    .unwrap();
    let trivy = common::trivy::parse_scanner_output(&json).unwrap();
    let image = common::trivy::ImageRef::parse("alpine:3.10.2").unwrap();
    let data = common::trivy::to_secret_data(
        &trivy,
        &image,
        common::reports::Scanner::trivy("0.58.1"),
        jiff::Timestamp::UNIX_EPOCH,
    );
    let mut report = common::reports::exposed_secret::ExposedSecretReport::new(
        serde_yaml_ng::from_str(
            r#"
name: replicaset-web-6d4cf56db6-app
namespace: prod
labels:
  trivy-operator.resource.kind: ReplicaSet
  trivy-operator.resource.name: web-6d4cf56db6
  trivy-operator.container.name: app
ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-6d4cf56db6, uid: uid-web, controller: true}]
"#,
        )
        .unwrap(),
        data,
    );
    common::reports::gauge::annotate_exposed_secret_report(&mut report);
    report
}

#[test]
fn exposed_secret_gauges_watched_equal_listed_with_upstreams_labels() {
    let report = secret_report();
    let mut listed = ReportGauges::default();
    let view: SecretView = serde_json::from_value(serde_json::to_value(&report).unwrap()).unwrap();
    listed.add_secret(&view);
    let listed = listed.finish();
    let labels = "namespace=\"prod\",name=\"replicaset-web-6d4cf56db6-app\",resource_kind=\"ReplicaSet\",resource_name=\"web-6d4cf56db6\",container_name=\"app\",image_registry=\"index.docker.io\",image_repository=\"library/alpine\",image_tag=\"3.10.2\",image_digest=\"sha256:72c42ed48c3a2db31b7dafe17d275b634664a708d901ec9fd57b1529280f01fb\"";
    for (severity, n) in [("Critical", 3), ("High", 1), ("Medium", 0), ("Low", 0)] {
        let line = format!("trivy_image_exposedsecrets{{{labels},severity=\"{severity}\"}} {n}\n");
        assert!(listed.contains(&line), "{line} in {listed}");
    }
    assert_eq!(
        listed.matches("trivy_image_exposedsecrets{").count(),
        4,
        "no Unknown series"
    );
    assert!(listed.contains("# TYPE trivy_image_exposedsecrets gauge\n"));

    let mut observed = crate::observed::Observed::default();
    for watch in crate::watch::REPORT_WATCHES
        .iter()
        .chain(&[crate::watch::INFRA_REPORTS])
    {
        observed.synced.insert((*watch).to_owned());
    }
    let (uid, meta) =
        crate::observed::vuln_report_from_meta(&report.metadata, jiff::Timestamp::now()).unwrap();
    observed.put_companion(crate::observed::Companion::Secret, uid, meta);
    assert_eq!(
        render_observed(&observed, &[], true),
        None,
        "secret watch not synced"
    );
    observed
        .synced
        .insert(crate::observed::Companion::Secret.watch().to_owned());
    assert_eq!(render_observed(&observed, &[], true).unwrap(), listed);
    let off = render_observed(&observed, &[], false).unwrap();
    assert_eq!(
        off.matches("trivy_image_exposedsecrets{").count(),
        0,
        "secrets off"
    );
}

#[test]
fn exposed_secret_info_is_one_series_per_distinct_secret() {
    let mut report = secret_report();
    let first = report.report.secrets[0].clone();
    report.report.secrets.push(first);
    let view: SecretInfoView =
        serde_json::from_value(serde_json::to_value(&report).unwrap()).unwrap();
    let text = secret_info(&[view]);
    assert!(
        text.starts_with("# HELP trivy_exposedsecrets_info "),
        "{text}"
    );
    assert_eq!(
        text.matches("trivy_exposedsecrets_info{").count(),
        4,
        "the duplicate once: {text}"
    );
    assert!(text.contains("image_digest=\"sha256:72c42ed48c3a2db31b7dafe17d275b634664a708d901ec9fd57b1529280f01fb\",secret_category=\"AWS\",secret_rule_id=\"aws-access-key-id\",secret_target=\"/etc/apt/s3auth.conf\",secret_title=\"AWS Access Key ID\",severity=\"Critical\"} 1\n"), "{text}");
}

#[test]
fn infra_assessments_become_series_watched_or_listed() {
    use common::reports::config_audit::Check;
    use common::reports::infra_assessment::{
        ClusterInfraAssessmentReport, InfraAssessmentReport, InfraAssessmentReportData,
    };
    let check = |id: &str, severity: &str| Check {
        check_id: id.into(),
        severity: severity.into(),
        success: false,
        ..Check::default()
    };
    let (labels, _) = common::labels::report_labels("Node", "kind-worker", "", "s1");
    let mut report = ClusterInfraAssessmentReport {
        metadata: ObjectMeta {
            name: Some("node-kind-worker".into()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        report: InfraAssessmentReportData::from_checks(
            common::reports::Scanner::trivy("1"),
            vec![check("KCV0079", "CRITICAL"), check("KCV0083", "HIGH")],
        ),
    };
    common::reports::gauge::annotate_infra_assessment_report(&mut report);
    // A control-plane component's report, owned by its Pod.
    let (labels, _) =
        common::labels::report_labels("Pod", "etcd-kind-control-plane", "kube-system", "s2");
    let mut pod_report = InfraAssessmentReport {
        metadata: ObjectMeta {
            name: Some("pod-etcd-kind-control-plane".into()),
            namespace: Some("kube-system".into()),
            labels: Some(labels),
            owner_references: Some(vec![common::owner::owner_reference(
                "v1",
                "Pod",
                "etcd-kind-control-plane",
                "uid-etcd",
            )]),
            ..ObjectMeta::default()
        },
        report: InfraAssessmentReportData::from_checks(
            common::reports::Scanner::trivy("1"),
            vec![check("KCV0044", "LOW"), check("KCV0047", "LOW")],
        ),
    };
    common::reports::gauge::annotate_namespaced_infra_assessment_report(&mut pod_report);
    let mut listed = ReportGauges::default();
    listed.add_infra_assessment(&report);
    listed.add_namespaced_infra_assessment(&pod_report);
    let listed = listed.finish();
    assert!(
        listed.contains(
            "trivy_resource_infraassessments{namespace=\"kube-system\",\
             name=\"pod-etcd-kind-control-plane\",resource_kind=\"Pod\",\
             resource_name=\"etcd-kind-control-plane\",severity=\"Low\"} 2\n"
        ),
        "{listed}"
    );
    assert!(
        listed.contains(
            "trivy_resource_infraassessments{namespace=\"\",name=\"node-kind-worker\",\
             resource_kind=\"Node\",resource_name=\"kind-worker\",severity=\"Critical\"} 1\n"
        ),
        "{listed}"
    );
    let mut observed = crate::observed::Observed::default();
    for watch in crate::watch::REPORT_WATCHES
        .iter()
        .chain(&[crate::nodes::REPORTS_WATCH, crate::watch::INFRA_REPORTS])
    {
        observed.synced.insert((*watch).to_owned());
    }
    let record = crate::nodes::folds::report_record(&report.metadata).unwrap();
    observed.nodes.put_report(record);
    let (owner, record) = crate::observed::audit_report_from_meta(&pod_report.metadata).unwrap();
    observed.put_infra_report(owner, record);
    assert_eq!(render_observed(&observed, &[], false).unwrap(), listed);
}

#[test]
fn rbac_assessments_become_role_and_cluster_role_series_watched_or_listed() {
    use common::reports::config_audit::Check;
    use common::reports::rbac_assessment::{
        ClusterRbacAssessmentReport, RbacAssessmentReport, RbacAssessmentReportData,
    };
    let check = |id: &str, severity: &str| Check {
        check_id: id.into(),
        severity: severity.into(),
        success: false,
        ..Check::default()
    };
    let meta = |kind: &str, name: &str, namespace: &str| {
        let (labels, _) = common::labels::report_labels(kind, name, namespace, "s1");
        ObjectMeta {
            name: Some(format!("{}-{name}", kind.to_ascii_lowercase())),
            namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
            labels: Some(labels),
            owner_references: Some(vec![common::owner::owner_reference(
                "rbac.authorization.k8s.io/v1",
                kind,
                name,
                &format!("uid-{name}"),
            )]),
            ..ObjectMeta::default()
        }
    };
    let data = |checks| {
        RbacAssessmentReportData::from_checks(common::reports::Scanner::trivy("1"), checks)
    };
    let mut role = RbacAssessmentReport {
        metadata: meta("Role", "proxy", "team"),
        report: data(vec![check("KSV113", "MEDIUM")]),
    };
    common::reports::gauge::annotate_rbac_assessment_report(&mut role);
    let mut cluster = ClusterRbacAssessmentReport {
        metadata: meta("ClusterRole", "admin", ""),
        report: data(vec![
            check("KSV044", "CRITICAL"),
            check("KSV046", "CRITICAL"),
        ]),
    };
    common::reports::gauge::annotate_cluster_rbac_assessment_report(&mut cluster);
    let mut listed = ReportGauges::default();
    listed.add_rbac_assessment(&role);
    listed.add_cluster_rbac_assessment(&cluster);
    let listed = listed.finish();
    assert!(
        listed.contains(
            "trivy_role_rbacassessments{namespace=\"team\",name=\"role-proxy\",\
             resource_kind=\"Role\",resource_name=\"proxy\",severity=\"Medium\"} 1\n"
        ),
        "{listed}"
    );
    assert!(
        listed.contains(
            "trivy_clusterrole_clusterrbacassessments{name=\"clusterrole-admin\",\
             resource_kind=\"ClusterRole\",resource_name=\"admin\",severity=\"Critical\"} 2\n"
        ),
        "{listed}"
    );
    let mut observed = crate::observed::Observed::default();
    for watch in crate::watch::REPORT_WATCHES.iter().chain(&[
        crate::watch::INFRA_REPORTS,
        crate::objects::REPORTS_WATCH,
        crate::objects::CLUSTER_REPORTS_WATCH,
    ]) {
        observed.synced.insert((*watch).to_owned());
    }
    for meta in [&role.metadata, &cluster.metadata] {
        let (owner, record) = crate::objects::folds::report_record(meta).unwrap();
        observed.objects.put_report(owner, record);
    }
    assert_eq!(render_observed(&observed, &[], false).unwrap(), listed);
}
