//! Runs one scan Job to its end: create it or adopt the one already there (never a second),
//! give it its registry credentials Secret, wait for Complete or Failed with a watch, read
//! the scan container's log, delete the Job.

use std::time::Duration;

use common::retry;
use common::trivy::TrivyReport;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{DeleteParams, ListParams, LogParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::{Api, Client};

use super::credentials::{self, RegistryCredentials};
use super::job::{
    DB_CONTAINER, SBOM_CONTAINER, SCAN_CONTAINER, SCAN_KEY_ANNOTATION, SCANNERS_ANNOTATION,
    Scanners, job_name, scan_job,
};
use super::{Error, ScanSettings};

/// How much longer than the Job's own deadline the worker waits (scheduling, image pulls on
/// a busy node, the Job controller noticing the deadline).
const WAIT_MARGIN: Duration = Duration::from_secs(60);
/// Largest scan log read: the limit on Trivy's JSON (a compressed log is smaller); one
/// byte more is read to tell a log at the limit from a longer one.
const MAX_LOG_BYTES: i64 = common::trivy::MAX_DECODED_LEN as i64 + 1;
/// Outputs larger than this are parsed one at a time (parsing takes a few times the
/// output's size in memory).
const LARGE_OUTPUT: usize = 4 * 1024 * 1024;
/// Serialises the parsing of large outputs.
static LARGE_PARSES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
/// Log lines quoted in the failure detail.
const FAILURE_LOG_LINES: i64 = 5;

/// How a finished Job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Condition Complete.
    Complete,
    /// Condition Failed, with its reason (e.g. `DeadlineExceeded`) and message.
    Failed { reason: String, message: String },
}

/// Whether and how `job` finished, from its conditions.
pub fn finished(job: &Job) -> Option<Finished> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(Finished::Complete),
            "Failed" => Some(Finished::Failed {
                reason: c.reason.clone().unwrap_or_default(),
                message: c.message.clone().unwrap_or_default(),
            }),
            _ => None,
        })
}

/// What a scan Job produced: Trivy's JSON report, and the CycloneDX BOM when one was asked
/// for.
#[derive(Debug)]
pub struct Output {
    pub report: TrivyReport,
    pub sbom: Option<common::reports::sbom::Bom>,
}

/// What a scan Job scans: the image of `scan_key` (with registry credentials), or the
/// image's stored SBOM.
#[derive(Debug, Clone, Copy)]
pub struct JobInput<'a> {
    pub scan_key: &'a str,
    /// The image reference.
    pub image: &'a str,
    pub credentials: Option<&'a RegistryCredentials>,
    /// The CycloneDX document to scan instead of the image (with [`Scanners::FROM_BOM`]).
    pub bom: Option<&'a [u8]>,
}

/// Runs (or adopts) the scan Job of `input` and returns Trivy's parsed output. The Job is
/// deleted once it has finished, whatever the result.
pub async fn scan(
    client: &Client,
    settings: &ScanSettings,
    input: JobInput<'_>,
    scanners: Scanners,
) -> Result<Output, Error> {
    let JobInput {
        scan_key,
        image,
        credentials,
        bom,
    } = input;
    let jobs: Api<Job> = Api::namespaced(client.clone(), &settings.namespace);
    let name = job_name(scan_key);
    // An existing Job is adopted only after checking it is this scan's (one read).
    let job = create_or_adopt(
        &jobs,
        settings,
        (scan_key, image, scanners),
        credentials.is_some(),
    )
    .await?;
    // The Secrets the Job's pod waits for, owned by the Job (an adopted Job's may be there).
    let uid = job.metadata.uid.as_deref().unwrap_or_default();
    let secret = match (credentials, bom, super::job::bom_secret(&job)) {
        (Some(c), _, _) => Some(credentials::secret(&settings.namespace, &name, uid, c)),
        (None, Some(document), Some(secret)) => Some(super::bom::secret(
            &settings.namespace,
            &secret,
            (&name, uid),
            document.to_vec(),
        )),
        _ => None,
    };
    if let Some(secret) = secret
        && let Err(error) = create_secret(client, settings, &name, &secret).await
    {
        delete_job(&jobs, &name).await;
        return Err(error);
    }
    let result = wait_and_read(client, settings, &jobs, &name, scanners.sbom).await;
    if !matches!(result, Err(Error::JobGone { .. })) {
        delete_job(&jobs, &name).await;
    }
    let (log, sbom_log) = result?;
    let report = parse_output(log, name.clone(), |log| {
        common::trivy::parse_scanner_output(log)
    })
    .await?;
    let sbom = match sbom_log {
        Some(log) => Some(parse_output(log, name, common::trivy::parse_cyclonedx).await?),
        None => None,
    };
    Ok(Output { report, sbom })
}

/// Parses a scan log on the blocking pool (large ones one at a time), so that neither
/// heartbeats nor other tasks wait for it and concurrent large outputs cannot add up.
async fn parse_output<T: Send + 'static>(
    log: String,
    job: String,
    parse: fn(&[u8]) -> Result<T, common::trivy::Error>,
) -> Result<T, Error> {
    if log.len() > common::trivy::MAX_DECODED_LEN {
        let source = common::trivy::Error::TooLarge {
            limit: common::trivy::MAX_DECODED_LEN,
        };
        return Err(Error::InvalidOutput { job, source });
    }
    let _permit = if log.len() > LARGE_OUTPUT {
        LARGE_PARSES.acquire().await.ok()
    } else {
        None
    };
    match tokio::task::spawn_blocking(move || parse(log.as_bytes())).await {
        Ok(parsed) => parsed.map_err(|source| Error::InvalidOutput { job, source }),
        Err(e) => Err(Error::ReadLogs {
            job,
            detail: format!("parsing was interrupted: {e}"),
        }),
    }
}

async fn create_or_adopt(
    jobs: &Api<Job>,
    settings: &ScanSettings,
    (scan_key, image, scanners): (&str, &str, Scanners),
    with_credentials: bool,
) -> Result<Job, Error> {
    let name = job_name(scan_key);
    let credentials = with_credentials.then(|| credentials::credentials_ref(&name));
    let mut manifest = scan_job(settings, scan_key, image, credentials.as_ref(), scanners);
    if scanners.from_bom {
        let made = format!("{:?}", std::time::SystemTime::now());
        let unique = common::hash::hash_str(&made, 8);
        super::job::set_bom_secret(&mut manifest, &super::bom::secret_name(&name, &unique));
    }
    let failed = |source| Error::CreateJob {
        job: name.clone(),
        source,
    };
    // Safe to repeat: a create that did land is adopted below as AlreadyExists.
    let params = PostParams::default();
    match retry::idempotent("create scan job", || jobs.create(&params, &manifest)).await {
        Ok(job) => {
            tracing::info!(job = %name, "scan job created");
            Ok(job)
        }
        Err(kube::Error::Api(status)) if status.is_already_exists() => {
            // Adopted only if it is this scan's Job: a Job of that name made for another scan
            // key (or by someone else) would hand this scan someone else's result.
            let existing = retry::idempotent("read scan job", || jobs.get(&name))
                .await
                .map_err(failed)?;
            let annotations = existing.metadata.annotations.as_ref();
            let (found, ours) = made_for(&existing, SCAN_KEY_ANNOTATION);
            if found != scan_key || !ours {
                return Err(Error::ForeignJob {
                    job: name.clone(),
                    found,
                });
            }
            // Made for other scanners (the exposed-secret setting changed since): its output
            // would lack what this scan must report, or hold what it must not. It is
            // deleted, and the retry creates this scan's Job.
            let runs = annotations
                .and_then(|a| a.get(SCANNERS_ANNOTATION))
                .map_or("", String::as_str);
            let wanted = scanners.annotation();
            if runs != wanted {
                delete_job(jobs, &name).await;
                return Err(Error::OutdatedJob {
                    job: name.clone(),
                    found: runs.to_owned(),
                    wanted,
                });
            }
            tracing::info!(job = %name, "scan job exists; adopting it");
            Ok(existing)
        }
        Err(source) => Err(failed(source)),
    }
}

/// Creates a Secret of Job `job` (kept if it already exists).
async fn create_secret(
    client: &Client,
    settings: &ScanSettings,
    job: &str,
    secret: &Secret,
) -> Result<(), Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &settings.namespace);
    match secrets.create(&PostParams::default(), secret).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(()),
        Err(source) => Err(Error::CreateSecret {
            job: job.to_owned(),
            source,
        }),
    }
}

async fn wait_and_read(
    client: &Client,
    settings: &ScanSettings,
    jobs: &Api<Job>,
    name: &str,
    sbom: bool,
) -> Result<(String, Option<String>), Error> {
    let limit = settings.timeout + WAIT_MARGIN;
    let job = wait_finished(jobs, name, limit)
        .await
        .map_err(|not| match not {
            NotFinished::TimedOut => Error::JobTimeout {
                job: name.to_owned(),
                timeout: settings.timeout,
                detail: format!("no Complete or Failed condition after {limit:?}"),
            },
            NotFinished::Watch(source) => Error::WatchJob {
                job: name.to_owned(),
                source,
            },
            NotFinished::Gone => Error::JobGone {
                job: name.to_owned(),
            },
        })?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &settings.namespace);
    match finished(&job) {
        Some(Finished::Complete) => read_log(&pods, (name, &job_uid(&job)), sbom).await,
        Some(Finished::Failed { reason, message }) => {
            let detail = failure_detail(&pods, &job_uid(&job), &reason, &message).await;
            // Trivy's own `--timeout` (the same length) may end it first.
            if let Some(server) = settings
                .server
                .as_ref()
                .filter(|s| super::server::is_server_failure(s, &detail))
            {
                Err(Error::TrivyServerUnavailable {
                    job: name.to_owned(),
                    server: server.url.clone(),
                    detail,
                })
            } else if reason == "DeadlineExceeded" || detail.contains("context deadline exceeded") {
                Err(Error::JobTimeout {
                    job: name.to_owned(),
                    timeout: settings.timeout,
                    detail,
                })
            } else {
                Err(Error::JobFailed {
                    job: name.to_owned(),
                    detail,
                })
            }
        }
        None => Err(Error::JobGone {
            job: name.to_owned(),
        }),
    }
}

/// What an existing Job was made for (its annotation `key`, empty when missing), and
/// whether this operator made it (`app.kubernetes.io/managed-by`): a Job is adopted only
/// when both are this work's.
pub(crate) fn made_for(job: &Job, key: &str) -> (String, bool) {
    let meta = &job.metadata;
    let found = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .cloned()
        .unwrap_or_default();
    let ours = meta
        .labels
        .as_ref()
        .and_then(|l| l.get(common::labels::MANAGED_BY))
        .is_some_and(|v| v == common::labels::MANAGED_BY_VALUE);
    (found, ours)
}

/// Why waiting for a Job ended without it finishing.
pub(crate) enum NotFinished {
    /// Not finished within the limit.
    TimedOut,
    /// The watch failed.
    Watch(kube::runtime::wait::Error),
    /// Deleted before it finished.
    Gone,
}

/// Waits up to `limit` for the Job `name` to finish (Complete or Failed) and returns it.
pub(crate) async fn wait_finished(
    jobs: &Api<Job>,
    name: &str,
    limit: Duration,
) -> Result<Job, NotFinished> {
    let done = |job: Option<&Job>| job.is_none_or(|j| finished(j).is_some());
    match tokio::time::timeout(limit, await_condition(jobs.clone(), name, done)).await {
        Err(_) => Err(NotFinished::TimedOut),
        Ok(Err(source)) => Err(NotFinished::Watch(source)),
        Ok(Ok(None)) => Err(NotFinished::Gone),
        Ok(Ok(Some(job))) => Ok(job),
    }
}

fn job_uid(job: &Job) -> String {
    job.metadata.uid.clone().unwrap_or_default()
}

/// The pods of the Job of uid `uid` (newest label first, then the legacy one): by uid, not
/// name, so that the pods of an earlier Job of the same name (deleted in the background,
/// its pods not yet collected) are never read as this one's.
pub(crate) async fn job_pods(pods: &Api<Pod>, uid: &str) -> Result<Vec<Pod>, kube::Error> {
    for label in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
        let params = ListParams::default().labels(&format!("{label}={uid}"));
        let list = retry::idempotent("list scan pods", || pods.list(&params)).await?;
        if !list.items.is_empty() {
            return Ok(list.items);
        }
    }
    Ok(Vec::new())
}

/// Exit code of the container `container` of `pod` (an init container or not), if it
/// terminated.
pub(crate) fn exit_code(pod: &Pod, container: &str) -> Option<i32> {
    let status = pod.status.as_ref()?;
    status
        .container_statuses
        .iter()
        .chain(status.init_container_statuses.iter())
        .flatten()
        .find(|c| c.name == container)?
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

/// The scan container's log, and with `sbom` the SBOM container's, of the Job's pod that
/// succeeded.
async fn read_log(
    pods: &Api<Pod>,
    (job, uid): (&str, &str),
    sbom: bool,
) -> Result<(String, Option<String>), Error> {
    let failed = |detail: String| Error::ReadLogs {
        job: job.to_owned(),
        detail,
    };
    let candidates = job_pods(pods, uid)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let Some(pod) = candidates
        .iter()
        .find(|p| exit_code(p, SCAN_CONTAINER) == Some(0))
    else {
        return Err(failed(format!(
            "none of its {} pods has a {SCAN_CONTAINER} container that exited 0",
            candidates.len()
        )));
    };
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let log_of = |container: &str| {
        let params = LogParams {
            container: Some(container.to_owned()),
            limit_bytes: Some(MAX_LOG_BYTES),
            ..LogParams::default()
        };
        let pod_name = pod_name.clone();
        let container = container.to_owned();
        async move {
            retry::idempotent("read scan log", || pods.logs(&pod_name, &params))
                .await
                .map_err(|e| failed(format!("pod {pod_name} container {container}: {e}")))
        }
    };
    let log = log_of(SCAN_CONTAINER).await?;
    let sbom_log = match sbom {
        true => Some(log_of(SBOM_CONTAINER).await?),
        false => None,
    };
    Ok((log, sbom_log))
}

/// Why a Job failed: its condition, the scan container's exit code and last log lines.
async fn failure_detail(pods: &Api<Pod>, uid: &str, reason: &str, message: &str) -> String {
    let mut detail = format!("{reason}: {message}");
    let Ok(candidates) = job_pods(pods, uid).await else {
        return detail;
    };
    for pod in &candidates {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        // The containers that failed (the scan container, or an init container before it),
        // else the scan container.
        let failed: Vec<&str> = [DB_CONTAINER, SBOM_CONTAINER, SCAN_CONTAINER]
            .into_iter()
            .filter(|c| exit_code(pod, c).is_some_and(|code| code != 0))
            .collect();
        let described = if failed.is_empty() {
            vec![SCAN_CONTAINER]
        } else {
            failed
        };
        for container in described {
            if let Some(code) = exit_code(pod, container) {
                detail.push_str(&format!("; {container} exited {code}"));
            }
            let params = LogParams {
                container: Some(container.to_owned()),
                tail_lines: Some(FAILURE_LOG_LINES),
                ..LogParams::default()
            };
            if let Ok(log) = pods.logs(&pod_name, &params).await {
                let log = log.trim();
                if !log.is_empty() {
                    detail.push_str(&format!("; log: {}", log.replace('\n', " | ")));
                }
            }
        }
    }
    detail
}

/// Deletes the Job and, through background propagation, its pods. A failure is logged: the
/// Job's `ttlSecondsAfterFinished` removes it anyway.
pub(crate) async fn delete_job(jobs: &Api<Job>, name: &str) {
    match jobs.delete(name, &DeleteParams::background()).await {
        Ok(_) => tracing::debug!(job = %name, "scan job deleted"),
        Err(kube::Error::Api(status)) if status.is_not_found() => {}
        Err(error) => tracing::warn!(job = %name, %error, "could not delete the scan job"),
    }
}
