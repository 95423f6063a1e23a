//! Container image references, normalized the way upstream reports them.
//!
//! Upstream fills `report.registry.server`, `report.artifact.repository`, `.tag` and `.digest`
//! from the workload's image reference, parsed with the Docker reference grammar and
//! normalized like go-containerregistry: no registry means Docker Hub (`index.docker.io`,
//! also for an explicit `docker.io`), a single-component Docker Hub repository gets the
//! `library/` prefix, and a reference with neither tag nor digest gets the tag `latest`.
//! A reference with both a tag and a digest keeps both.

use std::fmt;
use std::str::FromStr;

/// Registry host of Docker Hub as upstream writes it.
pub const DOCKER_HUB: &str = "index.docker.io";
/// Tag assumed when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// An image reference that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {reference:?}: {reason}")]
pub struct ImageRefError {
    /// The reference as given.
    pub reference: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// Parses an image reference such as `nginx:1.16`, `quay.io/org/app@sha256:...` or
    /// `host:5000/a/b:tag`.
    pub fn parse(reference: &str) -> Result<Self, ImageRefError> {
        let err = |reason| ImageRefError {
            reference: reference.to_owned(),
            reason,
        };
        if reference.is_empty() {
            return Err(err("empty"));
        }
        if reference.len() > 4096 {
            return Err(err("too long"));
        }
        if reference
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(err("contains whitespace"));
        }
        let (name_and_tag, digest) = match reference.split_once('@') {
            Some((n, d)) => {
                if !is_valid_digest(d) {
                    return Err(err("digest is not <algorithm>:<hex>"));
                }
                (n, Some(d.to_owned()))
            }
            None => (reference, None),
        };
        // The tag separator is a ':' after the last '/', so a registry port is not a tag.
        let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
            Some(i) => {
                let (n, t) = name_and_tag.split_at(last_slash + i);
                let t = &t[1..];
                if !is_valid_tag(t) {
                    return Err(err("tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"));
                }
                (n, Some(t.to_owned()))
            }
            None => (name_and_tag, None),
        };
        if name.is_empty() {
            return Err(err("repository name is empty"));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if looks_like_registry(first) => (first, rest),
            _ => ("", name),
        };
        if !registry.is_empty() && !is_valid_registry(registry) {
            return Err(err("registry host is not valid"));
        }
        if !path.split('/').all(is_valid_path_component) {
            return Err(err(
                "repository must be lowercase [a-z0-9] components separated by '.', '_' or '-'",
            ));
        }
        let registry = match registry {
            "" | "docker.io" | "registry-1.docker.io" => DOCKER_HUB,
            other => other,
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (tag, _) => tag,
        };
        Ok(Self {
            registry: registry.to_owned(),
            repository,
            tag,
            digest,
        })
    }

    /// Registry host (and port), e.g. `index.docker.io`, `quay.io`, `host:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Repository path in the registry, e.g. `library/nginx`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag; `latest` when the reference had neither tag nor digest, `None` for a
    /// digest-only reference.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, e.g. `sha256:...`, when the reference had one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The fully qualified form `registry/repository[:tag][@digest]`. Two references that
    /// name the same image the same way (`nginx` and `docker.io/library/nginx:latest`) have
    /// the same normalized form, so it serves as a dedupe key.
    pub fn normalized(&self) -> String {
        let mut s = format!("{}/{}", self.registry, self.repository);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl FromStr for ImageRef {
    type Err = ImageRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized())
    }
}

/// Docker's rule: the first component is a registry when it has a '.' or a ':' or is
/// `localhost`, or has upper-case letters (which a repository cannot have).
fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.starts_with('[')
        || first.chars().any(|c| c.is_ascii_uppercase())
}

/// `host[:port]` with DNS-ish labels, or a bracketed IPv6 address with an optional port.
fn is_valid_registry(registry: &str) -> bool {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("ok", Some(port)),
                None => return false,
            },
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        }
    };
    let host_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// A repository path component: `[a-z0-9]+` runs joined by `.`, `_`, `__` or `-`s.
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    alnum(first)
        && alnum(last)
        && bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        && !component.contains("..")
        && !component.contains("___")
        && !component.contains("._")
        && !component.contains("_.")
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    bytes.first().is_some_and(word)
        && bytes.len() <= 128
        && bytes.iter().all(|b| word(b) || matches!(b, b'.' | b'-'))
}

/// The well-formed digest an image ID or scan key ends in (`repo@sha256:…`, or a bare
/// `sha256:…`); `None` when it ends in none (a tag).
pub fn trailing_digest(id: &str) -> Option<&str> {
    let digest = id.rsplit_once('@').map_or(id, |(_, d)| d);
    is_valid_digest(digest).then_some(digest)
}

/// `<algorithm>:<hex>`, where a `sha256` digest has exactly 64 lower-case hex digits and
/// other algorithms at least 32.
pub fn is_valid_digest(digest: &str) -> bool {
    let Some((alg, hex)) = digest.split_once(':') else {
        return false;
    };
    let alg_ok = !alg.is_empty()
        && alg.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    let hex_ok = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let len_ok = if alg == "sha256" {
        hex.len() == 64
    } else {
        hex.len() >= 32
    };
    alg_ok && hex_ok && len_ok
}
