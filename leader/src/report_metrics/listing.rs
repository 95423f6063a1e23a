//! The report gauges from listing the reports (when the watches cannot tell): every kind
//! listed in pages of [`PAGE`], read through slim views, a kind whose CRD is not installed
//! counted as empty.

use kube::Api;
use kube::api::ListParams;
use serde::de::DeserializeOwned;

use common::reports::infra_assessment::{ClusterInfraAssessmentReport, InfraAssessmentReport};
use common::reports::rbac_assessment::{ClusterRbacAssessmentReport, RbacAssessmentReport};

use super::{ConfigAuditView, Error, ReportGauges, SecretView, VulnerabilityView};

/// Reports per list request.
const PAGE: u32 = 500;

/// Lists the reports (all namespaces when `namespaces` is empty, else only those) and
/// renders both gauge families.
pub async fn render(
    client: &kube::Client,
    namespaces: &[String],
    secrets: bool,
) -> Result<String, Error> {
    let mut gauges = ReportGauges::default();
    for api in apis::<VulnerabilityView>(client, namespaces) {
        for_each(&api, |r| gauges.add_vulnerability(r))
            .await
            .map_err(|source| Error::List {
                kind: "VulnerabilityReport",
                source: Box::new(source),
            })?;
    }
    for api in apis::<ConfigAuditView>(client, namespaces) {
        for_each(&api, |r| gauges.add_config_audit(r))
            .await
            .map_err(|source| Error::List {
                kind: "ConfigAuditReport",
                source: Box::new(source),
            })?;
    }
    for api in apis::<SecretView>(client, namespaces)
        .into_iter()
        .filter(|_| secrets)
    {
        let listed = for_each(&api, |r| gauges.add_secret(r)).await;
        tolerate_missing_crd(listed, "ExposedSecretReport")?;
    }
    // Cluster-scoped: every node's report, whatever namespaces are scanned; they come first
    // (no namespace).
    let nodes: Api<ClusterInfraAssessmentReport> = Api::all(client.clone());
    let listed = for_each(&nodes, |r| gauges.add_infra_assessment(r)).await;
    tolerate_missing_crd(listed, "ClusterInfraAssessmentReport")?;
    for api in apis::<InfraAssessmentReport>(client, namespaces) {
        let listed = for_each(&api, |r| gauges.add_namespaced_infra_assessment(r)).await;
        tolerate_missing_crd(listed, "InfraAssessmentReport")?;
    }
    for api in apis::<RbacAssessmentReport>(client, namespaces) {
        let listed = for_each(&api, |r| gauges.add_rbac_assessment(r)).await;
        tolerate_missing_crd(listed, "RbacAssessmentReport")?;
    }
    // Cluster-scoped, whatever namespaces are scanned.
    let cluster_roles: Api<ClusterRbacAssessmentReport> = Api::all(client.clone());
    let listed = for_each(&cluster_roles, |r| gauges.add_cluster_rbac_assessment(r)).await;
    tolerate_missing_crd(listed, "ClusterRbacAssessmentReport")?;
    Ok(gauges.finish())
}

/// A listing's result, where a kind whose CRD is not installed (its work is paused
/// meanwhile) has no reports to count.
fn tolerate_missing_crd(listed: Result<(), kube::Error>, kind: &'static str) -> Result<(), Error> {
    match listed {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(Error::List {
            kind,
            source: Box::new(source),
        }),
    }
}

pub(super) fn apis<K>(client: &kube::Client, namespaces: &[String]) -> Vec<Api<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    }
}

/// Calls `each` on every object, one page of [`PAGE`] at a time.
pub(super) async fn for_each<K>(api: &Api<K>, mut each: impl FnMut(&K)) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api.list(&params).await?;
        page.items.iter().for_each(&mut each);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(()),
        }
    }
}
