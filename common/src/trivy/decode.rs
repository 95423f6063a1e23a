//! Turning a scan container's log into a [`TrivyReport`].
//!
//! Upstream can compress the log (`trivy ... | bzip2 | base64`) to stay under log size
//! limits. [`decode_scanner_output`] accepts either form and tells them apart by the first
//! non-blank byte: `{` or `[` is JSON, anything else must be base64 (line breaks allowed, as
//! `base64` wraps lines) of a bzip2 stream.

use std::borrow::Cow;
use std::io::Read;

use base64::Engine;
use serde::Deserialize;

use super::Error;
use super::json::{SUPPORTED_SCHEMA_VERSION, TrivyReport};

/// Upper bound on scanner output, plain or after decompression (64 MiB): Trivy JSON of a
/// very large image is tens of MB, and parsing costs a few times its size in memory, so
/// larger outputs fail with a clear error instead of taking the worker past its memory
/// limit (a decompression bomb included).
pub const MAX_DECODED_LEN: usize = 64 * 1024 * 1024;

/// `bytes` compressed with bzip2, then in standard base64: the encoding Trivy's compressed
/// logs use and the node-collector's configuration arguments expect.
pub fn bzip2_base64(bytes: &[u8]) -> String {
    use std::io::Write as _;
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    // Writing to a Vec cannot fail.
    let compressed = encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(compressed)
}

/// Returns the JSON bytes of a scanner log that is either plain JSON (borrowed, not copied)
/// or bzip2-compressed then base64-encoded.
pub fn decode_scanner_output(output: &[u8]) -> Result<Cow<'_, [u8]>, Error> {
    let Some(first) = output.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(Error::EmptyOutput);
    };
    if matches!(first, b'{' | b'[') {
        if output.len() > MAX_DECODED_LEN {
            return Err(Error::TooLarge {
                limit: MAX_DECODED_LEN,
            });
        }
        return Ok(Cow::Borrowed(output));
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
    drop(compact);
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
    Ok(Cow::Owned(json))
}

/// Just the `SchemaVersion` of a document (everything else is skipped, not kept).
#[derive(Deserialize)]
struct Header {
    #[serde(rename = "SchemaVersion")]
    schema_version: Option<serde_json::Value>,
}

/// Parses Trivy JSON straight into the typed report (no intermediate JSON tree), checking
/// `SchemaVersion` first. A wrongly typed field is reported with its path, e.g.
/// `Results[0].Vulnerabilities[2]: missing field VulnerabilityID`.
pub fn parse_report(json: &[u8]) -> Result<TrivyReport, Error> {
    let first = json.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(invalid("$", "expected a JSON object"));
    }
    let header: Header = serde_json::from_slice(json).map_err(|source| Error::Json { source })?;
    match header.schema_version {
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
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = match error.path().to_string() {
            p if p == "." || p.is_empty() => "$".to_owned(),
            p => p,
        };
        invalid(path, error.into_inner())
    })
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
