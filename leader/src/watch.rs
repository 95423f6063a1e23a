//! Watches that keep [`Observed`](crate::observed::Observed) up to date. Each watch reduces
//! objects to compact records at once (metadata-only where labels suffice); a re-list
//! removes what disappeared while the watch was down.

use std::collections::HashSet;
use std::sync::Arc;

use common::reports::config_audit::{ClusterConfigAuditReport, ConfigAuditReport};
use common::reports::exposed_secret::ExposedSecretReport;
use common::reports::image_vulnerability::ImageVulnerabilityReport;
use common::reports::infra_assessment::{ClusterInfraAssessmentReport, InfraAssessmentReport};
use common::reports::rbac_assessment::{ClusterRbacAssessmentReport, RbacAssessmentReport};
use common::reports::sbom::SbomReport;
use common::reports::vulnerability::VulnerabilityReport;
use common::resources::workload_api_resource;
use common::workload::WorkloadKind;
use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use tokio_util::sync::CancellationToken;

use crate::observed::{Companion, Observed};
use crate::state::Shared;

mod folds;

use folds::{
    AccountFold, AuditReportFold, CompanionFold, DeploymentFold, ImageReportFold, NamespaceFold,
    VulnReportFold, WorkloadFold,
};

/// Names of the watches planning waits for.
pub fn required_syncs() -> &'static [String] {
    // Read by every control round: built once.
    static NAMES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        let fixed = [
            "namespaces",
            "deployments",
            AUDIT_REPORTS,
            INFRA_REPORTS,
            "vuln-reports",
            "service-accounts",
        ];
        let mut names: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
        names.extend(
            WorkloadKind::ALL
                .iter()
                .map(|k| format!("workloads/{}", k.as_str())),
        );
        names
    });
    &NAMES
}

/// The watch of ConfigAuditReports: the workloads' and the other audited objects'.
pub(crate) const AUDIT_REPORTS: &str = "audit-reports";

/// The watches of report kinds, whose CRDs can be deleted while the operator runs.
pub(crate) const REPORT_WATCHES: [&str; 2] = [AUDIT_REPORTS, "vuln-reports"];

/// The watch of the control-plane components' InfraAssessmentReports (in `kube-system`);
/// while their CRD is missing, the components' config audits go on without them.
pub(crate) const INFRA_REPORTS: &str = "infra-reports";

/// The watch of ImageVulnerabilityReports, run in the per-image storage mode only; its CRD
/// missing pauses scans as the VulnerabilityReport CRD's does.
pub(crate) const IMAGE_REPORTS: &str = "image-reports";

/// Whether a watch's resource is a report kind whose CRD may be missing. The watches of the
/// reports written beside VulnerabilityReports (`Companion::watch`) run only when those are
/// written; a missing CRD of theirs pauses scans as the VulnerabilityReport CRD's does.
fn is_report_watch(name: &str) -> bool {
    REPORT_WATCHES.contains(&name)
        || name == INFRA_REPORTS
        || name == crate::nodes::REPORTS_WATCH
        || name == crate::objects::REPORTS_WATCH
        || name == crate::objects::CLUSTER_REPORTS_WATCH
        || name == crate::objects::CLUSTER_AUDIT_REPORTS_WATCH
        || name == IMAGE_REPORTS
        || Companion::ALL.iter().any(|c| c.watch() == name)
}

/// How often a missing report CRD is looked for.
const CRD_PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// While a report CRD is missing, lists its resource (one item) every few seconds: a watch
/// that resumes after the CRD is back may see no event for a long time, so its success is
/// not what says the kind is served again.
fn spawn_crd_probe(client: Client, shared: Arc<Shared>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                () = tokio::time::sleep(CRD_PROBE_INTERVAL) => {}
            }
            let missing: Vec<String> = shared
                .lock()
                .observed
                .missing_crds
                .iter()
                .cloned()
                .collect();
            for name in missing {
                let params = kube::api::ListParams::default().limit(1);
                let served = match name.as_str() {
                    AUDIT_REPORTS => Api::<ConfigAuditReport>::all(client.clone())
                        .list_metadata(&params)
                        .await
                        .is_ok(),
                    "vuln-reports" => Api::<VulnerabilityReport>::all(client.clone())
                        .list_metadata(&params)
                        .await
                        .is_ok(),
                    INFRA_REPORTS => Api::<InfraAssessmentReport>::namespaced(
                        client.clone(),
                        common::workload::CONTROL_PLANE_NAMESPACE,
                    )
                    .list_metadata(&params)
                    .await
                    .is_ok(),
                    IMAGE_REPORTS => Api::<ImageVulnerabilityReport>::all(client.clone())
                        .list_metadata(&params)
                        .await
                        .is_ok(),
                    crate::nodes::REPORTS_WATCH => {
                        Api::<ClusterInfraAssessmentReport>::all(client.clone())
                            .list_metadata(&params)
                            .await
                            .is_ok()
                    }
                    crate::objects::REPORTS_WATCH => {
                        Api::<RbacAssessmentReport>::all(client.clone())
                            .list_metadata(&params)
                            .await
                            .is_ok()
                    }
                    crate::objects::CLUSTER_REPORTS_WATCH => {
                        Api::<ClusterRbacAssessmentReport>::all(client.clone())
                            .list_metadata(&params)
                            .await
                            .is_ok()
                    }
                    crate::objects::CLUSTER_AUDIT_REPORTS_WATCH => {
                        Api::<ClusterConfigAuditReport>::all(client.clone())
                            .list_metadata(&params)
                            .await
                            .is_ok()
                    }
                    name if name == Companion::Secret.watch() => {
                        Api::<ExposedSecretReport>::all(client.clone())
                            .list_metadata(&params)
                            .await
                            .is_ok()
                    }
                    name if name == Companion::Sbom.watch() => {
                        Api::<SbomReport>::all(client.clone())
                            .list_metadata(&params)
                            .await
                            .is_ok()
                    }
                    _ => false,
                };
                if served && shared.update(|st| st.observed.missing_crds.remove(&name)) {
                    tracing::info!(watch = %name, "the report CRD is back: resuming its work");
                }
            }
        }
    });
}

/// Whether a watch error says the resource is not served at all (404: its CRD is gone).
fn resource_missing(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.code == 404,
        watcher::Error::WatchError(status) => status.code == 404,
        _ => false,
    }
}

/// Objects per page of the initial list of a workload kind.
const WORKLOAD_PAGE_SIZE: u32 = 100;

/// How one watch folds objects into the observed state.
pub(crate) trait Fold<K>: Send + 'static {
    /// The key the object is stored under, if it is relevant at all.
    fn key(&self, object: &K) -> Option<String>;
    /// Records the object under its key; returns false if it is not (or no longer) stored.
    fn upsert(&self, observed: &mut Observed, object: &K) -> bool;
    /// Forgets the object stored under `key`.
    fn remove(&self, observed: &mut Observed, key: &str);
}

/// Starts every watch the planner needs; they run until `shutdown`.
pub fn spawn_all(client: &Client, shared: &Arc<Shared>, shutdown: &CancellationToken) {
    let config = watcher::Config::default;
    spawn(
        "namespaces".into(),
        watcher(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            config(),
        ),
        NamespaceFold,
        shared,
        shutdown,
    );
    spawn(
        "deployments".into(),
        watcher(
            Api::<PartialObjectMeta<Deployment>>::all(client.clone()),
            config(),
        ),
        DeploymentFold,
        shared,
        shutdown,
    );
    spawn(
        AUDIT_REPORTS.into(),
        watcher(
            Api::<PartialObjectMeta<ConfigAuditReport>>::all(client.clone()),
            config(),
        ),
        AuditReportFold::config_audits(),
        shared,
        shutdown,
    );
    spawn(
        INFRA_REPORTS.into(),
        watcher(
            Api::<PartialObjectMeta<InfraAssessmentReport>>::namespaced(
                client.clone(),
                common::workload::CONTROL_PLANE_NAMESPACE,
            ),
            config(),
        ),
        AuditReportFold::infra_assessments(),
        shared,
        shutdown,
    );
    spawn(
        "vuln-reports".into(),
        watcher(
            Api::<PartialObjectMeta<VulnerabilityReport>>::all(client.clone()),
            config(),
        ),
        VulnReportFold,
        shared,
        shutdown,
    );
    if shared.scans.as_ref().is_some_and(|s| s.per_image) {
        spawn(
            IMAGE_REPORTS.into(),
            watcher(
                Api::<PartialObjectMeta<ImageVulnerabilityReport>>::all(client.clone()),
                config(),
            ),
            ImageReportFold,
            shared,
            shutdown,
        );
    }
    let companions = shared
        .scans
        .as_ref()
        .map(|s| s.companions)
        .unwrap_or_default();
    if companions.secret {
        spawn(
            Companion::Secret.watch().into(),
            watcher(
                Api::<PartialObjectMeta<ExposedSecretReport>>::all(client.clone()),
                config(),
            ),
            CompanionFold(Companion::Secret, std::marker::PhantomData),
            shared,
            shutdown,
        );
    }
    if companions.sbom {
        spawn(
            Companion::Sbom.watch().into(),
            watcher(
                Api::<PartialObjectMeta<SbomReport>>::all(client.clone()),
                config(),
            ),
            CompanionFold(Companion::Sbom, std::marker::PhantomData),
            shared,
            shutdown,
        );
    }
    spawn(
        "service-accounts".into(),
        watcher(Api::<ServiceAccount>::all(client.clone()), config()),
        AccountFold,
        shared,
        shutdown,
    );
    if shared.nodes.is_some() {
        spawn(
            crate::nodes::NODES_WATCH.into(),
            watcher(Api::<Node>::all(client.clone()), config()),
            crate::nodes::folds::NodeFold,
            shared,
            shutdown,
        );
        spawn(
            crate::nodes::REPORTS_WATCH.into(),
            watcher(
                Api::<PartialObjectMeta<ClusterInfraAssessmentReport>>::all(client.clone()),
                config(),
            ),
            crate::nodes::folds::NodeReportFold,
            shared,
            shutdown,
        );
    }
    spawn_object_watches(client, shared, shutdown);
    spawn_crd_probe(client.clone(), shared.clone(), shutdown.clone());
    for kind in WorkloadKind::ALL {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &workload_api_resource(kind));
        let name = format!("workloads/{}", kind.as_str());
        spawn(
            name,
            // Whole objects (Pods above all) are large while parsed: small pages keep the
            // leader's peak memory low during the initial list.
            watcher(api, config().page_size(WORKLOAD_PAGE_SIZE)),
            WorkloadFold(kind),
            shared,
            shutdown,
        );
    }
}

/// The watches of the audited objects besides workloads and nodes, of the kinds audited
/// (whole objects: their content is hashed and sent), and of their reports not watched with
/// the workloads' (metadata).
fn spawn_object_watches(client: &Client, shared: &Arc<Shared>, shutdown: &CancellationToken) {
    use crate::objects::folds::{ObjectFold, RoleReportFold};
    use common::objects::ReportKind;
    use std::marker::PhantomData;
    let config = watcher::Config::default;
    let kinds = &shared.object_kinds;
    for kind in kinds {
        let api: Api<DynamicObject> = Api::all_with(
            client.clone(),
            &common::resources::object_api_resource(*kind),
        );
        spawn(
            crate::objects::watch_of(*kind).into(),
            // ConfigMaps can be large: small pages keep the initial list's peak low.
            watcher(api, config().page_size(WORKLOAD_PAGE_SIZE)),
            ObjectFold(*kind),
            shared,
            shutdown,
        );
    }
    let reports = |report: ReportKind| kinds.iter().any(|k| k.report_kind() == report);
    if reports(ReportKind::RbacAssessmentReport) {
        spawn(
            crate::objects::REPORTS_WATCH.into(),
            watcher(
                Api::<PartialObjectMeta<RbacAssessmentReport>>::all(client.clone()),
                config(),
            ),
            RoleReportFold(PhantomData),
            shared,
            shutdown,
        );
    }
    if reports(ReportKind::ClusterRbacAssessmentReport) {
        spawn(
            crate::objects::CLUSTER_REPORTS_WATCH.into(),
            watcher(
                Api::<PartialObjectMeta<ClusterRbacAssessmentReport>>::all(client.clone()),
                config(),
            ),
            RoleReportFold(PhantomData),
            shared,
            shutdown,
        );
    }
    if reports(ReportKind::ClusterConfigAuditReport) {
        spawn(
            crate::objects::CLUSTER_AUDIT_REPORTS_WATCH.into(),
            watcher(
                Api::<PartialObjectMeta<ClusterConfigAuditReport>>::all(client.clone()),
                config(),
            ),
            AuditReportFold::cluster_config_audits(),
            shared,
            shutdown,
        );
    }
}

fn spawn<K, S, F>(
    name: String,
    stream: S,
    fold: F,
    shared: &Arc<Shared>,
    shutdown: &CancellationToken,
) where
    K: Send + 'static,
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    F: Fold<K>,
{
    let shared = shared.clone();
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream.default_backoff());
        let mut known: HashSet<String> = HashSet::new();
        let mut relisted: HashSet<String> = HashSet::new();
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => return,
                event = stream.try_next() => event,
            };
            let event = match event {
                Ok(Some(event)) => event,
                Ok(None) => return,
                Err(error) => {
                    let missing = is_report_watch(&name) && resource_missing(&error);
                    let text = error.to_string();
                    let mut st = shared.lock();
                    let observed = &mut st.observed;
                    if missing && observed.missing_crds.insert(name.clone()) {
                        tracing::error!(watch = %name, %error, "the report CRD is not installed: the work that writes these reports is paused until it is back");
                        // Its kind is known to be empty: planning need not wait for it.
                        observed.synced.insert(name.clone());
                    } else if !missing {
                        tracing::warn!(watch = %name, %error, "watch failed, retrying with backoff");
                    }
                    observed.watch_errors.insert(name.clone(), text);
                    continue;
                }
            };
            shared.update(|st| {
                let observed = &mut st.observed;
                observed.watch_errors.remove(&name);
                if observed.missing_crds.remove(&name) {
                    tracing::info!(watch = %name, "the report CRD is back: resuming its work");
                }
                match event {
                    watcher::Event::Init => relisted.clear(),
                    watcher::Event::InitApply(object) => {
                        if let Some(key) = fold.key(&object)
                            && fold.upsert(observed, &object)
                        {
                            relisted.insert(key);
                        }
                    }
                    watcher::Event::InitDone => {
                        for gone in known.difference(&relisted) {
                            fold.remove(observed, gone);
                        }
                        known = std::mem::take(&mut relisted);
                        observed.synced.insert(name.clone());
                    }
                    watcher::Event::Apply(object) => {
                        if let Some(key) = fold.key(&object) {
                            if fold.upsert(observed, &object) {
                                known.insert(key);
                            } else {
                                fold.remove(observed, &key);
                                known.remove(&key);
                            }
                        }
                    }
                    watcher::Event::Delete(object) => {
                        if let Some(key) = fold.key(&object) {
                            fold.remove(observed, &key);
                            known.remove(&key);
                        }
                    }
                }
            });
        }
    });
}
