//! What the operator and its policy evaluator process say to each other: one JSON object per
//! line, requests on the evaluator's stdin, replies on its stdout.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::{CompileError, PolicyInfo};
use crate::reports::config_audit::Check;

/// A request to the evaluator.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Request {
    /// Compile the custom policies and libraries of a plugin ConfigMap's `data` (the
    /// evaluator keeps them for the evaluations that follow).
    Compile { data: BTreeMap<String, String> },
    /// Evaluate the compiled custom policies that apply to `kind` against `workload`, except
    /// those whose keys are in `skip`.
    Evaluate {
        kind: String,
        workload: Value,
        skip: Vec<String>,
    },
}

/// A reply of the evaluator.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Reply {
    /// The ConfigMap compiled: its custom policies.
    Compiled { policies: Vec<PolicyInfo> },
    /// The ConfigMap does not compile.
    Rejected { error: CompileError },
    /// The policy with this key is being tried or evaluated now.
    Running { key: String },
    /// The policy with this key found these checks.
    Checks { key: String, checks: Vec<Check> },
    /// The request is complete.
    Done,
}

/// `message` as one line of JSON, newline included.
pub(super) fn line<T: Serialize>(message: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(message).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}
