//! Copying a fresh report of the same image instead of scanning it again.

use common::reports::exposed_secret::ExposedSecretReport;
use common::reports::sbom::SbomReport;
use common::reports::vulnerability::VulnerabilityReport;
use common::retry;
use kube::{Api, Client};

use super::{Error, Found, per_image, reports};
use crate::task::ScanTask;

/// What a copied source gives every subscriber: what its scan found, and the image report
/// the source names (per-image mode), to refer to.
pub(super) struct Copied {
    pub(super) found: Found,
    pub(super) image_report: Option<String>,
}

/// Reads a source report, if it is still the one this operator wrote (same
/// resourceVersion; an empty one is not checked).
pub(super) async fn read_source<K>(
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

/// A source report to copy and what it was written with.
pub(super) struct Source<'a> {
    pub(super) namespace: &'a str,
    pub(super) name: &'a str,
    pub(super) resource_version: &'a str,
    /// Its ExposedSecretReport and the resourceVersion this operator wrote, if any.
    pub(super) secret: Option<&'a (String, String)>,
    /// Its SbomReport and resourceVersion, if any.
    pub(super) sbom: Option<&'a (String, String)>,
}

/// The pinned source report of a kind the task wants (`Err`: the source has none), or
/// `None` when the task does not want that kind.
fn wanted(on: bool, pinned: Option<&(String, String)>) -> Result<Option<(&str, &str)>, ()> {
    match (on, pinned) {
        (false, _) => Ok(None),
        (true, Some((n, v))) => Ok(Some((n.as_str(), v.as_str()))),
        (true, None) => Err(()),
    }
}

/// The `report` of the source VulnerabilityReport and its scan time, if the report is
/// still the one this operator wrote. In per-image mode, a source that names its image
/// report gives that report's whole list (and, in per-image mode, its name, to refer to).
/// The task's secrets and SBOM come from the source's reports of those kinds, under the
/// same check; a source without one the task wants is not copied.
pub(super) async fn copy_source(
    client: &Client,
    task: &ScanTask,
    source: Source<'_>,
) -> Result<Copied, Error> {
    let Source {
        namespace,
        name,
        resource_version,
        ..
    } = source;
    let lacks = |kind| Error::SourceLacksReport {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        kind,
    };
    let secret = wanted(task.secrets, source.secret).map_err(|()| lacks("exposed secret"))?;
    let sbom = wanted(task.sbom, source.sbom).map_err(|()| lacks("sbom"))?;
    let per_image = task.per_image;
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
        found: Found {
            vulnerabilities,
            secrets,
            sbom,
            scanned_at,
            key_only: true,
        },
        image_report,
    })
}
