//! Which image reports are collected, and what deleting one does to the plan.

use std::time::Duration;

use super::*;
use crate::observed::{ImageReportMeta, Source, VulnReportMeta, Workload};
use crate::plan_scans::due_containers;
use crate::plan_scans::tests::{now, observed, policy, report, workload};

fn image(hours_ago: i64, bytes: u32) -> ImageReportMeta {
    ImageReportMeta {
        resource_version: Some("7".into()),
        bytes,
        scanned_at: Some(now() - jiff::SignedDuration::from_hours(hours_ago)),
    }
}

fn naming(w: &Workload, image_report: &str) -> VulnReportMeta {
    let mut r = report(w, "nginx", 1);
    r.image_report = Some(image_report.into());
    r
}

fn names(list: &[Collectable]) -> Vec<&str> {
    list.iter().map(|c| c.name.as_str()).collect()
}

fn an_hour_ago() -> jiff::Timestamp {
    now() - jiff::SignedDuration::from_hours(1)
}

#[test]
fn an_image_report_goes_when_no_report_names_it_and_its_grace_is_over() {
    let (a, b) = (
        workload("a", "web", &[("nginx", "nginx:1.16")]),
        workload("b", "api", &[("nginx", "nginx:1.16")]),
    );
    let mut o = observed(&[a.clone(), b.clone()]);
    o.put_vuln_report(a.uid.clone(), naming(&a, "nginx-x"));
    o.put_vuln_report(b.uid.clone(), naming(&b, "nginx-x"));
    o.put_image_report("nginx-x".into(), image(2, 1000));
    o.put_image_report("old-y".into(), image(2, 300));
    o.put_image_report("young-z".into(), image(0, 30));
    assert_eq!(o.report_bytes(), 1330, "image reports count in the storage");
    assert_eq!(names(&collectable(&o, an_hour_ago())), ["old-y"]);
    // A report written again (same name) still names it once.
    o.put_vuln_report(a.uid.clone(), naming(&a, "nginx-x"));
    // The image's last two workloads go, one after the other.
    o.remove_vuln_report(&a.uid, &naming(&a, "").name);
    assert_eq!(names(&collectable(&o, an_hour_ago())), ["old-y"]);
    o.remove_vuln_report(&b.uid, &naming(&b, "").name);
    let gone = collectable(&o, an_hour_ago());
    assert_eq!(names(&gone), ["nginx-x", "old-y"]);
    assert_eq!(gone[0].resource_version.as_deref(), Some("7"));
    // Once the grace is over, the young one too.
    let later = now() + jiff::SignedDuration::from_secs(1);
    assert_eq!(collectable(&o, later).len(), 3);
}

#[test]
fn a_deleted_image_report_makes_its_workloads_due_and_stops_copies() {
    let a = workload("a", "web", &[("nginx", "nginx:1.16")]);
    let mut o = observed(std::slice::from_ref(&a));
    let r = naming(&a, "nginx-x");
    o.put_vuln_report(a.uid.clone(), r.clone());
    o.put_image_report("nginx-x".into(), image(2, 10));
    o.ledger.record(
        &["key".to_owned()],
        Source {
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            resource_version: "1".into(),
            scanned_at: now(),
            secret: None,
            sbom: None,
        },
    );
    assert!(due_containers(&o, &a, policy()).is_empty());
    o.remove_image_report("nginx-x");
    assert_eq!(due_containers(&o, &a, policy()).len(), 1, "rescanned");
    assert!(o.ledger.get("key").is_none(), "its list is gone: no copy");
    assert_eq!(o.lost_sources, ["key"]);
    // Written again by the rescan: the report is current again.
    o.put_image_report("nginx-x".into(), image(0, 10));
    assert!(due_containers(&o, &a, policy()).is_empty());
    // A report nobody names is simply gone.
    o.put_image_report("other".into(), image(0, 10));
    o.remove_image_report("other");
    assert!(due_containers(&o, &a, policy()).is_empty());
}

#[test]
fn image_reports_named_but_absent_count_as_deleted_once_their_reports_are_old() {
    let a = workload("a", "web", &[("nginx", "nginx:1.16")]);
    let mut o = observed(std::slice::from_ref(&a));
    o.put_vuln_report(a.uid.clone(), naming(&a, "never-seen"));
    // The report was scanned an hour ago: too young for a two-hour grace.
    let two_hours_ago = now() - jiff::SignedDuration::from_hours(2);
    assert_eq!(o.mark_absent_image_reports(two_hours_ago), 0);
    assert!(due_containers(&o, &a, policy()).is_empty());
    assert_eq!(o.mark_absent_image_reports(now()), 1);
    assert_eq!(due_containers(&o, &a, policy()).len(), 1);
    assert_eq!(o.mark_absent_image_reports(now()), 0, "counted once");
}

#[test]
fn the_collector_looks_a_few_times_per_grace() {
    assert_eq!(interval(Duration::from_secs(2)), Duration::from_secs(1));
    assert_eq!(interval(Duration::from_secs(40)), Duration::from_secs(10));
    assert_eq!(interval(Duration::from_secs(3600)), Duration::from_secs(60));
}
