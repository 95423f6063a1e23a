//! The storage guard's Events (see [`crate::storage_guard`]): a Warning when the reports
//! reach their budget and a Normal one when they are back below it, on the leader's Lease.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};

use crate::storage_guard::{self, Change};

/// Where the storage guard's Events go: the leader's Lease, in the operator namespace.
pub struct StorageEvents {
    recorder: Recorder,
    lease: ObjectReference,
}

impl StorageEvents {
    pub fn new(recorder: Recorder, operator_namespace: &str, lease_name: &str) -> Self {
        let lease = ObjectReference {
            api_version: Some("coordination.k8s.io/v1".into()),
            kind: Some("Lease".into()),
            namespace: Some(operator_namespace.to_owned()),
            name: Some(lease_name.to_owned()),
            ..Default::default()
        };
        Self { recorder, lease }
    }

    /// Records a change of the storage guard as an Event (in the background).
    pub fn publish(&self, change: Change) {
        let mib = |b: u64| b as f64 / 1_048_576.0;
        let event = match change {
            Change::Tripped { bytes, budget } => {
                tracing::warn!(
                    bytes,
                    budget,
                    "reports over their storage budget: writing summaries only"
                );
                Event {
                    type_: EventType::Warning,
                    reason: "ReportStorageOverBudget".into(),
                    note: Some(format!(
                        "the operator's reports occupy {:.1} MiB, at their budget of {:.1} MiB (--report-storage-budget): new reports keep their summaries only until they fall below {:.1} MiB",
                        mib(bytes),
                        mib(budget),
                        mib(storage_guard::recovery_below(budget))
                    )),
                    action: "WriteSummariesOnly".into(),
                    secondary: None,
                }
            }
            Change::Recovered { bytes, budget } => {
                tracing::info!(bytes, budget, "reports back within their storage budget");
                Event {
                    type_: EventType::Normal,
                    reason: "ReportStorageWithinBudget".into(),
                    note: Some(format!(
                        "the operator's reports occupy {:.1} MiB of their {:.1} MiB budget: reports are written in full again",
                        mib(bytes),
                        mib(budget)
                    )),
                    action: "WriteFullReports".into(),
                    secondary: None,
                }
            }
        };
        let (recorder, lease) = (self.recorder.clone(), self.lease.clone());
        tokio::spawn(async move {
            if let Err(error) = recorder.publish(&event, &lease).await {
                tracing::warn!(%error, "could not record the storage Event");
            }
        });
    }
}
