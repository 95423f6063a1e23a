//! Image reference parsing and normalization.
#![allow(clippy::unwrap_used)]

use common::trivy::ImageRef;

/// (input, registry, repository, tag, digest)
type Case<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

const D: &str = "sha256:72c42ed48c3a2db31b7dafe17d275b634664a708d901ec9fd57b1529280f01fb";

#[test]
fn references_normalize_like_upstream() {
    // (input, registry, repository, tag, digest)
    let d = Some(D);
    let cases: &[Case] = &[
        (
            "nginx:1.16",
            "index.docker.io",
            "library/nginx",
            Some("1.16"),
            None,
        ),
        (
            "nginx",
            "index.docker.io",
            "library/nginx",
            Some("latest"),
            None,
        ),
        (
            "docker.io/nginx",
            "index.docker.io",
            "library/nginx",
            Some("latest"),
            None,
        ),
        (
            "docker.io/library/nginx:1.25",
            "index.docker.io",
            "library/nginx",
            Some("1.25"),
            None,
        ),
        (
            "index.docker.io/bitnami/redis:7",
            "index.docker.io",
            "bitnami/redis",
            Some("7"),
            None,
        ),
        (
            "bitnami/redis",
            "index.docker.io",
            "bitnami/redis",
            Some("latest"),
            None,
        ),
        (
            "k8s.gcr.io/coredns/coredns:v1.8.0",
            "k8s.gcr.io",
            "coredns/coredns",
            Some("v1.8.0"),
            None,
        ),
        ("host:5000/a/b:tag", "host:5000", "a/b", Some("tag"), None),
        ("host:5000/a/b", "host:5000", "a/b", Some("latest"), None),
        ("localhost/app", "localhost", "app", Some("latest"), None),
        (
            "localhost:5000/app:1",
            "localhost:5000",
            "app",
            Some("1"),
            None,
        ),
        ("[::1]:5000/app:1", "[::1]:5000", "app", Some("1"), None),
        (
            "Registry.Example/app",
            "Registry.Example",
            "app",
            Some("latest"),
            None,
        ),
        (
            "ghcr.io/a/b/c/d:v1.0.0-rc_1",
            "ghcr.io",
            "a/b/c/d",
            Some("v1.0.0-rc_1"),
            None,
        ),
        (
            "my-registry.io/x__y/a-b.c:T",
            "my-registry.io",
            "x__y/a-b.c",
            Some("T"),
            None,
        ),
    ];
    for &(input, registry, repository, tag, digest) in cases {
        let r = ImageRef::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            (r.registry(), r.repository(), r.tag(), r.digest()),
            (registry, repository, tag, digest),
            "{input}"
        );
    }
    let with_digest = format!("quay.io/org/app@{D}");
    let r = ImageRef::parse(&with_digest).unwrap();
    assert_eq!(
        (r.registry(), r.repository(), r.tag(), r.digest()),
        ("quay.io", "org/app", None, d)
    );
    let both = format!("nginx:1.16@{D}");
    let r = ImageRef::parse(&both).unwrap();
    assert_eq!(
        (r.registry(), r.repository(), r.tag(), r.digest()),
        ("index.docker.io", "library/nginx", Some("1.16"), d)
    );
    let port_digest = format!("host:5000/a@{D}");
    let r: ImageRef = port_digest.parse().unwrap();
    assert_eq!(
        (r.registry(), r.repository(), r.tag()),
        ("host:5000", "a", None)
    );
}

#[test]
fn normalized_form_is_a_dedupe_key() {
    let same = [
        "nginx",
        "nginx:latest",
        "docker.io/nginx",
        "docker.io/library/nginx:latest",
        "index.docker.io/library/nginx",
    ];
    for s in same {
        assert_eq!(
            ImageRef::parse(s).unwrap().normalized(),
            "index.docker.io/library/nginx:latest"
        );
    }
    assert_ne!(
        ImageRef::parse("nginx:1.16").unwrap().normalized(),
        ImageRef::parse("nginx:1.17").unwrap().normalized()
    );
    let digest = format!("quay.io/org/app@{D}");
    assert_eq!(ImageRef::parse(&digest).unwrap().normalized(), digest);
    let both = format!("nginx:1.16@{D}");
    let r = ImageRef::parse(&both).unwrap();
    assert_eq!(
        r.normalized(),
        format!("index.docker.io/library/nginx:1.16@{D}")
    );
    assert_eq!(r.to_string(), r.normalized());
    // The normalized form parses back to the same reference.
    for s in ["nginx", "host:5000/a/b:tag", both.as_str(), digest.as_str()] {
        let r = ImageRef::parse(s).unwrap();
        assert_eq!(ImageRef::parse(&r.normalized()).unwrap(), r, "{s}");
    }
}

#[test]
fn garbage_is_rejected_with_a_reason() {
    let bad = [
        "",
        " ",
        "nginx latest",
        "Nginx",
        "library/Nginx",
        "nginx:",
        "nginx:-bad",
        ":tag",
        "/nginx",
        "nginx/",
        "a//b",
        "nginx@sha256:abc",
        "nginx@sha256:ZZ2c42ed48c3a2db31b7dafe17d275b634664a708d901ec9fd57b1529280f01fb",
        "nginx@",
        "nginx@md5",
        "host:port/app",
        "host:123456/app",
        "-host.io/app",
        "ex..ample/app",
        "app..x",
        "a\nb",
        "nginx:tag:tag",
        "[::1/app",
        "my_registry.io/app",
    ];
    for b in bad {
        let err = ImageRef::parse(b)
            .err()
            .unwrap_or_else(|| panic!("{b:?} parsed"));
        assert_eq!(err.reference, b);
        assert!(!err.reason.is_empty());
        assert!(err.to_string().contains("invalid image reference"), "{err}");
    }
    let long_tag = format!("nginx:{}", "a".repeat(129));
    assert!(ImageRef::parse(&long_tag).is_err());
    let ok_tag = format!("nginx:{}", "a".repeat(128));
    assert!(ImageRef::parse(&ok_tag).is_ok());
}

#[test]
fn the_trailing_digest_of_an_image_id_or_scan_key() {
    let hex = "a".repeat(64);
    let digest = format!("sha256:{hex}");
    let id = format!("docker.io/library/alpine@{digest}");
    assert_eq!(common::trivy::trailing_digest(&id), Some(digest.as_str()));
    assert_eq!(
        common::trivy::trailing_digest(&digest),
        Some(digest.as_str())
    );
    // A tag, or a malformed digest, ends in none.
    assert_eq!(
        common::trivy::trailing_digest("docker.io/library/alpine:3.10"),
        None
    );
    assert_eq!(common::trivy::trailing_digest("alpine@sha256:abc"), None);
}
