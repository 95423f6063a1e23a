//! Decoding of protobuf request bodies.

#![allow(clippy::unwrap_used)]

use super::*;

fn ld(no: u32, b: &[u8]) -> Vec<u8> {
    let mut v = vec![(no << 3 | 2) as u8, b.len() as u8];
    v.extend_from_slice(b);
    v
}

#[test]
fn decodes_a_namespace() {
    let meta = [
        ld(1, b"demo"),
        ld(2, b""),
        ld(11, &[ld(1, b"a"), ld(2, b"b")].concat()),
    ]
    .concat();
    let raw = [ld(1, &meta), ld(2, &ld(1, b"kubernetes"))].concat();
    let tm = [ld(1, b"v1"), ld(2, b"Namespace")].concat();
    let body = [b"k8s\0".to_vec(), ld(1, &tm), ld(2, &raw)].concat();
    let v = decode(&body).unwrap();
    assert_eq!(
        v,
        json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "demo", "labels": {"a": "b"}},
            "spec": {"finalizers": ["kubernetes"]}})
    );
    assert_eq!(base64(b"hello"), "aGVsbG8=");
}
