//! Which vulnerability scans are due, as a pure function of what is observed.
//!
//! A workload container needs a VulnerabilityReport when it has none, when the report's
//! `resource-spec-hash` is stale, or when the report's scan is older than the TTL. Due
//! containers are grouped by scan key (the image digest when a Pod reported it, else the
//! normalized image reference): one task per key, so an image is scanned once for every
//! workload that runs it. While a scan of a key is in flight, new containers with that key
//! wait for it; when a fresh report of the key exists, it is copied instead of scanned.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use common::names::short_hash;
use common::proto;
use common::trivy::ImageRef;

use crate::observed::{Observed, VulnReportMeta, Workload};
use crate::plan::{DueTask, scanned_workloads, workload_ref};
use crate::scope::Scope;

/// A scan task the dispatcher is running (`in_flight`) or that just succeeded and waits for
/// its reports to be observed.
#[derive(Debug, Clone)]
pub struct ActiveScan {
    pub task: proto::Task,
    pub in_flight: bool,
}

/// What scan planning looks at besides the observed cluster.
#[derive(Debug, Clone, Copy)]
pub struct ScanPolicy {
    /// Reports older than this are rescanned; `None` disables scheduled rescans.
    pub ttl: Option<Duration>,
    pub now: jiff::Timestamp,
}

/// A container that needs a report, identified as in scan subscribers.
type SubscriberKey = (String, String, String); // (workload uid, container, spec hash)

struct DueContainer<'a> {
    workload: &'a Workload,
    container: &'a str,
    image: &'a str,
}

/// Every scan task due now, deterministic in order and ids.
pub fn due_scans(
    observed: &Observed,
    scope: &Scope,
    policy: ScanPolicy,
    active: &[ActiveScan],
) -> Vec<DueTask> {
    let due = due_containers(observed, scope, policy);
    let due_keys: HashSet<SubscriberKey> = due.iter().map(|d| subscriber_key(d)).collect();
    let mut out = Vec::new();
    let mut covered: HashSet<SubscriberKey> = HashSet::new();
    let mut in_flight_keys: HashSet<&str> = HashSet::new();
    for active in active {
        let Some(scan) = &active.task.scan else {
            continue;
        };
        let keys: Vec<SubscriberKey> = scan
            .subscribers
            .iter()
            .filter_map(proto_subscriber_key)
            .collect();
        if keys.iter().any(|k| due_keys.contains(k)) {
            covered.extend(keys);
            out.push(DueTask {
                namespace: task_namespace(&active.task),
                task: active.task.clone(),
            });
        }
        if active.in_flight {
            in_flight_keys.insert(&scan.scan_key);
        }
    }
    let digests = digests_by_reference(observed);
    let mut groups: BTreeMap<String, (BTreeSet<String>, Vec<&DueContainer>)> = BTreeMap::new();
    for d in due.iter().filter(|d| !covered.contains(&subscriber_key(d))) {
        let reference = normalized(d.image);
        let key = scan_key(observed, &digests, d, &reference);
        let group = groups.entry(key).or_default();
        group.0.insert(reference);
        group.1.push(d);
    }
    for (key, (references, mut members)) in groups {
        // A scan of the same image may be known by its digest or by its reference (planned
        // before any Pod reported the digest): either counts.
        let aliases: BTreeSet<&str> = std::iter::once(key.as_str())
            .chain(references.iter().map(String::as_str))
            .collect();
        if aliases.iter().any(|a| in_flight_keys.contains(a)) {
            continue; // wait for the running scan of this image, then copy its result
        }
        members.sort_by(|a, b| {
            (&a.workload.namespace, &a.workload.name, a.container).cmp(&(
                &b.workload.namespace,
                &b.workload.name,
                b.container,
            ))
        });
        let source = fresh_source(observed, &aliases, policy);
        out.push(scan_task(&key, &members, source));
    }
    out.sort_by(|a, b| a.task.task_id.cmp(&b.task.task_id));
    out
}

fn due_containers<'a>(
    observed: &'a Observed,
    scope: &'a Scope,
    policy: ScanPolicy,
) -> Vec<DueContainer<'a>> {
    let mut due = Vec::new();
    for workload in scanned_workloads(observed, scope) {
        let reports = observed.vuln_reports.get(&workload.uid);
        for container in &workload.containers {
            let report = reports.and_then(|r| {
                r.values()
                    .find(|v| v.container.as_deref() == Some(container.name.as_str()))
            });
            let fresh = report.is_some_and(|r| {
                r.spec_hash.as_deref() == Some(workload.spec_hash.as_str()) && is_fresh(r, policy)
            });
            if !fresh {
                due.push(DueContainer {
                    workload,
                    container: &container.name,
                    image: &container.image,
                });
            }
        }
    }
    due
}

/// Whether a report's scan is younger than the TTL (always, without a TTL).
fn is_fresh(report: &VulnReportMeta, policy: ScanPolicy) -> bool {
    match policy.ttl {
        None => true,
        Some(ttl) => report.scanned_at.is_some_and(|at| {
            jiff::SignedDuration::try_from(ttl)
                .is_ok_and(|ttl| at.checked_add(ttl).is_ok_and(|expiry| expiry > policy.now))
        }),
    }
}

/// The normalized form of an image reference (as written, if it does not parse).
fn normalized(image: &str) -> String {
    ImageRef::parse(image).map_or_else(|_| image.to_string(), |r| r.normalized())
}

/// Digests Pods reported, by the normalized image reference of their container, so that a
/// workload whose Pods have not reported yet shares the key of one whose Pods have.
fn digests_by_reference(observed: &Observed) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for workload in observed.workloads.values() {
        let Some(ids) = observed.image_ids.get(&workload.uid) else {
            continue;
        };
        for container in &workload.containers {
            if let Some(id) = ids.get(&container.name) {
                out.entry(normalized(&container.image))
                    .or_insert_with(|| id.clone());
            }
        }
    }
    out
}

/// The dedupe key of a container's image: its digest when a Pod reported one (its own, or
/// another workload's with the same reference), else the normalized reference.
fn scan_key(
    observed: &Observed,
    digests: &HashMap<String, String>,
    due: &DueContainer,
    reference: &str,
) -> String {
    observed
        .image_ids
        .get(&due.workload.uid)
        .and_then(|ids| ids.get(due.container))
        .or_else(|| digests.get(reference))
        .cloned()
        .unwrap_or_else(|| reference.to_string())
}

/// A fresh report of the same image (by any of its keys) to copy, chosen deterministically.
fn fresh_source<'a>(
    observed: &'a Observed,
    aliases: &BTreeSet<&str>,
    policy: ScanPolicy,
) -> Option<&'a VulnReportMeta> {
    observed
        .vuln_reports
        .values()
        .flat_map(|r| r.values())
        .filter(|r| r.scan_key.as_deref().is_some_and(|k| aliases.contains(k)))
        .filter(|r| r.scanned_at.is_some() && is_fresh(r, policy))
        .min_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
}

fn subscriber_key(d: &DueContainer) -> SubscriberKey {
    (
        d.workload.uid.clone(),
        d.container.to_string(),
        d.workload.spec_hash.clone(),
    )
}

fn proto_subscriber_key(s: &proto::ScanSubscriber) -> Option<SubscriberKey> {
    let uid = s.workload.as_ref()?.uid.clone();
    Some((uid, s.container_name.clone(), s.resource_spec_hash.clone()))
}

/// The namespace a scan task is sharded by: its first subscriber's.
fn task_namespace(task: &proto::Task) -> String {
    task.scan
        .as_ref()
        .and_then(|s| s.subscribers.first())
        .and_then(|s| s.workload.as_ref())
        .map(|w| w.namespace.clone())
        .unwrap_or_default()
}

fn scan_task(key: &str, members: &[&DueContainer], source: Option<&VulnReportMeta>) -> DueTask {
    let subscribers: Vec<proto::ScanSubscriber> = members
        .iter()
        .map(|d| proto::ScanSubscriber {
            workload: Some(workload_ref(d.workload)),
            container_name: d.container.to_string(),
            resource_spec_hash: d.workload.spec_hash.clone(),
            image: d.image.to_string(),
        })
        .collect();
    let who: BTreeSet<String> = members
        .iter()
        .map(|d| {
            format!(
                "{}/{}/{}",
                d.workload.uid, d.container, d.workload.spec_hash
            )
        })
        .collect();
    let who = who.into_iter().collect::<Vec<_>>().join(",");
    let prefix = if source.is_some() { "copy" } else { "scan" };
    let task_id = format!("{prefix}/{}/{}", short_hash(key), short_hash(&who));
    let namespace = members
        .first()
        .map(|d| d.workload.namespace.clone())
        .unwrap_or_default();
    let image = members
        .first()
        .map(|d| d.image.to_string())
        .unwrap_or_default();
    DueTask {
        namespace,
        task: proto::Task {
            task_id,
            kind: proto::TaskKind::VulnerabilityScan as i32,
            scan: Some(proto::ScanTarget {
                scan_key: key.to_string(),
                image,
                subscribers,
                source_report_namespace: source.map(|s| s.namespace.clone()).unwrap_or_default(),
                source_report_name: source.map(|s| s.name.clone()).unwrap_or_default(),
            }),
            ..Default::default()
        },
    }
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
mod tests;
