//! What a scan needs from the flags and the environment.

use std::time::Duration;

use super::{ScanArgs, detail, events, registry_secrets, server};

/// Resource requests and limits of scan containers (Kubernetes quantities).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResources {
    pub cpu_request: String,
    pub cpu_limit: String,
    pub memory_request: String,
    pub memory_limit: String,
    /// Scratch space (the vulnerability DB and Java DB land there): the request and the
    /// limit, which is also the `sizeLimit` of the scratch `emptyDir`.
    pub ephemeral_storage_request: String,
    pub ephemeral_storage_limit: String,
}

/// What a scan needs from the flags and the environment.
#[derive(Clone)]
pub struct ScanSettings {
    /// Namespace of the scan Jobs (the operator's).
    pub namespace: String,
    /// Trivy image of scan Jobs.
    pub trivy_image: String,
    /// `scanner.version` of reports.
    pub trivy_version: String,
    /// Deadline of a scan Job.
    pub timeout: Duration,
    /// `report-ttl` annotation; zero writes none.
    pub report_ttl: Duration,
    /// Oldest stored SBOM a rescan scans instead of the image.
    pub sbom_rescan_max_age: Duration,
    /// Scan output as bzip2 + base64.
    pub compress_logs: bool,
    pub resources: JobResources,
    /// Service account of scan Jobs.
    pub service_account: Option<String>,
    /// ClientServer mode: the Trivy server scan Jobs use; `None`: standalone.
    pub server: Option<server::TrivyServer>,
    /// Which Secrets scans may read for registry credentials.
    pub registry_secrets: registry_secrets::SecretSource,
    /// What reports keep of a scan.
    pub detail: detail::Detail,
    /// Reporting instance of Events (the worker's id); `None`: the controller name.
    pub reporting_instance: Option<String>,
    /// The process's Event recorder, shared so that a failure repeated at every retry is
    /// one Event series (count, last time) rather than a new Event each time; `None`: a
    /// recorder per failure.
    pub recorder: Option<kube::runtime::events::Recorder>,
}

impl std::fmt::Debug for ScanSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanSettings")
            .field("namespace", &self.namespace)
            .field("trivy_image", &self.trivy_image)
            .field("timeout", &self.timeout)
            .field("report_ttl", &self.report_ttl)
            .field("compress_logs", &self.compress_logs)
            .field("server", &self.server)
            .field("reporting_instance", &self.reporting_instance)
            .finish_non_exhaustive()
    }
}

impl ScanSettings {
    /// Settings from the flags, with scan Jobs in `namespace` (the operator namespace).
    pub fn new(args: &ScanArgs, namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        Self {
            registry_secrets: registry_secrets::SecretSource {
                mode: args.registry_secrets,
                names: args.registry_secret_names.clone(),
                operator_namespace: namespace.clone(),
            },
            namespace,
            trivy_image: args.trivy_image.clone(),
            trivy_version: args.trivy_version.clone(),
            timeout: args.scan_job_timeout,
            report_ttl: args.report_ttl,
            sbom_rescan_max_age: args.sbom_rescan_max_age,
            compress_logs: args.scan_compress_logs,
            resources: JobResources {
                cpu_request: args.scan_job_cpu_request.clone(),
                cpu_limit: args.scan_job_cpu_limit.clone(),
                memory_request: args.scan_job_memory_request.clone(),
                memory_limit: args.scan_job_memory_limit.clone(),
                ephemeral_storage_request: args.scan_job_ephemeral_storage_request.clone(),
                ephemeral_storage_limit: args.scan_job_ephemeral_storage_limit.clone(),
            },
            service_account: args.scan_job_service_account.clone(),
            server: args
                .trivy_server_url
                .as_ref()
                .map(|url| server::TrivyServer {
                    url: url.clone(),
                    token_secret: args.trivy_server_token_secret.clone(),
                    token_header: args.trivy_server_token_header.clone(),
                }),
            detail: detail::Detail {
                severities: args.trivy_severity.clone(),
                ignore_unfixed: args.trivy_ignore_unfixed,
                omit: args.vulnerability_report_omit.iter().copied().collect(),
                per_image_keep: args.per_image_keep_severities.clone(),
            },
            reporting_instance: None,
            recorder: None,
        }
    }

    /// The same settings, with Events reported by `instance` (the worker id) through one
    /// shared recorder.
    pub fn with_reporting_instance(
        mut self,
        client: &kube::Client,
        instance: impl Into<String>,
    ) -> Self {
        let instance = instance.into();
        self.recorder = Some(events::recorder(client, Some(instance.clone())));
        self.reporting_instance = Some(instance);
        self
    }
}
