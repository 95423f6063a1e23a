//! Which vulnerability scans are due, as pure functions of what is observed.
//!
//! A workload container needs a VulnerabilityReport when it has none, when the report's
//! `resource-spec-hash` is stale, when the report's scan is older than the TTL, or when the
//! ImageVulnerabilityReport it names was deleted; likewise when a report written beside it
//! (ExposedSecretReport, SbomReport, when on) is missing, stale or old ([`due_containers`]). Due containers are grouped by scan key — the image digest the
//! workload's own Pods reported, else the normalized image reference — into one task per
//! key ([`scan_task`]), so an image is scanned once for every workload that runs it. A task
//! copies a trusted fresh report of the same image instead of scanning when the operator
//! has one ([`crate::observed::Ledger`]); the grouping over time (waiting for a scan in
//! flight, re-planning what a change touched) is [`crate::planner`]'s.

use std::collections::BTreeSet;
use std::time::Duration;

use common::names::short_hash;
use common::proto;
use common::trivy::ImageRef;

use crate::observed::{Companion, Companions, Observed, Source, VulnReportMeta, Workload};
use crate::plan::{DueTask, workload_ref};

/// What scan planning looks at besides the observed cluster.
#[derive(Debug, Clone, Copy)]
pub struct ScanPolicy {
    /// Reports older than this are rescanned; `None` disables scheduled rescans.
    pub ttl: Option<Duration>,
    pub now: jiff::Timestamp,
    /// The reports written beside each VulnerabilityReport (ExposedSecretReport,
    /// SbomReport): a container needs a fresh one of each too.
    pub companions: Companions,
    /// A rescan of an image digest whose SBOM this operator stored scans that SBOM
    /// ([`stored_bom`]).
    pub sbom_rescans: bool,
}

/// A workload container identified as a scan subscriber: (workload uid, container, spec
/// hash).
pub type SubscriberKey = (String, String, String);

/// A workload container that needs a report, with what its scan task carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueContainer {
    pub workload: proto::WorkloadRef,
    pub container: String,
    pub spec_hash: String,
    /// The image as written in the pod spec.
    pub image: String,
    /// Its normalized reference (as written, if it does not parse).
    pub reference: String,
    /// The scan key: the digest the workload's own Pods reported, else `reference`.
    pub key: String,
    pub pull_secrets: Vec<String>,
    /// The name of its existing report, if any (written there again).
    pub report_name: Option<String>,
}

impl DueContainer {
    pub fn subscriber_key(&self) -> SubscriberKey {
        (
            self.workload.uid.clone(),
            self.container.clone(),
            self.spec_hash.clone(),
        )
    }
}

/// The containers of a scanned workload that need a report now.
pub fn due_containers(
    observed: &Observed,
    workload: &Workload,
    policy: ScanPolicy,
) -> Vec<DueContainer> {
    let mut due = Vec::new();
    let mut pull_secrets = None;
    for container in &workload.containers {
        let report = observed
            .vuln_reports_of(workload)
            .find(|v| v.container.as_deref() == Some(container.name.as_str()));
        let current = |r: &VulnReportMeta| {
            r.spec_hash.as_deref() == Some(workload.spec_hash.as_str()) && is_fresh(r, policy)
        };
        let fresh = report.is_some_and(|r| current(r) && !observed.image_reports.lost_for(r))
            && policy.companions.enabled().all(|kind| {
                observed
                    .companions_of(kind, workload)
                    .find(|r| r.container.as_deref() == Some(container.name.as_str()))
                    .is_some_and(current)
            });
        if fresh {
            continue;
        }
        let reference = normalized(&container.image);
        let key = observed
            .image_id(&workload.uid, &container.name)
            .map_or_else(|| reference.clone(), str::to_string);
        due.push(DueContainer {
            workload: workload_ref(workload),
            container: container.name.clone(),
            spec_hash: workload.spec_hash.clone(),
            image: container.image.clone(),
            reference,
            key,
            pull_secrets: pull_secrets
                .get_or_insert_with(|| observed.pull_secrets_of(workload))
                .clone(),
            report_name: report.map(|r| r.name.clone()),
        });
    }
    due
}

/// When the first of a workload's fresh reports goes stale by age (`None`: never, or no
/// TTL).
pub fn next_expiry(
    observed: &Observed,
    workload: &Workload,
    policy: ScanPolicy,
) -> Option<jiff::Timestamp> {
    let ttl = jiff::SignedDuration::try_from(policy.ttl?).ok()?;
    let companions = policy
        .companions
        .enabled()
        .flat_map(|kind| observed.companions_of(kind, workload));
    observed
        .vuln_reports_of(workload)
        .chain(companions)
        .filter_map(|r| r.scanned_at?.checked_add(ttl).ok())
        .filter(|expiry| *expiry > policy.now)
        .min()
}

/// Whether a report's scan is younger than the TTL (always, without a TTL).
fn is_fresh(report: &VulnReportMeta, policy: ScanPolicy) -> bool {
    match policy.ttl {
        None => true,
        Some(ttl) => report
            .scanned_at
            .is_some_and(|at| fresh_at(at, ttl, policy.now)),
    }
}

fn fresh_at(at: jiff::Timestamp, ttl: Duration, now: jiff::Timestamp) -> bool {
    jiff::SignedDuration::try_from(ttl)
        .is_ok_and(|ttl| at.checked_add(ttl).is_ok_and(|expiry| expiry > now))
}

/// Whether a trusted source is still fresh enough to copy, and has everything a copy
/// needs (a report of each companion kind written from the same scan).
pub fn source_is_fresh(source: &Source, policy: ScanPolicy) -> bool {
    has_companions(source, policy)
        && policy
            .ttl
            .is_none_or(|ttl| fresh_at(source.scanned_at, ttl, policy.now))
}

/// Whether `source` wrote a report of every companion kind the policy wants.
fn has_companions(source: &Source, policy: ScanPolicy) -> bool {
    policy
        .companions
        .enabled()
        .all(|kind| source.companion(kind).is_some())
}

/// The SBOM a rescan of `key` scans instead of pulling the image again: that of `source`,
/// the trusted source recorded under `key` itself, when `key` names an image's content (ends
/// in a digest: a tag may name another image by now), the source wrote an SbomReport, and
/// wrote every other report a copy would need (so it is stale only by age). The secrets
/// found in that scan are carried over (a BOM has none to find).
pub fn stored_bom(
    key: &str,
    source: Option<&Source>,
    policy: ScanPolicy,
) -> Option<proto::StoredBom> {
    let source = source?;
    let (sbom_name, sbom_version) = source.sbom.as_ref()?;
    let usable = policy.sbom_rescans
        && policy.companions.sbom
        && common::trivy::trailing_digest(key).is_some()
        && has_companions(source, policy);
    usable.then(|| {
        let (secret_name, secret_version) = if policy.companions.secret {
            pinned(Some(source), Companion::Secret)
        } else {
            Default::default()
        };
        proto::StoredBom {
            namespace: source.namespace.clone(),
            sbom_report_name: sbom_name.clone(),
            sbom_report_resource_version: sbom_version.clone(),
            secret_report_name: secret_name,
            secret_report_resource_version: secret_version,
        }
    })
}

/// The normalized form of an image reference (as written, if it does not parse).
pub fn normalized(image: &str) -> String {
    ImageRef::parse(image).map_or_else(|_| image.to_string(), |r| r.normalized())
}

/// The dispatcher slot of a scan key.
pub fn scan_slot(key: &str) -> String {
    format!("scan:{key}")
}

/// The names a scan of `key` for `members` is known by: the key and the references.
pub fn aliases<'a>(key: &str, members: impl IntoIterator<Item = &'a DueContainer>) -> Vec<String> {
    let set: BTreeSet<&str> = std::iter::once(key)
        .chain(members.into_iter().map(|m| m.reference.as_str()))
        .collect();
    set.into_iter().map(str::to_string).collect()
}

/// The task of scan key `key` for its due members (sorted by namespace, workload and
/// container), copying `source` when given. One task per key: its id is the key's.
pub fn scan_task(key: &str, members: &[&DueContainer], source: Option<&Source>) -> DueTask {
    let mut members = members.to_vec();
    members.sort_by(|a, b| {
        (&a.workload.namespace, &a.workload.name, &a.container).cmp(&(
            &b.workload.namespace,
            &b.workload.name,
            &b.container,
        ))
    });
    let subscribers: Vec<proto::ScanSubscriber> = members
        .iter()
        .map(|d| proto::ScanSubscriber {
            workload: Some(d.workload.clone()),
            container_name: d.container.clone(),
            resource_spec_hash: d.spec_hash.clone(),
            image: d.image.clone(),
            pull_secrets: d.pull_secrets.clone(),
            report_name: d.report_name.clone().unwrap_or_default(),
        })
        .collect();
    let first = members.first();
    DueTask {
        namespace: first
            .map(|d| d.workload.namespace.clone())
            .unwrap_or_default(),
        aliases: aliases(key, members.iter().copied()),
        task: proto::Task {
            task_id: format!("scan/{}", short_hash(key)),
            kind: proto::TaskKind::VulnerabilityScan as i32,
            scan: Some(Box::new(proto::ScanTarget {
                scan_key: key.to_string(),
                image: first.map(|d| d.image.clone()).unwrap_or_default(),
                subscribers,
                source_report_namespace: source.map(|s| s.namespace.clone()).unwrap_or_default(),
                source_report_name: source.map(|s| s.name.clone()).unwrap_or_default(),
                source_report_resource_version: source
                    .map(|s| s.resource_version.clone())
                    .unwrap_or_default(),
                source_secret_report_name: pinned(source, Companion::Secret).0,
                source_secret_report_resource_version: pinned(source, Companion::Secret).1,
                source_sbom_report_name: pinned(source, Companion::Sbom).0,
                source_sbom_report_resource_version: pinned(source, Companion::Sbom).1,
                stored_bom: None,
                // The storage mode and the reports beside are set when the task is sent.
                per_image: false,
                secrets: false,
                sbom: false,
            })),
            ..Default::default()
        },
    }
}

/// The name and resourceVersion of the source's companion report of `kind` (empty: none).
fn pinned(source: Option<&Source>, kind: Companion) -> (String, String) {
    source
        .and_then(|s| s.companion(kind))
        .cloned()
        .unwrap_or_default()
}

/// Whether a scan task runs a Job (rather than copying a fresh report).
pub fn runs_job(task: &proto::Task) -> bool {
    task.kind == proto::TaskKind::VulnerabilityScan as i32
        && task
            .scan
            .as_ref()
            .is_some_and(|s| s.source_report_name.is_empty())
}

#[cfg(test)]
pub(crate) mod tests;
