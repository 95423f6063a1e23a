//! DaemonSets (a pod per fake node), StatefulSets (ordinal pod names) and CronJobs (Jobs
//! owned by the CronJob), driven with the real kubectl.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod controller_support;

use controller_support::{eventually, names, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_set_runs_one_pod_per_node() {
    let sim = start(&["node-a", "node-b", "node-c"], None).await;
    let ns = sim.namespace("h4-ds").await;
    let ds = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    \
              matchLabels:\n      app: agent\n  template:\n    metadata:\n      labels:\n        app: agent\n    \
              spec:\n      containers:\n      - name: agent\n        image: fluentd:v1\n";
    sim.apply(&ns, ds).await;
    let pods = eventually("three running agent pods", || async {
        let pods = sim.items(&["pods", "-n", &ns, "-l", "app=agent"]).await;
        let running = pods.iter().all(|p| p["status"]["phase"] == "Running");
        (pods.len() == 3 && running).then_some(pods)
    })
    .await;
    let mut nodes: Vec<&str> = pods
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["node-a", "node-b", "node-c"]);
    eventually("DaemonSet status", || async {
        let ds = sim.get_json(&["ds", "agent", "-n", &ns]).await?;
        (ds["status"]["desiredNumberScheduled"] == 3 && ds["status"]["numberReady"] == 3)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateful_set_pods_have_ordinal_names() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-sts").await;
    let sts = |n: u32| {
        format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  replicas: {n}\n  \
             serviceName: db\n  selector:\n    matchLabels:\n      app: db\n  template:\n    metadata:\n      \
             labels:\n        app: db\n    spec:\n      containers:\n      - name: db\n        image: postgres:16\n"
        )
    };
    sim.apply(&ns, &sts(3)).await;
    eventually("db-0..2", || async {
        let pods = sim.items(&["pods", "-n", &ns, "-l", "app=db"]).await;
        (names(&pods) == ["db-0", "db-1", "db-2"]).then_some(())
    })
    .await;
    let pod = sim.get_json(&["pod", "db-1", "-n", &ns]).await.unwrap();
    assert_eq!(
        pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "db-1"
    );
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
    sim.apply(&ns, &sts(1)).await;
    eventually("scaled down to db-0", || async {
        let pods = sim.items(&["pods", "-n", &ns, "-l", "app=db"]).await;
        (names(&pods) == ["db-0"]).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_job_runs_are_jobs_owned_by_the_cron_job() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-cron").await;
    let cj = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  schedule: '0 3 * * *'\n  \
              jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          \
              containers:\n          - name: task\n            image: busybox\n            command: [sh, -c, 'echo ran']\n";
    sim.apply(&ns, cj).await;
    let job = kube_sim::controllers::trigger_now(sim.handle.store(), &ns, "nightly").unwrap();
    let name = job["metadata"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("nightly-"), "{name}");
    let cron = sim
        .get_json(&["cronjob", "nightly", "-n", &ns])
        .await
        .unwrap();
    assert_eq!(
        job["metadata"]["ownerReferences"][0]["uid"],
        cron["metadata"]["uid"]
    );
    sim.ok(&[
        "wait",
        "-n",
        &ns,
        "--for=condition=complete",
        &format!("job/{name}"),
        "--timeout=60s",
    ])
    .await;
    assert_eq!(
        sim.ok(&["logs", "-n", &ns, &format!("job/{name}")]).await,
        "ran\n"
    );
    eventually("the CronJob's status lists the finished run", || async {
        let cron = sim.get_json(&["cronjob", "nightly", "-n", &ns]).await?;
        cron["status"]["lastSuccessfulTime"]
            .is_string()
            .then_some(())
    })
    .await;
    sim.ok(&["delete", "cronjob", "nightly", "-n", &ns]).await;
    eventually("the CronJob's Job is garbage-collected", || async {
        sim.items(&["jobs", "-n", &ns])
            .await
            .is_empty()
            .then_some(())
    })
    .await;
}
