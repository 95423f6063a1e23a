//! Pure formatting of status answers: aligned tables for people, JSON for scripts.

use common::proto::{self, TaskKind, WorkloadState};
use serde_json::{Value, json};

/// Left-aligned columns separated by three spaces, one line per row, no trailing blanks.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let mut widths = vec![0; columns];
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let all = (!header.is_empty())
        .then_some(&header)
        .into_iter()
        .chain(rows);
    for row in all.clone() {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in all {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            let pad = widths[i] - cell.chars().count() + 3;
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `42s`, `3m05s`, `2h10m`, `3d4h`.
pub fn age(seconds: u64) -> String {
    let (m, h, d) = (seconds / 60, seconds / 3600, seconds / 86_400);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{m}m{:02}s", s % 60),
        s if s < 86_400 => format!("{h}h{:02}m", (s % 3600) / 60),
        s => format!("{d}d{}h", (s % 86_400) / 3600),
    }
}

/// How long ago `unix` was, or `never` for 0.
pub(super) fn ago(unix: i64, now: i64) -> String {
    if unix <= 0 {
        "never".into()
    } else {
        format!("{} ago", age(u64::try_from(now - unix).unwrap_or(0)))
    }
}

/// In how long `unix` is from `now`.
pub(super) fn until(unix: i64, now: i64) -> String {
    if unix <= 0 {
        "-".into()
    } else if unix <= now {
        "now".into()
    } else {
        format!("in {}", age(u64::try_from(unix - now).unwrap_or(0)))
    }
}

/// Short name of a `proto::TaskKind`.
pub fn kind_name(kind: i32) -> &'static str {
    match TaskKind::try_from(kind) {
        Ok(TaskKind::ConfigAudit) => "config-audit",
        Ok(TaskKind::VulnerabilityScan) => "vulnerability-scan",
        Ok(TaskKind::NodeAssessment) => "node-assessment",
        Ok(TaskKind::RbacAssessment) => "rbac-assessment",
        Ok(TaskKind::ResourceAudit) => "resource-audit",
        _ => "unspecified",
    }
}

/// Short name of a `proto::WorkloadState`.
pub fn state_name(state: i32) -> &'static str {
    match WorkloadState::try_from(state) {
        Ok(WorkloadState::UpToDate) => "up-to-date",
        Ok(WorkloadState::Pending) => "pending",
        Ok(WorkloadState::InFlight) => "in-flight",
        Ok(WorkloadState::Failed) => "failed",
        Ok(WorkloadState::NotScanned) => "not-scanned",
        _ => "unspecified",
    }
}

fn or_dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { s.into() }
}

/// `12.3 MiB of 1024.0 MiB`, with a warning over the budget.
fn storage(c: &proto::ClusterStatus) -> String {
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / 1_048_576.0);
    match (c.report_storage_budget, c.report_storage_over_budget) {
        (0, _) => format!("{} (no budget)", mib(c.report_bytes)),
        (budget, false) => format!("{} of {}", mib(c.report_bytes), mib(budget)),
        (budget, true) => format!(
            "{} of {}: OVER BUDGET, new reports keep their summaries only",
            mib(c.report_bytes),
            mib(budget)
        ),
    }
}

/// The cluster view: summary, workers, failures.
pub fn cluster_table(c: &proto::ClusterStatus, now: i64) -> String {
    let kv = |k: &str, v: String| vec![k.to_string(), v];
    let mut out = table(
        &[],
        &[
            kv("LEADER", or_dash(&c.leader_id)),
            kv("EPOCH", c.epoch.to_string()),
            kv("QUEUE DEPTH", c.queue_depth.to_string()),
            kv("OLDEST PENDING", age(c.oldest_pending_seconds)),
            kv("SCANS IN FLIGHT", c.scans_in_flight.to_string()),
            kv("SCANS AVOIDED", c.scans_avoided.to_string()),
            kv("POLICY ERROR", or_dash(&c.policy_config_error)),
            kv("REPORT STORAGE", storage(c)),
        ],
    );
    for error in &c.watch_errors {
        out.push_str(&format!("WATCH FAILING     {error}\n"));
    }
    out.push('\n');
    if c.workers.is_empty() {
        out.push_str("no workers connected\n");
    } else {
        let rows: Vec<Vec<String>> = c
            .workers
            .iter()
            .map(|w| {
                vec![
                    w.worker_id.clone(),
                    w.capacity.to_string(),
                    w.in_flight.to_string(),
                    namespaces_cell(&w.namespaces),
                    ago(w.last_heartbeat_unix, now),
                ]
            })
            .collect();
        let header = [
            "WORKER",
            "CAPACITY",
            "IN-FLIGHT",
            "NAMESPACES",
            "LAST-HEARTBEAT",
        ];
        out.push_str(&table(&header, &rows));
    }
    out.push('\n');
    if c.failures.is_empty() {
        out.push_str("no failures\n");
    } else {
        let rows: Vec<Vec<String>> = c
            .failures
            .iter()
            .map(|f| vec![f.reason.clone(), f.count.to_string()])
            .collect();
        out.push_str(&table(&["FAILURE REASON", "COUNT"], &rows));
    }
    out
}

/// At most five names, then `(+N more)`.
fn namespaces_cell(namespaces: &[String]) -> String {
    const SHOWN: usize = 5;
    if namespaces.is_empty() {
        return "-".into();
    }
    let mut cell = namespaces[..namespaces.len().min(SHOWN)].join(",");
    if namespaces.len() > SHOWN {
        cell.push_str(&format!(" (+{} more)", namespaces.len() - SHOWN));
    }
    cell
}

/// The namespace view.
pub fn namespace_table(n: &proto::NamespaceStatus) -> String {
    let kv = |k: &str, v: String| vec![k.to_string(), v];
    table(
        &[],
        &[
            kv("NAMESPACE", n.namespace.clone()),
            kv("OWNER", or_dash(&n.owner_worker_id)),
            kv("WORKLOADS", n.workloads.to_string()),
            kv("PENDING", n.pending.to_string()),
            kv("IN FLIGHT", n.in_flight.to_string()),
            kv("FAILED", n.failed.to_string()),
        ],
    )
}

/// The workload view: the explanation first, then its tasks.
pub fn workload_table(w: &proto::WorkloadStatus, now: i64) -> String {
    let mut out = format!("{}\n\n", or_dash(&w.explanation));
    let name = w.workload.as_ref().map_or_else(
        || "-".to_string(),
        |r| format!("{} {}/{}", r.kind, r.namespace, r.name),
    );
    out.push_str(&table(
        &[],
        &[
            vec!["WORKLOAD".into(), name],
            vec!["STATE".into(), state_name(w.state).into()],
        ],
    ));
    if !w.tasks.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = w
            .tasks
            .iter()
            .map(|t| {
                vec![
                    kind_name(t.kind).into(),
                    state_name(t.state).into(),
                    or_dash(&t.worker_id),
                    if t.since_unix > 0 {
                        ago(t.since_unix, now)
                    } else {
                        "-".into()
                    },
                    or_dash(&t.failure_reason),
                    until(t.next_retry_unix, now),
                ]
            })
            .collect();
        let header = ["TASK", "STATE", "WORKER", "SINCE", "FAILURE", "NEXT RETRY"];
        out.push_str(&table(&header, &rows));
    }
    out
}

/// The cluster view as JSON.
pub fn cluster_json(c: &proto::ClusterStatus) -> Value {
    json!({
        "leader_id": c.leader_id,
        "epoch": c.epoch,
        "queue_depth": c.queue_depth,
        "oldest_pending_seconds": c.oldest_pending_seconds,
        "scans_in_flight": c.scans_in_flight,
        "scans_avoided": c.scans_avoided,
        "policy_config_error": c.policy_config_error,
        "watch_errors": c.watch_errors,
        "report_bytes": c.report_bytes,
        "report_storage_budget": c.report_storage_budget,
        "report_storage_over_budget": c.report_storage_over_budget,
        "workers": c.workers.iter().map(|w| json!({
            "worker_id": w.worker_id,
            "capacity": w.capacity,
            "in_flight": w.in_flight,
            "namespaces": w.namespaces,
            "last_heartbeat_unix": w.last_heartbeat_unix,
        })).collect::<Vec<_>>(),
        "failures": c.failures.iter().map(|f| json!({
            "reason": f.reason,
            "count": f.count,
        })).collect::<Vec<_>>(),
    })
}

/// The namespace view as JSON.
pub fn namespace_json(n: &proto::NamespaceStatus) -> Value {
    json!({
        "namespace": n.namespace,
        "owner_worker_id": n.owner_worker_id,
        "workloads": n.workloads,
        "pending": n.pending,
        "in_flight": n.in_flight,
        "failed": n.failed,
    })
}

/// The workload view as JSON.
pub fn workload_json(w: &proto::WorkloadStatus) -> Value {
    json!({
        "workload": w.workload.as_ref().map(|r| json!({
            "kind": r.kind,
            "api_version": r.api_version,
            "namespace": r.namespace,
            "name": r.name,
            "uid": r.uid,
        })),
        "state": state_name(w.state),
        "explanation": w.explanation,
        "tasks": w.tasks.iter().map(|t| json!({
            "kind": kind_name(t.kind),
            "state": state_name(t.state),
            "worker_id": t.worker_id,
            "since_unix": t.since_unix,
            "failure_reason": t.failure_reason,
            "failure_message": t.failure_message,
            "next_retry_unix": t.next_retry_unix,
        })).collect::<Vec<_>>(),
    })
}
