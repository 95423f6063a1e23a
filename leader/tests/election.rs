//! Leader election against kube-sim: two standbys racing for the same expired Lease never
//! both lead (the Lease library takes an expired lease without a precondition, so a win is
//! confirmed before leading), and every term's epoch is larger than any before it, even
//! after the Lease is deleted.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_sim::faults::FaultConfig;
use leader::election::{self, ElectionConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const NS: &str = "trivy-system";
const LEASE: &str = "trivy-operator-leader";

async fn client(handle: &kube_sim::SimHandle) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(&handle.kubeconfig_path).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn config(identity: &str) -> ElectionConfig {
    ElectionConfig {
        namespace: NS.into(),
        lease_name: LEASE.into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(4),
    }
}

/// Sets the Lease as held by a replica that stopped renewing a minute ago.
async fn expire(leases: &Api<Lease>, transitions: i32) {
    let stale = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LEASE},
        "spec": {
            "holderIdentity": "gone",
            "leaseDurationSeconds": 4,
            "acquireTime": stale.to_string(),
            "renewTime": stale.to_string(),
            "leaseTransitions": transitions,
        }
    });
    leases
        .patch(
            LEASE,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&lease),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_standbys_never_both_lead() {
    let dir = std::env::temp_dir().join(format!("leader-election-{}", std::process::id()));
    let handle = kube_sim::start(kube_sim::SimConfig {
        kubeconfig_out: Some(dir.join("kubeconfig")),
        controllers: false,
        ..kube_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let admin = client(&handle).await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let leases: Api<Lease> = Api::namespaced(admin.clone(), NS);

    // Every Lease request takes 300 ms, so both racers read the expired Lease before either
    // writes it: both writes succeed, and only the confirmation tells the loser.
    handle.set_faults(FaultConfig {
        latency_ms: 300,
        path_prefix: Some("/apis/coordination.k8s.io/".into()),
        ..FaultConfig::default()
    });
    let clients = [client(&handle).await, client(&handle).await];
    let mut last_epoch = 0;
    for round in 0..3 {
        expire(&leases, round).await;
        let stop = CancellationToken::new();
        let (won_tx, mut won) = tokio::sync::mpsc::unbounded_channel();
        let mut racers = Vec::new();
        for (identity, client) in ["a", "b"].into_iter().zip(clients.clone()) {
            let stop = stop.clone();
            let won_tx = won_tx.clone();
            racers.push(tokio::spawn(async move {
                let term = election::acquire(client, config(identity), &stop).await;
                if term.is_some() {
                    let _ = won_tx.send(identity);
                }
                term.map(|term| (identity, term.epoch))
            }));
        }
        // Once one leads, give the other a second to wrongly lead too: well short of the
        // lease duration after the winner's confirmation, so the loser cannot find the Lease
        // (which nobody renews here) expired again.
        tokio::time::timeout(Duration::from_secs(60), won.recv())
            .await
            .expect("a racer to lead within 60 s");
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.cancel();
        let mut leading = Vec::new();
        for racer in racers {
            leading.extend(racer.await.unwrap());
        }
        assert_eq!(leading.len(), 1, "round {round}: leading {leading:?}");
        let (winner, epoch) = leading[0];
        let lease = leases.get(LEASE).await.unwrap().spec.unwrap();
        assert_eq!(
            lease.holder_identity.as_deref(),
            Some(winner),
            "round {round}"
        );
        assert!(
            epoch > last_epoch,
            "round {round}: {epoch} after {last_epoch}"
        );
        last_epoch = epoch;
    }
    // A deleted Lease starts its transitions over; epochs do not.
    leases.delete(LEASE, &Default::default()).await.unwrap();
    let stop = CancellationToken::new();
    let term = election::acquire(clients[0].clone(), config("a"), &stop)
        .await
        .unwrap();
    assert!(term.epoch > last_epoch, "{} after {last_epoch}", term.epoch);
    handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
