//! Copying a fresh report of the same image instead of scanning it again.

use common::reports::vulnerability::{VulnerabilityReport, VulnerabilityReportData};
use common::retry;
use kube::{Api, Client};

use super::{Error, per_image, reports};

/// The `report` of the source VulnerabilityReport and its scan time, if the report is
/// still the one this operator wrote (same resourceVersion). In per-image mode, a source
/// that names its image report gives that report's whole list (and, in per-image mode, its
/// name, to refer to).
pub(super) async fn copy_source(
    client: &Client,
    namespace: &str,
    name: &str,
    resource_version: &str,
    per_image: bool,
) -> Result<(VulnerabilityReportData, jiff::Timestamp, Option<String>), Error> {
    let api: Api<VulnerabilityReport> = Api::namespaced(client.clone(), namespace);
    let source = retry::idempotent("read source report", || api.get_opt(name))
        .await
        .map_err(|source| Error::ReadSourceReport {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            source,
        })?
        .ok_or_else(|| Error::SourceReportGone {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })?;
    if !resource_version.is_empty()
        && source.metadata.resource_version.as_deref() != Some(resource_version)
    {
        return Err(Error::SourceReportChanged {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
    }
    let scanned_at = reports::scanned_at(&source)
        .unwrap_or(source.report.update_timestamp)
        .min(jiff::Timestamp::now());
    match per_image::referred(&source) {
        // Its own list is only a share: the whole one is in the image report (also when
        // the mode was switched back to the default since).
        Some(image_report) => {
            let image = per_image::read(client, image_report).await?;
            Ok((
                image.report,
                scanned_at,
                per_image.then(|| image_report.to_owned()),
            ))
        }
        // A source written in the default mode holds the whole list itself.
        None => Ok((source.report, scanned_at, None)),
    }
}
