//! Mutual TLS between workers and the leader: with certificates configured, workers with a
//! certificate from the trusted CA do their work; a client with a certificate from another
//! CA, or with none, cannot even reach the worker service.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use common::proto::worker_service_client::WorkerServiceClient;
use common::proto::{self, worker_message};
use e2e::workloads::{all_pods_audited, apply_pods};
use e2e::{Cluster, Operator, OperatorOptions, audits_only, eventually};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

const LONG: Duration = Duration::from_secs(240);

/// A CA: its certificate PEM and an issuer for leaves.
fn ca() -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

/// A leaf certificate for `names`, signed by `issuer`: (certificate PEM, key PEM).
fn leaf(issuer: &Issuer<'static, KeyPair>, names: &[&str]) -> (String, String) {
    let params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, pem: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path.to_string_lossy().into_owned()
}

async fn attach_with(port: u16, ca: &str, identity: Option<(&str, &str)>) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let endpoint = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap();
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let hello = proto::WorkerMessage {
        body: Some(worker_message::Body::Hello(proto::Hello {
            protocol_version: proto::ProtocolVersion::V1 as i32,
            worker_id: "intruder".into(),
            capacity: 1,
        })),
    };
    let request = tonic::Request::new(tokio_stream::iter(vec![hello]));
    WorkerServiceClient::new(channel)
        .attach(request)
        .await
        .map(|_| ())
        .map_err(|s| s.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_workers_with_a_trusted_certificate_get_through() {
    let cluster = Cluster::start("mtls").await.unwrap();
    let dir = cluster.dir.clone();
    let (ca_pem, issuer) = ca();
    let (server_cert, server_key) = leaf(&issuer, &["localhost", "127.0.0.1"]);
    let (client_cert, client_key) = leaf(&issuer, &["worker"]);
    let ca_file = write(&dir, "ca.pem", &ca_pem);
    let leader_args = [
        audits_only(),
        vec![
            "--tls-cert-file".into(),
            write(&dir, "server.pem", &server_cert),
            "--tls-key-file".into(),
            write(&dir, "server-key.pem", &server_key),
            "--tls-client-ca-file".into(),
            ca_file.clone(),
        ],
    ]
    .concat();
    let worker_args = vec![
        "--tls-ca-file".into(),
        ca_file,
        "--tls-cert-file".into(),
        write(&dir, "client.pem", &client_cert),
        "--tls-key-file".into(),
        write(&dir, "client-key.pem", &client_key),
        "--tls-server-name".into(),
        "localhost".into(),
    ];
    let ns = cluster.ns("tls");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let op = Operator::start(
        &cluster,
        OperatorOptions::new(e2e::binaries!(), &cluster, vec![ns.clone()])
            .workers(2, 2)
            .leader_args(leader_args)
            .worker_args(worker_args),
    )
    .unwrap();
    // The real workers attach over mutual TLS and do their work.
    apply_pods(&cluster, &ns, &["a", "b"], "alpine:3.10").unwrap();
    all_pods_audited(&cluster, std::slice::from_ref(&ns), 2, LONG)
        .await
        .unwrap();

    // The status CLI gets through with a trusted client certificate, and shows both workers
    // (the one owning no namespace may still be reconnecting: poll).
    let status = || {
        std::process::Command::new(e2e::binaries!().leader)
            .args([
                "status",
                "--addr",
                &format!("https://127.0.0.1:{}", op.grpc_port),
            ])
            .args(["--tls-ca-file", &dir.join("ca.pem").to_string_lossy()])
            .args(["--tls-cert-file", &dir.join("client.pem").to_string_lossy()])
            .args([
                "--tls-key-file",
                &dir.join("client-key.pem").to_string_lossy(),
            ])
            .args(["--token", &op.status_token])
            .args(["--tls-server-name", "localhost", "-o", "json", "cluster"])
            .output()
            .unwrap()
    };
    let first = status();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    eventually("the status to show both workers", LONG, || async {
        let out = status();
        let view: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("{e}: {out:?}"))?;
        match view["workers"].as_array().map(Vec::len) {
            Some(2) => Ok(()),
            _ => Err(view.to_string()),
        }
    })
    .await
    .unwrap();

    // A certificate from another CA, or none at all, does not get through.
    let (_, rogue_issuer) = ca();
    let (rogue_cert, rogue_key) = leaf(&rogue_issuer, &["worker"]);
    let rogue = attach_with(op.grpc_port, &ca_pem, Some((&rogue_cert, &rogue_key))).await;
    let rogue = rogue.unwrap_err();
    assert!(
        !rogue.contains("Unauthenticated"),
        "refused by TLS, not the token check: {rogue}"
    );
    let anonymous = attach_with(op.grpc_port, &ca_pem, None).await.unwrap_err();
    assert!(
        !anonymous.contains("Unauthenticated"),
        "refused by TLS: {anonymous}"
    );
    // The trusted one does (and then needs the token, which this client lacks).
    let trusted = attach_with(op.grpc_port, &ca_pem, Some((&client_cert, &client_key))).await;
    let error = trusted.unwrap_err();
    assert!(
        error.contains("Unauthenticated") || error.contains("token"),
        "{error}"
    );
}
