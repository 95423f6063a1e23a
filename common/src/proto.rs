//! The gRPC contract between leader and workers and the status API, generated from `proto/`.

#![allow(clippy::all, missing_docs, unreachable_pub)]

tonic::include_proto!("trivy_operator.v1");

/// Encoded file descriptor set of `proto/`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/operator_descriptor.bin"));

/// Bounded metric label of a task kind (as carried in `Task.kind`).
pub fn task_kind_label(kind: i32) -> &'static str {
    match TaskKind::try_from(kind) {
        Ok(TaskKind::ConfigAudit) => "config_audit",
        Ok(TaskKind::VulnerabilityScan) => "vulnerability_scan",
        Ok(TaskKind::NodeAssessment) => "node_assessment",
        Ok(TaskKind::RbacAssessment) => "rbac_assessment",
        Ok(TaskKind::ResourceAudit) => "resource_audit",
        _ => "Other",
    }
}

/// Bounded metric label of a task outcome (as carried in `TaskResult.outcome`).
pub fn outcome_label(outcome: i32) -> &'static str {
    match Outcome::try_from(outcome) {
        Ok(Outcome::Succeeded) => "succeeded",
        Ok(Outcome::FailedRetryable) => "failed_retryable",
        Ok(Outcome::FailedPermanent) => "failed_permanent",
        _ => "Other",
    }
}

/// The largest capacity a worker may announce; the leader caps announcements at it.
pub const MAX_WORKER_CAPACITY: u32 = 64;
