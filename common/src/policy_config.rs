//! Custom config-audit policies from the ConfigMap `trivy-operator-policies-config`, in the
//! upstream format, and the per-kind `plugin-config-hash` derived from them.
//!
//! Keys: `policy.<name>.rego` (the policy), `policy.<name>.kinds` (mandatory: a comma list of
//! kinds; `Workload` means every workload kind, `*` any kind), `library.<name>.rego` (a
//! library shared by all policies). Other keys are ignored: upstream keeps unrelated settings
//! in the same ConfigMap. Rego syntax is not checked here; the audit engine compiles it.

use std::collections::{BTreeMap, BTreeSet};

use crate::hash::{SPEC_HASH_LEN, hash_parts};

/// Name of the ConfigMap holding the custom policies, in the operator namespace.
pub const CONFIG_MAP_NAME: &str = "trivy-operator-policies-config";

/// The kinds `Workload` stands for.
pub const WORKLOAD_KINDS: [&str; 7] = [
    "Pod",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Job",
];

/// The kind of node assessments: a custom policy for nodes says `kinds: Node`, and the
/// reports of nodes carry this kind's `plugin-config-hash`. The policies' input is the
/// node-collector's `NodeInfo` document.
pub const NODE_KIND: &str = "Node";

/// The role kinds, whose RBAC checks go into RBAC assessment reports.
pub const RBAC_KINDS: [&str; 2] = ["Role", "ClusterRole"];

/// The kinds besides workloads that get config audits, as upstream audits them: namespaced
/// ones get ConfigAuditReports, cluster-scoped ones ClusterConfigAuditReports (see
/// [`crate::objects::ObjectKind`]).
pub const RESOURCE_KINDS: [&str; 11] = [
    "Service",
    "ConfigMap",
    "RoleBinding",
    "NetworkPolicy",
    "Ingress",
    "ResourceQuota",
    "LimitRange",
    "PersistentVolumeClaim",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
];

const POLICY_PREFIX: &str = "policy.";
const LIBRARY_PREFIX: &str = "library.";
const REGO_SUFFIX: &str = ".rego";
const KINDS_SUFFIX: &str = ".kinds";
const KIND_WORKLOAD: &str = "Workload";
const KIND_ANY: &str = "*";

/// Errors in the policy ConfigMap; each names the offending key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A `policy.<name>.rego` has no `policy.<name>.kinds`.
    #[error("policy key {key} has no {kinds_key}")]
    MissingKinds {
        /// The `.rego` key.
        key: String,
        /// The missing `.kinds` key.
        kinds_key: String,
    },
    /// A `policy.<name>.kinds` has no `policy.<name>.rego`.
    #[error("kinds key {key} has no {rego_key}")]
    MissingRego {
        /// The `.kinds` key.
        key: String,
        /// The missing `.rego` key.
        rego_key: String,
    },
    /// A `policy.<name>.kinds` lists no kind, so the policy could never apply.
    #[error("kinds key {key} lists no kind")]
    EmptyKinds {
        /// The `.kinds` key.
        key: String,
    },
    /// A `policy.` or `library.` key under `binaryData`: Rego is text and belongs in `data`.
    #[error("key {key} is in binaryData; policies and libraries belong in data")]
    BinaryData {
        /// The key.
        key: String,
    },
    /// A `policy.` or `library.` key with an empty name, e.g. `policy..rego`.
    #[error("key {key} has an empty name")]
    EmptyName {
        /// The key.
        key: String,
    },
}

impl Error {
    /// A short, bounded label for metrics and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::MissingKinds { .. } => "missing_kinds",
            Error::MissingRego { .. } => "missing_rego",
            Error::EmptyKinds { .. } => "empty_kinds",
            Error::EmptyName { .. } => "empty_name",
            Error::BinaryData { .. } => "binary_data",
        }
    }
}

/// The kinds a policy applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindSelector {
    /// Every kind (`*`).
    Any,
    /// The listed kinds, with `Workload` expanded to [`WORKLOAD_KINDS`].
    Kinds(BTreeSet<String>),
}

impl KindSelector {
    /// Parses a comma list of kinds; entries are trimmed, empty entries ignored.
    /// Returns `None` when the list names no kind.
    pub fn parse(list: &str) -> Option<Self> {
        let mut kinds = BTreeSet::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match entry {
                KIND_ANY => return Some(Self::Any),
                KIND_WORKLOAD => kinds.extend(WORKLOAD_KINDS.iter().map(|k| (*k).to_owned())),
                kind => {
                    kinds.insert(kind.to_owned());
                }
            }
        }
        (!kinds.is_empty()).then_some(Self::Kinds(kinds))
    }

    /// Whether the selector applies to `kind` (case-sensitive, as Kubernetes kinds are).
    pub fn matches(&self, kind: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Kinds(kinds) => kinds.contains(kind),
        }
    }
}

/// A custom policy (`policy.<name>.rego` + `policy.<name>.kinds`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomPolicy {
    /// The `<name>` part of the keys.
    pub name: String,
    /// The Rego source.
    pub rego: String,
    /// The kinds the policy applies to.
    pub kinds: KindSelector,
}

/// A shared Rego library (`library.<name>.rego`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Library {
    /// The `<name>` part of the key.
    pub name: String,
    /// The Rego source.
    pub rego: String,
}

/// The parsed policy ConfigMap. An absent ConfigMap is [`PolicyConfig::default`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Custom policies, sorted by name.
    pub policies: Vec<CustomPolicy>,
    /// Libraries, sorted by name.
    pub libraries: Vec<Library>,
}

impl PolicyConfig {
    /// Parses the ConfigMap's `data`.
    pub fn from_data(data: &BTreeMap<String, String>) -> Result<Self, Error> {
        let mut policies = Vec::new();
        let mut libraries = Vec::new();
        // BTreeMap iteration is sorted by key, so both lists come out sorted by name.
        for (key, value) in data {
            if let Some(name) = strip(key, POLICY_PREFIX, REGO_SUFFIX)? {
                let kinds_key = format!("{POLICY_PREFIX}{name}{KINDS_SUFFIX}");
                let list = data.get(&kinds_key).ok_or_else(|| Error::MissingKinds {
                    key: key.clone(),
                    kinds_key: kinds_key.clone(),
                })?;
                let kinds =
                    KindSelector::parse(list).ok_or(Error::EmptyKinds { key: kinds_key })?;
                policies.push(CustomPolicy {
                    name: name.to_owned(),
                    rego: value.clone(),
                    kinds,
                });
            } else if let Some(name) = strip(key, POLICY_PREFIX, KINDS_SUFFIX)? {
                let rego_key = format!("{POLICY_PREFIX}{name}{REGO_SUFFIX}");
                if !data.contains_key(&rego_key) {
                    return Err(Error::MissingRego {
                        key: key.clone(),
                        rego_key,
                    });
                }
            } else if let Some(name) = strip(key, LIBRARY_PREFIX, REGO_SUFFIX)? {
                libraries.push(Library {
                    name: name.to_owned(),
                    rego: value.clone(),
                });
            }
        }
        Ok(Self {
            policies,
            libraries,
        })
    }

    /// Whether the config has neither policies nor libraries.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty() && self.libraries.is_empty()
    }

    /// The policies that apply to `kind`, by name.
    pub fn policies_for_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = &'a CustomPolicy> {
        self.policies.iter().filter(move |p| p.kinds.matches(kind))
    }

    /// The `plugin-config-hash` for reports of `kind`: a hash over `builtin_digest` (the
    /// identity of the built-in checks), the policies that apply to `kind` (name and text) and,
    /// when there are any, every library (name and text). Independent of the ConfigMap's key order; changes only
    /// when something that applies to `kind` changes; a valid label value.
    pub fn config_hash(&self, kind: &str, builtin_digest: &str) -> String {
        let mut parts: Vec<&str> = vec!["plugin-config/v1", builtin_digest];
        let applicable: Vec<&CustomPolicy> = self.policies_for_kind(kind).collect();
        // Libraries only matter to custom policies (the built-ins bring their own), so a kind
        // without custom policies keeps its hash when a library changes.
        let libraries: &[Library] = if applicable.is_empty() {
            &[]
        } else {
            &self.libraries
        };
        let library_count = libraries.len().to_string();
        parts.push(&library_count);
        for library in libraries {
            parts.extend([library.name.as_str(), library.rego.as_str()]);
        }
        let count = applicable.len().to_string();
        parts.push(&count);
        for policy in applicable {
            parts.extend([policy.name.as_str(), policy.rego.as_str()]);
        }
        hash_parts(parts, SPEC_HASH_LEN)
    }
}

/// The ConfigMap's `data`, refusing policies or libraries placed under `binaryData`.
pub fn policy_data(
    config_map: &k8s_openapi::api::core::v1::ConfigMap,
) -> Result<BTreeMap<String, String>, Error> {
    let binary = config_map.binary_data.iter().flat_map(|b| b.keys());
    if let Some(key) = binary
        .into_iter()
        .find(|k| k.starts_with(POLICY_PREFIX) || k.starts_with(LIBRARY_PREFIX))
    {
        return Err(Error::BinaryData { key: key.clone() });
    }
    Ok(config_map.data.clone().unwrap_or_default())
}

/// `Some(name)` when `key` is `<prefix><name><suffix>`; an error when the name is empty.
fn strip<'a>(key: &'a str, prefix: &str, suffix: &str) -> Result<Option<&'a str>, Error> {
    match key
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
    {
        Some("") => Err(Error::EmptyName {
            key: key.to_owned(),
        }),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests;
