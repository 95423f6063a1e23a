//! Which Secrets a scan may read for registry credentials (`--registry-secrets`):
//!
//! - `workload`: the image pull secrets of the workload and its ServiceAccount, in the
//!   workload's namespace, as the kubelet would use them. Needs `get` on Secrets in every
//!   scanned namespace.
//! - `mapped`: only Secrets in the operator's namespace, named per workload namespace by
//!   `--registry-secret-names` (`team-a=pull-a,mirror;team-b=pull-b;*=shared`). Needs
//!   `get` on Secrets in the operator's namespace only; an administrator copies the pull
//!   secrets a namespace may use there.
//! - `none`: no Secret is read; images that need credentials fail to scan.

use std::collections::BTreeMap;

/// The `--registry-secrets` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RegistrySecrets {
    #[default]
    Workload,
    Mapped,
    None,
}

/// `--registry-secret-names`: Secret names (in the operator namespace) by workload
/// namespace; `*` for every namespace not listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretMap(BTreeMap<String, Vec<String>>);

impl SecretMap {
    fn names_for(&self, namespace: &str) -> Option<&Vec<String>> {
        self.0.get(namespace).or_else(|| self.0.get("*"))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Parses `ns=secret[,secret...]` entries separated by `;`.
pub fn parse_secret_map(text: &str) -> Result<SecretMap, String> {
    let mut map = BTreeMap::new();
    for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (namespace, names) = entry
            .split_once('=')
            .ok_or_else(|| format!("{entry:?}: expected namespace=secret[,secret...]"))?;
        let namespace = namespace.trim();
        let names: Vec<String> = names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.len() <= 253
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        };
        if !(namespace == "*" || valid(namespace))
            || names.is_empty()
            || !names.iter().all(|n| valid(n))
        {
            return Err(format!(
                "{entry:?}: a namespace (or *) and one or more Secret names, as Kubernetes names"
            ));
        }
        if map.insert(namespace.to_owned(), names).is_some() {
            return Err(format!("namespace {namespace} is listed twice"));
        }
    }
    Ok(SecretMap(map))
}

/// Where the credentials of one scan subscriber may come from.
#[derive(Debug, Clone, Default)]
pub struct SecretSource {
    pub mode: RegistrySecrets,
    pub names: SecretMap,
    /// The operator's namespace (where `mapped` Secrets live).
    pub operator_namespace: String,
}

impl SecretSource {
    /// Checks the flags together.
    pub fn validate(&self) -> Result<(), String> {
        match self.mode {
            RegistrySecrets::Mapped if self.names.is_empty() => Err(
                "--registry-secrets=mapped needs --registry-secret-names (namespace=secret,...)"
                    .into(),
            ),
            RegistrySecrets::Workload | RegistrySecrets::None if !self.names.is_empty() => {
                Err("--registry-secret-names is used only with --registry-secrets=mapped".into())
            }
            _ => Ok(()),
        }
    }

    /// The namespace and the names of the Secrets to look credentials up in, for a
    /// workload in `namespace` naming `pull_secrets`; `None`: scan without credentials.
    pub fn secrets_for(
        &self,
        namespace: &str,
        pull_secrets: &[String],
    ) -> Option<(String, Vec<String>)> {
        match self.mode {
            RegistrySecrets::Workload if !pull_secrets.is_empty() => {
                Some((namespace.to_owned(), pull_secrets.to_vec()))
            }
            RegistrySecrets::Mapped => self
                .names
                .names_for(namespace)
                .map(|names| (self.operator_namespace.clone(), names.clone())),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn source(mode: RegistrySecrets, names: &str) -> SecretSource {
        SecretSource {
            mode,
            names: parse_secret_map(names).unwrap(),
            operator_namespace: "trivy-system".into(),
        }
    }

    #[test]
    fn each_mode_reads_only_its_secrets() {
        let pull = vec!["regcred".to_string()];
        let workload = source(RegistrySecrets::Workload, "");
        assert_eq!(
            workload.secrets_for("team-a", &pull),
            Some(("team-a".into(), pull.clone()))
        );
        assert_eq!(workload.secrets_for("team-a", &[]), None);
        let mapped = source(RegistrySecrets::Mapped, "team-a=pull-a, mirror ; *=shared");
        assert_eq!(
            mapped.secrets_for("team-a", &pull),
            Some((
                "trivy-system".into(),
                vec!["pull-a".into(), "mirror".into()]
            ))
        );
        assert_eq!(
            mapped.secrets_for("team-b", &[]),
            Some(("trivy-system".into(), vec!["shared".into()]))
        );
        let only_a = source(RegistrySecrets::Mapped, "team-a=pull-a");
        assert_eq!(only_a.secrets_for("team-b", &pull), None);
        assert_eq!(
            source(RegistrySecrets::None, "").secrets_for("team-a", &pull),
            None
        );
    }

    #[test]
    fn bad_maps_and_combinations_are_refused() {
        for bad in ["team-a", "team-a=", "=x", "Team=x", "a=x;a=y", "a=x y"] {
            assert!(parse_secret_map(bad).is_err(), "{bad:?} accepted");
        }
        assert!(source(RegistrySecrets::Mapped, "").validate().is_err());
        assert!(source(RegistrySecrets::None, "a=x").validate().is_err());
        assert!(source(RegistrySecrets::Mapped, "a=x").validate().is_ok());
        assert!(source(RegistrySecrets::Workload, "").validate().is_ok());
    }
}
