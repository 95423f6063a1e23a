//! The Job controller. Like the API server and the real controller it
//! - defaults `spec.selector` and the template labels (`batch.kubernetes.io/controller-uid`,
//!   `batch.kubernetes.io/job-name`, `controller-uid`, `job-name`) when the Job has none;
//! - runs up to `parallelism` pods (generated names `<job>-xxxxx`) until `completions`
//!   succeeded (condition `SuccessCriteriaMet` then `Complete`, `completionTime`), retrying a
//!   failed pod with a new one (no backoff delay) until more than `backoffLimit` failures
//!   (container restarts of `OnFailure` pods count too), then `FailureTarget` + `Failed`
//!   `BackoffLimitExceeded`;
//! - fails with `DeadlineExceeded` after `activeDeadlineSeconds` from `startTime`, deleting
//!   (and so killing) its active pods;
//! - deletes the Job (Background) `ttlSecondsAfterFinished` after it finished;
//! - with `suspend: true` deletes active pods, creates none, and sets condition Suspended.
//!
//! Succeeded/failed pods are counted once each (in memory; the real controller uses a pod
//! finalizer), so deleting a finished pod does not change the counts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::cache::ObjRef;
use super::gc::pods;
use super::manager::Ctx;
use super::util::{condition, deleting, int, key_of, phase, pod_from_template, pod_ready};
use crate::store::{PropagationPolicy, meta};

/// Which pods have been counted, per Job uid.
#[derive(Debug, Default)]
pub struct Memory {
    counted: HashMap<String, Counted>,
}

#[derive(Debug, Default)]
struct Counted {
    succeeded: HashSet<String>,
    failed: HashSet<String>,
}

fn finished(job: &Value) -> Option<(&str, String)> {
    job.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find_map(|c| {
            let t = c.get("type")?.as_str()?;
            ((t == "Complete" || t == "Failed") && c.get("status")?.as_str()? == "True").then(
                || {
                    (
                        t,
                        c.get("lastTransitionTime")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    )
                },
            )
        })
}

fn seconds_since(rfc3339: &str) -> Option<i64> {
    let t: jiff::Timestamp = rfc3339.parse().ok()?;
    Some(jiff::Timestamp::now().as_second() - t.as_second())
}

/// Reconciles one Job.
pub fn reconcile(ctx: &mut Ctx, key: &ObjRef) {
    let Some(job) = ctx.cache.get(key).cloned() else {
        return;
    };
    if deleting(&job) {
        return;
    }
    let uid = meta::meta_str(&job, "uid").to_string();
    if job.pointer("/spec/selector").is_none() {
        default_selector(ctx, key, &uid);
        return; // the update's event brings us back
    }
    let all_pods = ctx.cache.controlled(&uid, &pods());
    if let Some((_, at)) = finished(&job) {
        for pod in all_pods.iter().filter(|p| is_active(p)) {
            delete_pod(ctx, pod);
        }
        let ttl = job
            .pointer("/spec/ttlSecondsAfterFinished")
            .and_then(Value::as_i64);
        if let (Some(ttl), Some(age)) = (ttl, seconds_since(&at))
            && age >= ttl
        {
            ctx.delete(key, PropagationPolicy::Background, Some(&uid));
            ctx.jobs.counted.remove(&uid);
        }
        return;
    }
    let counted = ctx.jobs.counted.entry(uid.clone()).or_default();
    let mut restarts = 0i64;
    for pod in &all_pods {
        let pod_uid = meta::meta_str(pod, "uid").to_string();
        match phase(pod) {
            "Succeeded" => {
                counted.succeeded.insert(pod_uid);
            }
            "Failed" => {
                counted.failed.insert(pod_uid);
            }
            _ => {}
        }
        restarts += pod
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
                    .sum::<i64>()
            })
            .unwrap_or(0);
    }
    let succeeded = counted.succeeded.len() as i64;
    let failed = counted.failed.len() as i64;
    let mut active: Vec<Arc<Value>> = all_pods.iter().filter(|p| is_active(p)).cloned().collect();
    let previous = job.get("status").cloned().unwrap_or_else(|| json!({}));
    let start_time = previous
        .get("startTime")
        .and_then(Value::as_str)
        .map(str::to_string);
    let suspended = job
        .pointer("/spec/suspend")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let completions = int(&job, "/spec/completions", 1);
    let parallelism = int(&job, "/spec/parallelism", 1);
    let backoff_limit = int(&job, "/spec/backoffLimit", 6);
    let deadline = job
        .pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64);

    let mut conditions: Vec<Value> = Vec::new();
    let mut outcome: Option<(&str, &str, &str)> = None;
    if succeeded >= completions {
        outcome = Some((
            "Complete",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
        ));
    } else if failed + restarts > backoff_limit {
        outcome = Some((
            "Failed",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ));
    } else if let (Some(d), Some(st)) = (deadline, start_time.as_deref().and_then(seconds_since))
        && st >= d
    {
        outcome = Some((
            "Failed",
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        ));
    }
    let now = meta::now_rfc3339();
    let mut status = json!({
        "startTime": start_time.clone().unwrap_or_else(|| now.clone()),
        "succeeded": succeeded,
        "failed": failed,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    });
    match outcome {
        Some((type_, reason, message)) => {
            for pod in &active {
                delete_pod(ctx, pod);
            }
            active.clear();
            let first = if type_ == "Complete" {
                "SuccessCriteriaMet"
            } else {
                "FailureTarget"
            };
            conditions.push(condition(
                Some(&previous),
                first,
                true,
                reason,
                message,
                false,
            ));
            conditions.push(condition(
                Some(&previous),
                type_,
                true,
                reason,
                message,
                false,
            ));
            if type_ == "Complete" {
                status["completionTime"] = json!(now);
            }
        }
        None if suspended => {
            for pod in &active {
                delete_pod(ctx, pod);
            }
            active.clear();
            conditions.push(condition(
                Some(&previous),
                "Suspended",
                true,
                "JobSuspended",
                "Job suspended",
                false,
            ));
            if start_time.is_none() {
                status.as_object_mut().map(|s| s.remove("startTime"));
            }
        }
        None => {
            let want = parallelism.min(completions - succeeded).max(0) as usize;
            for _ in active.len()..want {
                if let Some(pod) = ctx.create(&pods(), job_pod(&job, &uid)) {
                    active.push(pod);
                }
            }
        }
    }
    status["active"] = json!(active.len());
    status["ready"] = json!(active.iter().filter(|p| pod_ready(p)).count());
    if !conditions.is_empty() {
        status["conditions"] = Value::Array(conditions);
    }
    if active.is_empty() {
        status.as_object_mut().map(|s| s.remove("active"));
    }
    for field in ["succeeded", "failed"] {
        if status[field] == json!(0) {
            status.as_object_mut().map(|s| s.remove(field));
        }
    }
    if job.get("status") != Some(&status) {
        ctx.modify(key, true, |o| o["status"] = status.clone());
    }
}

fn is_active(pod: &Value) -> bool {
    !deleting(pod) && matches!(phase(pod), "Pending" | "Running")
}

fn delete_pod(ctx: &mut Ctx, pod: &Value) {
    ctx.delete(
        &key_of(&pods(), pod),
        PropagationPolicy::Background,
        Some(meta::meta_str(pod, "uid")),
    );
}

fn job_labels(name: &str, uid: &str) -> Map<String, Value> {
    let mut l = Map::new();
    l.insert("batch.kubernetes.io/controller-uid".into(), json!(uid));
    l.insert("batch.kubernetes.io/job-name".into(), json!(name));
    l.insert("controller-uid".into(), json!(uid));
    l.insert("job-name".into(), json!(name));
    l
}

fn default_selector(ctx: &mut Ctx, key: &ObjRef, uid: &str) {
    let labels = job_labels(&key.2, uid);
    ctx.modify(key, false, |o| {
        o["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
        let tl = &mut o["spec"]["template"]["metadata"]["labels"];
        if !tl.is_object() {
            *tl = json!({});
        }
        if let Some(map) = tl.as_object_mut() {
            map.extend(labels.clone());
        }
    });
}

fn job_pod(job: &Value, uid: &str) -> Value {
    let template = job
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut pod = pod_from_template(job, &template, None, &job_labels(meta::name(job), uid));
    if pod.pointer("/spec/restartPolicy").is_none() {
        pod["spec"]["restartPolicy"] = json!("Never");
    }
    pod
}
