//! After a policy change, deletes the ConfigAuditReports whose `plugin-config-hash` is no
//! longer current for their kind, a batch at a time, so the planner re-audits their
//! workloads. Each delete is conditional on the report's resourceVersion: a report rewritten
//! meanwhile (already re-audited) is left alone.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use common::reports::config_audit::ConfigAuditReport;
use common::workload::WorkloadKind;
use kube::api::{DeleteParams, Preconditions};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

use crate::observed::{AuditReportMeta, Observed};
use crate::plan::ConfigHashes;
use crate::scope::Scope;
use crate::state::Shared;

/// Reports in namespaces in `scope` whose config hash differs from the current one of their
/// kind, at most `limit`. Reports elsewhere are not this operator's to delete.
pub fn outdated_reports(
    observed: &Observed,
    scope: &Scope,
    hashes: &ConfigHashes,
    limit: usize,
) -> Vec<AuditReportMeta> {
    let in_scope = |ns: &str| {
        observed
            .namespaces
            .get(ns)
            .is_some_and(|labels| scope.contains(ns, labels))
    };
    let mut out: Vec<AuditReportMeta> = observed
        .audit_reports
        .values()
        .flatten()
        .filter(|r| in_scope(&r.namespace))
        .filter(|r| {
            let current = WorkloadKind::from_str(&r.kind)
                .ok()
                .and_then(|k| hashes.get(&k));
            current.is_some_and(|c| r.config_hash.as_deref() != Some(c.as_str()))
        })
        .cloned()
        .collect();
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out.truncate(limit);
    out
}

/// Runs the deletion loop until `shutdown`.
pub fn spawn(
    client: Client,
    shared: Arc<Shared>,
    batch: usize,
    interval: Duration,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let mut seen_generation = 0;
        loop {
            let (generation, batch_reports) = {
                let st = shared.lock();
                let reports = match &st.policy.hashes {
                    Some(h) if st.observed.synced.contains(crate::watch::AUDIT_REPORTS) => {
                        outdated_reports(&st.observed, &shared.scope, h, batch.max(1))
                    }
                    _ => Vec::new(),
                };
                (st.policy.generation, reports)
            };
            if generation != seen_generation && !batch_reports.is_empty() {
                tracing::info!(
                    count = batch_reports.len(),
                    "deleting outdated ConfigAuditReports"
                );
            }
            for report in &batch_reports {
                delete(&client, report).await;
            }
            if batch_reports.is_empty() {
                seen_generation = generation;
            }
            let pause = if batch_reports.is_empty() {
                Duration::from_secs(1)
            } else {
                interval
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    });
}

async fn delete(client: &Client, report: &AuditReportMeta) {
    let api: Api<ConfigAuditReport> = Api::namespaced(client.clone(), &report.namespace);
    delete_unchanged(&api, &report.name, report.resource_version.clone()).await;
}

/// Deletes `name` if it still has `resource_version` (a report written again meanwhile is
/// left alone); one already gone or changed is not an error.
pub(crate) async fn delete_unchanged<K>(api: &Api<K>, name: &str, resource_version: Option<String>)
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version,
            uid: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => tracing::debug!(report = %name, kind = %K::kind(&()), "deleted"),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
            tracing::debug!(report = %name, "already gone or written again")
        }
        Err(error) => tracing::warn!(report = %name, %error, "could not delete"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn report(name: &str, kind: &str, hash: &str) -> AuditReportMeta {
        AuditReportMeta {
            gauge: None,
            bytes: 0,
            namespace: "ns".into(),
            name: name.into(),
            kind: kind.into(),
            spec_hash: Some("s".into()),
            config_hash: Some(hash.into()),
            resource_version: Some("1".into()),
        }
    }

    #[test]
    fn only_reports_with_a_different_hash_of_their_kind_are_outdated() {
        let mut observed = Observed::default();
        observed.put_namespace("ns".into(), Default::default());
        observed.put_namespace("elsewhere".into(), Default::default());
        let scope = Scope::new(&crate::args::ScopeArgs {
            namespaces: vec!["ns".into()],
            ..Default::default()
        })
        .unwrap();
        let mut foreign = report("z", "ReplicaSet", "old");
        foreign.namespace = "elsewhere".into();
        observed.put_audit_report("u9".into(), foreign);
        observed.put_audit_report("u1".into(), report("a", "ReplicaSet", "old"));
        observed.put_audit_report("u2".into(), report("b", "Pod", "pod-current"));
        observed.put_audit_report("u3".into(), report("c", "ReplicaSet", "rs-current"));
        observed.put_audit_report("u4".into(), report("d", "Unknown", "x"));
        let hashes: ConfigHashes = [
            (WorkloadKind::ReplicaSet, "rs-current".to_string()),
            (WorkloadKind::Pod, "pod-current".to_string()),
        ]
        .into_iter()
        .collect();
        let names: Vec<String> = outdated_reports(&observed, &scope, &hashes, 10)
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["a"], "never a report outside the scope");
        observed.put_audit_report("u5".into(), report("e", "ReplicaSet", "old"));
        assert_eq!(
            outdated_reports(&observed, &scope, &hashes, 1).len(),
            1,
            "batch limit"
        );
    }
}
