//! TLS material for the leader↔worker gRPC connection, read from PEM files: the leader's
//! server identity and the CA its clients' certificates must chain to (mutual TLS), the
//! workers' CA to trust and client identity.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// A TLS file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Flags that only make sense together were given alone.
    #[error("{0}")]
    Incomplete(&'static str),
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// TLS flags of the leader's gRPC server.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerTlsArgs {
    /// PEM certificate (chain) of the gRPC server; with `--tls-key-file` turns on TLS.
    #[arg(long, env = "TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the gRPC server.
    #[arg(long, env = "TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA bundle: clients must present a certificate it signed (mutual TLS).
    #[arg(long, env = "TLS_CLIENT_CA_FILE")]
    pub tls_client_ca_file: Option<PathBuf>,
}

impl ServerTlsArgs {
    /// The server TLS configuration, or `None` for plaintext.
    pub fn config(&self) -> Result<Option<ServerTlsConfig>, Error> {
        let (cert, key) = match (&self.tls_cert_file, &self.tls_key_file) {
            (None, None) if self.tls_client_ca_file.is_some() => {
                return Err(Error::Incomplete(
                    "--tls-client-ca-file needs --tls-cert-file and --tls-key-file",
                ));
            }
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            _ => {
                return Err(Error::Incomplete(
                    "--tls-cert-file and --tls-key-file go together",
                ));
            }
        };
        let mut config =
            ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
        if let Some(ca) = &self.tls_client_ca_file {
            config = config.client_ca_root(Certificate::from_pem(read(ca)?));
        }
        Ok(Some(config))
    }
}

/// TLS flags of a worker's connection to the leader.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientTlsArgs {
    /// PEM CA bundle to verify the leader with; turns on TLS (use `https://` addresses).
    #[arg(long, env = "TLS_CA_FILE")]
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate presented to the leader (mutual TLS).
    #[arg(long, env = "TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(long, env = "TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// Name expected in the leader's certificate, when it differs from the address's host.
    #[arg(long, env = "TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
}

impl ClientTlsArgs {
    /// The client TLS configuration, or `None` for plaintext.
    pub fn config(&self) -> Result<Option<ClientTlsConfig>, Error> {
        let Some(ca) = &self.tls_ca_file else {
            if self.tls_cert_file.is_some() || self.tls_key_file.is_some() {
                return Err(Error::Incomplete(
                    "a client certificate needs --tls-ca-file",
                ));
            }
            return Ok(None);
        };
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => {
                config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            (None, None) => {}
            _ => {
                return Err(Error::Incomplete(
                    "--tls-cert-file and --tls-key-file go together",
                ));
            }
        }
        if let Some(name) = &self.tls_server_name {
            config = config.domain_name(name.clone());
        }
        Ok(Some(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_flags_are_errors() {
        let key_only = ServerTlsArgs {
            tls_key_file: Some("k".into()),
            ..Default::default()
        };
        assert!(matches!(key_only.config(), Err(Error::Incomplete(_))));
        let ca_only = ServerTlsArgs {
            tls_client_ca_file: Some("ca".into()),
            ..Default::default()
        };
        assert!(matches!(ca_only.config(), Err(Error::Incomplete(_))));
        let cert_without_ca = ClientTlsArgs {
            tls_cert_file: Some("c".into()),
            ..Default::default()
        };
        assert!(matches!(
            cert_without_ca.config(),
            Err(Error::Incomplete(_))
        ));
        assert!(matches!(ServerTlsArgs::default().config(), Ok(None)));
        assert!(matches!(ClientTlsArgs::default().config(), Ok(None)));
    }

    #[test]
    fn missing_files_are_named() {
        let args = ServerTlsArgs {
            tls_cert_file: Some("/nonexistent/cert.pem".into()),
            tls_key_file: Some("/nonexistent/key.pem".into()),
            ..Default::default()
        };
        let error = args
            .config()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("/nonexistent/cert.pem"), "{error}");
    }
}
