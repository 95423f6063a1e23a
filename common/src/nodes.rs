//! Which nodes get a node assessment: upstream's exclusion by labels
//! (`nodeCollector.excludeNodes`: `key=value` pairs, a node is excluded when it has all of
//! them) and the taints the collector Job's tolerations must tolerate. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;

/// A node taint: key, value, effect.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

/// Why an exclusion list is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("exclude-nodes entry {0:?} is not key=value")]
    NotKeyValue(String),
}

/// Parses `key=value[,key=value...]` (entries trimmed, empty ones ignored).
pub fn parse_exclusion(list: &str) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.contains('=') => {
                out.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            _ => return Err(Error::NotKeyValue(entry.to_owned())),
        }
    }
    Ok(out)
}

/// Whether a node with `labels` is excluded: it has every pair of a non-empty `exclude`.
pub fn is_excluded(labels: &BTreeMap<String, String>, exclude: &BTreeMap<String, String>) -> bool {
    !exclude.is_empty() && exclude.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether a pod with `tolerations` may run on a node with `taints`: every `NoSchedule` and
/// `NoExecute` taint is tolerated (`PreferNoSchedule` never keeps a pod off), with the
/// Kubernetes matching rules (an empty key with `Exists` tolerates everything; an empty
/// effect matches every effect; `Equal`, the default operator, compares values).
pub fn tolerates(tolerations: &[Toleration], taints: &[Taint]) -> bool {
    taints
        .iter()
        .filter(|t| t.effect != "PreferNoSchedule")
        .all(|taint| tolerations.iter().any(|t| tolerates_one(t, taint)))
}

fn tolerates_one(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or_default();
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => key.is_empty() || key == taint.key,
        "Equal" => key == taint.key && t.value.as_deref().unwrap_or_default() == taint.value,
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
        }
    }

    fn toleration(key: &str, operator: &str, value: &str, effect: &str) -> Toleration {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Toleration {
            key: some(key),
            operator: some(operator),
            value: some(value),
            effect: some(effect),
            toleration_seconds: None,
        }
    }

    #[test]
    fn exclusion_needs_every_pair() {
        let exclude = parse_exclusion("kubernetes.io/arch=arm64, team=dev").unwrap();
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(is_excluded(
            &labels(&[("kubernetes.io/arch", "arm64"), ("team", "dev"), ("x", "y")]),
            &exclude
        ));
        assert!(!is_excluded(&labels(&[("team", "dev")]), &exclude));
        assert!(!is_excluded(&labels(&[]), &BTreeMap::new()));
        assert_eq!(parse_exclusion("").unwrap(), BTreeMap::new());
        assert_eq!(
            parse_exclusion("a=b,c").unwrap_err(),
            Error::NotKeyValue("c".into())
        );
        assert!(parse_exclusion("a=b=c").is_err());
    }

    #[test]
    fn taints_follow_the_kubernetes_matching_rules() {
        let control_plane = [taint(
            "node-role.kubernetes.io/control-plane",
            "",
            "NoSchedule",
        )];
        assert!(tolerates(&[], &[]));
        assert!(!tolerates(&[], &control_plane));
        assert!(tolerates(&[], &[taint("x", "y", "PreferNoSchedule")]));
        let exists = toleration(
            "node-role.kubernetes.io/control-plane",
            "Exists",
            "",
            "NoSchedule",
        );
        assert!(tolerates(std::slice::from_ref(&exists), &control_plane));
        assert!(!tolerates(&[exists], &[taint("other", "", "NoSchedule")]));
        let everything = toleration("", "Exists", "", "");
        assert!(tolerates(&[everything], &[taint("a", "b", "NoExecute")]));
        let equal = toleration("team", "", "a", "");
        assert!(tolerates(
            std::slice::from_ref(&equal),
            &[taint("team", "a", "NoExecute")]
        ));
        assert!(!tolerates(&[equal], &[taint("team", "b", "NoExecute")]));
        let wrong_effect = toleration("team", "Equal", "a", "NoSchedule");
        assert!(!tolerates(
            &[wrong_effect],
            &[taint("team", "a", "NoExecute")]
        ));
    }
}
