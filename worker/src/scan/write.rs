//! Writing a subscriber's reports (VulnerabilityReport, ExposedSecretReport) with
//! server-side apply.

use common::retry;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Error, FIELD_MANAGER};
use crate::task::Subscriber;

/// A namespaced report kind a scan writes.
pub(super) trait Report:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Serialize
    + DeserializeOwned
    + Clone
    + std::fmt::Debug
{
}

impl<K> Report for K where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug
{
}

async fn apply_report<K: Report>(
    api: &Api<K>,
    name: &str,
    params: &PatchParams,
    report: &K,
) -> Result<K, kube::Error> {
    let patch = Patch::Apply(report);
    retry::idempotent("write report", || api.patch(name, params, &patch)).await
}

/// Whether the API server refused a write because the report already has another
/// workload as its controller.
fn is_name_taken(status: &kube::core::Status) -> bool {
    status.code == 422
        && status
            .message
            .contains("Only one reference can have Controller set to true")
}

pub(super) fn described(s: &Subscriber) -> String {
    let w = &s.workload;
    format!("{} {}/{}", w.kind.as_str(), w.namespace, w.name)
}

/// Writes the report with server-side apply, without reading anything first; returns the
/// resourceVersion the write produced.
///
/// Each workload writes as its own field manager, so a report of another workload under the
/// same name keeps that workload's owner reference: the API server then refuses the write
/// (two controller owners), and the report is written under
/// [`vulnerability_report_fallback_name`](common::names::vulnerability_report_fallback_name)
/// instead (`report`'s name says which was used). The leader sends that name with later
/// scans, so the workload keeps one report.
pub(super) async fn write<K: Report>(
    client: &Client,
    s: &Subscriber,
    report: &mut K,
) -> Result<String, Error> {
    let namespace = &s.workload.namespace;
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let manager = format!("{FIELD_MANAGER}/{}", s.workload.uid);
    let apply = PatchParams::apply(&manager).force();
    let mut name = report.meta().name.clone().unwrap_or_default();
    let mut result = apply_report(&api, &name, &apply, report).await;
    if let Err(kube::Error::Api(status)) = &result
        && is_name_taken(status)
    {
        let w = &s.workload;
        let fallback = common::names::vulnerability_report_fallback_name(
            w.kind.as_str(),
            &w.name,
            &s.container_name,
        );
        tracing::warn!(report = %name, %fallback, workload = %described(s), "the report name belongs to another workload; writing under the fallback name");
        name = fallback;
        report.meta_mut().name = Some(name.clone());
        result = apply_report(&api, &name, &apply, report).await;
    }
    let written = result.map_err(|source| Error::WriteReport {
        namespace: namespace.clone(),
        name: name.clone(),
        source,
    })?;
    Ok(written.meta().resource_version.clone().unwrap_or_default())
}
