//! Turning a scan container's log into a [`TrivyReport`].
//!
//! Upstream can compress the log (`trivy ... | bzip2 | base64`) to stay under log size
//! limits. [`decode_scanner_output`] accepts either form and tells them apart by the first
//! non-blank byte: `{` or `[` is JSON, anything else must be base64 (line breaks allowed, as
//! `base64` wraps lines) of a bzip2 stream.

use std::io::Read;

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use super::Error;
use super::json::{
    DetectedVulnerability, Metadata, SUPPORTED_SCHEMA_VERSION, ScanResult, TrivyReport,
};

/// Upper bound on decompressed output, against decompression bombs (256 MiB).
pub const MAX_DECODED_LEN: usize = 256 * 1024 * 1024;

/// Returns the JSON bytes of a scanner log that is either plain JSON or bzip2-compressed
/// then base64-encoded.
pub fn decode_scanner_output(output: &[u8]) -> Result<Vec<u8>, Error> {
    let Some(first) = output.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(Error::EmptyOutput);
    };
    if matches!(first, b'{' | b'[') {
        return Ok(output.to_vec());
    }
    let compact: Vec<u8> = output
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let is_base64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if !compact.iter().all(is_base64) {
        return Err(Error::UnrecognizedOutput);
    }
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|source| Error::DecodeBase64 { source })?;
    if !compressed.starts_with(b"BZh") {
        return Err(Error::NotBzip2);
    }
    let mut json = Vec::new();
    bzip2::read::MultiBzDecoder::new(compressed.as_slice())
        .take(MAX_DECODED_LEN as u64 + 1)
        .read_to_end(&mut json)
        .map_err(|source| Error::Decompress { source })?;
    if json.len() > MAX_DECODED_LEN {
        return Err(Error::TooLarge {
            limit: MAX_DECODED_LEN,
        });
    }
    Ok(json)
}

/// Parses Trivy JSON, checking `SchemaVersion` first. A wrongly typed field is reported
/// with its path, e.g. `Results[0].Vulnerabilities[2]: missing field VulnerabilityID`.
pub fn parse_report(json: &[u8]) -> Result<TrivyReport, Error> {
    let value: Value = serde_json::from_slice(json).map_err(|source| Error::Json { source })?;
    let Value::Object(root) = &value else {
        return Err(invalid("$", "expected a JSON object"));
    };
    match root.get("SchemaVersion") {
        Some(v) if v.as_u64() == Some(SUPPORTED_SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(Error::UnsupportedSchemaVersion {
                found: v.to_string(),
            });
        }
        None => {
            return Err(Error::UnsupportedSchemaVersion {
                found: "missing".into(),
            });
        }
    }
    TrivyReport::deserialize(&value).map_err(|e| locate_error(&value, e))
}

/// [`decode_scanner_output`] then [`parse_report`].
pub fn parse_scanner_output(output: &[u8]) -> Result<TrivyReport, Error> {
    parse_report(&decode_scanner_output(output)?)
}

fn invalid(path: impl Into<String>, message: impl ToString) -> Error {
    Error::InvalidField {
        path: path.into(),
        message: message.to_string(),
    }
}

/// Finds which part of the document failed to deserialize, to name it in the error.
fn locate_error(root: &Value, whole: serde_json::Error) -> Error {
    if let Some(meta) = root.get("Metadata").filter(|m| !m.is_null())
        && let Err(e) = Metadata::deserialize(meta)
    {
        return invalid("Metadata", e);
    }
    if let Some(results) = root.get("Results").filter(|r| !r.is_null()) {
        let Some(results) = results.as_array() else {
            return invalid("Results", "expected an array");
        };
        for (i, result) in results.iter().enumerate() {
            if let Some(vulns) = result.get("Vulnerabilities").and_then(Value::as_array) {
                for (j, v) in vulns.iter().enumerate() {
                    if let Err(e) = DetectedVulnerability::deserialize(v) {
                        return invalid(format!("Results[{i}].Vulnerabilities[{j}]"), e);
                    }
                }
            }
            if let Err(e) = ScanResult::deserialize(result) {
                return invalid(format!("Results[{i}]"), e);
            }
        }
    }
    invalid("$", whole)
}
