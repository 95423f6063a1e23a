//! Parsing requests: resource paths, query parameters, the Accept header and bodies.

use std::collections::HashMap;

use serde_json::Value;

/// A resource URL: `/api/v1/...` or `/apis/<group>/<version>/...`, then
/// `[namespaces/<ns>/]<resource>[/<name>[/<subresource>]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiPath {
    /// API group (`""` for core).
    pub group: String,
    /// Version from the URL.
    pub version: String,
    /// Namespace from the URL.
    pub namespace: Option<String>,
    /// Plural resource name.
    pub resource: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource (`status`, `log`, ...).
    pub subresource: Option<String>,
    /// The legacy `/watch/` prefix was used.
    pub watch_prefix: bool,
}

impl ApiPath {
    /// Parses a path; `None` if it is not a resource path.
    pub fn parse(path: &str) -> Option<Self> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match segs.as_slice() {
            ["api", v, rest @ ..] => ("", *v, rest),
            ["apis", g, v, rest @ ..] => (*g, *v, rest),
            _ => return None,
        };
        let (watch_prefix, rest) = match rest {
            ["watch", rest @ ..] => (true, rest),
            _ => (false, rest),
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, r, tail @ ..]
                if !(tail.is_empty() && matches!(*r, "status" | "finalize")) =>
            {
                (Some((*ns).to_owned()), &rest[2..])
            }
            _ => (None, rest),
        };
        let (resource, name, subresource) = match rest {
            [r] => (*r, None, None),
            [r, n] => (*r, Some(*n), None),
            [r, n, s] => (*r, Some(*n), Some(*s)),
            _ => return None,
        };
        if resource.is_empty() || name.is_some_and(str::is_empty) {
            return None;
        }
        Some(Self {
            group: group.to_owned(),
            version: version.to_owned(),
            namespace,
            resource: resource.to_owned(),
            name: name.map(str::to_owned),
            subresource: subresource.map(str::to_owned),
            watch_prefix,
        })
    }
}

/// Query parameters (last value wins).
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> = raw
            .and_then(|q| {
                axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
                    &format!("/?{q}").parse().ok()?,
                )
                .ok()
            })
            .map(|q| q.0)
            .unwrap_or_default();
        Self(pairs.into_iter().collect())
    }

    /// A parameter, if present and non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// `?dryRun=All`.
    pub fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

/// The representation a client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Plain JSON objects and lists.
    Json,
    /// `as=Table` (server-side printing for kubectl get), with the meta.k8s.io version.
    Table(&'static str),
    /// `as=PartialObjectMetadata[List]`, with the meta.k8s.io version.
    Metadata(&'static str),
}

/// Picks the first media type in `Accept` that kube-sim can produce; `None` if none is
/// acceptable (406). Protobuf and aggregated discovery are never produced.
pub fn negotiate(accept: Option<&str>) -> Option<Output> {
    let accept = accept.unwrap_or("").trim();
    if accept.is_empty() {
        return Some(Output::Json);
    }
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        if !matches!(
            media,
            "application/json" | "*/*" | "application/*" | "application/yaml"
        ) {
            continue;
        }
        let params: HashMap<&str, &str> = parts.filter_map(|p| p.split_once('=')).collect();
        let version = match params.get("v") {
            Some(&"v1beta1") => "v1beta1",
            _ => "v1",
        };
        match (params.get("as"), params.get("g")) {
            (None, _) => return Some(Output::Json),
            (Some(&"Table"), Some(&"meta.k8s.io")) => return Some(Output::Table(version)),
            (
                Some(&("PartialObjectMetadata" | "PartialObjectMetadataList")),
                Some(&"meta.k8s.io"),
            ) => {
                return Some(Output::Metadata(version));
            }
            _ => continue,
        }
    }
    None
}

/// Decodes a request body by its Content-Type (JSON, or YAML for `*yaml` types).
pub fn decode_body(content_type: Option<&str>, body: &[u8]) -> Result<Value, (u16, String)> {
    let ct = content_type.unwrap_or("application/json");
    if ct.contains("protobuf") {
        return super::protobuf::decode(body).map_err(|e| (415, e));
    }
    if ct.contains("cbor") {
        return Err((
            415,
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, got {ct}"
            ),
        ));
    }
    if ct.contains("yaml") {
        // JSON is YAML, and clients send server-side apply patches as JSON under a YAML
        // type (kube-rs always does): decode those as JSON, as the API server's YAML
        // decoder does for a JSON document; anything else, or JSON that does not parse, as
        // YAML.
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'{')
            && let Ok(value) = serde_json::from_slice::<Value>(body)
        {
            return Ok(value);
        }
        serde_yaml_ng::from_slice::<Value>(body)
            .map_err(|e| (400, format!("error decoding YAML: {e}")))
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| {
            (
                400,
                format!("couldn't get version/kind; json parse error: {e}"),
            )
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn yaml_types_take_json_and_yaml_bodies() {
        let apply = Some("application/apply-patch+yaml");
        let want = serde_json::json!({"a": 1, "b": ["x"]});
        for body in [
            &b" {\"a\": 1, \"b\": [\"x\"]}"[..],
            b"a: 1\nb: [x]\n",
            // Not JSON (unquoted keys), but a YAML flow mapping.
            b"{a: 1, b: [x]}",
        ] {
            assert_eq!(decode_body(apply, body).unwrap(), want);
        }
        assert_eq!(decode_body(apply, b"a: [").unwrap_err().0, 400);
        assert_eq!(
            decode_body(None, b"{a: 1}").unwrap_err().0,
            400,
            "JSON stays strict"
        );
    }

    #[test]
    fn paths() {
        let p = ApiPath::parse("/api/v1/namespaces/ns1/pods/p1/log").unwrap();
        assert_eq!(
            (
                p.namespace.as_deref(),
                p.resource.as_str(),
                p.name.as_deref(),
                p.subresource.as_deref()
            ),
            (Some("ns1"), "pods", Some("p1"), Some("log"))
        );
        let p = ApiPath::parse("/api/v1/namespaces/ns1").unwrap();
        assert_eq!(
            (p.namespace, p.resource.as_str(), p.name.as_deref()),
            (None, "namespaces", Some("ns1"))
        );
        let p = ApiPath::parse("/api/v1/namespaces/ns1/status").unwrap();
        assert_eq!(p.subresource.as_deref(), Some("status"));
        let p = ApiPath::parse("/apis/apps/v1/watch/namespaces/x/deployments").unwrap();
        assert!(p.watch_prefix);
        assert_eq!(
            (p.group.as_str(), p.namespace.as_deref()),
            ("apps", Some("x"))
        );
        assert!(ApiPath::parse("/apis/apps").is_none());
    }

    #[test]
    fn accept() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(kubectl)), Some(Output::Table("v1")));
        let disco =
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
        assert_eq!(negotiate(Some(disco)), Some(Output::Json));
        assert_eq!(negotiate(Some("application/vnd.kubernetes.protobuf")), None);
        assert_eq!(
            negotiate(Some(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
            )),
            Some(Output::Metadata("v1"))
        );
    }
}
