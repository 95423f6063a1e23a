//! Trivy's ClientServer mode: scan Jobs run `trivy image --server <url>` against a shared
//! Trivy server that holds the vulnerability DB, so no Job downloads it (no DB init
//! container). Parsing of the flags, and telling a failure caused by the server from any
//! other scan failure. Pure.

/// A Trivy server the scan Jobs use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrivyServer {
    /// `http(s)://host[:port]`, as given.
    pub url: String,
    /// Secret (in the operator namespace) whose key [`TOKEN_KEY`] holds the server's token;
    /// `None`: the server takes no token.
    pub token_secret: Option<String>,
    /// The HTTP header the token is sent in (Trivy's `--token-header`).
    pub token_header: String,
}

/// Key of the token in the token Secret.
pub const TOKEN_KEY: &str = "token";

/// Parses `--trivy-server-url`: an absolute `http` or `https` URL with a host, no user
/// information, query or fragment.
pub fn parse_server_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| format!("{text:?} is not an http:// or https:// URL"))?;
    let host_port = rest.split('/').next().unwrap_or_default();
    if host_port.is_empty() {
        return Err(format!("{text:?} has no host"));
    }
    if rest.contains(['?', '#', '@', ' ']) {
        return Err(format!(
            "{text:?} must be scheme://host[:port][/path], without credentials, query or fragment"
        ));
    }
    if let Some((host, port)) = host_port.rsplit_once(':')
        && !host.ends_with(']')
        && (host.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(format!("{text:?} has an invalid port"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// Parses `--trivy-server-token-header`: an HTTP header name (an RFC 9110 token).
pub fn parse_token_header(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not an HTTP header name"))
    }
}

/// Whether a failed scan's detail (its condition and the scan container's last log lines)
/// says the Trivy server could not be used: Trivy's client fails with its RPC path
/// (`/twirp/...`) or the server's URL in the error.
pub fn is_server_failure(server: &TrivyServer, detail: &str) -> bool {
    let rpc = detail.contains("/twirp/") || detail.contains("twirp error");
    rpc || detail.contains(&server.url)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        assert_eq!(
            parse_server_url("http://trivy-server.trivy-system:4954/").unwrap(),
            "http://trivy-server.trivy-system:4954"
        );
        assert!(parse_server_url("https://[::1]:4954").is_ok());
        for bad in [
            "trivy-server:4954",
            "ftp://x",
            "http://",
            "http://u:p@x",
            "http://x?a=1",
            "http://x:port",
            "http://x:99999",
        ] {
            assert!(parse_server_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_headers() {
        assert_eq!(parse_token_header("Trivy-Token").unwrap(), "Trivy-Token");
        assert!(parse_token_header("").is_err());
        assert!(parse_token_header("Bad Header").is_err());
        assert!(parse_token_header("x:y").is_err());
    }

    #[test]
    fn failures_caused_by_the_server_are_told_apart() {
        let server = TrivyServer {
            url: "http://trivy-server:4954".into(),
            token_secret: None,
            token_header: "Trivy-Token".into(),
        };
        let refused = "Failed: BackoffLimitExceeded; trivy exited 1; log: FATAL Fatal error run error: image scan error: scan error: scan failed: failed analysis: analyze error: pipeline error: failed to analyze layer: unable to get missing layers: twirp error internal: failed to do request: Post \"http://trivy-server:4954/twirp/trivy.cache.v1.Cache/MissingBlobs\": dial tcp 10.96.0.7:4954: connect: connection refused";
        assert!(is_server_failure(&server, refused));
        let unauthorized =
            "trivy exited 1; log: FATAL ... twirp error unauthenticated: invalid token";
        assert!(is_server_failure(&server, unauthorized));
        let image = "trivy exited 1; log: FATAL unable to find the specified image \"nope:1\"";
        assert!(!is_server_failure(&server, image));
    }
}
