//! Image references: normalization the way container runtimes do it, and the deterministic
//! image digest kube-sim reports as `status.containerStatuses[].imageID`.
//!
//! kube-sim pulls nothing, so a digest cannot come from a registry. Instead the digest of an
//! image is the SHA-256 of its *normalized* reference (`alpine:3.10` and
//! `docker.io/library/alpine:3.10` are the same image and get the same digest), and the image
//! ID has the shape containerd reports: `docker.io/library/alpine@sha256:<hex>`. A reference
//! that already carries a digest keeps it. The Trivy double uses the same functions, so a scan
//! of `repo@sha256:<hex>` finds the image whose normalized reference hashes to `<hex>`.
//!
//! This file is also compiled into the `trivy-double` binary via `#[path]`, so it depends on
//! nothing but `sha2`.

use sha2::{Digest, Sha256};

/// A parsed image reference: `registry/repository[:tag][@digest]`, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host, `docker.io` when the reference names none.
    pub registry: String,
    /// Repository path, with `library/` prepended for single-component Docker Hub names.
    pub repository: String,
    /// Tag; `latest` when neither tag nor digest is given.
    pub tag: Option<String>,
    /// Digest such as `sha256:...`, when the reference carries one.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference the way Docker and containerd normalize it. Never fails: an odd
    /// reference is kept as a repository name.
    pub fn parse(reference: &str) -> ImageRef {
        let reference = reference.trim();
        let (rest, digest) = match reference.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (reference, None),
        };
        // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            "docker.io".to_string()
        } else {
            registry
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_string()),
            _ => tag,
        };
        ImageRef {
            registry,
            repository,
            tag,
            digest,
        }
    }

    /// `registry/repository`, e.g. `docker.io/library/alpine`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The last path component of the repository, e.g. `trivy` for
    /// `ghcr.io/aquasecurity/trivy:0.58.1`.
    pub fn basename(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// The normalized reference, e.g. `docker.io/library/alpine:3.10`.
    pub fn normalized(&self) -> String {
        let mut s = self.name();
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
        s
    }

    /// The digest of this image: the one in the reference, else `sha256:` + the SHA-256 hex of
    /// the normalized reference.
    pub fn digest(&self) -> String {
        match &self.digest {
            Some(d) => d.clone(),
            None => format!("sha256:{}", sha256_hex(self.normalized().as_bytes())),
        }
    }

    /// The image ID a container status reports: `registry/repository@<digest>`.
    pub fn image_id(&self) -> String {
        format!("{}@{}", self.name(), self.digest())
    }
}

/// The image ID kube-sim reports for a container running `reference`.
pub fn image_id(reference: &str) -> String {
    ImageRef::parse(reference).image_id()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_docker_hub_names() {
        for (input, want) in [
            ("alpine", "docker.io/library/alpine:latest"),
            ("alpine:3.10", "docker.io/library/alpine:3.10"),
            (
                "docker.io/library/alpine:3.10",
                "docker.io/library/alpine:3.10",
            ),
            (
                "index.docker.io/library/alpine:3.10",
                "docker.io/library/alpine:3.10",
            ),
            ("bitnami/nginx:1", "docker.io/bitnami/nginx:1"),
            (
                "ghcr.io/aquasecurity/trivy:0.58.1",
                "ghcr.io/aquasecurity/trivy:0.58.1",
            ),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("alpine@sha256:abc", "docker.io/library/alpine@sha256:abc"),
            (
                "alpine:3.10@sha256:abc",
                "docker.io/library/alpine:3.10@sha256:abc",
            ),
        ] {
            assert_eq!(ImageRef::parse(input).normalized(), want, "{input}");
        }
    }

    #[test]
    fn same_image_same_id_and_digest_is_kept() {
        assert_eq!(
            image_id("alpine:3.10"),
            image_id("docker.io/library/alpine:3.10")
        );
        assert_ne!(image_id("alpine:3.10"), image_id("alpine:3.11"));
        let id = image_id("alpine:3.10");
        assert!(id.starts_with("docker.io/library/alpine@sha256:"), "{id}");
        assert_eq!(id.len(), "docker.io/library/alpine@sha256:".len() + 64);
        assert_eq!(
            image_id("alpine@sha256:abc"),
            "docker.io/library/alpine@sha256:abc"
        );
        // A digest reference of an image resolves to the same ID as its tag reference.
        let digest_ref = format!("alpine@{}", ImageRef::parse("alpine:3.10").digest());
        assert_eq!(image_id(&digest_ref), id);
        assert_eq!(
            ImageRef::parse("ghcr.io/aquasecurity/trivy:0.58.1").basename(),
            "trivy"
        );
    }
}
