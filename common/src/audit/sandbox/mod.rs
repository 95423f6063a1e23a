//! Custom policies run in separate, confined processes: a policy is code from a ConfigMap,
//! and `regorus` can neither bound a single allocation (`numbers.range(0, 1e12)` asks for
//! terabytes and aborts the process) nor stop a builtin that never checks its timer. The
//! built-in checks, which are ours, stay in-process.
//!
//! The evaluator is the operator's own binary started with [`EVALUATOR_ARG`] (see
//! [`serve_if_asked`], called first thing by both `main`s). Each evaluator
//! - limits its address space to [`Settings::memory_limit`], raises its own OOM score (the
//!   kernel kills it, not the operator, when the pod runs out of memory) and dies with its
//!   parent;
//! - compiles the ConfigMap's custom policies once, then evaluates them one at a time,
//!   saying which policy runs before it runs.
//!
//! When an evaluator dies or goes silent, the policy it was running is blamed: its check
//! fails with severity `UNKNOWN` and the reason (signal, limit, last stderr lines); the
//! remaining policies are evaluated by a fresh evaluator. At compile time the same blame
//! rejects the ConfigMap, naming the policy. Evaluator stderr (regorus warnings, `print`)
//! is forwarded to the operator's log.

mod child;
mod process;
mod protocol;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

use self::process::Evaluator;
use self::protocol::{Reply, Request};
use crate::audit::{CompileError, PolicyInfo};
use crate::reports::config_audit::Check;

/// The first argument that turns the operator's binary into a policy evaluator; the second
/// is its memory limit in bytes.
pub const EVALUATOR_ARG: &str = "__policy-evaluator";

/// Default address-space limit of one evaluator.
pub const DEFAULT_MEMORY_LIMIT: u64 = 256 << 20;

/// How long an evaluator may stay silent: a policy's own time limit (5 s, enforced inside
/// the evaluator) plus a margin for a busy machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs the policy evaluator and returns its exit code when this process was started as
/// one; `None` otherwise (the caller goes on as itself).
pub fn serve_if_asked() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != EVALUATOR_ARG {
        return None;
    }
    let limit = args
        .next()
        .and_then(|a| a.to_str()?.parse().ok())
        .unwrap_or(DEFAULT_MEMORY_LIMIT);
    Some(child::serve(limit))
}

/// The program to start as evaluator.
#[derive(Clone, Debug)]
pub struct Program {
    pub path: PathBuf,
    /// Arguments before [`EVALUATOR_ARG`].
    pub args: Vec<String>,
}

impl Program {
    /// This very binary (whose `main` calls [`serve_if_asked`]).
    pub fn this_binary() -> Result<Self, String> {
        let path = std::env::current_exe()
            .map_err(|e| format!("cannot find the operator's own binary: {e}"))?;
        Ok(Self {
            path,
            args: Vec::new(),
        })
    }
}

/// How evaluators are run.
#[derive(Clone, Debug)]
pub struct Settings {
    pub program: Program,
    /// Address-space limit of each evaluator, in bytes.
    pub memory_limit: u64,
    /// Evaluators running at once (each evaluates one workload at a time).
    pub processes: usize,
}

impl Settings {
    /// This binary as evaluator, with `memory_limit` and `processes`.
    pub fn new(memory_limit: u64, processes: usize) -> Result<Self, String> {
        Ok(Self {
            program: Program::this_binary()?,
            memory_limit,
            processes: processes.max(1),
        })
    }
}

/// The compiled custom policies of one ConfigMap version, evaluated by a pool of evaluator
/// processes.
pub struct CustomPolicies {
    settings: Settings,
    data: BTreeMap<String, String>,
    policies: Vec<PolicyInfo>,
    idle: Mutex<Vec<Evaluator>>,
    permits: Semaphore,
}

impl std::fmt::Debug for CustomPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomPolicies")
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

impl CustomPolicies {
    /// Compiles the custom policies and libraries of a ConfigMap's `data` in an evaluator,
    /// which is kept for the first evaluations.
    pub async fn compile(
        settings: Settings,
        data: BTreeMap<String, String>,
    ) -> Result<Self, CompileError> {
        let (evaluator, policies) = compile_in_new(&settings, &data).await?;
        let processes = settings.processes;
        Ok(Self {
            settings,
            data,
            policies,
            idle: Mutex::new(vec![evaluator]),
            permits: Semaphore::new(processes),
        })
    }

    /// The compiled custom policies.
    pub fn policies(&self) -> &[PolicyInfo] {
        &self.policies
    }

    /// The checks of the custom policies that apply to `kind` for `workload`, one entry per
    /// policy that could not be evaluated (with the reason).
    pub async fn evaluate(&self, kind: &str, workload: &Value) -> Vec<Check> {
        if !self
            .policies
            .iter()
            .any(|p| p.kinds.iter().any(|k| k == kind))
        {
            return Vec::new();
        }
        let Ok(_permit) = self.permits.acquire().await else {
            // Never closed; if it were, say so in each check rather than report nothing.
            return self.failed_rest(kind, &[], "the evaluator pool is closed");
        };
        let mut checks = Vec::new();
        let mut done: Vec<String> = Vec::new();
        loop {
            let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let evaluator = match taken {
                Some(evaluator) => Ok(evaluator),
                None => compile_in_new(&self.settings, &self.data)
                    .await
                    .map(|(evaluator, _)| evaluator)
                    .map_err(|e| e.to_string()),
            };
            let mut evaluator = match evaluator {
                Ok(evaluator) => evaluator,
                Err(reason) => {
                    checks.extend(self.failed_rest(kind, &done, &reason));
                    return checks;
                }
            };
            match run(&mut evaluator, kind, workload, &mut done, &mut checks).await {
                Ok(()) => {
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.push(evaluator);
                    }
                    return checks;
                }
                Err((Some(key), reason)) => {
                    // Blame the policy that was running; the rest go to a fresh evaluator.
                    if let Some(policy) = self.policies.iter().find(|p| p.key == key) {
                        checks.push(policy.evaluation_failed(&reason));
                    }
                    done.push(key);
                }
                Err((None, reason)) => {
                    checks.extend(self.failed_rest(kind, &done, &reason));
                    return checks;
                }
            }
        }
    }
}

impl CustomPolicies {
    /// A failed check, with `reason`, for each policy that applies to `kind` and is not in
    /// `done`.
    fn failed_rest(&self, kind: &str, done: &[String], reason: &str) -> Vec<Check> {
        self.policies
            .iter()
            .filter(|p| p.kinds.iter().any(|k| k == kind) && !done.contains(&p.key))
            .map(|p| p.evaluation_failed(reason))
            .collect()
    }
}

/// Starts an evaluator and compiles `data` in it; a failure names the policy being tried.
async fn compile_in_new(
    settings: &Settings,
    data: &BTreeMap<String, String>,
) -> Result<(Evaluator, Vec<PolicyInfo>), CompileError> {
    let failed = |key: Option<String>, message: String| CompileError::Evaluator { key, message };
    let mut evaluator = Evaluator::start(settings).map_err(|m| failed(None, m))?;
    let request = Request::Compile { data: data.clone() };
    evaluator
        .send(&request)
        .await
        .map_err(|m| failed(None, m))?;
    let mut running = None;
    loop {
        match evaluator.next(PATIENCE).await {
            Ok(Reply::Running { key }) => running = Some(key),
            Ok(Reply::Compiled { policies }) => return Ok((evaluator, policies)),
            Ok(Reply::Rejected { error }) => return Err(error),
            Ok(other) => {
                return Err(failed(running, format!("unexpected reply {other:?}")));
            }
            Err(reason) => {
                let message = match &running {
                    Some(key) => format!("trying {key} on an empty input stopped it: {reason}"),
                    None => reason,
                };
                return Err(failed(running, message));
            }
        }
    }
}

/// One evaluation request on `evaluator`; `Err((running policy, reason))` when it died or
/// went silent.
async fn run(
    evaluator: &mut Evaluator,
    kind: &str,
    workload: &Value,
    done: &mut Vec<String>,
    checks: &mut Vec<Check>,
) -> Result<(), (Option<String>, String)> {
    let request = Request::Evaluate {
        kind: kind.to_owned(),
        workload: workload.clone(),
        skip: done.clone(),
    };
    evaluator.send(&request).await.map_err(|e| (None, e))?;
    let mut running = None;
    loop {
        match evaluator.next(PATIENCE).await {
            Ok(Reply::Running { key }) => running = Some(key),
            Ok(Reply::Checks { key, checks: found }) => {
                checks.extend(found);
                done.push(key);
                running = None;
            }
            Ok(Reply::Done) => return Ok(()),
            Ok(other) => return Err((running, format!("unexpected reply {other:?}"))),
            Err(reason) => return Err((running, reason)),
        }
    }
}
