//! The workload kinds that get scanned.

use std::fmt;
use std::str::FromStr;

use super::Error;

/// A kind of workload that gets scanned. Deployments are not among them: their current
/// ReplicaSet is scanned instead, as upstream does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    /// `v1` Pod (only bare ones, see [`super::pod_disposition`]).
    Pod,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `v1` ReplicationController.
    ReplicationController,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
    /// `batch/v1` CronJob.
    CronJob,
    /// `batch/v1` Job (only ones no CronJob controls).
    Job,
}

impl WorkloadKind {
    /// Every kind.
    pub const ALL: [WorkloadKind; 7] = [
        Self::Pod,
        Self::ReplicaSet,
        Self::ReplicationController,
        Self::StatefulSet,
        Self::DaemonSet,
        Self::CronJob,
        Self::Job,
    ];

    /// The kind's name, e.g. `ReplicaSet`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pod => "Pod",
            Self::ReplicaSet => "ReplicaSet",
            Self::ReplicationController => "ReplicationController",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::CronJob => "CronJob",
            Self::Job => "Job",
        }
    }

    /// The lower-case name used in report names, e.g. `replicaset`.
    pub fn lowercase(self) -> &'static str {
        match self {
            Self::Pod => "pod",
            Self::ReplicaSet => "replicaset",
            Self::ReplicationController => "replicationcontroller",
            Self::StatefulSet => "statefulset",
            Self::DaemonSet => "daemonset",
            Self::CronJob => "cronjob",
            Self::Job => "job",
        }
    }

    /// The apiVersion, e.g. `apps/v1`.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::Pod | Self::ReplicationController => "v1",
            Self::ReplicaSet | Self::StatefulSet | Self::DaemonSet => "apps/v1",
            Self::CronJob | Self::Job => "batch/v1",
        }
    }

    /// The API group, e.g. `apps`; "" for the core group.
    pub fn group(self) -> &'static str {
        match self.api_version().split_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }

    /// The plural resource name, e.g. `replicasets`.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Pod => "pods",
            Self::ReplicaSet => "replicasets",
            Self::ReplicationController => "replicationcontrollers",
            Self::StatefulSet => "statefulsets",
            Self::DaemonSet => "daemonsets",
            Self::CronJob => "cronjobs",
            Self::Job => "jobs",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkloadKind {
    type Err = Error;

    /// Parses the kind name exactly as Kubernetes spells it (`ReplicaSet`, not `replicaset`).
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::UnknownKind { kind: s.to_owned() })
    }
}
