//! The leader's own Prometheus metrics (prefix `trivy_operator_leader`): task events counted
//! as they happen, state gauges set from a [`Snapshot`] taken at scrape time, and the
//! duration of control rounds. Every label value is bounded: kinds, outcomes and reasons
//! outside a fixed allow-list become `Other`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Failure reasons workers send (`TaskResult.reason`) that become label values as they are;
/// any other reason is counted as `Other`. Empty (success) is `None`.
pub const KNOWN_REASONS: &[&str] = &[
    // Config audits.
    "WorkloadGone",
    "NoPodSpec",
    "PolicyConfigNotLoaded",
    "PolicyConfigMismatch",
    "ReadWorkloadFailed",
    "ReadReportFailed",
    "PolicyEvaluationFailed",
    "WriteReportFailed",
    // Vulnerability scans.
    "InvalidImage",
    "CreateJobFailed",
    "CreateSecretFailed",
    "WatchJobFailed",
    "ScanJobGone",
    "ScanJobTimeout",
    "ScanJobFailed",
    "TrivyServerUnavailable",
    "ReadLogsFailed",
    "ScanOutputInvalid",
    "ReadSourceReportFailed",
    "SourceReportGone",
    "SourceReportChanged",
    "SourceReportIncomplete",
    "ScanJobNameTaken",
    "ScanJobOutdated",
    "ScanOutputTooLarge",
    "WriteImageReportFailed",
    "ReadImageReportFailed",
    "ImageReportGone",
    // Sessions.
    "InvalidTask",
    "Unknown",
];

/// Task kind label values.
const KINDS: &[&str] = &["config_audit", "vulnerability_scan"];
/// Outcome label values.
const OUTCOMES: &[&str] = &["succeeded", "failed_retryable", "failed_permanent"];

pub use common::proto::{outcome_label, task_kind_label as kind_label};

/// `value` itself when it is in `allowed`, else `Other` (never a caller's free text).
fn bounded(value: &str, allowed: &[&'static str]) -> &'static str {
    allowed
        .iter()
        .find(|a| **a == value)
        .copied()
        .unwrap_or("Other")
}

/// The reason label of a result: `None` when empty, a known reason, or `Other`.
pub fn reason_label(reason: &str) -> &'static str {
    if reason.is_empty() {
        "None"
    } else {
        bounded(reason, KNOWN_REASONS)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CompletedLabels {
    kind: &'static str,
    outcome: &'static str,
    reason: &'static str,
}

/// The leader's state at scrape time, as plain numbers; the caller fills it from its state
/// (`ClusterStatus` computes the same values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Tasks wanted but not in flight.
    pub queue_depth: u64,
    /// Age of the oldest of those.
    pub oldest_pending_seconds: u64,
    /// Tasks sent to a worker and not answered.
    pub tasks_in_flight: u64,
    /// Scan tasks that may have a Job running.
    pub scan_jobs_in_flight: u64,
    /// Workload containers that got a report without a Job of their own, since start.
    pub scans_avoided: u64,
    /// Connected workers.
    pub workers: u64,
    /// Whether this replica holds the lease.
    pub is_leader: bool,
    /// The current term.
    pub epoch: u64,
    /// gRPC calls refused for a missing or wrong token, since start.
    pub auth_refusals: u64,
    /// Whether the plugin ConfigMap is rejected now (the last good policies, or the
    /// built-in checks, are in use).
    pub policy_config_invalid: bool,
    /// Bytes of the operator's reports, as written.
    pub report_bytes: u64,
    /// Their budget (0: none).
    pub report_storage_budget: u64,
    /// Whether they are over it (reports written with summaries only).
    pub report_storage_over_budget: bool,
}

/// The leader's metrics and their registry. Cheap to share (`Arc`); all methods take `&self`.
#[derive(Debug)]
pub struct LeaderMetrics {
    registry: Registry,
    dispatched: Family<KindLabels, Counter>,
    completed: Family<CompletedLabels, Counter>,
    auth_refusals: Counter,
    connections_refused: Counter,
    scans_avoided: Counter,
    /// Scans avoided in this process's earlier terms (each term counts from zero).
    scans_avoided_before: AtomicU64,
    terms_lost: Counter,
    queue_depth: Gauge,
    oldest_pending_seconds: Gauge,
    tasks_in_flight: Gauge,
    scan_jobs_in_flight: Gauge,
    workers: Gauge,
    is_leader: Gauge,
    policy_config_invalid: Gauge,
    report_bytes: Gauge,
    report_storage_budget: Gauge,
    report_storage_over_budget: Gauge,
    epoch: Gauge,
    plan_duration: Histogram,
}

impl Default for LeaderMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl LeaderMetrics {
    /// The counter of refused gRPC connections, for the connection limit to increment.
    pub fn connections_refused(&self) -> Counter {
        self.connections_refused.clone()
    }

    /// A registry with every series registered (counters start at 0, gauges at 0).
    pub fn new() -> Self {
        Self::with_api(&common::api_budget::ThrottleStats::default())
    }

    /// Every series, including the API client's `api` counters.
    pub fn with_api(api: &common::api_budget::ThrottleStats) -> Self {
        let mut registry = Registry::with_prefix("trivy_operator_leader");
        api.register(&mut registry);
        let metrics = Self {
            dispatched: Family::default(),
            completed: Family::default(),
            auth_refusals: Counter::default(),
            connections_refused: Counter::default(),
            scans_avoided: Counter::default(),
            scans_avoided_before: AtomicU64::new(0),
            terms_lost: Counter::default(),
            queue_depth: Gauge::default(),
            oldest_pending_seconds: Gauge::default(),
            tasks_in_flight: Gauge::default(),
            scan_jobs_in_flight: Gauge::default(),
            workers: Gauge::default(),
            is_leader: Gauge::default(),
            policy_config_invalid: Gauge::default(),
            report_bytes: Gauge::default(),
            report_storage_budget: Gauge::default(),
            report_storage_over_budget: Gauge::default(),
            epoch: Gauge::default(),
            // 0.5 ms .. about 16 s.
            plan_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            registry: Registry::default(),
        };
        // Counters get their `_total` suffix from the encoder.
        let r = &mut registry;
        r.register(
            "tasks_dispatched",
            "Tasks sent to workers",
            metrics.dispatched.clone(),
        );
        r.register(
            "tasks_completed",
            "Task results received from workers, by outcome and bounded failure reason",
            metrics.completed.clone(),
        );
        r.register(
            "auth_refusals",
            "gRPC calls refused for a missing or wrong token",
            metrics.auth_refusals.clone(),
        );
        r.register(
            "grpc_connections_refused",
            "gRPC connections closed at once because --grpc-max-connections were open",
            metrics.connections_refused.clone(),
        );
        r.register(
            "scans_avoided",
            "Workload containers that got a VulnerabilityReport without a scan Job of their own",
            metrics.scans_avoided.clone(),
        );
        r.register(
            "terms_lost",
            "Terms that ended because the lease could not be renewed",
            metrics.terms_lost.clone(),
        );
        r.register(
            "queue_depth",
            "Tasks waiting to be sent",
            metrics.queue_depth.clone(),
        );
        r.register(
            "oldest_pending_seconds",
            "Age of the oldest task waiting to be sent",
            metrics.oldest_pending_seconds.clone(),
        );
        r.register(
            "tasks_in_flight",
            "Tasks sent and not answered",
            metrics.tasks_in_flight.clone(),
        );
        r.register(
            "scan_jobs_in_flight",
            "Vulnerability scan tasks that may have a Job running",
            metrics.scan_jobs_in_flight.clone(),
        );
        r.register("workers", "Connected workers", metrics.workers.clone());
        r.register(
            "is_leader",
            "1 while this replica holds the lease",
            metrics.is_leader.clone(),
        );
        r.register(
            "policy_config_invalid",
            "1 while the plugin ConfigMap is rejected (the last good policies stay in use)",
            metrics.policy_config_invalid.clone(),
        );
        r.register(
            "report_bytes",
            "Bytes the operator's reports occupy, as written (their bytes annotations)",
            metrics.report_bytes.clone(),
        );
        r.register(
            "report_storage_budget_bytes",
            "The reports' storage budget (--report-storage-budget; 0: none)",
            metrics.report_storage_budget.clone(),
        );
        r.register(
            "report_storage_over_budget",
            "1 while the reports are over their storage budget (new reports keep summaries only)",
            metrics.report_storage_over_budget.clone(),
        );
        r.register(
            "epoch",
            "The leader's term (Lease transitions)",
            metrics.epoch.clone(),
        );
        r.register(
            "plan_duration_seconds",
            "Duration of one control round (plan, assign, send)",
            metrics.plan_duration.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts a task sent to a worker; `kind` is a [`kind_label`] value.
    pub fn task_dispatched(&self, kind: &str) {
        let kind = bounded(kind, KINDS);
        self.dispatched.get_or_create(&KindLabels { kind }).inc();
    }

    /// Counts a task result; `kind`/`outcome` are [`kind_label`]/[`outcome_label`] values,
    /// `reason` the worker's reason (bounded by [`reason_label`]).
    pub fn task_completed(&self, kind: &str, outcome: &str, reason: &str) {
        let labels = CompletedLabels {
            kind: bounded(kind, KINDS),
            outcome: bounded(outcome, OUTCOMES),
            reason: reason_label(reason),
        };
        self.completed.get_or_create(&labels).inc();
    }

    /// Records the duration of one control round.
    pub fn observe_round(&self, took: Duration) {
        self.plan_duration.observe(took.as_secs_f64());
    }

    /// Sets the state gauges; the cumulative values (scans avoided, auth refusals) advance
    /// their counters to the snapshot's value (never backwards).
    pub fn set_snapshot(&self, s: &Snapshot) {
        let gauge = |g: &Gauge, v: u64| {
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
        };
        gauge(&self.queue_depth, s.queue_depth);
        gauge(&self.oldest_pending_seconds, s.oldest_pending_seconds);
        gauge(&self.tasks_in_flight, s.tasks_in_flight);
        gauge(&self.scan_jobs_in_flight, s.scan_jobs_in_flight);
        gauge(&self.workers, s.workers);
        gauge(&self.is_leader, u64::from(s.is_leader));
        gauge(
            &self.policy_config_invalid,
            u64::from(s.policy_config_invalid),
        );
        gauge(&self.epoch, s.epoch);
        gauge(&self.report_bytes, s.report_bytes);
        gauge(&self.report_storage_budget, s.report_storage_budget);
        gauge(
            &self.report_storage_over_budget,
            u64::from(s.report_storage_over_budget),
        );
        for (counter, value) in [
            (
                &self.scans_avoided,
                s.scans_avoided + self.scans_avoided_before.load(Ordering::Relaxed),
            ),
            (&self.auth_refusals, s.auth_refusals),
        ] {
            let delta = value.saturating_sub(counter.get());
            if delta > 0 {
                counter.inc_by(delta);
            }
        }
    }

    /// Closes a term with its last snapshot: its counts carry over into the next term's, and
    /// `lost` counts a term ended by a lease that could not be renewed.
    pub fn end_term(&self, last: &Snapshot, lost: bool) {
        self.set_snapshot(&Snapshot {
            is_leader: false,
            ..last.clone()
        });
        self.scans_avoided_before
            .fetch_add(last.scans_avoided, Ordering::Relaxed);
        if lost {
            self.terms_lost.inc();
        }
    }

    /// The complete OpenMetrics text, ending in `# EOF`.
    pub fn encode(&self) -> String {
        self.encode_with("")
    }

    /// The OpenMetrics text with `extra` metric families (e.g. from
    /// [`crate::report_metrics::render`]) placed before the closing `# EOF`.
    pub fn encode_with(&self, extra: &str) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        out.push_str(extra);
        let _ = encode_eof(&mut out);
        out
    }
}

#[cfg(test)]
mod tests;
