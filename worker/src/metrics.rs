//! The worker's Prometheus metrics (prefix `trivy_operator_worker`): tasks by kind, outcome
//! and reason, their durations, the scan Jobs this worker created or adopted, the tasks
//! running now and whether the worker is connected to a leader. Label values are bounded:
//! the reason is a `&'static str` (the errors' `reason()`), kinds and outcomes come from
//! fixed lists, anything else becomes `Other`.

use std::time::Duration;

use common::proto;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use common::proto::task_kind_label as kind_label;

/// The label value of a `proto::Outcome`.
pub fn outcome_label(outcome: proto::Outcome) -> &'static str {
    common::proto::outcome_label(outcome as i32)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    kind: &'static str,
    outcome: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// The worker's metrics and their registry. Share it in an `Arc`; methods take `&self`.
#[derive(Debug)]
pub struct WorkerMetrics {
    registry: Registry,
    tasks: Family<TaskLabels, Counter>,
    durations: Family<KindLabels, Histogram, fn() -> Histogram>,
    jobs_created: Counter,
    jobs_adopted: Counter,
    running: Gauge,
    connected: Gauge,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

fn duration_histogram() -> Histogram {
    // 10 ms .. about 5.5 min: audits take milliseconds, scans minutes.
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

impl WorkerMetrics {
    /// A registry with every series registered.
    pub fn new() -> Self {
        Self::with_api(&common::api_budget::ThrottleStats::default())
    }

    /// A registry with every series registered, including the API client's `api` counters.
    pub fn with_api(api: &common::api_budget::ThrottleStats) -> Self {
        let mut registry = Registry::with_prefix("trivy_operator_worker");
        api.register(&mut registry);
        let tasks = Family::<TaskLabels, Counter>::default();
        let durations: Family<KindLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        let jobs_created = Counter::default();
        let jobs_adopted = Counter::default();
        let running = Gauge::default();
        let connected = Gauge::default();
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "tasks",
            "Tasks finished, by kind, outcome and bounded failure reason",
            tasks.clone(),
        );
        registry.register(
            "task_duration_seconds",
            "Time from receiving a task to sending its result",
            durations.clone(),
        );
        registry.register(
            "scan_jobs_created",
            "Scan Jobs this worker created",
            jobs_created.clone(),
        );
        registry.register(
            "scan_jobs_adopted",
            "Running scan Jobs this worker found and waited for instead of creating one",
            jobs_adopted.clone(),
        );
        registry.register("tasks_running", "Tasks running now", running.clone());
        registry.register(
            "connected",
            "1 while a stream to the leader is open",
            connected.clone(),
        );
        Self {
            registry,
            tasks,
            durations,
            jobs_created,
            jobs_adopted,
            running,
            connected,
        }
    }

    /// A task started (raises `tasks_running`).
    pub fn task_started(&self) {
        self.running.inc();
    }

    /// A task finished: lowers `tasks_running`, counts it and records its duration.
    /// `reason` is empty on success (`None` in the label), else an error's `reason()`.
    pub fn task_finished(
        &self,
        kind: i32,
        outcome: proto::Outcome,
        reason: &'static str,
        took: Duration,
    ) {
        self.running.dec();
        let kind = kind_label(kind);
        let labels = TaskLabels {
            kind,
            outcome: outcome_label(outcome),
            reason: if reason.is_empty() { "None" } else { reason },
        };
        self.tasks.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&KindLabels { kind })
            .observe(took.as_secs_f64());
    }

    /// This worker created a scan Job.
    pub fn scan_job_created(&self) {
        self.jobs_created.inc();
    }

    /// This worker adopted a scan Job that was already running.
    pub fn scan_job_adopted(&self) {
        self.jobs_adopted.inc();
    }

    /// The stream to the leader opened (`true`) or closed (`false`).
    pub fn set_connected(&self, connected: bool) {
        self.connected.set(i64::from(connected));
    }

    /// The complete OpenMetrics text, ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> f64 {
        let line = text
            .lines()
            .find(|l| l.strip_prefix(series).is_some_and(|r| r.starts_with(' ')))
            .unwrap_or_else(|| panic!("no series {series} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn events_are_encoded() {
        let m = WorkerMetrics::new();
        let audit = proto::TaskKind::ConfigAudit as i32;
        let scan = proto::TaskKind::VulnerabilityScan as i32;
        for _ in 0..3 {
            m.task_started();
        }
        m.task_finished(
            audit,
            proto::Outcome::Succeeded,
            "",
            Duration::from_millis(15),
        );
        m.task_finished(
            scan,
            proto::Outcome::FailedRetryable,
            "ScanJobFailed",
            Duration::from_secs(40),
        );
        m.scan_job_created();
        m.scan_job_created();
        m.scan_job_adopted();
        m.set_connected(true);
        let text = m.encode();
        let p = "trivy_operator_worker_";
        for (series, want) in [
            (
                "tasks_total{kind=\"config_audit\",outcome=\"succeeded\",reason=\"None\"}",
                1.0,
            ),
            (
                "tasks_total{kind=\"vulnerability_scan\",outcome=\"failed_retryable\",reason=\"ScanJobFailed\"}",
                1.0,
            ),
            ("task_duration_seconds_count{kind=\"config_audit\"}", 1.0),
            (
                "task_duration_seconds_sum{kind=\"vulnerability_scan\"}",
                40.0,
            ),
            (
                "task_duration_seconds_bucket{le=\"0.02\",kind=\"config_audit\"}",
                1.0,
            ),
            (
                "task_duration_seconds_bucket{le=\"0.02\",kind=\"vulnerability_scan\"}",
                0.0,
            ),
            ("scan_jobs_created_total", 2.0),
            ("scan_jobs_adopted_total", 1.0),
            ("tasks_running", 1.0),
            ("connected", 1.0),
        ] {
            assert_eq!(value(&text, &format!("{p}{series}")), want, "{series}");
        }
        assert!(text.contains("# TYPE trivy_operator_worker_tasks counter"));
        assert!(text.ends_with("# EOF\n"));
        m.set_connected(false);
        assert_eq!(value(&m.encode(), "trivy_operator_worker_connected"), 0.0);
    }

    #[test]
    fn unknown_kinds_and_outcomes_are_other() {
        let m = WorkerMetrics::new();
        m.task_started();
        m.task_finished(
            42,
            proto::Outcome::Unspecified,
            "InvalidTask",
            Duration::ZERO,
        );
        let text = m.encode();
        let series = "trivy_operator_worker_tasks_total{kind=\"Other\",outcome=\"Other\",reason=\"InvalidTask\"}";
        assert_eq!(value(&text, series), 1.0);
        assert_eq!(value(&text, "trivy_operator_worker_tasks_running"), 0.0);
    }
}
