//! Vulnerability scans: one scan Job per image (or a copy of a fresh report of the same
//! image), then one VulnerabilityReport per subscribing workload container.
//!
//! [`run`] is the entry point. The pure parts are [`job`] (the Job manifest), [`reports`]
//! (the report of each subscriber) and [`trim`] (the size limit); [`runner`] creates or
//! adopts the Job, waits for it with a watch, reads the scan container's log and deletes the
//! Job; [`credentials`] passes private registry credentials; [`events`] records failures
//! on the workloads. `copy` reads a fresh report to copy instead of scanning, `write`
//! writes each subscriber's report, [`per_image`] is the per-image storage mode, and
//! `settings` and `error` hold what a scan needs and why it failed.

mod args;
pub mod bom;
mod companions;
pub(crate) mod container_parts;
mod copy;
pub mod credentials;
pub mod detail;
mod error;
pub mod events;
pub mod job;
pub mod per_image;
pub mod registry_secrets;
pub mod reports;
pub mod runner;
pub mod sbom;
mod scanners;
pub mod secrets;
pub mod server;
mod settings;
pub mod trim;
mod write;

use std::collections::BTreeMap;

use common::proto;
use common::reports::exposed_secret::ExposedSecretReportData;
use common::reports::vulnerability::VulnerabilityReportData;
use common::trivy::ImageRef;
use kube::Client;

pub use args::ScanArgs;
pub use error::Error;
pub use settings::{JobResources, ScanSettings};

use crate::task::{ScanSource, ScanTask, Subscriber};
use copy::copy_source;
use write::{described, write};

/// Field manager of every report write.
pub const FIELD_MANAGER: &str = "trivy-operator";

/// What a scan task achieved: the reports written (possibly only some, when the scan of
/// one credential identity failed) and the first failure, if any.
#[derive(Debug, Default)]
pub struct Outcome {
    pub written: Vec<proto::WrittenReport>,
    pub error: Option<Error>,
}

/// Runs the scan of `task` and writes one VulnerabilityReport per subscriber; returns the
/// reports written, as `namespace/name`, or the first failure.
pub async fn run(
    client: &Client,
    settings: &ScanSettings,
    task: &ScanTask,
) -> Result<Vec<String>, Error> {
    let outcome = run_task(client, settings, task).await;
    match outcome.error {
        Some(error) => Err(error),
        None => Ok(outcome
            .written
            .iter()
            .map(|w| format!("{}/{}", w.namespace, w.name))
            .collect()),
    }
}

/// Runs the scan of `task` and writes one VulnerabilityReport per subscriber, trusting the
/// leader's view of the workloads (a report whose owner is gone is garbage-collected).
///
/// Subscribers are scanned per credential identity: those whose pull secrets hold no
/// credentials for the image's registry share one anonymous scan (the only reports the
/// leader copies to other workloads); each set of credentials gets its own scan Job, run
/// one after another in the task's one scan slot, so one namespace's credentials never
/// serve another namespace, and one subscriber without them never fails the others.
///
/// On failure no report is written for the subscribers concerned, their Job (if any) is
/// deleted, and a Warning Event with [`Error::reason`] is published on each of their
/// workloads (best effort).
#[tracing::instrument(skip_all, fields(task = %task.task_id, image = %task.image))]
pub async fn run_task(client: &Client, settings: &ScanSettings, task: &ScanTask) -> Outcome {
    let image = match ImageRef::parse(&task.image) {
        Ok(image) => image,
        Err(source) => {
            let error = Error::InvalidImage {
                image: task.image.clone(),
                source,
            };
            let all: Vec<&Subscriber> = task.subscribers.iter().collect();
            return failed(client, settings, &all, error).await;
        }
    };
    let reference = image.normalized();
    let mut outcome = Outcome::default();
    // The image report a copied report names (per-image mode): written already.
    let mut existing_image_report = None;
    let all = || task.subscribers.iter().collect::<Vec<_>>();
    let groups = match &task.source {
        ScanSource::Copy {
            namespace,
            name,
            resource_version,
            secret,
            sbom,
        } => {
            let source = copy::Source {
                namespace,
                name,
                resource_version,
                secret: secret.as_ref(),
                sbom: sbom.as_ref(),
            };
            let copied = copy_source(client, task, source).await.map(|copied| {
                existing_image_report = copied.image_report;
                copied.found
            });
            vec![(true, task.scan_key.clone(), all(), copied)]
        }
        ScanSource::Job => image_scans(client, settings, task, &image).await,
        ScanSource::StoredBom(stored) => {
            match bom::rescan(client, settings, task, &image, stored).await {
                // Like a copy: every subscriber gets the scan of the image's content.
                Some(scanned) => vec![(true, task.scan_key.clone(), all(), scanned)],
                None => image_scans(client, settings, task, &image).await,
            }
        }
    };
    for (shareable, job_key, members, scanned) in groups {
        let Found {
            vulnerabilities: mut base,
            secrets,
            sbom,
            scanned_at,
            key_only,
        } = match scanned {
            Ok(found) => found,
            Err(error) => {
                let partial = failed(client, settings, &members, error).await;
                outcome.error = outcome.error.or(partial.error);
                continue;
            }
        };
        settings.detail.apply(&mut base);
        if task.summary_only {
            // The summary counts what the scan found; the list is left out.
            base.vulnerabilities.clear();
        }
        let image_report = if task.per_image && !task.summary_only {
            match image_report_of(
                client,
                task,
                &job_key,
                &base,
                scanned_at,
                &mut existing_image_report,
            )
            .await
            {
                Ok(name) => Some(name),
                Err(error) => {
                    let partial = failed(client, settings, &members, error).await;
                    outcome.error = outcome.error.or(partial.error);
                    continue;
                }
            }
        } else {
            None
        };
        for s in members {
            let mut data = reports::for_subscriber(&base, s, &image);
            if image_report.is_some() {
                data = per_image::workload_data(data, &settings.detail.per_image_keep);
            }
            let mut report =
                reports::vulnerability_report(s, &task.scan_key, data, scanned_at, settings);
            if task.summary_only {
                common::reports::gauge::mark_summary_only(&mut report.metadata);
            }
            if let Some(name) = &image_report {
                per_image::refer(&mut report, name);
            }
            trim::trim_report(&mut report, trim::MAX_REPORT_BYTES);
            common::reports::gauge::annotate_vulnerability_report(&mut report);
            let written = match write(client, s, &mut report).await {
                Ok(resource_version) => {
                    let summary = &report.report.summary;
                    tracing::info!(
                        report = report.metadata.name.as_deref().unwrap_or_default(),
                        namespace = %s.workload.namespace,
                        workload = %described(s),
                        critical = summary.critical_count,
                        high = summary.high_count,
                        "vulnerability report written"
                    );
                    proto::WrittenReport {
                        namespace: s.workload.namespace.clone(),
                        name: report.metadata.name.clone().unwrap_or_default(),
                        resource_version,
                        scan_key: task.scan_key.clone(),
                        // A summary-only report has no list to copy: copying it would give
                        // other workloads an empty list (and, recounted, a zero summary).
                        shareable: shareable && !task.summary_only,
                        scanned_at_unix: scanned_at.as_second(),
                        workload_uid: s.workload.uid.clone(),
                        container_name: s.container_name.clone(),
                        resource_spec_hash: s.spec_hash.clone(),
                        image_reference: if key_only {
                            String::new()
                        } else {
                            reference.clone()
                        },
                        // Filled in by the reports written beside it.
                        ..Default::default()
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, reason = error.reason(), "writing a vulnerability report failed");
                    outcome.error = outcome.error.or(Some(error));
                    continue;
                }
            };
            let beside = companions::Beside {
                secrets: secrets.as_ref(),
                sbom: sbom.as_ref(),
                vulnerabilities: &report.report,
                image: &image,
                scan: (&task.scan_key, scanned_at),
                summary_only: task.summary_only,
            };
            let (written, error) = companions::write(client, settings, s, &beside, written).await;
            outcome.error = outcome.error.or(error);
            outcome.written.push(written);
        }
    }
    outcome
}

/// One scan of the task's image per credential identity: whether its reports may be
/// shared, its Job key, its subscribers and what it found.
async fn image_scans<'a>(
    client: &Client,
    settings: &ScanSettings,
    task: &'a ScanTask,
    image: &ImageRef,
) -> Vec<(bool, String, Vec<&'a Subscriber>, Result<Found, Error>)> {
    let mut groups = Vec::new();
    for (identity, (credentials, members)) in
        credential_groups(client, &settings.registry_secrets, task, image.registry()).await
    {
        let job_key = credentials::job_key(&task.scan_key, identity.as_deref());
        let scanned = scan_image(
            client,
            settings,
            task,
            &job_key,
            image,
            credentials.as_ref(),
        )
        .await;
        groups.push((identity.is_none(), job_key, members, scanned));
    }
    groups
}

/// What one scan (or a copied source) found.
struct Found {
    vulnerabilities: VulnerabilityReportData,
    /// `None` when the task does not want secrets.
    secrets: Option<ExposedSecretReportData>,
    /// `None` when the task does not want an SBOM.
    sbom: Option<common::reports::sbom::Bom>,
    scanned_at: jiff::Timestamp,
    /// What was found is offered as a copy source under the scan key only, not under the
    /// image reference as it resolves now: it was not found by scanning that reference now
    /// (a copy, a rescan of a stored SBOM), so the reference's source must not look fresher
    /// than the scan of it.
    key_only: bool,
}

/// The name of the image report of this group's scan (per-image mode): the one the copied
/// report names, else one written now from `base`.
async fn image_report_of(
    client: &Client,
    task: &ScanTask,
    job_key: &str,
    base: &VulnerabilityReportData,
    scanned_at: jiff::Timestamp,
    existing: &mut Option<String>,
) -> Result<String, Error> {
    if let Some(name) = existing.take() {
        return Ok(name);
    }
    let report = per_image::image_report(job_key, &task.scan_key, base.clone(), scanned_at);
    per_image::write(client, &report).await
}

/// Logs a failure and publishes it on the workloads of `members`.
async fn failed(
    client: &Client,
    settings: &ScanSettings,
    members: &[&Subscriber],
    error: Error,
) -> Outcome {
    tracing::warn!(%error, reason = error.reason(), "vulnerability scan failed");
    events::publish_failure(client, settings, members, &error).await;
    Outcome {
        written: Vec::new(),
        error: Some(error),
    }
}

/// Runs the scan Job of `job_key` and turns Trivy's output into report data.
async fn scan_image(
    client: &Client,
    settings: &ScanSettings,
    task: &ScanTask,
    job_key: &str,
    image: &ImageRef,
    credentials: Option<&credentials::RegistryCredentials>,
) -> Result<Found, Error> {
    let scanners = job::Scanners::of(task.secrets, task.sbom);
    let input = runner::JobInput {
        scan_key: job_key,
        image: &task.image,
        credentials,
        bom: None,
    };
    let output = runner::scan(client, settings, input, scanners).await?;
    let mut found = found(&output.report, image, settings, task.secrets);
    found.sbom = output.sbom;
    Ok(found)
}

/// What Trivy's `report` of `image` found, now (the secrets only with `secrets`).
fn found(
    report: &common::trivy::TrivyReport,
    image: &ImageRef,
    settings: &ScanSettings,
    secrets: bool,
) -> Found {
    let scanner = common::reports::Scanner::trivy(settings.trivy_version.clone());
    let now = jiff::Timestamp::now();
    Found {
        vulnerabilities: common::trivy::to_report_data(report, image, scanner.clone(), now),
        secrets: secrets.then(|| common::trivy::to_secret_data(report, image, scanner, now)),
        sbom: None,
        scanned_at: now,
        key_only: false,
    }
}

/// The subscribers by credential identity (`None`: anonymous, first), with the credentials.
/// A subscriber whose pull secrets cannot be read, or hold nothing for the registry, is
/// scanned anonymously (public images still scan).
async fn credential_groups<'a>(
    client: &Client,
    source: &registry_secrets::SecretSource,
    task: &'a ScanTask,
    registry: &str,
) -> BTreeMap<
    Option<String>,
    (
        Option<credentials::RegistryCredentials>,
        Vec<&'a Subscriber>,
    ),
> {
    let mut groups: BTreeMap<Option<String>, (Option<_>, Vec<&Subscriber>)> = BTreeMap::new();
    let mut known: BTreeMap<(String, Vec<String>), Option<credentials::Found>> = BTreeMap::new();
    for s in &task.subscribers {
        let found = if let Some(cache_key) =
            source.secrets_for(&s.workload.namespace, &s.pull_secrets)
        {
            if !known.contains_key(&cache_key) {
                let (namespace, names) = &cache_key;
                let found = match credentials::lookup(client, namespace, names, registry).await {
                    Ok(found) => found,
                    Err(error) => {
                        tracing::warn!(%error, workload = %described(s), "could not read image pull secrets");
                        None
                    }
                };
                known.insert(cache_key.clone(), found);
            }
            known.get(&cache_key).cloned().flatten()
        } else {
            None
        };
        let (identity, credentials) = match found {
            Some(found) => (Some(found.identity), Some(found.credentials)),
            None => (None, None),
        };
        groups
            .entry(identity)
            .or_insert_with(|| (credentials, Vec::new()))
            .1
            .push(s);
    }
    groups
}
