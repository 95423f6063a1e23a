//! The compiled policy set and its evaluation against one workload.
//!
//! [`PolicyEngine::compile`] parses every library and policy (pre-1.0 Rego first, as
//! upstream policies are written, then Rego v1), prepares one `regorus` engine holding all
//! of them and reads each policy's `__rego_metadata__` and `__rego_input__`. The built-ins
//! are then compiled again in [`groups`] (one engine per set of kinds they apply to), and
//! the engine holding everything is kept only for custom policies.
//! [`PolicyEngine::evaluate`] clones a prepared engine (cheap: the compiled modules are
//! shared), sets the workload as `input` and evaluates `deny` and `warn` of each policy that
//! applies to the kind.

mod compile;
mod evaluate;
mod groups;

use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use serde::Deserialize;

use super::diagnose::{CompileError, concise};
use super::results::Metadata;
use crate::policy_config::{KindSelector, NODE_KIND, RBAC_KINDS, RESOURCE_KINDS, WORKLOAD_KINDS};
use crate::reports::config_audit::Check;
pub use evaluate::Evaluation;

/// Wall-clock budget of one policy's evaluation; a policy that exceeds it gets a failed
/// check entry instead of stalling the worker.
const EVAL_TIME_LIMIT: Duration = Duration::from_secs(5);

/// The rules whose results make a check fail, in the order they are read.
const RESULT_RULES: [&str; 2] = ["deny", "warn"];

/// Where a policy comes from, and so which kinds it applies to.
#[derive(Clone, Debug)]
enum Origin {
    /// A built-in check: every workload kind, and Deployment (not scanned by the operator,
    /// which audits the current ReplicaSet, but its template is found all the same); a check
    /// whose `__rego_input__` names kinds, those of them the operator audits
    /// ([`RESOURCE_KINDS`] included).
    Builtin,
    /// A built-in node check (KCV): the node kind only.
    BuiltinNode,
    /// A built-in control-plane check (KCV): the workload kinds, evaluated only for the
    /// control-plane components' workloads.
    BuiltinControlPlane,
    /// A built-in RBAC check: the role kinds only.
    BuiltinRbac,
    /// A custom policy: the kinds of its `policy.<name>.kinds` key.
    Custom(KindSelector),
}

impl Origin {
    /// The package under which the built-ins of this origin live, evaluated at once.
    fn root(&self) -> Option<&'static str> {
        match self {
            Self::Builtin => Some(BUILTIN_PACKAGE),
            Self::BuiltinNode => Some(NODE_PACKAGE),
            Self::BuiltinControlPlane => Some(CONTROL_PLANE_PACKAGE),
            Self::BuiltinRbac => Some(RBAC_PACKAGE),
            Self::Custom(_) => None,
        }
    }
}

/// One compiled policy and what is known about it before any input.
#[derive(Clone, Debug)]
struct CompiledPolicy {
    /// The ConfigMap key (`policy.<name>.rego`) or built-in file (`builtin/checks/...`).
    key: String,
    /// The package as a rule path prefix, e.g. `data.builtin.trivyrs.KSV001`.
    package: String,
    origin: Origin,
    metadata: Metadata,
    /// Kinds named by a `__rego_input__` selector (`subtypes[].kind`), lower-cased;
    /// `None` when the policy does not restrict them.
    input_kinds: Option<Vec<String>>,
    /// The rules of [`RESULT_RULES`] the package declares.
    rules: Vec<&'static str>,
}

impl CompiledPolicy {
    fn applies_to(&self, kind: &str) -> bool {
        let by_origin = match &self.origin {
            // A workload check names no kinds; a check of other kinds names them (and may
            // name workload kinds too).
            Origin::Builtin if self.input_kinds.is_some() => {
                WORKLOAD_KINDS.contains(&kind)
                    || kind == "Deployment"
                    || RESOURCE_KINDS.contains(&kind)
            }
            Origin::Builtin | Origin::BuiltinControlPlane => {
                WORKLOAD_KINDS.contains(&kind) || kind == "Deployment"
            }
            Origin::BuiltinNode => kind == NODE_KIND,
            Origin::BuiltinRbac => RBAC_KINDS.contains(&kind),
            Origin::Custom(kinds) => kinds.matches(kind),
        };
        let by_selector = self
            .input_kinds
            .as_ref()
            .is_none_or(|kinds| kinds.iter().any(|k| k.eq_ignore_ascii_case(kind)));
        by_origin && by_selector
    }
}

/// The built-in checks and custom policies, compiled and ready to evaluate workloads.
///
/// Cheap to share: evaluation takes `&self` and works on clones of the prepared engines.
#[derive(Clone)]
pub struct PolicyEngine {
    /// The built-ins by the kinds they apply to.
    groups: Vec<groups::Group>,
    /// Every library and policy, when there are custom policies (which only it holds).
    custom: Option<regorus::Engine>,
    policies: Vec<CompiledPolicy>,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

/// One Rego text to load, with the name errors use for it.
pub(super) struct Source<'a> {
    pub(super) key: String,
    pub(super) rego: &'a str,
    /// Built-in texts are Rego v1; user texts are tried as pre-1.0 first.
    pub(super) builtin: bool,
}

impl PolicyEngine {
    /// Gives the policies the cluster's version as upstream does: `data.k8s.version`, the API
    /// server's `gitVersion` without its leading `v` and with `+` as `-` (e.g.
    /// `1.30.2-gke.1587003`). Checks such as KSV01011 read it.
    pub fn with_cluster_version(mut self, git_version: &str) -> Result<Self, String> {
        let version = cluster_version(git_version);
        let data = serde_json::json!({"k8s": {"version": version}});
        let value = regorus::Value::from_json_str(&data.to_string())
            .map_err(|e| concise(&e.to_string()))?;
        let engines = self
            .groups
            .iter_mut()
            .map(|g| &mut g.engine)
            .chain(self.custom.as_mut());
        for engine in engines {
            engine
                .add_data(value.clone())
                .map_err(|e| concise(&e.to_string()))?;
            prepare(engine)?;
        }
        Ok(self)
    }

    /// The number of compiled policies (built-in and custom).
    pub fn policy_count(&self) -> usize {
        self.policies.len()
    }

    /// The check ID of every compiled policy, in compile order.
    pub fn check_ids(&self) -> impl Iterator<Item = &str> {
        self.policies.iter().map(|p| p.metadata.check_id.as_str())
    }

    /// What is known about each compiled policy before any input.
    pub fn policies(&self) -> Vec<PolicyInfo> {
        self.policies
            .iter()
            .map(|p| PolicyInfo {
                key: p.key.clone(),
                template: p.metadata.passed(),
                kinds: audited_kinds()
                    .filter(|k| p.applies_to(k))
                    .map(str::to_owned)
                    .collect(),
            })
            .collect()
    }
}

/// A compiled policy as another process needs to know it: its key, its check as it reads
/// when it passes (the metadata), and the audited kinds it applies to.
#[derive(Clone, Debug, PartialEq, serde::Serialize, Deserialize)]
pub struct PolicyInfo {
    pub key: String,
    pub template: Check,
    pub kinds: Vec<String>,
}

impl PolicyInfo {
    /// The check entry of this policy when its evaluation failed for `reason`.
    pub fn evaluation_failed(&self, reason: &str) -> Check {
        super::results::failed_check(&self.template, reason)
    }
}

/// The kinds the operator audits (and Deployment, which built-ins also understand).
fn audited_kinds() -> impl Iterator<Item = &'static str> {
    WORKLOAD_KINDS
        .into_iter()
        .chain(["Deployment", NODE_KIND])
        .chain(RBAC_KINDS)
        .chain(RESOURCE_KINDS)
}

impl<'a> Source<'a> {
    fn builtin(name: &str, rego: &'a str) -> Self {
        Self {
            key: format!("builtin/{name}"),
            rego,
            builtin: true,
        }
    }
}

/// Parses one text into `engine`, returning its package path (`data.x.y`).
pub(super) fn add_source(
    engine: &mut regorus::Engine,
    source: &Source,
) -> Result<String, CompileError> {
    let parse = |engine: &mut regorus::Engine, v0: bool| {
        engine.set_rego_v0(v0);
        engine.add_policy(source.key.clone(), source.rego.to_owned())
    };
    let result = if source.builtin {
        parse(engine, false)
    } else {
        parse(engine, true).or_else(|v0_err| parse(engine, false).map_err(|_| v0_err))
    };
    result.map_err(|err| CompileError::Parse {
        key: source.key.clone(),
        message: concise(&err.to_string()),
    })
}

/// An empty engine with the evaluation time limit.
fn new_engine() -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: EVAL_TIME_LIMIT,
        check_interval: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
    });
    engine
}

/// Runs regorus' analysis (imports, rule schedules, functions) without any input.
pub(super) fn prepare(engine: &mut regorus::Engine) -> Result<(), String> {
    engine
        .eval_query("true".to_owned(), false)
        .map(drop)
        .map_err(|e| concise(&e.to_string()))
}

/// The version the policies see (`data.k8s.version`) for an API server `gitVersion`.
pub fn cluster_version(git_version: &str) -> String {
    git_version
        .strip_prefix('v')
        .unwrap_or(git_version)
        .replace('+', "-")
}

/// The package under which every built-in workload check lives.
const BUILTIN_PACKAGE: &str = "data.builtin.trivyrs";
/// The package under which every built-in node check lives.
const NODE_PACKAGE: &str = "data.builtin.trivynode";
/// The directory (in built-in file names) of the node checks.
pub(super) const NODE_CHECKS_DIR: &str = "node/";
const CONTROL_PLANE_PACKAGE: &str = "data.builtin.trivycp";
/// The directory (in built-in file names) of the control-plane checks.
pub(super) const CONTROL_PLANE_CHECKS_DIR: &str = "control_plane/";
const RBAC_PACKAGE: &str = "data.builtin.trivyrbac";
/// The directory (in built-in file names) of the RBAC checks.
pub(super) const RBAC_CHECKS_DIR: &str = "rbac/";
