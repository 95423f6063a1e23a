//! Report names, as upstream derives them, and the Kubernetes name validators they need.
//!
//! - VulnerabilityReport: `<lowercase kind>-<workload name>-<container>` when that is a valid
//!   label value (and object name), else `<lowercase kind>-<short_hash("name-container")>`.
//! - ConfigAuditReport: `<lowercase kind>-<workload name>` when that is a DNS-1123 label, else
//!   `<lowercase kind>-<short_hash(name)>`. Upstream checks the whole report name as a
//!   DNS-1123 *label*, so a workload name with a dot (a valid DNS subdomain, e.g. `my.app`)
//!   gets the hashed form; we do the same, so names match upstream's scheme.

use crate::hash::hash_str;

/// Maximum length of a label value and of a DNS-1123 label.
pub const MAX_LABEL_LEN: usize = 63;
/// Maximum length of a DNS-1123 subdomain.
pub const MAX_SUBDOMAIN_LEN: usize = 253;
/// Length of [`short_hash`] values.
pub const SHORT_HASH_LEN: usize = 10;

/// A short (10 characters), deterministic, label-safe hash of `s`: SHA-256 in lowercase base32.
pub fn short_hash(s: &str) -> String {
    hash_str(s, SHORT_HASH_LEN)
}

/// Whether `s` is a valid label value: at most 63 characters, empty or matching
/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
pub fn is_valid_label_value(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let b = s.as_bytes();
    b.len() <= MAX_LABEL_LEN
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Whether `s` is a DNS-1123 label: 1 to 63 characters of lowercase alphanumerics and `-`,
/// starting and ending with an alphanumeric.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL_LEN
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|c| is_lower_alnum(*c) || *c == b'-')
}

/// Whether `s` is a DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_SUBDOMAIN_LEN && s.split('.').all(is_dns1123_label)
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// The name of the VulnerabilityReport of `container` in the workload `kind`/`name`.
pub fn vulnerability_report_name(kind: &str, workload_name: &str, container: &str) -> String {
    let kind = kind.to_lowercase();
    let name = format!("{kind}-{workload_name}-{container}");
    // Upstream checks only the label value; the subdomain check also rules out names the
    // API server would refuse (uppercase, `_`), which upstream never produces.
    if is_valid_label_value(&name) && is_dns1123_subdomain(&name) {
        name
    } else {
        format!(
            "{kind}-{}",
            short_hash(&format!("{workload_name}-{container}"))
        )
    }
}

/// The name a VulnerabilityReport takes when [`vulnerability_report_name`] is already the
/// report of another workload (Pod `a-b` container `c` and Pod `a` container `b-c` both
/// map to `pod-a-b-c`): the kind and a hash of the workload name and container, with a
/// separator neither can contain.
pub fn vulnerability_report_fallback_name(
    kind: &str,
    workload_name: &str,
    container: &str,
) -> String {
    format!(
        "{}-{}",
        kind.to_lowercase(),
        short_hash(&format!("{workload_name}/{container}"))
    )
}

/// The name of the ConfigAuditReport of the workload `kind`/`name`.
pub fn config_audit_report_name(kind: &str, name: &str) -> String {
    let kind = kind.to_lowercase();
    let report = format!("{kind}-{name}");
    if is_dns1123_label(&report) {
        report
    } else {
        format!("{kind}-{}", short_hash(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_report_names_have_distinct_fallbacks() {
        let a = vulnerability_report_name("Pod", "a-b", "c");
        let b = vulnerability_report_name("Pod", "a", "b-c");
        assert_eq!(a, b, "the upstream scheme collides");
        let (fa, fb) = (
            vulnerability_report_fallback_name("Pod", "a-b", "c"),
            vulnerability_report_fallback_name("Pod", "a", "b-c"),
        );
        assert_ne!(fa, fb);
        assert_ne!(fa, a);
        assert!(
            is_dns1123_subdomain(&fa) && is_valid_label_value(&fa),
            "{fa}"
        );
        // Distinct from the hashed name of long names too.
        let long = "x".repeat(70);
        assert_ne!(
            vulnerability_report_fallback_name("Pod", &long, "c"),
            vulnerability_report_name("Pod", &long, "c")
        );
    }

    #[test]
    fn label_values() {
        let cases = [
            ("", true),
            ("a", true),
            ("A-b_c.D9", true),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
            ("-a", false),
            ("a-", false),
            ("_a", false),
            ("a.", false),
            ("a/b", false),
            ("a b", false),
            ("é", false),
        ];
        for (s, want) in cases {
            assert_eq!(is_valid_label_value(s), want, "{s:?}");
        }
    }

    #[test]
    fn dns_labels_and_subdomains() {
        // (input, label, subdomain)
        let cases = [
            ("", false, false),
            ("a", true, true),
            ("a-1", true, true),
            ("A", false, false),
            ("a_b", false, false),
            ("a.b", false, true),
            ("a..b", false, false),
            (".a", false, false),
            ("-a", false, false),
            ("a-", false, false),
            (&"a".repeat(63), true, true),
            (&"a".repeat(64), false, false),
            (
                &format!("{}.{}", "a".repeat(63), "b".repeat(63)),
                false,
                true,
            ),
            (&["a"; 127].join("."), false, true),
            (&["a"; 128].join("."), false, false),
        ];
        for (s, label, subdomain) in cases {
            assert_eq!(is_dns1123_label(s), label, "label {s:?}");
            assert_eq!(is_dns1123_subdomain(s), subdomain, "subdomain {s:?}");
        }
    }

    #[test]
    fn short_hash_is_deterministic_and_label_safe() {
        // Fixed literal: report names must not change between releases.
        assert_eq!(short_hash("nginx-nginx"), "siij4t6jgt");
        let inputs = ["", "a", "nginx-6d4cf56db6-nginx", &"x".repeat(300), "é"];
        let mut seen = Vec::new();
        for s in inputs {
            let h = short_hash(s);
            assert_eq!(h.len(), SHORT_HASH_LEN);
            assert!(is_dns1123_label(&h), "{h}");
            assert_eq!(h, short_hash(s));
            assert!(!seen.contains(&h));
            seen.push(h);
        }
    }

    #[test]
    fn vulnerability_report_names() {
        let long = "a".repeat(60);
        let cases = [
            (
                "ReplicaSet",
                "nginx-6d4cf56db6",
                "nginx",
                "replicaset-nginx-6d4cf56db6-nginx".to_owned(),
            ),
            ("Pod", "my.pod", "app", "pod-my.pod-app".to_owned()),
            ("CronJob", "c", "x", "cronjob-c-x".to_owned()),
            (
                "Pod",
                &long,
                "app",
                format!("pod-{}", short_hash(&format!("{long}-app"))),
            ),
            // Exactly 63 characters stays readable; 64 falls back.
            (
                "Pod",
                &"b".repeat(55),
                "app",
                format!("pod-{}-app", "b".repeat(55)),
            ),
            (
                "Pod",
                &"b".repeat(56),
                "app",
                format!("pod-{}", short_hash(&format!("{}-app", "b".repeat(56)))),
            ),
        ];
        for (kind, name, container, want) in cases {
            let got = vulnerability_report_name(kind, name, container);
            assert_eq!(got, want, "{kind}/{name}/{container}");
            assert!(
                is_valid_label_value(&got) && is_dns1123_subdomain(&got),
                "{got}"
            );
        }
    }

    #[test]
    fn config_audit_report_names() {
        let cases = [
            (
                "ReplicaSet",
                "wordpress-84bbf6f4dd",
                "replicaset-wordpress-84bbf6f4dd".to_owned(),
            ),
            ("Pod", "my-pod", "pod-my-pod".to_owned()),
            // Dots make it a subdomain, not a label: hashed, as upstream.
            ("Pod", "my.pod", format!("pod-{}", short_hash("my.pod"))),
            ("Pod", &"c".repeat(59), format!("pod-{}", "c".repeat(59))),
            (
                "Pod",
                &"c".repeat(60),
                format!("pod-{}", short_hash(&"c".repeat(60))),
            ),
            (
                "DaemonSet",
                &"d".repeat(200),
                format!("daemonset-{}", short_hash(&"d".repeat(200))),
            ),
        ];
        for (kind, name, want) in cases {
            let got = config_audit_report_name(kind, name);
            assert_eq!(got, want, "{kind}/{name}");
            assert!(is_dns1123_label(&got), "{got}");
        }
    }
}
