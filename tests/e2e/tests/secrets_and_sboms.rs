//! Exposed secrets and SBOMs end to end: the one scan Job of an image gives every workload
//! that runs it an ExposedSecretReport and an SbomReport beside its VulnerabilityReport
//! (same name, labels and owner), `kubectl get exposedsecrets` and `kubectl get sbomreports`
//! show upstream's columns, a deleted report of either kind comes back, the leader's metrics
//! carry `trivy_image_exposedsecrets`, and the reports go with their workload.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::operator::http_get;
use e2e::reports::{label, name, owner, uid};
use e2e::workloads::deployment;
use e2e::{Cluster, Operator, OperatorOptions, eventually};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(300);
/// Upstream's own ExposedSecretReport fixture (four secrets: three CRITICAL, one HIGH, no
/// vulnerabilities) for the scan, and upstream's alpine BOM (16 components, 17 dependency
/// entries) for the SBOM, answered by the Trivy double for this name on any cluster.
const IMAGE: &str = "trivy-double.test/exposedsecret_report/sbom-alpine_sbom/app:1";

/// Every SbomReport of `ns` is the image's BOM, beside a VulnerabilityReport of its name,
/// labels and owner; returns how many there are.
fn sboms_beside_vulnerability_reports(cluster: &Cluster, ns: &str) -> Result<usize, String> {
    let sboms = list(cluster, "sbomreports", ns)?;
    let vulns = list(cluster, "vulnerabilityreports", ns)?;
    for s in &sboms {
        let components = s["report"]["components"]["components"]
            .as_array()
            .map_or(0, Vec::len);
        let v = vulns
            .iter()
            .find(|v| name(v) == name(s))
            .ok_or_else(|| format!("no vulnerability report named {}", name(s)))?;
        if components != 16
            || s["report"]["summary"]["componentsCount"] != 17
            || owner(v) != owner(s)
            || v["metadata"]["labels"] != s["metadata"]["labels"]
        {
            return Err(format!(
                "SBOM {} is not the image's beside its report",
                name(s)
            ));
        }
    }
    Ok(sboms.len())
}

fn list(cluster: &Cluster, kind: &str, ns: &str) -> Result<Vec<Value>, String> {
    cluster.list(&[kind, "-n", ns]).map_err(|e| e.to_string())
}

fn secret_rules(report: &Value) -> Vec<(String, String)> {
    report["report"]["secrets"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| {
                    (
                        s["ruleID"].as_str().unwrap_or("").to_owned(),
                        s["severity"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `kubectl get <resource> -n <ns> -o wide`: the table, its header's columns and its first
/// row's.
fn wide_table(cluster: &Cluster, resource: &str, ns: &str) -> (String, Vec<String>, Vec<String>) {
    let table = cluster
        .kubectl(&["get", resource, "-n", ns, "-o", "wide"])
        .unwrap();
    let words = |line: Option<&str>| -> Vec<String> {
        line.unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let (header, row) = (words(table.lines().next()), words(table.lines().nth(1)));
    (table, header, row)
}

/// Deletes the first report of `kind` in `ns` with kubectl; returns it.
fn delete_first(cluster: &Cluster, kind: &str, ns: &str) -> Value {
    let report = list(cluster, &format!("{kind}s"), ns).unwrap().remove(0);
    cluster
        .kubectl(&["delete", kind, name(&report), "-n", ns])
        .unwrap();
    report
}

/// Waits for a new object under the name of the deleted report `gone`; returns it.
async fn comes_back(cluster: &Cluster, resource: &str, ns: &str, gone: &Value) -> Value {
    eventually(
        &format!("the deleted {} to come back", name(gone)),
        LONG,
        || async {
            let back = list(cluster, resource, ns)?
                .into_iter()
                .find(|r| name(r) == name(gone))
                .ok_or("not back yet")?;
            (uid(&back) != uid(gone))
                .then_some(back)
                .ok_or_else(|| "still the old object".to_string())
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_scan_gives_every_workload_its_secret_and_sbom_reports() {
    let cluster = Cluster::start("secrets").await.unwrap();
    let namespaces = vec![cluster.ns("sec-a"), cluster.ns("sec-b")];
    cluster.create_namespaces(&namespaces).unwrap();
    let options =
        OperatorOptions::new(e2e::binaries!(), &cluster, namespaces.clone()).workers(2, 2);
    let jobs = e2e::jobs::watch_jobs(&cluster, &options.operator_namespace)
        .await
        .unwrap();
    let op = Operator::start(&cluster, options).unwrap();
    // Ten workloads over two namespaces, one image.
    let manifest: String = namespaces
        .iter()
        .flat_map(|ns| (0..5).map(move |i| deployment(ns, &format!("app{i}"), "main", IMAGE)))
        .collect();
    cluster.apply(&manifest).unwrap();

    let expected = vec![
        ("stripe-publishable-token".to_owned(), "HIGH".to_owned()),
        ("stripe-access-token".to_owned(), "CRITICAL".to_owned()),
        ("aws-access-key-id".to_owned(), "CRITICAL".to_owned()),
        ("aws-secret-access-key".to_owned(), "CRITICAL".to_owned()),
    ];
    eventually(
        "ten secret reports beside ten vulnerability reports",
        LONG,
        || async {
            let mut total = 0;
            for ns in &namespaces {
                let secrets = list(&cluster, "exposedsecretreports", ns)?;
                let vulns = list(&cluster, "vulnerabilityreports", ns)?;
                for s in &secrets {
                    if secret_rules(s) != expected {
                        return Err(format!("{} has {:?}", name(s), secret_rules(s)));
                    }
                    let v = vulns
                        .iter()
                        .find(|v| name(v) == name(s))
                        .ok_or_else(|| format!("no vulnerability report named {}", name(s)))?;
                    if owner(v) != owner(s) || v["metadata"]["labels"] != s["metadata"]["labels"] {
                        return Err(format!("{} differs from its vulnerability report", name(s)));
                    }
                }
                if sboms_beside_vulnerability_reports(&cluster, ns)? != secrets.len() {
                    return Err(format!("not every workload of {ns} has its SBOM yet"));
                }
                total += secrets.len();
            }
            if total == 10 {
                Ok(())
            } else {
                Err(format!("{total} secret reports"))
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        jobs.lock().unwrap().seen.len(),
        1,
        "one scan Job for the image, secrets and SBOM included"
    );
    let (sbom_table, header, row) = wide_table(&cluster, "sbom", &namespaces[0]);
    assert_eq!(
        header,
        [
            "NAME",
            "REPOSITORY",
            "TAG",
            "SCANNER",
            "AGE",
            "COMPONENTS",
            "DEPENDENCIES"
        ],
        "{sbom_table}"
    );
    assert_eq!(row[5..], ["17", "17"], "{sbom_table}");
    let all = cluster.kubectl(&["get", "sbomreports", "-A"]).unwrap();
    assert!(all.contains(&namespaces[1]), "{all}");
    let (a, b) = (&namespaces[0], &namespaces[1]);

    // kubectl: the short name and upstream's columns (wide adds the counts).
    let (table, header, row) = wide_table(&cluster, "exposedsecret", a);
    assert_eq!(
        header,
        [
            "NAME",
            "REPOSITORY",
            "TAG",
            "SCANNER",
            "AGE",
            "CRITICAL",
            "HIGH",
            "MEDIUM",
            "LOW"
        ],
        "{table}"
    );
    assert_eq!(
        row[1..4],
        ["exposedsecret_report/sbom-alpine_sbom/app", "1", "Trivy"],
        "{table}"
    );
    assert_eq!(row[5..], ["3", "1", "0", "0"], "{table}");
    let all = cluster.kubectl(&["get", "exposedsecrets", "-A"]).unwrap();
    assert!(all.contains(b.as_str()), "{all}");

    // The leader's report metrics.
    eventually(
        "trivy_image_exposedsecrets in the metrics",
        LONG,
        || async {
            let (_, metrics) = http_get(op.leader_admin_ports[0], "/metrics")
                .await
                .map_err(|e| e.to_string())?;
            let critical: Vec<&str> = metrics
                .lines()
                .filter(|l| {
                    l.starts_with("trivy_image_exposedsecrets{")
                        && l.contains(&format!("namespace=\"{a}\""))
                        && l.contains(
                            "image_repository=\"exposedsecret_report/sbom-alpine_sbom/app\"",
                        )
                        && l.contains("severity=\"Critical\"")
                })
                .collect();
            match critical.as_slice() {
                lines if lines.len() == 5 && lines.iter().all(|l| l.ends_with("} 3")) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
    .unwrap();

    // A deleted report of either kind comes back: a new object under the same name.
    let gone = delete_first(&cluster, "exposedsecretreport", b);
    let back = comes_back(&cluster, "exposedsecretreports", b, &gone).await;
    assert_eq!(secret_rules(&back), expected);
    let sbom = delete_first(&cluster, "sbomreport", b);
    let back = comes_back(&cluster, "sbomreports", b, &sbom).await;
    assert_eq!(back["report"]["summary"]["componentsCount"], 17);

    // The reports go with their workload.
    let workload = label(&gone, "trivy-operator.resource.name")
        .unwrap()
        .to_owned();
    let deployment_name = workload.rsplit_once('-').unwrap().0.to_owned();
    cluster
        .kubectl(&["delete", "deployment", &deployment_name, "-n", b])
        .unwrap();
    eventually(
        "the secret report to go with its workload",
        LONG,
        || async {
            let left = list(&cluster, "exposedsecretreports", b)?;
            let sboms = list(&cluster, "sbomreports", b)?;
            if left.iter().chain(&sboms).any(|r| name(r) == name(&gone)) {
                Err(format!("{} still there", name(&gone)))
            } else if left.len() == 4 && sboms.len() == 4 {
                Ok(())
            } else {
                Err(format!("{} and {} left", left.len(), sboms.len()))
            }
        },
    )
    .await
    .unwrap();
}

/// Trivy's alpine 3.10 output (vulnerabilities, no secrets) and upstream's alpine BOM.
const VULNERABLE: &str = "trivy-double.test/alpine-310/sbom-alpine_sbom/app:1";

/// The reports of `ns` by kind: (VulnerabilityReport, ExposedSecretReport, SbomReport) of
/// its one workload, once all three exist.
fn three_reports(cluster: &Cluster, ns: &str) -> Result<(Value, Value, Value), String> {
    let one = |kind: &str| -> Result<Value, String> {
        let mut all = list(cluster, kind, ns)?;
        match all.len() {
            1 => Ok(all.remove(0)),
            n => Err(format!("{n} {kind} in {ns}")),
        }
    };
    Ok((
        one("vulnerabilityreports")?,
        one("exposedsecretreports")?,
        one("sbomreports")?,
    ))
}

/// The Trivy scanners a scan Job runs (its annotation) and its scan container's arguments.
fn job_kind(job: &k8s_openapi::api::batch::v1::Job) -> (String, Vec<String>) {
    let scanners = job
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("trivy-operator-rs.dev/scanners"))
        .cloned()
        .unwrap_or_default();
    let pod = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .cloned()
        .unwrap_or_default();
    let args = pod
        .containers
        .iter()
        .find(|c| c.name == "trivy")
        .and_then(|c| c.args.clone())
        .unwrap_or_default();
    (scanners, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescan_by_age_scans_the_stored_sbom_instead_of_the_image() {
    let cluster = Cluster::start("sbom-rescan").await.unwrap();
    let (vulnerable, secretive) = (cluster.ns("rescan-v"), cluster.ns("rescan-s"));
    let namespaces = vec![vulnerable.clone(), secretive.clone()];
    cluster.create_namespaces(&namespaces).unwrap();
    let ttl = ["--report-ttl", "20s"].map(String::from).to_vec();
    let options = OperatorOptions::new(e2e::binaries!(), &cluster, namespaces.clone())
        .workers(1, 2)
        .leader_args(ttl.clone())
        .worker_args(ttl);
    let jobs = e2e::jobs::watch_jobs(&cluster, &options.operator_namespace)
        .await
        .unwrap();
    let _op = Operator::start(&cluster, options).unwrap();
    cluster
        .apply(&format!(
            "{}{}",
            deployment(&vulnerable, "web", "main", VULNERABLE),
            deployment(&secretive, "api", "main", IMAGE),
        ))
        .unwrap();
    let mut first = Vec::new();
    for ns in &namespaces {
        let reports = eventually("all three reports", LONG, || async {
            three_reports(&cluster, ns)
        })
        .await
        .unwrap();
        first.push(reports);
    }
    // Both rescanned by age: every report written again (a later scan time).
    let timestamp = |r: &Value| {
        r["report"]["updateTimestamp"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let mut again = Vec::new();
    for (ns, (vuln, secret, sbom)) in namespaces.iter().zip(&first) {
        let reports = eventually("the reports to be rescanned", LONG, || async {
            let (v, s, b) = three_reports(&cluster, ns)?;
            let newer = [(&v, vuln), (&s, secret), (&b, sbom)]
                .iter()
                .all(|(now, then)| timestamp(now) != timestamp(then));
            newer
                .then_some((v, s, b))
                .ok_or_else(|| "not rescanned yet".to_string())
        })
        .await
        .unwrap();
        again.push(reports);
    }
    // The rescans scanned the stored SBOMs: no image was read again.
    let kinds: Vec<(String, Vec<String>)> = jobs
        .lock()
        .unwrap()
        .objects
        .values()
        .map(job_kind)
        .collect();
    let image_scans = kinds
        .iter()
        .filter(|(s, _)| s == "vuln,secret;sbom")
        .count();
    assert_eq!(image_scans, 2, "one image scan per image: {kinds:?}");
    let sbom_scans: Vec<&Vec<String>> = kinds
        .iter()
        .filter(|(s, _)| s == "vuln;from-sbom")
        .map(|(_, args)| args)
        .collect();
    assert!(sbom_scans.len() >= 2, "{kinds:?}");
    for args in sbom_scans {
        assert_eq!(args.first().map(String::as_str), Some("sbom"), "{args:?}");
        assert_eq!(args.last().map(String::as_str), Some("/bom/bom.json"));
    }
    // The same findings: the vulnerabilities of the BOM's packages, the secrets of the
    // image scan, the same BOM.
    for ((v, s, b), (v2, s2, b2)) in first.iter().zip(&again) {
        assert_eq!(
            v["report"]["vulnerabilities"],
            v2["report"]["vulnerabilities"]
        );
        assert_eq!(secret_rules(s), secret_rules(s2));
        assert_eq!(b["report"]["components"], b2["report"]["components"]);
    }
    let found = first[0].0["report"]["vulnerabilities"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(found > 0, "the vulnerable image has vulnerabilities");
    assert_eq!(secret_rules(&again[1].1).len(), 4, "the secrets kept");
}
