//! Which namespaces the operator scans: all, an explicit list, minus exclude globs, and only
//! those whose labels match a selector. Pure; evaluated against the observed namespaces.

use std::collections::BTreeMap;

use crate::args::ScopeArgs;

/// Errors in the scope flags.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The namespace label selector could not be parsed.
    #[error("invalid namespace selector {selector:?}: {reason}")]
    ParseSelector {
        /// The selector as given.
        selector: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The namespace scope, built once from the flags.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    include: Vec<String>,
    exclude: Vec<String>,
    selector: Vec<Requirement>,
}

/// One term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Scope {
    /// Builds the scope from the flags, validating the selector.
    pub fn new(args: &ScopeArgs) -> Result<Self, Error> {
        let clean = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let selector = match &args.namespace_selector {
            Some(text) if !text.trim().is_empty() => {
                parse_selector(text).map_err(|reason| Error::ParseSelector {
                    selector: text.clone(),
                    reason,
                })?
            }
            _ => Vec::new(),
        };
        Ok(Self {
            include: clean(&args.namespaces),
            exclude: clean(&args.exclude_namespaces),
            selector,
        })
    }

    /// Whether workloads in `namespace`, whose labels are `labels`, are scanned.
    pub fn contains(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        if !self.include.is_empty() && !self.include.iter().any(|n| n == namespace) {
            return false;
        }
        if self.exclude.iter().any(|glob| glob_match(glob, namespace)) {
            return false;
        }
        self.selector.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Self::Equals(k, v) => labels.get(k) == Some(v),
            Self::NotEquals(k, v) => labels.get(k) != Some(v),
            Self::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Self::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Self::Exists(k) => labels.contains_key(k),
            Self::NotExists(k) => !labels.contains_key(k),
        }
    }
}

/// Parses a Kubernetes label selector (`a=b,c!=d,e in (f,g),h notin (i),j,!k`).
fn parse_selector(text: &str) -> Result<Vec<Requirement>, String> {
    split_terms(text)?
        .into_iter()
        .map(|term| parse_term(term.trim()))
        .collect()
}

/// Splits on commas that are not inside parentheses.
fn split_terms(text: &str) -> Result<Vec<&str>, String> {
    let (mut terms, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced ')'")?,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".to_string());
    }
    terms.push(&text[start..]);
    Ok(terms)
}

fn parse_term(term: &str) -> Result<Requirement, String> {
    let requirement = parse_term_shape(term)?;
    let (key, values): (&str, Vec<&str>) = match &requirement {
        Requirement::Exists(k) | Requirement::NotExists(k) => (k, Vec::new()),
        Requirement::Equals(k, v) | Requirement::NotEquals(k, v) => (k, vec![v.as_str()]),
        Requirement::In(k, vs) | Requirement::NotIn(k, vs) => {
            (k, vs.iter().map(String::as_str).collect())
        }
    };
    if !is_label_key(key) {
        return Err(format!("{key:?} in {term:?} is not a valid label key"));
    }
    if let Some(v) = values
        .iter()
        .find(|v| !common::names::is_valid_label_value(v))
    {
        return Err(format!("{v:?} in {term:?} is not a valid label value"));
    }
    Ok(requirement)
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// alphanumerics, `-`, `_` and `.`, starting and ending with an alphanumeric.
fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    name_ok && prefix.is_none_or(common::names::is_dns1123_subdomain)
}

/// The requirement a term spells, before its key and values are checked.
fn parse_term_shape(term: &str) -> Result<Requirement, String> {
    let key = |k: &str| -> Result<String, String> {
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            Err(format!("invalid key in {term:?}"))
        } else {
            Ok(k.to_string())
        }
    };
    if term.is_empty() {
        return Err("empty term".to_string());
    }
    if let Some(k) = term.strip_prefix('!') {
        return Ok(Requirement::NotExists(key(k)?));
    }
    if let Some((k, v)) = term.split_once("!=") {
        return Ok(Requirement::NotEquals(key(k)?, v.trim().to_string()));
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Requirement::Equals(key(k)?, v.trim().to_string()));
    }
    for (op, notin) in [(" notin ", true), (" in ", false)] {
        if let Some((k, rest)) = term.split_once(op) {
            let values = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("expected (values) in {term:?}"))?
                .split(',')
                .map(|v| v.trim().to_string())
                .collect();
            return Ok(if notin {
                Requirement::NotIn(key(k)?, values)
            } else {
                Requirement::In(key(k)?, values)
            });
        }
    }
    Ok(Requirement::Exists(key(term)?))
}

/// Matches `*` (any run) and `?` (one character) globs.
fn glob_match(glob: &str, text: &str) -> bool {
    let (g, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut gi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == t[ti]) {
            gi += 1;
            ti += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some(gi);
            mark = ti;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn scope(include: &[&str], exclude: &[&str], selector: Option<&str>) -> Scope {
        Scope::new(&ScopeArgs {
            namespaces: include.iter().map(|s| s.to_string()).collect(),
            exclude_namespaces: exclude.iter().map(|s| s.to_string()).collect(),
            namespace_selector: selector.map(str::to_string),
        })
        .unwrap()
    }

    #[test]
    fn everything_by_default() {
        assert!(scope(&[], &[], None).contains("default", &labels(&[])));
    }

    #[test]
    fn include_and_exclude() {
        let s = scope(&["a", "kube-system"], &["kube-*"], None);
        assert!(s.contains("a", &labels(&[])));
        assert!(!s.contains("b", &labels(&[])));
        assert!(!s.contains("kube-system", &labels(&[])));
    }

    #[test]
    fn globs() {
        let cases = [
            ("kube-*", "kube-system", true),
            ("kube-*", "kube", false),
            ("*-test", "a-test", true),
            ("team-?", "team-a", true),
            ("team-?", "team-ab", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ];
        for (glob, text, want) in cases {
            assert_eq!(glob_match(glob, text), want, "{glob} vs {text}");
        }
    }

    #[test]
    fn selectors() {
        let l = labels(&[("scan", "true"), ("env", "prod")]);
        let cases = [
            ("scan=true", true),
            ("scan==true", true),
            ("scan!=true", false),
            ("env in (prod, staging)", true),
            ("env notin (prod)", false),
            ("team notin (a)", true),
            ("scan", true),
            ("!scan", false),
            ("!team", true),
            ("scan=true,env in (dev)", false),
        ];
        for (selector, want) in cases {
            assert_eq!(
                scope(&[], &[], Some(selector)).contains("ns", &l),
                want,
                "{selector}"
            );
        }
    }

    #[test]
    fn bad_selectors_are_errors() {
        for bad in [
            "env in prod",
            "a,(",
            "=x",
            "env in (a",
            "!!!",
            "a=b=c",
            "-a=b",
            "a=b c",
            "env in (a,b!)",
            "Bad_Prefix/x=y",
        ] {
            let args = ScopeArgs {
                namespace_selector: Some(bad.to_string()),
                ..Default::default()
            };
            assert!(Scope::new(&args).is_err(), "{bad} should fail");
        }
    }
}
