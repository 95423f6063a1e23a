//! Deterministic, label-safe hashes: `resource-spec-hash` over a workload's pod spec, and the
//! building blocks for the name hashes and `plugin-config-hash`.
//!
//! All hashes are SHA-256 digests, truncated and written in lowercase base32 (`0-9a-v`, 5 bits
//! per character), so every value is a valid label value and stable across processes and
//! platforms. Upstream uses a Go-specific hash; values are opaque and compared only for equality.

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Length of `resource-spec-hash` and `plugin-config-hash` values (80 bits).
pub const SPEC_HASH_LEN: usize = 16;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The typed pod spec could not be turned into JSON.
    #[error("failed to serialize pod spec")]
    SerializePodSpec(#[source] serde_json::Error),
}

impl Error {
    /// A short, bounded label for metrics and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::SerializePodSpec(_) => "serialize_pod_spec",
        }
    }
}

const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// Encodes the first `len` base32 characters of `digest` (lowercase `0-9a-v`).
/// At most `digest.len() * 8 / 5` characters are produced: trailing bits that do not fill a
/// character are dropped (no padding).
pub fn encode_base32(digest: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for byte in digest {
        acc = (acc << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            if out.len() == len {
                return out;
            }
            bits -= 5;
            let index = ((acc >> bits) & 0x1f) as usize;
            out.push(char::from(ALPHABET[index]));
        }
        acc &= (1 << bits) - 1;
    }
    out
}

/// SHA-256 of `data`, encoded into `len` label-safe characters (`len` <= 51).
pub fn hash_str(data: &str, len: usize) -> String {
    encode_base32(&Sha256::digest(data.as_bytes()), len)
}

/// SHA-256 over a sequence of parts, each framed by its length so that part boundaries
/// matter (`["ab", "c"]` and `["a", "bc"]` differ), encoded into `len` characters.
pub fn hash_parts<I, P>(parts: I, len: usize) -> String
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let mut hasher = Sha256::new();
    for part in parts {
        let part = part.as_ref();
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    encode_base32(&hasher.finalize(), len)
}

/// Writes `value` as canonical JSON: no whitespace, object keys sorted by their UTF-8 bytes
/// at every depth, whatever map implementation serde_json uses.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(&Value::String(key.clone()), out);
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        // Scalars have a single serde_json rendering.
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The `resource-spec-hash` of a pod spec given as JSON: SHA-256 over its canonical JSON,
/// [`SPEC_HASH_LEN`] characters. Hash the same representation on every side that compares
/// the value (the typed [`pod_spec_hash`] is the recommended one).
pub fn resource_spec_hash(pod_spec: &Value) -> String {
    hash_str(&canonical_json(pod_spec), SPEC_HASH_LEN)
}

/// The `resource-spec-hash` of a typed pod spec (its JSON serialization, hashed by
/// [`resource_spec_hash`]).
pub fn pod_spec_hash(pod_spec: &PodSpec) -> Result<String, Error> {
    let value = serde_json::to_value(pod_spec).map_err(Error::SerializePodSpec)?;
    Ok(resource_spec_hash(&value))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::names::is_valid_label_value;
    use k8s_openapi::api::core::v1::Container;
    use serde_json::json;

    #[test]
    fn base32_encoding() {
        let cases: &[(&[u8], usize, &str)] = &[
            (&[], 10, ""),
            (&[0x00], 10, "0"),
            (&[0xff], 10, "v"),
            (&[0xff, 0xff], 3, "vvv"),
            (&[0x08, 0x42, 0x10, 0x84, 0x21], 8, "11111111"),
            (b"foobar", 50, "cpnmuoj1e"),
        ];
        for (input, len, want) in cases {
            assert_eq!(encode_base32(input, *len), *want, "input {input:?}");
        }
    }

    #[test]
    fn spec_hash_is_stable() {
        // Computed once; a change means every report in every cluster gets rescanned.
        let spec = json!({"containers": [{"name": "nginx", "image": "nginx:1.25"}]});
        assert_eq!(resource_spec_hash(&spec), "eu4pusjaro7va55n");
        assert_eq!(resource_spec_hash(&json!({})), "8g9mv8qlmdjok4a6");
    }

    #[test]
    fn spec_hash_ignores_key_order() {
        let a: Value = serde_json::from_str(
            r#"{"containers":[{"name":"a","image":"x","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}],"hostNetwork":true}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{"hostNetwork":true,"containers":[{"resources":{"limits":{"memory":"1Gi","cpu":"1"}},"image":"x","name":"a"}]}"#,
        )
        .unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(resource_spec_hash(&a), resource_spec_hash(&b));
    }

    #[test]
    fn spec_hash_changes_with_the_spec() {
        let base = json!({"containers": [{"name": "a", "image": "x:1"}]});
        let changes = [
            json!({"containers": [{"name": "a", "image": "x:2"}]}),
            json!({"containers": [{"name": "b", "image": "x:1"}]}),
            json!({"containers": [{"name": "a", "image": "x:1"}], "hostPID": true}),
            json!({"containers": [{"name": "a", "image": "x:1"}, {"name": "a", "image": "x:1"}]}),
            json!({"containers": [{"name": "a", "image": "x:1", "args": ["1"]}]}),
            json!({"containers": [{"name": "a", "image": "x:1", "args": [1]}]}),
        ];
        let h = resource_spec_hash(&base);
        let mut seen = vec![h.clone()];
        for changed in &changes {
            let hc = resource_spec_hash(changed);
            assert!(!seen.contains(&hc), "{changed} collides");
            seen.push(hc);
        }
    }

    #[test]
    fn spec_hash_is_a_label_value() {
        for spec in [json!({}), json!(null), json!({"a": [1, 2.5, "é\"\n"]})] {
            let h = resource_spec_hash(&spec);
            assert_eq!(h.len(), SPEC_HASH_LEN);
            assert!(is_valid_label_value(&h), "{h}");
            assert!(
                h.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
            );
        }
    }

    #[test]
    fn typed_pod_spec_hash_matches_json() {
        let spec = PodSpec {
            containers: vec![Container {
                name: "nginx".into(),
                image: Some("nginx:1.25".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        };
        let json = json!({"containers": [{"name": "nginx", "image": "nginx:1.25"}]});
        assert_eq!(pod_spec_hash(&spec).unwrap(), resource_spec_hash(&json));
    }

    #[test]
    fn canonical_json_escapes_and_sorts() {
        let v = json!({"b": 1, "a": {"z": null, "é": "\"q\""}, "A": [true, 1.5]});
        assert_eq!(
            canonical_json(&v),
            r#"{"A":[true,1.5],"a":{"z":null,"é":"\"q\""},"b":1}"#
        );
    }

    #[test]
    fn framed_parts_keep_boundaries() {
        assert_ne!(hash_parts(["ab", "c"], 16), hash_parts(["a", "bc"], 16));
        assert_ne!(hash_parts(["abc"], 16), hash_parts(["abc", ""], 16));
        assert_eq!(
            hash_parts(["a", "b"], 16),
            hash_parts(vec!["a".to_owned(), "b".into()], 16)
        );
    }
}
