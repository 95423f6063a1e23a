//! Compiling a policy set: every library and policy into one engine (pre-1.0 Rego first,
//! then Rego v1), each policy's metadata and input selector read from it, custom policies
//! tried once, then the built-ins compiled again in their groups.

use serde_json::Value;

use super::super::builtin::{builtin_libraries, builtin_policies, compat_libraries};
use super::super::diagnose::{CompileError, blame, dry_run};
use super::super::results::Metadata;
use super::{
    CONTROL_PLANE_CHECKS_DIR, CompiledPolicy, NODE_CHECKS_DIR, Origin, PolicyEngine,
    RBAC_CHECKS_DIR, RESULT_RULES, Source, add_source, groups, new_engine, prepare,
};
use crate::policy_config::PolicyConfig;

impl PolicyEngine {
    /// Compiles the built-in checks (when `include_builtin`) and every library and policy of
    /// `config`. Errors name the ConfigMap key at fault.
    pub fn compile(config: &PolicyConfig, include_builtin: bool) -> Result<Self, CompileError> {
        Self::compile_observed(config, include_builtin, &mut |_| {})
    }

    /// [`Self::compile`], calling `on_trial` with a custom policy's key before its trial
    /// evaluation (so a process that dies there can name the policy at fault).
    pub fn compile_observed(
        config: &PolicyConfig,
        include_builtin: bool,
        on_trial: &mut dyn FnMut(&str),
    ) -> Result<Self, CompileError> {
        let mut libraries: Vec<Source> = builtin_libraries()
            .iter()
            .map(|(name, rego)| Source::builtin(name, rego))
            .collect();
        libraries.extend(config.libraries.iter().map(|l| Source {
            key: format!("library.{}.rego", l.name),
            rego: &l.rego,
            builtin: false,
        }));
        let mut policies: Vec<(Source, Origin, String)> = Vec::new();
        if include_builtin {
            policies.extend(builtin_policies().iter().map(|(name, rego)| {
                let origin = if name.starts_with(NODE_CHECKS_DIR) {
                    Origin::BuiltinNode
                } else if name.starts_with(CONTROL_PLANE_CHECKS_DIR) {
                    Origin::BuiltinControlPlane
                } else if name.starts_with(RBAC_CHECKS_DIR) {
                    Origin::BuiltinRbac
                } else {
                    Origin::Builtin
                };
                (Source::builtin(name, rego), origin, stem(name))
            }));
        }
        policies.extend(config.policies.iter().map(|p| {
            let source = Source {
                key: format!("policy.{}.rego", p.name),
                rego: &p.rego,
                builtin: false,
            };
            (source, Origin::Custom(p.kinds.clone()), p.name.clone())
        }));

        let mut engine = new_engine();
        let mut user_packages = Vec::new();
        for source in &libraries {
            let package = add_source(&mut engine, source)?;
            if !source.builtin {
                user_packages.push(package);
            }
        }
        let mut packages = Vec::with_capacity(policies.len());
        for (source, _, _) in &policies {
            packages.push(add_source(&mut engine, source)?);
        }
        for (package, name, rego) in compat_libraries() {
            if !user_packages.iter().chain(&packages).any(|p| p == package) {
                let source = Source::builtin(name, rego);
                add_source(&mut engine, &source)?;
                libraries.push(source);
            }
        }
        if let Err(err) = prepare(&mut engine) {
            let policy_sources: Vec<&Source> = policies.iter().map(|(s, _, _)| s).collect();
            return Err(blame(&libraries, &policy_sources, err));
        }

        let mut compiled = Vec::with_capacity(policies.len());
        // Reported after every trial, so that an error in the Rego itself is named first.
        let mut metadata_error = None;
        for ((source, origin, name), package) in policies.iter().zip(packages) {
            let rules: Vec<&str> = RESULT_RULES
                .into_iter()
                .filter(|rule| {
                    engine
                        .has_declared_rule_rooted_at(&source.key, rule)
                        .unwrap_or(false)
                })
                .collect();
            if !source.builtin {
                on_trial(&source.key);
                dry_run(&mut engine, &source.key, &package, &rules)?;
            }
            let metadata = read_rule(&mut engine, &package, "__rego_metadata__");
            let selector = read_rule(&mut engine, &package, "__rego_input__");
            let metadata = match &origin {
                Origin::Builtin
                | Origin::BuiltinNode
                | Origin::BuiltinControlPlane
                | Origin::BuiltinRbac => Metadata::from_value(metadata.as_ref(), name),
                Origin::Custom(_) => {
                    match Metadata::of_custom_policy(metadata.as_ref()).and_then(not_builtin) {
                        Ok(metadata) => metadata,
                        Err(message) => {
                            metadata_error.get_or_insert(CompileError::Metadata {
                                key: source.key.clone(),
                                message,
                            });
                            Metadata::default()
                        }
                    }
                }
            };
            compiled.push(CompiledPolicy {
                key: source.key.clone(),
                metadata,
                input_kinds: selector.as_ref().and_then(selector_kinds),
                package,
                origin: origin.clone(),
                rules,
            });
        }
        if let Some(error) = metadata_error {
            return Err(error);
        }
        // Without custom policies the engine holding everything is dropped before the groups
        // are compiled, so that the two never take memory at once.
        let custom = compiled
            .iter()
            .any(|p| p.origin.root().is_none())
            .then_some(engine);
        let sources: Vec<&Source> = policies.iter().map(|(s, _, _)| s).collect();
        let groups = groups::build(groups::plan(&compiled), &libraries, &sources)?;
        Ok(Self {
            groups,
            custom,
            policies: compiled,
        })
    }
}

/// A custom policy's metadata, unless its check ID is a built-in's: custom policies add
/// checks, they never replace one.
fn not_builtin(metadata: Metadata) -> Result<Metadata, String> {
    if super::super::builtin::builtin_check_ids().contains(&metadata.check_id) {
        return Err(format!(
            "check ID {} is a built-in check's; custom policies add checks and cannot replace one",
            metadata.check_id
        ));
    }
    Ok(metadata)
}

/// `checks/ksv001_x.rego` → `ksv001_x`.
fn stem(name: &str) -> String {
    let file = name.rsplit('/').next().unwrap_or(name);
    file.strip_suffix(".rego").unwrap_or(file).to_owned()
}

/// The value of `<package>.<rule>` with no input, as JSON; `None` when undefined or failing.
fn read_rule(engine: &mut regorus::Engine, package: &str, rule: &str) -> Option<Value> {
    engine.set_input(regorus::Value::new_object());
    let results = engine.eval_query(format!("{package}.{rule}"), false).ok()?;
    let value = results.result.first()?.expressions.first()?.value.clone();
    serde_json::to_value(&value).ok()
}

/// Kinds named by a `__rego_input__` selector: `{"selector": [{"type": "kubernetes",
/// "subtypes": [{"kind": "Pod"}, ...]}]}`. `None` unless it names at least one kind.
fn selector_kinds(input: &Value) -> Option<Vec<String>> {
    let kinds: Vec<String> = input
        .get("selector")?
        .as_array()?
        .iter()
        .filter_map(|s| s.get("subtypes")?.as_array())
        .flatten()
        .filter_map(|s| s.get("kind")?.as_str())
        .map(str::to_ascii_lowercase)
        .collect();
    (!kinds.is_empty()).then_some(kinds)
}
