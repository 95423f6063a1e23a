//! Trivy scanner output: decoding a scan container's log, parsing Trivy's JSON
//! (SchemaVersion 2) and converting it into upstream-compatible VulnerabilityReport data.
//!
//! The usual path is [`decode_scanner_output`] → [`parse_report`] → [`to_report_data`];
//! [`parse_scanner_output`] does the first two.

mod convert;
mod cyclonedx;
mod decode;
mod image_ref;
mod json;
mod secrets;

pub use convert::{score_from_cvss, severity_of, to_report_data};
pub use cyclonedx::{parse_cyclonedx, to_sbom_data};
pub use decode::{
    MAX_DECODED_LEN, bzip2_base64, decode_scanner_output, parse_report, parse_scanner_output,
};
pub use image_ref::{
    DEFAULT_TAG, DOCKER_HUB, ImageRef, ImageRefError, is_valid_digest, trailing_digest,
};
pub use json::{
    DetectedSecret, DetectedVulnerability, Metadata, PkgIdentifier, SUPPORTED_SCHEMA_VERSION,
    ScanResult, TrivyCvss, TrivyOs, TrivyReport,
};
pub use secrets::to_secret_data;

/// Why scanner output could not be turned into a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The log was empty (or only whitespace).
    #[error("scanner output is empty")]
    EmptyOutput,
    /// The log is neither JSON nor base64 text.
    #[error("scanner output is neither json nor base64-encoded bzip2")]
    UnrecognizedOutput,
    /// The log looked like base64 but is not valid base64.
    #[error("decode base64 scanner output")]
    DecodeBase64 {
        /// The base64 error.
        #[source]
        source: base64::DecodeError,
    },
    /// The base64 payload is not bzip2 data.
    #[error("base64-decoded scanner output is not bzip2 data")]
    NotBzip2,
    /// The bzip2 stream is corrupt or truncated.
    #[error("decompress bzip2 scanner output")]
    Decompress {
        /// The decompression error.
        #[source]
        source: std::io::Error,
    },
    /// Decompressed output is larger than [`MAX_DECODED_LEN`].
    #[error("decompressed scanner output exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The output is not syntactically valid JSON.
    #[error("parse trivy json")]
    Json {
        /// The JSON error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// `SchemaVersion` is missing or not the supported one.
    #[error("unsupported trivy json SchemaVersion {found} (expected {SUPPORTED_SCHEMA_VERSION})")]
    UnsupportedSchemaVersion {
        /// What the document had, e.g. `1` or `missing`.
        found: String,
    },
    /// A CycloneDX document (`--format cyclonedx`) is not a CycloneDX BOM.
    #[error("not a cyclonedx bom: {reason}")]
    NotCycloneDx {
        /// What is wrong.
        reason: String,
    },
    /// A field has the wrong type or a required field is missing.
    #[error("invalid trivy json at {path}: {message}")]
    InvalidField {
        /// Where, e.g. `Results[0].Vulnerabilities[3]`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// A short, bounded label for metrics and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::EmptyOutput => "empty_output",
            Self::UnrecognizedOutput => "unrecognized_output",
            Self::DecodeBase64 { .. } => "decode_base64",
            Self::NotBzip2 => "not_bzip2",
            Self::Decompress { .. } => "decompress",
            Self::TooLarge { .. } => "too_large",
            Self::Json { .. } => "json",
            Self::UnsupportedSchemaVersion { .. } => "unsupported_schema_version",
            Self::InvalidField { .. } => "invalid_field",
            Self::NotCycloneDx { .. } => "not_cyclonedx",
        }
    }
}
