//! Runs a node's collector Job to its end: create it or adopt the one already there (only
//! if it collects from the same node), wait for Complete or Failed with a watch, read the
//! collector's log (one `NodeInfo` JSON document), delete the Job.

use std::time::Duration;

use common::retry;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{LogParams, PostParams};
use kube::{Api, Client};
use serde_json::Value;

use super::job::{CONTAINER, NODE_ANNOTATION, collector_job, job_name};
use super::{Error, NodeSettings};
use crate::scan::runner::{
    Finished, NotFinished, delete_job, exit_code, finished, job_pods, made_for, wait_finished,
};
use crate::task::NodeTask;

/// How much longer than the Job's own deadline the worker waits.
const WAIT_MARGIN: Duration = Duration::from_secs(60);
/// Largest collector log read (a NodeInfo document is a few kB); one byte more is read to
/// tell a log at the limit from a longer one.
const MAX_LOG_BYTES: usize = 1024 * 1024;
/// Log lines quoted in the failure detail.
const FAILURE_LOG_LINES: i64 = 5;

/// Runs (or adopts) the collector Job of the task's node and returns its NodeInfo. The Job
/// is deleted once it has finished, whatever the result.
pub(super) async fn collect(
    client: &Client,
    settings: &NodeSettings,
    task: &NodeTask,
) -> Result<Value, Error> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), &settings.namespace);
    let name = job_name(&task.node);
    create_or_adopt(&jobs, settings, task).await?;
    let result = wait_and_read(client, settings, &jobs, &name).await;
    if !matches!(result, Err(Error::JobGone { .. })) {
        delete_job(&jobs, &name).await;
    }
    parse(&result?).map_err(|detail| Error::InvalidOutput { job: name, detail })
}

/// The NodeInfo document of a collector log, or why the log is not one.
fn parse(log: &str) -> Result<Value, String> {
    if log.len() > MAX_LOG_BYTES {
        return Err(format!("the log is over {MAX_LOG_BYTES} bytes"));
    }
    let document: Value = serde_json::from_str(log.trim()).map_err(|e| format!("not JSON: {e}"))?;
    if document.get("kind").and_then(Value::as_str) != Some("NodeInfo") {
        return Err("its kind is not NodeInfo".to_owned());
    }
    if !document.get("info").is_some_and(Value::is_object) {
        return Err("it has no info object".to_owned());
    }
    Ok(document)
}

async fn create_or_adopt(
    jobs: &Api<Job>,
    settings: &NodeSettings,
    task: &NodeTask,
) -> Result<(), Error> {
    let manifest = collector_job(settings, &task.node, &task.tolerations);
    let name = job_name(&task.node);
    let failed = |source| Error::CreateJob {
        job: name.clone(),
        source,
    };
    let params = PostParams::default();
    match retry::idempotent("create node-collector job", || {
        jobs.create(&params, &manifest)
    })
    .await
    {
        Ok(_) => {
            tracing::info!(job = %name, "node-collector job created");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.is_already_exists() => {
            // Adopted only if it collects from this node and is ours.
            let existing = retry::idempotent("read node-collector job", || jobs.get(&name))
                .await
                .map_err(failed)?;
            let (found, ours) = made_for(&existing, NODE_ANNOTATION);
            if found != task.node || !ours {
                return Err(Error::ForeignJob { job: name, found });
            }
            tracing::info!(job = %name, "node-collector job exists; adopting it");
            Ok(())
        }
        Err(source) => Err(failed(source)),
    }
}

async fn wait_and_read(
    client: &Client,
    settings: &NodeSettings,
    jobs: &Api<Job>,
    name: &str,
) -> Result<String, Error> {
    let job = wait_finished(jobs, name, settings.timeout + WAIT_MARGIN)
        .await
        .map_err(|not| match not {
            NotFinished::TimedOut => Error::JobTimeout {
                job: name.to_owned(),
                timeout: settings.timeout,
            },
            NotFinished::Watch(source) => Error::WatchJob {
                job: name.to_owned(),
                source,
            },
            NotFinished::Gone => Error::JobGone {
                job: name.to_owned(),
            },
        })?;
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &settings.namespace);
    let read_failed = |detail: String| Error::ReadLog {
        job: name.to_owned(),
        detail,
    };
    match finished(&job) {
        Some(Finished::Complete) => {
            let candidates = job_pods(&pods, &uid)
                .await
                .map_err(|e| read_failed(e.to_string()))?;
            let pod = candidates
                .iter()
                .find(|p| exit_code(p, CONTAINER) == Some(0))
                .and_then(|p| p.metadata.name.clone())
                .ok_or_else(|| read_failed("no collector container exited 0".to_owned()))?;
            let params = LogParams {
                container: Some(CONTAINER.to_owned()),
                limit_bytes: i64::try_from(MAX_LOG_BYTES + 1).ok(),
                ..LogParams::default()
            };
            retry::idempotent("read node-collector log", || pods.logs(&pod, &params))
                .await
                .map_err(|e| read_failed(format!("pod {pod}: {e}")))
        }
        Some(Finished::Failed { reason, message }) if reason == "DeadlineExceeded" => {
            tracing::debug!(job = %name, %message, "node-collector deadline");
            Err(Error::JobTimeout {
                job: name.to_owned(),
                timeout: settings.timeout,
            })
        }
        Some(Finished::Failed { reason, message }) => Err(Error::CollectorFailed {
            job: name.to_owned(),
            detail: failure_detail(&pods, &uid, &reason, &message).await,
        }),
        None => Err(Error::JobGone {
            job: name.to_owned(),
        }),
    }
}

/// Why a collector Job failed: its condition, the container's exit code and last log lines.
async fn failure_detail(pods: &Api<Pod>, uid: &str, reason: &str, message: &str) -> String {
    let mut detail = format!("{reason}: {message}");
    let Ok(candidates) = job_pods(pods, uid).await else {
        return detail;
    };
    for pod in &candidates {
        if let Some(code) = exit_code(pod, CONTAINER) {
            detail.push_str(&format!("; {CONTAINER} exited {code}"));
        }
        let params = LogParams {
            container: Some(CONTAINER.to_owned()),
            tail_lines: Some(FAILURE_LOG_LINES),
            ..LogParams::default()
        };
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        if let Ok(log) = pods.logs(&pod_name, &params).await {
            let log = log.trim();
            if !log.is_empty() {
                detail.push_str(&format!("; log: {}", log.replace('\n', " | ")));
            }
        }
    }
    detail
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_a_node_info_document_is_accepted() {
        let ok = r#"{"apiVersion":"v1","kind":"NodeInfo","type":"worker","info":{}}"#;
        assert!(parse(ok).is_ok());
        for bad in [
            "",
            "Error: no node",
            r#"{"kind":"Pod","info":{}}"#,
            r#"{"kind":"NodeInfo"}"#,
            r#"{"kind":"NodeInfo","info":[]}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let huge = format!("{ok}{}", " ".repeat(MAX_LOG_BYTES));
        assert!(parse(&huge).unwrap_err().contains("bytes"));
    }
}
