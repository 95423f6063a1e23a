//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!key`) and field selectors
//! (`metadata.name`, `metadata.namespace` and the per-kind fields the API server supports).

use serde_json::Value;

/// One label requirement.
#[derive(Debug, Clone, PartialEq)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    reqs: Vec<Req>,
}

/// Splits at commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

impl LabelSelector {
    /// Parses a selector string as in `?labelSelector=`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            let bad = || format!("unable to parse requirement: {p:?}");
            let req = if let Some(key) = p.strip_prefix('!') {
                Req::NotExists(key.trim().to_owned())
            } else if let Some(open) = p.find('(') {
                let close = p.rfind(')').filter(|c| *c > open).ok_or_else(bad)?;
                let mut head = p[..open].split_whitespace();
                let (key, op) = (head.next().ok_or_else(bad)?, head.next().ok_or_else(bad)?);
                let values: Vec<String> = p[open + 1..close]
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect();
                match op {
                    "in" => Req::In(key.to_owned(), values),
                    "notin" => Req::NotIn(key.to_owned(), values),
                    _ => return Err(bad()),
                }
            } else if let Some((k, v)) = p.split_once("!=") {
                Req::NotEq(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                Req::Eq(k.trim().to_owned(), v.trim().to_owned())
            } else {
                Req::Exists(p.to_owned())
            };
            let key = match &req {
                Req::Eq(k, _) | Req::NotEq(k, _) | Req::In(k, _) | Req::NotIn(k, _) => k,
                Req::Exists(k) | Req::NotExists(k) => k,
            };
            if !valid_key(key) {
                return Err(bad());
            }
            reqs.push(req);
        }
        Ok(Self { reqs })
    }

    /// Whether the selector has no requirements.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether an object's `metadata.labels` match.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::NotEq(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

/// Fields a kind supports in field selectors besides `metadata.name`/`metadata.namespace`.
fn supported(group: &str, resource: &str, field: &str) -> bool {
    if field == "metadata.name" || field == "metadata.namespace" {
        return true;
    }
    match (group, resource) {
        ("", "pods") => matches!(
            field,
            "spec.nodeName"
                | "spec.restartPolicy"
                | "spec.schedulerName"
                | "spec.serviceAccountName"
                | "spec.hostNetwork"
                | "status.phase"
                | "status.podIP"
                | "status.nominatedNodeName"
        ),
        ("", "events") => event_field(field, "involvedObject.", "reportingComponent"),
        ("events.k8s.io", "events") => event_field(field, "regarding.", "reportingController"),
        ("", "secrets") => field == "type",
        ("", "namespaces") => field == "status.phase",
        ("", "nodes") => field == "spec.unschedulable",
        ("batch", "jobs") => field == "status.successful",
        ("", "replicationcontrollers") | ("apps", "replicasets") => field == "status.replicas",
        _ => false,
    }
}

/// The selectable fields of an Event in one API: the referenced object's (under `object`)
/// and a few of its own.
fn event_field(field: &str, object: &str, reporting: &str) -> bool {
    matches!(
        field.strip_prefix(object),
        Some(
            "kind" | "namespace" | "name" | "uid" | "apiVersion" | "resourceVersion" | "fieldPath"
        )
    ) || field == reporting
        || matches!(field, "reason" | "source" | "type")
}

fn field_value(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for seg in path.split('.') {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl FieldSelector {
    /// Parses `?fieldSelector=` for a resource; unsupported fields are an error, as on a real
    /// server (`field label not supported: ...`).
    pub fn parse(s: &str, group: &str, resource: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, eq, v) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (k, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let k = k.trim();
            if !supported(group, resource, k) {
                return Err(format!("field label not supported: {k}"));
            }
            reqs.push((k.to_owned(), eq, v.trim().to_owned()));
        }
        Ok(Self { reqs })
    }

    /// Whether an object matches.
    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs
            .iter()
            .all(|(k, eq, v)| (field_value(obj, k) == *v) == *eq)
    }

    /// The same selector with each field replaced by its path in the stored object.
    pub fn stored_as(mut self, path: impl Fn(&str) -> String) -> Self {
        for (field, _, _) in &mut self.reqs {
            *field = path(field);
        }
        self
    }

    /// Whether the selector has no requirements.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_operators() {
        let o = json!({"metadata": {"labels": {"app": "web", "tier": "fe"}}});
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web, db)", true),
            ("app notin (web,db)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing,app=web", true),
            ("missing notin (x)", true),
            ("app=web,tier in (be)", false),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&o),
                want,
                "{sel}"
            );
        }
        assert!(LabelSelector::parse("app in (web").is_err());
    }

    #[test]
    fn field_selector_fields() {
        let pod = json!({"metadata": {"name": "p", "namespace": "n"},
                         "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}});
        let f = FieldSelector::parse("status.phase=Running,spec.nodeName!=x", "", "pods").unwrap();
        assert!(f.matches(&pod));
        assert!(
            !FieldSelector::parse("metadata.name=q", "", "pods")
                .unwrap()
                .matches(&pod)
        );
        assert!(FieldSelector::parse("spec.foo=1", "apps", "deployments").is_err());
    }
}
