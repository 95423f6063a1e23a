//! Rescans from a stored SBOM: a rescan by age of an image digest whose SbomReport this
//! operator wrote runs `trivy sbom` on that BOM instead of pulling and analysing the image
//! again (an image's content does not change under its digest; the vulnerabilities of its
//! packages do). The BOM reaches the Job in a Secret the Job owns, mounted read-only at
//! [`BOM_DIR`]; the secrets found by the earlier scan are carried over (a BOM has none to
//! find) and the SBOM is written again as it was. A stored SBOM that is gone, edited since
//! this operator wrote it, trimmed, summary-only or too large for a Secret is not used: the
//! image is scanned as on a first scan.

use std::collections::BTreeMap;

use common::reports::exposed_secret::{ExposedSecretReport, ExposedSecretReportData};
use common::reports::sbom::{Bom, SbomReport};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::ObjectMeta;

use super::copy::read_source;
use super::{Error, Found, ScanSettings, job, runner};
use crate::task::{ScanTask, StoredBom};

/// Where the BOM's Secret is mounted in the scan container.
pub const BOM_DIR: &str = "/bom";
/// The Secret's key holding the BOM (the file name under [`BOM_DIR`]).
pub const BOM_KEY: &str = "bom.json";
/// The BOM as the scan container reads it.
pub const BOM_PATH: &str = "/bom/bom.json";
/// Largest BOM passed in a Secret: the API server refuses Secrets over 1 MiB; the rest is
/// margin for the base64 form within etcd's 1.5 MiB request limit.
pub const MAX_BOM_BYTES: usize = 768 * 1024;

/// The name of the Secret holding the BOM of Job `job`: unique to each Job created
/// (`unique`, e.g. a hash of when it was made), so that a Secret left by an earlier Job of
/// the same name (deleted, its Secret not yet collected) is never taken for this one's.
pub fn secret_name(job: &str, unique: &str) -> String {
    format!("{job}-bom-{unique}")
}

/// The Secret `name` holding `document` for Job `(job, uid)`, owned by it.
pub fn secret(
    namespace: &str,
    name: &str,
    (job, job_uid): (&str, &str),
    document: Vec<u8>,
) -> Secret {
    let data = BTreeMap::from([(BOM_KEY.to_owned(), ByteString(document))]);
    super::credentials::job_secret(namespace, name, (job, job_uid), data)
}

/// Why a stored SBOM is not scanned (the image is, instead).
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// It (or the secret report of the same scan) is gone, changed or unreadable.
    #[error(transparent)]
    Read(Box<Error>),
    /// Trimmed to fit the report size limit: packages may be missing.
    #[error("the stored SBOM was trimmed to fit the report size limit")]
    Trimmed,
    /// Written with its summary only (or its secret report was).
    #[error("the stored reports were written with their summaries only")]
    SummaryOnly,
    /// Larger than a Secret can carry.
    #[error("the stored SBOM is {0} bytes, over the {MAX_BOM_BYTES} bytes a Secret carries")]
    TooLarge(usize),
    /// Recorded as the SBOM of another image digest than the one rescanned.
    #[error("the stored SBOM is of {stored}, not of the digest rescanned ({wanted})")]
    OtherImage { stored: String, wanted: String },
    /// Made by another Trivy version (an upgrade may find more packages): made again.
    #[error("the stored SBOM was made by Trivy {0:?}, the scanner is now another version")]
    OtherScanner(String),
    /// Made too long ago (or when is not known): made again.
    #[error("the stored SBOM was made {0}, longer ago than the rescan limit")]
    TooOld(String),
    /// Not a CycloneDX document Trivy reads.
    #[error("the stored SBOM is not a CycloneDX BOM (bomFormat {0:?})")]
    NotCycloneDx(String),
}

impl From<Error> for Unusable {
    fn from(error: Error) -> Self {
        Self::Read(Box::new(error))
    }
}

/// A usable stored SBOM: the BOM, the document the Job scans, and the secrets of the same
/// scan (when the task wants them).
#[derive(Debug)]
pub struct Stored {
    /// The image digest the SBOM was recorded for, if it recorded one.
    pub digest: Option<String>,
    pub bom: Bom,
    pub document: Vec<u8>,
    pub secrets: Option<ExposedSecretReportData>,
}

/// Whether `meta` marks a report trimmed or summary-only.
fn marked(meta: &ObjectMeta, key: &str) -> bool {
    meta.annotations
        .as_ref()
        .is_some_and(|a| a.get(key).is_some_and(|v| v == "true"))
}

/// The CycloneDX document Trivy scans, from a stored BOM.
pub fn document(bom: &Bom) -> Result<Vec<u8>, Unusable> {
    if bom.bom_format != "CycloneDX" || bom.spec_version.is_empty() {
        return Err(Unusable::NotCycloneDx(bom.bom_format.clone()));
    }
    let document =
        serde_json::to_vec(bom).map_err(|_| Unusable::NotCycloneDx(bom.bom_format.clone()))?;
    if document.len() > MAX_BOM_BYTES {
        return Err(Unusable::TooLarge(document.len()));
    }
    Ok(document)
}

/// Whether a stored SbomReport may be rescanned for `scan_key`: complete, of that digest
/// (when it records one), made by this Trivy version and younger than `max_age` at `now`.
pub fn usable(
    report: &SbomReport,
    scan_key: &str,
    (trivy_version, max_age): (&str, std::time::Duration),
    now: jiff::Timestamp,
) -> Result<(), Unusable> {
    if marked(&report.metadata, common::labels::TRIMMED) {
        return Err(Unusable::Trimmed);
    }
    if marked(&report.metadata, common::reports::gauge::SUMMARY_ONLY) {
        return Err(Unusable::SummaryOnly);
    }
    let wanted = common::trivy::trailing_digest(scan_key);
    if let Some(stored) = &report.report.artifact.digest
        && Some(stored.as_str()) != wanted
    {
        return Err(Unusable::OtherImage {
            stored: stored.clone(),
            wanted: wanted.unwrap_or(scan_key).to_owned(),
        });
    }
    let metadata = report.report.components.metadata.as_ref();
    let made_by = metadata
        .and_then(|m| m.tools.components.iter().find(|t| t.name == "trivy"))
        .map(|t| t.version.clone())
        .unwrap_or_default();
    if made_by != trivy_version {
        return Err(Unusable::OtherScanner(made_by));
    }
    let made = metadata.map_or("", |m| m.timestamp.as_str());
    let young = made.parse::<jiff::Timestamp>().is_ok_and(|at| {
        jiff::SignedDuration::try_from(max_age)
            .is_ok_and(|max| at.checked_add(max).is_ok_and(|until| until > now))
    });
    if !young {
        return Err(Unusable::TooOld(if made.is_empty() {
            "at an unknown time".to_owned()
        } else {
            format!("at {made}")
        }));
    }
    Ok(())
}

/// Reads the stored SBOM (and secret report) the task names, pinned to the
/// resourceVersions this operator wrote, and checks it is [`usable`].
pub async fn read(
    client: &Client,
    settings: &ScanSettings,
    task: &ScanTask,
    stored: &StoredBom,
) -> Result<Stored, Unusable> {
    let namespace = &stored.namespace;
    let (name, version) = &stored.sbom;
    let report: SbomReport = read_source(client, namespace, name, version).await?;
    let limits = (
        settings.trivy_version.as_str(),
        settings.sbom_rescan_max_age,
    );
    usable(&report, &task.scan_key, limits, jiff::Timestamp::now())?;
    let document = document(&report.report.components)?;
    let secrets = match (task.secrets, &stored.secret) {
        (false, _) => None,
        (true, None) => {
            return Err(Error::SourceLacksReport {
                namespace: namespace.clone(),
                name: name.clone(),
                kind: "exposed secret",
            }
            .into());
        }
        (true, Some((secret_name, secret_version))) => {
            let secrets: ExposedSecretReport =
                read_source(client, namespace, secret_name, secret_version).await?;
            if marked(&secrets.metadata, common::reports::gauge::SUMMARY_ONLY) {
                return Err(Unusable::SummaryOnly);
            }
            // Some secrets were left out: carried over, the list would pass for whole.
            if marked(&secrets.metadata, common::labels::TRIMMED) {
                return Err(Unusable::Trimmed);
            }
            Some(secrets.report)
        }
    };
    Ok(Stored {
        digest: report.report.artifact.digest,
        bom: report.report.components,
        document,
        secrets,
    })
}

/// Rescans the task's image from its stored SBOM. `None`: the stored SBOM is not usable,
/// or its scan failed for a reason an image scan may not share; the caller scans the image.
/// A Trivy server that cannot be reached fails the task (an image scan would fail alike).
pub(super) async fn rescan(
    client: &Client,
    settings: &ScanSettings,
    task: &ScanTask,
    image: &common::trivy::ImageRef,
    stored: &StoredBom,
) -> Option<Result<Found, Error>> {
    let usable = match read(client, settings, task, stored).await {
        Ok(usable) => usable,
        Err(why) => {
            tracing::info!(%why, "the stored SBOM is not used; scanning the image");
            return None;
        }
    };
    let output = runner::scan(
        client,
        settings,
        runner::JobInput {
            scan_key: &task.scan_key,
            image: &task.image,
            credentials: None,
            bom: Some(&usable.document),
        },
        job::Scanners::FROM_BOM,
    )
    .await;
    match output {
        Ok(output) => {
            let mut found = super::found(&output.report, image, settings, false);
            // Of the digest's content: a copy source under the digest only.
            found.key_only = true;
            // `trivy sbom` may not know the image's digest; the stored SBOM does.
            let artifact = &mut found.vulnerabilities.artifact;
            if artifact.digest.is_none() {
                artifact.digest = usable.digest.clone();
            }
            // The secrets of the scan the SBOM came from, in a report of this scan's time.
            found.secrets = usable.secrets.filter(|_| task.secrets).map(|mut secrets| {
                secrets.update_timestamp = found.vulnerabilities.update_timestamp;
                secrets
            });
            found.sbom = task.sbom.then_some(usable.bom);
            tracing::info!("rescanned from the stored SBOM");
            Some(Ok(found))
        }
        Err(error @ Error::TrivyServerUnavailable { .. }) => Some(Err(error)),
        Err(error) => {
            tracing::warn!(%error, reason = error.reason(), "scanning the stored SBOM failed; scanning the image");
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bom() -> Bom {
        serde_json::from_value(serde_json::json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "metadata": {"component": {"bom-ref": "x", "type": "container", "name": "alpine:3.10"}},
            "components": [{"bom-ref": "pkg:apk/alpine/musl@1.1.22", "type": "library", "name": "musl", "version": "1.1.22"}]
        }))
        .unwrap()
    }

    #[test]
    fn the_document_is_the_stored_bom_as_cyclonedx_json() {
        let doc: serde_json::Value = serde_json::from_slice(&document(&bom()).unwrap()).unwrap();
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], "1.5");
        assert_eq!(doc["metadata"]["component"]["name"], "alpine:3.10");
        assert_eq!(doc["components"][0]["name"], "musl");
    }

    #[test]
    fn boms_trivy_cannot_read_or_a_secret_cannot_carry_are_not_used() {
        let mut other = bom();
        other.bom_format = "SPDX".into();
        assert!(matches!(document(&other), Err(Unusable::NotCycloneDx(_))));
        let mut huge = bom();
        let one = huge.components[0].clone();
        huge.components = vec![one; 10_000];
        assert!(matches!(document(&huge), Err(Unusable::TooLarge(n)) if n > MAX_BOM_BYTES));
    }

    fn stored(digest: Option<&str>, made: &str, by: &str) -> SbomReport {
        let mut bom = bom();
        let metadata = bom.metadata.get_or_insert_with(Default::default);
        metadata.timestamp = made.into();
        metadata.tools.components = vec![
            serde_json::from_value(serde_json::json!({
                "type": "application", "group": "aquasecurity", "name": "trivy", "version": by
            }))
            .unwrap(),
        ];
        let mut report = SbomReport::default();
        report.report.components = bom;
        report.report.artifact.digest = digest.map(str::to_owned);
        report
    }

    #[test]
    fn only_a_whole_recent_sbom_of_the_digest_by_this_trivy_is_rescanned() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let key = format!("docker.io/library/alpine@{digest}");
        let now: jiff::Timestamp = "2026-12-02T12:00:00Z".parse().unwrap();
        let week = std::time::Duration::from_secs(7 * 24 * 3600);
        let limits = ("0.58.1", week);
        let good = stored(Some(&digest), "2026-12-01T12:00:00+00:00", "0.58.1");
        assert!(usable(&good, &key, limits, now).is_ok());
        // A bare image ID key, and a BOM that records no digest.
        assert!(usable(&good, &digest, limits, now).is_ok());
        let unknown = stored(None, "2026-12-01T12:00:00+00:00", "0.58.1");
        assert!(usable(&unknown, &key, limits, now).is_ok());
        // Another image's, another Trivy's, too old, of unknown age.
        let other = stored(
            Some(&format!("sha256:{}", "b".repeat(64))),
            "2026-12-01T12:00:00Z",
            "0.58.1",
        );
        assert!(matches!(
            usable(&other, &key, limits, now),
            Err(Unusable::OtherImage { .. })
        ));
        let upgraded = stored(Some(&digest), "2026-12-01T12:00:00Z", "0.57.0");
        assert!(
            matches!(usable(&upgraded, &key, limits, now), Err(Unusable::OtherScanner(v)) if v == "0.57.0")
        );
        let old = stored(Some(&digest), "2026-11-20T12:00:00Z", "0.58.1");
        assert!(matches!(
            usable(&old, &key, limits, now),
            Err(Unusable::TooOld(_))
        ));
        let undated = stored(Some(&digest), "", "0.58.1");
        assert!(matches!(
            usable(&undated, &key, limits, now),
            Err(Unusable::TooOld(_))
        ));
        // Trimmed or summary-only: packages may be missing.
        let mut trimmed = good.clone();
        trimmed.metadata.annotations =
            Some([(common::labels::TRIMMED.to_owned(), "true".to_owned())].into());
        assert!(matches!(
            usable(&trimmed, &key, limits, now),
            Err(Unusable::Trimmed)
        ));
        let mut summary = good;
        summary.metadata.annotations = Some(
            [(
                common::reports::gauge::SUMMARY_ONLY.to_owned(),
                "true".to_owned(),
            )]
            .into(),
        );
        assert!(matches!(
            usable(&summary, &key, limits, now),
            Err(Unusable::SummaryOnly)
        ));
    }

    #[test]
    fn the_secret_is_owned_by_its_job_and_holds_the_bom() {
        let name = secret_name("scan-vulnerabilityreport-abc", "f00d");
        let s = secret(
            "trivy-system",
            &name,
            ("scan-vulnerabilityreport-abc", "uid-1"),
            b"{}".to_vec(),
        );
        assert_eq!(
            s.metadata.name.as_deref(),
            Some("scan-vulnerabilityreport-abc-bom-f00d")
        );
        let owner = &s.metadata.owner_references.unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Job", "uid-1"));
        assert_eq!(s.data.unwrap()[BOM_KEY].0, b"{}");
    }
}
