//! The report gauges from the reports the leader's watches keep, without listing anything.

use crate::observed::{Companion, Observed, VulnReportMeta};

use super::{AuditRow, ReportGauges, VulnRow};

/// The gauge families from `observed` (exposed secrets when `secrets`), for reports in `namespaces` (all when empty);
/// `None` when the watches cannot tell: a report watch has not synced yet, or a report
/// lacks the gauge annotations (written by another operator or an older version), so the
/// caller lists the reports instead.
pub fn render_observed(
    observed: &Observed,
    namespaces: &[String],
    secrets: bool,
) -> Option<String> {
    let secret_watch = secrets.then_some(Companion::Secret.watch());
    let synced = crate::watch::REPORT_WATCHES
        .iter()
        .copied()
        .chain(secret_watch)
        .all(|w| observed.synced.contains(w) && !observed.missing_crds.contains(w));
    if !synced || !observed.synced.contains(crate::watch::INFRA_REPORTS) {
        return None;
    }
    let in_scope = |ns: &str| namespaces.is_empty() || namespaces.iter().any(|n| n == ns);
    let vulns = image_rows(observed.vuln_reports.values().flatten(), in_scope)?;
    let secret_reports = observed
        .companions
        .all(Companion::Secret)
        .filter(|_| secrets);
    let secret_rows = image_rows(secret_reports, in_scope)?;
    let mut audits: Vec<AuditRow<'_>> = Vec::new();
    for r in observed.audit_reports.values().flatten() {
        if !in_scope(&r.namespace) {
            continue;
        }
        let g = r.gauge.as_deref()?;
        audits.push(AuditRow {
            namespace: &r.namespace,
            name: &r.name,
            resource_kind: &g.resource_kind,
            resource_name: &g.resource_name,
            counts: g.counts.map(u64::from),
        });
    }
    // The order a listing has: by namespace, then name.
    audits.sort_unstable_by(|a, b| (a.namespace, a.name).cmp(&(b.namespace, b.name)));
    // The control-plane components' InfraAssessmentReports, then (namespace "") the nodes'.
    let mut infra: Vec<AuditRow<'_>> = Vec::new();
    for r in observed.infra_reports.values().flatten() {
        if !in_scope(&r.namespace) {
            continue;
        }
        let g = r.gauge.as_deref()?;
        infra.push(AuditRow {
            namespace: &r.namespace,
            name: &r.name,
            resource_kind: &g.resource_kind,
            resource_name: &g.resource_name,
            counts: g.counts.map(u64::from),
        });
    }
    // Node reports, when their watch runs (node assessments on); by name, as listed.
    let nodes_watched = observed.synced.contains(crate::nodes::REPORTS_WATCH);
    for r in observed.nodes.reports.values().filter(|_| nodes_watched) {
        infra.push(AuditRow {
            namespace: "",
            name: &r.name,
            resource_kind: "Node",
            resource_name: &r.node,
            counts: r.counts?.map(u64::from),
        });
    }
    infra.sort_unstable_by(|a, b| (a.namespace, a.name).cmp(&(b.namespace, b.name)));
    // RBAC assessments, when their watches run: Roles' by namespace and name, then
    // ClusterRoles' by name, as listed.
    let roles_watched = [
        crate::objects::REPORTS_WATCH,
        crate::objects::CLUSTER_REPORTS_WATCH,
    ]
    .iter()
    .all(|w| observed.synced.contains(*w) && !observed.missing_crds.contains(*w));
    let (mut roles, mut cluster_roles): (Vec<AuditRow<'_>>, Vec<AuditRow<'_>>) = (vec![], vec![]);
    for r in observed.objects.all_reports().filter(|_| roles_watched) {
        let g = r.gauge.as_deref()?;
        let row = AuditRow {
            namespace: &r.namespace,
            name: &r.name,
            resource_kind: &g.resource_kind,
            resource_name: &g.resource_name,
            counts: g.counts.map(u64::from),
        };
        if r.namespace.is_empty() {
            cluster_roles.push(row);
        } else if in_scope(&r.namespace) {
            roles.push(row);
        }
    }
    roles.sort_unstable_by(|a, b| (a.namespace, a.name).cmp(&(b.namespace, b.name)));
    cluster_roles.sort_unstable_by(|a, b| a.name.cmp(b.name));
    let mut gauges = ReportGauges::default();
    vulns.iter().for_each(|r| gauges.add_vuln_row(r));
    audits.iter().for_each(|r| gauges.add_audit_row(r));
    secret_rows.iter().for_each(|r| gauges.add_secret_row(r));
    infra.iter().for_each(|r| gauges.add_infra_row(r));
    roles.iter().for_each(|r| gauges.add_role_row(r));
    cluster_roles
        .iter()
        .for_each(|r| gauges.add_cluster_role_row(r));
    Some(gauges.finish())
}

/// The series rows of watched VulnerabilityReports or ExposedSecretReports in scope, in a
/// listing's order; `None` if one lacks the gauge annotations.
fn image_rows<'a>(
    reports: impl Iterator<Item = &'a VulnReportMeta>,
    in_scope: impl Fn(&str) -> bool,
) -> Option<Vec<VulnRow<'a>>> {
    let mut rows = Vec::new();
    for r in reports {
        if !in_scope(&r.namespace) {
            continue;
        }
        let g = r.gauge.as_deref()?;
        rows.push(VulnRow {
            namespace: &r.namespace,
            name: &r.name,
            resource_kind: &g.resource_kind,
            resource_name: &g.resource_name,
            container_name: r.container.as_deref().unwrap_or(""),
            registry: &g.image.registry,
            repository: &g.image.repository,
            tag: &g.image.tag,
            digest: &g.image.digest,
            counts: g.counts.map(u64::from),
        });
    }
    rows.sort_unstable_by(|a, b| (a.namespace, a.name).cmp(&(b.namespace, b.name)));
    Some(rows)
}
