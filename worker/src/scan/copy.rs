//! Copying a fresh report of the same image instead of scanning it again.

use common::reports::exposed_secret::{ExposedSecretReport, ExposedSecretReportData};
use common::reports::sbom::{Bom, SbomReport};
use common::reports::vulnerability::{VulnerabilityReport, VulnerabilityReportData};
use common::retry;
use kube::{Api, Client};

use super::{Error, per_image, reports};

/// What a copied source gives every subscriber.
pub(super) struct Copied {
    pub(super) vulnerabilities: VulnerabilityReportData,
    /// The source's exposed secrets, when the task wants them.
    pub(super) secrets: Option<ExposedSecretReportData>,
    /// The source's BOM, when the task wants it.
    pub(super) sbom: Option<Bom>,
    pub(super) scanned_at: jiff::Timestamp,
    /// The image report the source names (per-image mode), to refer to.
    pub(super) image_report: Option<String>,
}

/// A source report's name and the resourceVersion this operator's write of it returned.
pub(super) type Pinned<'a> = (&'a str, &'a str);

/// Reads a source report, if it is still the one this operator wrote (same
/// resourceVersion; an empty one is not checked).
async fn read_source<K>(
    client: &Client,
    namespace: &str,
    name: &str,
    resource_version: &str,
) -> Result<K, Error>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + serde::de::DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
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
        && source.meta().resource_version.as_deref() != Some(resource_version)
    {
        return Err(Error::SourceReportChanged {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(source)
}

/// The `report` of the source VulnerabilityReport and its scan time, if the report is
/// still the one this operator wrote. In per-image mode, a source that names its image
/// report gives that report's whole list (and, in per-image mode, its name, to refer to).
/// With `secret` (the source's ExposedSecretReport and its resourceVersion), its secrets
/// too, and with `sbom` (its SbomReport and resourceVersion) its BOM, under the same check.
pub(super) async fn copy_source(
    client: &Client,
    (namespace, name, resource_version): (&str, &str, &str),
    (secret, sbom): (Option<Pinned<'_>>, Option<Pinned<'_>>),
    per_image: bool,
) -> Result<Copied, Error> {
    let source: VulnerabilityReport =
        read_source(client, namespace, name, resource_version).await?;
    let secrets = match secret {
        Some((secret_name, secret_version)) => Some(
            read_source::<ExposedSecretReport>(client, namespace, secret_name, secret_version)
                .await?
                .report,
        ),
        None => None,
    };
    let sbom = match sbom {
        Some((sbom_name, sbom_version)) => Some(
            read_source::<SbomReport>(client, namespace, sbom_name, sbom_version)
                .await?
                .report
                .components,
        ),
        None => None,
    };
    let scanned_at = reports::scanned_at(&source)
        .unwrap_or(source.report.update_timestamp)
        .min(jiff::Timestamp::now());
    let (vulnerabilities, image_report) = match per_image::referred(&source) {
        // Its own list is only a share: the whole one is in the image report (also when
        // the mode was switched back to the default since).
        Some(image_report) => {
            let image = per_image::read(client, image_report).await?;
            (image.report, per_image.then(|| image_report.to_owned()))
        }
        // A source written in the default mode holds the whole list itself.
        None => (source.report, None),
    };
    Ok(Copied {
        vulnerabilities,
        secrets,
        sbom,
        scanned_at,
        image_report,
    })
}
