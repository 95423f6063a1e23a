//! Compile errors of the policy set: which ConfigMap key is at fault, and the errors
//! `regorus` only reports at evaluation time that OPA reports at compile time.

use super::engine::{Source, add_source, prepare};

/// A library or policy that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CompileError {
    /// The Rego text does not parse, as pre-1.0 Rego nor as Rego v1.
    #[error("failed to parse {key}: {message}")]
    Parse {
        /// The ConfigMap key (`policy.<name>.rego`, `library.<name>.rego`) or built-in file.
        key: String,
        /// The parser's message for pre-1.0 syntax.
        message: String,
    },
    /// The texts parse, but do not compile together (unknown import, unsafe variable, ...).
    #[error("failed to compile {key}: {message}")]
    Compile {
        /// The key of the first library or policy that does not compile with the others.
        key: String,
        /// The compiler's message.
        message: String,
    },
    /// A custom policy's metadata is unusable (no id, unknown severity, a built-in's id).
    #[error("invalid metadata in {key}: {message}")]
    Metadata {
        /// The policy's ConfigMap key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The policy evaluator process failed while compiling (or trying) the policies.
    #[error("{message}")]
    Evaluator {
        /// The key of the policy being tried, if any.
        key: Option<String>,
        /// What happened.
        message: String,
    },
}

impl CompileError {
    /// A short label for metrics and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Parse { .. } => "parse",
            Self::Compile { .. } => "compile",
            Self::Metadata { .. } => "metadata",
            Self::Evaluator { .. } => "evaluator",
        }
    }

    /// The key of the library or policy at fault.
    pub fn key(&self) -> &str {
        match self {
            Self::Parse { key, .. } | Self::Compile { key, .. } | Self::Metadata { key, .. } => key,
            Self::Evaluator { key, .. } => key.as_deref().unwrap_or("policy.*.rego"),
        }
    }
}

/// Finds the text at fault when the whole set does not compile: the libraries alone, then
/// the libraries with the policies added one at a time (so a policy that only clashes with
/// an earlier one, e.g. by redeclaring its package's rules, is the one named).
pub(super) fn blame(libraries: &[Source], policies: &[&Source], whole: String) -> CompileError {
    let try_with = |extra: &[&Source]| -> Result<(), String> {
        let mut engine = regorus::Engine::new();
        for source in libraries.iter().chain(extra.iter().copied()) {
            add_source(&mut engine, source).map_err(|e| e.to_string())?;
        }
        prepare(&mut engine)
    };
    if let Err(message) = try_with(&[]) {
        let key = libraries
            .iter()
            .find(|l| message.contains(&l.key))
            .map_or_else(|| "library.*.rego".to_owned(), |l| l.key.clone());
        return CompileError::Compile { key, message };
    }
    for end in 1..=policies.len() {
        if let (Err(message), Some(source)) = (try_with(&policies[..end]), policies.get(end - 1)) {
            return CompileError::Compile {
                key: source.key.clone(),
                message,
            };
        }
    }
    CompileError::Compile {
        key: "policy.*.rego".to_owned(),
        message: whole,
    }
}

/// Whether a `regorus` evaluation error is one it only reports when it evaluates a rule,
/// though it does not depend on the input (OPA rejects such policies at compile time):
/// an unknown function, an unsafe variable, a wrong number of arguments.
fn is_static_error(message: &str) -> bool {
    // Not "rule conflicts with rule": regorus says so both for a redeclared rule and for
    // complete rules whose bodies both hold, which may depend on the input.
    const PATTERNS: [&str; 3] = [
        "could not find function",
        "is unsafe",
        "used before definition",
    ];
    PATTERNS.iter().any(|p| message.contains(p))
        || (message.contains("` expects ") && message.contains(" argument"))
}

/// Evaluates the result rules of a custom policy on an empty input, turning the errors
/// [`is_static_error`] recognises into compile errors. Best effort: a rule whose body stops early on the empty input is not checked
/// past that point, and any other error is left for evaluation time.
pub(super) fn dry_run(
    engine: &mut regorus::Engine,
    key: &str,
    package: &str,
    rules: &[&str],
) -> Result<(), CompileError> {
    engine.set_input(regorus::Value::new_object());
    for rule in rules {
        if let Err(err) = engine.eval_rule(format!("{package}.{rule}")) {
            let message = concise(&err.to_string());
            if is_static_error(&message) {
                return Err(CompileError::Compile {
                    key: key.to_owned(),
                    message,
                });
            }
        }
    }
    Ok(())
}

/// `regorus` messages quote the source with a caret under the spot; keep the location and
/// the error line: `policy.x.rego:2:16: var x is unsafe`.
pub(super) fn concise(message: &str) -> String {
    let location = message
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .map(str::trim);
    let error = message
        .lines()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix("error: "))
        .map(str::trim);
    match (location, error) {
        (Some(location), Some(error)) => format!("{location}: {error}"),
        (None, Some(error)) => error.to_owned(),
        _ => message.trim().to_owned(),
    }
}
