//! Evaluating the compiled policies against one workload: the built-ins of each package root
//! at once in the engine of the kind's group, custom policies in the engine holding them.

use serde::Deserialize;
use serde_json::Value;

use super::super::diagnose::concise;
use super::super::results::checks_from_results;
use super::{CompiledPolicy, Origin, PolicyEngine, groups};
use crate::reports::config_audit::Check;

impl PolicyEngine {
    /// Evaluates every policy that applies to `kind` against `workload` (the object itself:
    /// apiVersion, kind, metadata, spec), in compile order: built-ins first, then custom
    /// policies by name. The control-plane checks apply only to a control-plane component's
    /// workload ([`crate::workload::is_control_plane_component`]). Each policy gives a passed
    /// check, failed checks (one per check ID its results carry), or a failed check with
    /// severity `UNKNOWN` when it errors at run time.
    pub fn evaluate(&self, kind: &str, workload: &Value) -> Vec<Check> {
        let mut checks = Vec::new();
        self.evaluate_each(kind, workload, &[], &mut |event| {
            if let Evaluation::Finished { checks: found, .. } = event {
                checks.extend(found);
            }
        });
        checks
    }

    /// [`Self::evaluate`] one policy at a time, skipping the policies whose keys are in
    /// `skip`, and telling `on` when each starts and what it found.
    pub fn evaluate_each(
        &self,
        kind: &str,
        workload: &Value,
        skip: &[String],
        on: &mut dyn FnMut(Evaluation),
    ) {
        let control_plane = is_control_plane_input(workload);
        let applicable: Vec<&CompiledPolicy> = self
            .policies
            .iter()
            .filter(|p| p.applies_to(kind) && !skip.contains(&p.key))
            .filter(|p| control_plane || !matches!(p.origin, Origin::BuiltinControlPlane))
            .collect();
        let input = match regorus::Value::deserialize(workload) {
            Ok(input) => input,
            Err(err) => {
                let reason = format!("the workload is not valid input: {err}");
                for p in applicable {
                    on(Evaluation::Finished {
                        key: p.key.clone(),
                        checks: vec![p.metadata.evaluation_failed(&reason)],
                    });
                }
                return;
            }
        };
        let with_input = |engine: &regorus::Engine| {
            let mut engine = engine.clone();
            engine.set_input(input.clone());
            engine
        };
        // The built-ins of one root in one evaluation, in the engine of the kind's group:
        // their shared helpers are computed once. A run-time error there falls back to one
        // evaluation per policy, which blames the right one.
        let mut roots: Vec<Root> = Vec::new();
        for root in applicable.iter().filter_map(|p| p.origin.root()) {
            if !roots.iter().any(|r| r.root == root) {
                let mut engine =
                    groups::find(&self.groups, kind, root).map(|g| with_input(&g.engine));
                let all = engine.as_mut().and_then(|e| eval_package(e, root));
                roots.push(Root { root, engine, all });
            }
        }
        let mut custom = self.custom.as_ref().map(with_input);
        for policy in applicable {
            on(Evaluation::Started {
                key: policy.key.clone(),
            });
            let root = policy
                .origin
                .root()
                .and_then(|root| roots.iter_mut().find(|r| r.root == root));
            let results = match root {
                Some(Root { all: Some(all), .. }) => Ok(results_in(all, policy)),
                Some(Root {
                    engine: Some(engine),
                    ..
                }) => eval_policy(engine, policy),
                _ => match custom.as_mut() {
                    Some(engine) => eval_policy(engine, policy),
                    None => Err("no engine holds this policy".to_owned()),
                },
            };
            let checks = match results {
                Ok(results) => checks_from_results(&policy.metadata, &results),
                Err(reason) => vec![policy.metadata.evaluation_failed(&reason)],
            };
            on(Evaluation::Finished {
                key: policy.key.clone(),
                checks,
            });
        }
    }
}

/// One built-in root of an evaluation: its group's engine (with the input set) and every
/// rule under it, evaluated at once (`None` when that failed).
struct Root {
    root: &'static str,
    engine: Option<regorus::Engine>,
    all: Option<regorus::Value>,
}

/// A step of [`PolicyEngine::evaluate_each`].
#[derive(Clone, Debug, PartialEq)]
pub enum Evaluation {
    /// The policy with this key is being evaluated.
    Started { key: String },
    /// The policy with this key found these checks.
    Finished { key: String, checks: Vec<Check> },
}

/// Whether the input is a control-plane component's workload (by its namespace and name).
fn is_control_plane_input(workload: &Value) -> bool {
    let meta = &workload["metadata"];
    match (meta["namespace"].as_str(), meta["name"].as_str()) {
        (Some(namespace), Some(name)) => {
            crate::workload::is_control_plane_component(namespace, name)
        }
        _ => false,
    }
}

/// Every rule of every package under `prefix`, evaluated at once for the current input;
/// `None` when the evaluation fails.
fn eval_package(engine: &mut regorus::Engine, prefix: &str) -> Option<regorus::Value> {
    let results = engine.eval_query(prefix.to_owned(), false).ok()?;
    let value = results.result.first()?.expressions.first()?.value.clone();
    Some(value)
}

/// The values of `policy`'s result rules in the evaluated package tree `all` (keyed by the
/// last segment of each package).
fn results_in(all: &regorus::Value, policy: &CompiledPolicy) -> Vec<Value> {
    let Some(name) = policy.package.rsplit('.').next() else {
        return Vec::new();
    };
    let package = &all[name];
    policy
        .rules
        .iter()
        .map(|rule| &package[*rule])
        .filter(|value| **value != regorus::Value::Undefined)
        .filter_map(|value| serde_json::to_value(value).ok())
        .collect()
}

/// The values of the policy's result rules for the engine's current input.
fn eval_policy(
    engine: &mut regorus::Engine,
    policy: &CompiledPolicy,
) -> Result<Vec<Value>, String> {
    let mut values = Vec::with_capacity(policy.rules.len());
    for rule in &policy.rules {
        let value = engine
            .eval_rule(format!("{}.{rule}", policy.package))
            .map_err(|e| concise(&e.to_string()))?;
        if value != regorus::Value::Undefined {
            values.push(serde_json::to_value(&value).map_err(|e| e.to_string())?);
        }
    }
    Ok(values)
}
