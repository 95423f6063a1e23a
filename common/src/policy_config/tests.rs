//! Parsing of the plugin ConfigMap, kind applicability and `plugin-config-hash`.

#![allow(clippy::unwrap_used)]

use super::*;

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn names<'a>(it: impl Iterator<Item = &'a CustomPolicy>) -> Vec<&'a str> {
    it.map(|p| p.name.as_str()).collect()
}

#[test]
fn parses_policies_and_libraries_ignoring_other_keys() {
    let config = PolicyConfig::from_data(&data(&[
        ("policy.b.rego", "package b"),
        ("policy.b.kinds", "Pod"),
        ("policy.a.rego", "package a"),
        ("policy.a.kinds", "Workload"),
        ("library.kubernetes.rego", "package lib.kubernetes"),
        ("trivy.ignoreUnfixed", "true"),
        ("policy.rego", "not a policy key"),
        ("library.x.txt", "ignored"),
    ]))
    .unwrap();
    assert_eq!(names(config.policies.iter()), ["a", "b"]);
    assert_eq!(config.policies[1].rego, "package b");
    assert_eq!(
        config.libraries,
        [Library {
            name: "kubernetes".into(),
            rego: "package lib.kubernetes".into()
        }]
    );
    assert!(
        PolicyConfig::from_data(&BTreeMap::new())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn kind_selectors() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "Workload",
            &WORKLOAD_KINDS,
            &["Deployment", "Service", "pod"],
        ),
        ("*", &["Pod", "Service", "Anything"], &[]),
        ("Pod, Service", &["Pod", "Service"], &["Job", " Pod"]),
        (" Job ,,CronJob ,", &["Job", "CronJob"], &["Pod"]),
        (
            "Service,Workload",
            &["Service", "Pod", "Job"],
            &["Deployment"],
        ),
        ("Pod,*", &["Ingress"], &[]),
    ];
    for (list, yes, no) in cases {
        let selector = KindSelector::parse(list).unwrap();
        for kind in *yes {
            assert!(selector.matches(kind), "{list:?} should match {kind}");
        }
        for kind in *no {
            assert!(!selector.matches(kind), "{list:?} should not match {kind}");
        }
    }
    assert_eq!(KindSelector::parse(""), None);
    assert_eq!(KindSelector::parse(" , "), None);
}

#[test]
fn policies_for_kind() {
    let config = PolicyConfig::from_data(&data(&[
        ("policy.all.rego", ""),
        ("policy.all.kinds", "*"),
        ("policy.pods.rego", ""),
        ("policy.pods.kinds", "Pod"),
        ("policy.workloads.rego", ""),
        ("policy.workloads.kinds", "Workload"),
        ("policy.svc.rego", ""),
        ("policy.svc.kinds", "Service"),
    ]))
    .unwrap();
    assert_eq!(
        names(config.policies_for_kind("Pod")),
        ["all", "pods", "workloads"]
    );
    assert_eq!(names(config.policies_for_kind("Job")), ["all", "workloads"]);
    assert_eq!(names(config.policies_for_kind("Service")), ["all", "svc"]);
    assert_eq!(names(config.policies_for_kind("Deployment")), ["all"]);
}

#[test]
fn errors_name_the_key() {
    let cases = [
        (
            data(&[("policy.p.rego", "x")]),
            Error::MissingKinds {
                key: "policy.p.rego".into(),
                kinds_key: "policy.p.kinds".into(),
            },
        ),
        (
            data(&[("policy.p.kinds", "Pod")]),
            Error::MissingRego {
                key: "policy.p.kinds".into(),
                rego_key: "policy.p.rego".into(),
            },
        ),
        (
            data(&[("policy.p.rego", "x"), ("policy.p.kinds", " ,")]),
            Error::EmptyKinds {
                key: "policy.p.kinds".into(),
            },
        ),
        (
            data(&[("library..rego", "x")]),
            Error::EmptyName {
                key: "library..rego".into(),
            },
        ),
    ];
    for (input, want) in cases {
        let err = PolicyConfig::from_data(&input).unwrap_err();
        assert_eq!(err, want);
        let key = match &want {
            Error::MissingKinds { key, .. }
            | Error::MissingRego { key, .. }
            | Error::EmptyKinds { key }
            | Error::EmptyName { key }
            | Error::BinaryData { key } => key,
        };
        assert!(err.to_string().contains(key.as_str()), "{err}");
    }
}

#[test]
fn policies_under_binary_data_are_refused() {
    use k8s_openapi::ByteString;
    let cm = |binary: &[&str]| k8s_openapi::api::core::v1::ConfigMap {
        data: Some(data(&[("policy.a.rego", "A"), ("policy.a.kinds", "Pod")])),
        binary_data: Some(
            binary
                .iter()
                .map(|k| (k.to_string(), ByteString(b"x".to_vec())))
                .collect(),
        ),
        ..Default::default()
    };
    assert_eq!(policy_data(&cm(&["other.bin"])).unwrap().len(), 2);
    for key in ["policy.b.rego", "library.l.rego"] {
        let err = policy_data(&cm(&[key])).unwrap_err();
        assert_eq!(err, Error::BinaryData { key: key.into() });
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn config_hash_is_order_independent_and_label_safe() {
    let pairs = [
        ("policy.a.rego", "A"),
        ("policy.a.kinds", "Pod,Job"),
        ("policy.b.rego", "B"),
        ("policy.b.kinds", "Job, Pod"),
        ("library.l.rego", "L"),
    ];
    let mut reversed = pairs;
    reversed.reverse();
    let x = PolicyConfig::from_data(&data(&pairs)).unwrap();
    let y = PolicyConfig::from_data(&data(&reversed)).unwrap();
    for kind in ["Pod", "Job", "Service"] {
        let h = x.config_hash(kind, "builtin");
        assert_eq!(h, y.config_hash(kind, "builtin"));
        assert_eq!(h.len(), SPEC_HASH_LEN);
        assert!(crate::names::is_valid_label_value(&h));
    }
    let empty = PolicyConfig::default();
    assert_eq!(empty.config_hash("Pod", "d"), empty.config_hash("Pod", "d"));
    assert_eq!(
        empty.config_hash("Pod", "d"),
        empty.config_hash("Service", "d")
    );
    assert_ne!(empty.config_hash("Pod", "d"), empty.config_hash("Pod", "e"));
}

#[test]
fn config_hash_changes_only_for_affected_kinds() {
    let base = data(&[("policy.a.rego", "A"), ("policy.a.kinds", "Workload")]);
    let mut with_pod_policy = base.clone();
    with_pod_policy.insert("policy.p.rego".into(), "P".into());
    with_pod_policy.insert("policy.p.kinds".into(), "Pod".into());
    let mut with_library = base.clone();
    with_library.insert("library.l.rego".into(), "L".into());
    let mut renamed = data(&[("policy.b.rego", "A"), ("policy.b.kinds", "Workload")]);
    let before = PolicyConfig::from_data(&base).unwrap();
    let pod = PolicyConfig::from_data(&with_pod_policy).unwrap();
    let lib = PolicyConfig::from_data(&with_library).unwrap();
    let ren = PolicyConfig::from_data(&renamed).unwrap();
    for kind in ["Pod", "Job", "Service"] {
        let h = before.config_hash(kind, "d");
        assert_eq!(
            pod.config_hash(kind, "d") != h,
            kind == "Pod",
            "policy for Pod, {kind}"
        );
        assert_eq!(
            lib.config_hash(kind, "d") != h,
            kind != "Service",
            "a library affects only kinds with custom policies, {kind}"
        );
        assert_eq!(
            ren.config_hash(kind, "d") != h,
            kind != "Service",
            "rename, {kind}"
        );
    }
    renamed.insert("policy.b.rego".into(), "A2".into());
    let edited = PolicyConfig::from_data(&renamed).unwrap();
    assert_ne!(edited.config_hash("Pod", "d"), ren.config_hash("Pod", "d"));
    assert_eq!(
        edited.config_hash("Service", "d"),
        ren.config_hash("Service", "d")
    );
}

#[test]
fn config_hash_is_stable() {
    // Computed once; a change re-audits every workload in every cluster.
    let config = PolicyConfig::from_data(&data(&[
        ("policy.a.rego", "package a"),
        ("policy.a.kinds", "Workload"),
    ]))
    .unwrap();
    assert_eq!(config.config_hash("Pod", "builtin"), "fi9lm423ep8agct3");
}
