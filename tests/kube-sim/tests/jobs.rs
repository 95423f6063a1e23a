//! Jobs run by the simulated kubelet, driven with the real kubectl: completion and logs,
//! failures with backoffLimit, deadlines, start errors, TTL, and the Trivy double.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod controller_support;

use controller_support::{condition, eventually, start};
use serde_json::Value;

const TRIVY_IMAGE: &str = "ghcr.io/aquasecurity/trivy:0.58.1";

fn job_yaml(name: &str, spec_extra: &str, command: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{spec_extra}  template:\n    \
         spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        \
         image: busybox:1.36\n        command: {command}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_job_completes_and_its_log_is_readable() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-echo").await;
    let args = ["create", "job", "hello", "-n", &ns, "--image=busybox", "--"];
    sim.ok(&[&args[..], &["sh", "-c", "echo hi; echo err >&2"]].concat())
        .await;
    sim.ok(&[
        "wait",
        "-n",
        &ns,
        "--for=condition=complete",
        "job/hello",
        "--timeout=60s",
    ])
    .await;
    assert_eq!(sim.ok(&["logs", "-n", &ns, "job/hello"]).await, "hi\nerr\n");
    let pods = sim
        .items(&["pods", "-n", &ns, "-l", "job-name=hello"])
        .await;
    assert_eq!(pods.len(), 1);
    let pod = pods[0]["metadata"]["name"].as_str().unwrap();
    assert_eq!(
        sim.ok(&["logs", "-n", &ns, pod, "-c", "hello"]).await,
        "hi\nerr\n"
    );
    let cs = &pods[0]["status"]["containerStatuses"][0];
    assert_eq!(pods[0]["status"]["phase"], "Succeeded");
    assert_eq!(cs["state"]["terminated"]["exitCode"], 0);
    assert_eq!(cs["state"]["terminated"]["reason"], "Completed");
    assert!(
        cs["imageID"]
            .as_str()
            .unwrap()
            .starts_with("docker.io/library/busybox@sha256:")
    );
    let job = sim.get_json(&["job", "hello", "-n", &ns]).await.unwrap();
    assert_eq!(job["status"]["succeeded"], 1);
    assert!(job["status"]["completionTime"].is_string());
    assert_eq!(
        condition(&job, "SuccessCriteriaMet").unwrap()["status"],
        "True"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_volume_is_waited_for_then_read_at_its_mount_path() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-volume").await;
    let yaml = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: reader\nspec:\n  \
                backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      \
                containers:\n      - name: main\n        image: busybox:1.36\n        \
                command: [sh, -c, 'cat /data/msg /data/other /data/sub/renamed 2>/dev/null; true']\n        \
                volumeMounts:\n        - {name: data, mountPath: /data, readOnly: true}\n      \
                volumes:\n      - name: data\n        secret:\n          secretName: later\n";
    sim.apply(&ns, yaml).await;
    // No Secret yet: the container waits, as the kubelet's volume mount does.
    eventually("the pod waits for its volume", || async {
        let pods = sim
            .items(&["pods", "-n", &ns, "-l", "job-name=reader"])
            .await;
        let waiting = &pods.first()?["status"]["containerStatuses"][0]["state"]["waiting"];
        (waiting["reason"] == "ContainerCreating"
            && waiting["message"]
                .as_str()?
                .contains("secret \"later\" not found"))
        .then_some(())
    })
    .await;
    sim.ok(&[
        "create",
        "secret",
        "generic",
        "later",
        "-n",
        &ns,
        "--from-literal=msg=hello ",
        "--from-literal=other=there",
    ])
    .await;
    // With items, only the keys named, at their paths.
    let items = yaml.replace("name: reader", "name: items").replace(
        "secretName: later\n",
        "secretName: later\n          items: [{key: other, path: sub/renamed}]\n",
    );
    sim.apply(&ns, &items).await;
    for job in ["reader", "items"] {
        sim.ok(&[
            "wait",
            "-n",
            &ns,
            "--for=condition=complete",
            &format!("job/{job}"),
            "--timeout=60s",
        ])
        .await;
    }
    // Without items every key is a file at its name.
    assert_eq!(
        sim.ok(&["logs", "-n", &ns, "job/reader"]).await,
        "hello there"
    );
    assert_eq!(sim.ok(&["logs", "-n", &ns, "job/items"]).await, "there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_command_fails_the_job_and_retries_up_to_the_backoff_limit() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-fail").await;
    sim.apply(
        &ns,
        &job_yaml(
            "once",
            "  backoffLimit: 0\n",
            "[sh, -c, 'echo failing; exit 3']",
        ),
    )
    .await;
    sim.apply(
        &ns,
        &job_yaml("twice", "  backoffLimit: 1\n", "[sh, -c, 'exit 4']"),
    )
    .await;
    for (name, pods) in [("once", 1), ("twice", 2)] {
        sim.ok(&[
            "wait",
            "-n",
            &ns,
            "--for=condition=failed",
            &format!("job/{name}"),
            "--timeout=60s",
        ])
        .await;
        let job = sim.get_json(&["job", name, "-n", &ns]).await.unwrap();
        assert_eq!(
            condition(&job, "Failed").unwrap()["reason"],
            "BackoffLimitExceeded"
        );
        assert_eq!(condition(&job, "FailureTarget").unwrap()["status"], "True");
        assert_eq!(job["status"]["failed"], pods);
        let items = sim
            .items(&["pods", "-n", &ns, "-l", &format!("job-name={name}")])
            .await;
        assert_eq!(items.len(), pods, "{name}");
        for pod in &items {
            assert_eq!(pod["status"]["phase"], "Failed");
            let t = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
            assert_eq!(t["exitCode"], if name == "once" { 3 } else { 4 });
            assert_eq!(t["reason"], "Error");
        }
    }
    assert_eq!(sim.ok(&["logs", "-n", &ns, "job/once"]).await, "failing\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_slow_job_hits_its_deadline_and_its_pod_is_killed() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-slow").await;
    let spec = "  backoffLimit: 0\n  activeDeadlineSeconds: 2\n";
    sim.apply(
        &ns,
        &job_yaml(
            "slow",
            spec,
            "[sh, -c, 'echo started; sleep 30; echo late']",
        ),
    )
    .await;
    sim.ok(&[
        "wait",
        "-n",
        &ns,
        "--for=condition=failed",
        "job/slow",
        "--timeout=60s",
    ])
    .await;
    let job = sim.get_json(&["job", "slow", "-n", &ns]).await.unwrap();
    assert_eq!(
        condition(&job, "Failed").unwrap()["reason"],
        "DeadlineExceeded"
    );
    eventually("the deadline-exceeded pod is deleted", || async {
        sim.items(&["pods", "-n", &ns, "-l", "job-name=slow"])
            .await
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_that_cannot_start_fails_with_a_reason() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-nostart").await;
    sim.apply(
        &ns,
        &job_yaml("bad", "  backoffLimit: 0\n", "[/nonexistent, arg]"),
    )
    .await;
    sim.ok(&[
        "wait",
        "-n",
        &ns,
        "--for=condition=failed",
        "job/bad",
        "--timeout=60s",
    ])
    .await;
    let pods = sim.items(&["pods", "-n", &ns, "-l", "job-name=bad"]).await;
    let t = &pods[0]["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(t["exitCode"], 128);
    assert_eq!(t["reason"], "StartError");
    assert!(
        t["message"].as_str().unwrap().contains("\"/nonexistent\""),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_after_finished_deletes_the_job_and_its_pods() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-ttl").await;
    sim.apply(
        &ns,
        &job_yaml(
            "short",
            "  ttlSecondsAfterFinished: 1\n",
            "[sh, -c, 'echo bye']",
        ),
    )
    .await;
    eventually("the job is deleted after its TTL", || async {
        let job = sim.get_json(&["job", "short", "-n", &ns]).await;
        job.is_none().then_some(())
    })
    .await;
    eventually("its pods are garbage-collected", || async {
        sim.items(&["pods", "-n", &ns])
            .await
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trivy_image_runs_the_double_and_the_log_is_the_golden_json() {
    let double = env!("CARGO_BIN_EXE_trivy-double");
    let map = format!("ghcr.io/aquasecurity/trivy: {double}\n");
    let sim = start(&[], Some(map)).await;
    let ns = sim.namespace("h4-trivy").await;
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: scan\nspec:\n  backoffLimit: 0\n  \
         template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: alpine\n        \
         image: {TRIVY_IMAGE}\n        command: [trivy]\n        args: [--cache-dir, /tmp/trivy/.cache, \
         --quiet, image, --skip-db-update, --format, json, alpine:3.10]\n      - name: piped\n        \
         image: {TRIVY_IMAGE}\n        command: [sh, -c]\n        args: ['trivy image -q -f json \
         alpine:3.10 | wc -c']\n      - name: unknown\n        image: {TRIVY_IMAGE}\n        \
         args: [image, --quiet, --format, json, nope:1]\n"
    );
    sim.apply(&ns, &job).await;
    sim.ok(&[
        "wait",
        "-n",
        &ns,
        "--for=condition=failed",
        "job/scan",
        "--timeout=60s",
    ])
    .await;
    let golden = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/trivy-json/alpine-310.json.golden"
    ))
    .unwrap();
    let logs = sim
        .kubectl(&["logs", "-n", &ns, "job/scan", "-c", "alpine"])
        .await;
    assert!(logs.ok, "{}", logs.stderr);
    assert!(
        logs.stdout == golden,
        "log differs from the golden file:\n{}",
        logs.text()
    );
    let piped = sim
        .ok(&["logs", "-n", &ns, "job/scan", "-c", "piped"])
        .await;
    assert_eq!(piped.trim(), golden.len().to_string());
    let unknown = sim
        .ok(&["logs", "-n", &ns, "job/scan", "-c", "unknown"])
        .await;
    assert!(
        unknown.contains("unable to find the specified image \"nope:1\""),
        "{unknown}"
    );
    let pods = sim.items(&["pods", "-n", &ns, "-l", "job-name=scan"]).await;
    let statuses = pods[0]["status"]["containerStatuses"]
        .as_array()
        .unwrap()
        .clone();
    let code = |n: &str| -> Value {
        statuses.iter().find(|c| c["name"] == n).unwrap()["state"]["terminated"]["exitCode"].clone()
    };
    assert_eq!(
        (code("alpine"), code("piped"), code("unknown")),
        (0.into(), 0.into(), 1.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_kubelet_starts_nothing_until_resumed() {
    let sim = start(&[], None).await;
    let ns = sim.namespace("h4-pause").await;
    sim.handle.pause_kubelet(true);
    sim.apply(&ns, &job_yaml("later", "", "[sh, -c, 'echo resumed']"))
        .await;
    eventually("the Job's pod exists", || async {
        let pods = sim
            .items(&["pods", "-n", &ns, "-l", "job-name=later"])
            .await;
        (pods.len() == 1).then_some(())
    })
    .await;
    // The kubelet reacts to pod events at once; give it a moment to (wrongly) start it.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let pods = sim
        .items(&["pods", "-n", &ns, "-l", "job-name=later"])
        .await;
    assert!(
        pods[0]["status"]
            .get("phase")
            .is_none_or(|p| p == "Pending"),
        "{}",
        pods[0]["status"]
    );
    assert!(
        pods[0]["spec"].get("nodeName").is_none(),
        "bound while paused"
    );
    sim.handle.pause_kubelet(false);
    sim.ok(&[
        "wait",
        "-n",
        &ns,
        "--for=condition=complete",
        "job/later",
        "--timeout=60s",
    ])
    .await;
    assert_eq!(sim.ok(&["logs", "-n", &ns, "job/later"]).await, "resumed\n");
}
