//! SIGTERM stops every process within two seconds in every state a rolling update or a node
//! drain can meet it in — a worker reconnecting, a worker mid-scan, a standby and an active
//! leader, a leader still waiting for the API server, kube-sim, the Trivy double — cleanly
//! (exit 0), and what was in progress is not lost: a scan Job left behind is adopted by the
//! restarted worker, never duplicated. (A worker stopped mid-audit: `hostile_policies`.)

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::{Cluster, Operator, OperatorOptions, eventually};

const LONG: Duration = Duration::from_secs(240);
const PROMPT: Duration = Duration::from_secs(2);

fn options(cluster: &Cluster, ns: &str, workers: usize) -> OperatorOptions {
    OperatorOptions::new(e2e::binaries!(), cluster, vec![ns.to_string()]).workers(workers, 2)
}

fn assert_prompt_clean_exit(
    name: &str,
    (status, took): (Option<std::process::ExitStatus>, Duration),
) {
    let status = status.unwrap_or_else(|| panic!("{name} still ran {took:?} after SIGTERM"));
    assert!(status.success(), "{name} exited with {status}");
    assert!(took <= PROMPT, "{name} took {took:?} to stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaders_and_a_reconnecting_worker_stop_at_once() {
    let cluster = Cluster::start("signals-idle").await.unwrap();
    let ns = cluster.ns("sig");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let mut op = Operator::start_replicated(&cluster, options(&cluster, &ns, 1), 2).unwrap();
    let worker = op.worker_ids().pop().unwrap();
    let active = eventually("a leader to lead", LONG, || async {
        ["leader-0", "leader-1"]
            .into_iter()
            .find(|l| op.log(l).contains("leading"))
            .ok_or_else(|| "no leader yet".to_string())
    })
    .await
    .unwrap();
    let standby = if active == "leader-0" {
        "leader-1"
    } else {
        "leader-0"
    };
    let stopped = op.terminate(standby, Duration::from_secs(30)).unwrap();
    assert_prompt_clean_exit("the standby leader", stopped);
    eventually("the worker to attach", LONG, || async {
        op.log(&worker)
            .contains("attached")
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await
    .unwrap();
    let stopped = op.terminate(active, Duration::from_secs(30)).unwrap();
    assert_prompt_clean_exit("the active leader", stopped);
    // With no leader left, the worker reconnects with back-off.
    eventually("the worker to be reconnecting", LONG, || async {
        op.log(&worker)
            .contains("no leader session")
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await
    .unwrap();
    let stopped = op.terminate(&worker, Duration::from_secs(30)).unwrap();
    assert_prompt_clean_exit("the reconnecting worker", stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_mid_scan_leaves_its_job_to_be_adopted() {
    let MidScan {
        cluster,
        ns,
        jobs,
        mut op,
        worker,
    } = mid_scan("signals-scan", 1).await;
    let stopped = op.terminate(&worker, Duration::from_secs(30)).unwrap();
    assert_prompt_clean_exit("the worker mid-scan", stopped);
    assert!(
        cluster
            .list(&["vulnerabilityreports", "-n", &ns])
            .unwrap()
            .is_empty(),
        "no report before the scan finished"
    );
    // Restarted (a new pod of the Deployment), it adopts the Job and writes the report.
    op.add_worker("worker-restarted").unwrap();
    one_report_and_no_job_left(&cluster, &ns, &jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_leader_stopped_mid_scan_hands_over_without_loss() {
    let MidScan {
        cluster,
        ns,
        jobs,
        mut op,
        worker: _,
    } = mid_scan("signals-handover", 2).await;
    let active = ["leader-0", "leader-1"]
        .into_iter()
        .find(|l| op.log(l).contains("leading"))
        .unwrap();
    let stopped = op.terminate(active, Duration::from_secs(30)).unwrap();
    assert_prompt_clean_exit("the active leader mid-scan", stopped);
    // The standby takes over; the scan in progress ends in exactly one report and one Job.
    one_report_and_no_job_left(&cluster, &ns, &jobs).await;
    let audits = cluster.list(&["configauditreports", "-n", &ns]).unwrap();
    assert_eq!(audits.len(), 1, "one audit report");
}

/// A cluster whose one Deployment's image scan takes 6 s, an operator (`leaders` leader
/// replicas, one worker) and the moment its scan Job was created.
struct MidScan {
    cluster: Cluster,
    ns: String,
    jobs: std::sync::Arc<std::sync::Mutex<e2e::jobs::Jobs>>,
    op: Operator,
    worker: String,
}

async fn mid_scan(test: &str, leaders: usize) -> MidScan {
    // A scan of 6 s (the Trivy double's naming convention: it runs on a real cluster too).
    let cluster = Cluster::start(test).await.unwrap();
    let ns = cluster.ns("sig");
    cluster
        .create_namespaces(std::slice::from_ref(&ns))
        .unwrap();
    let opts = options(&cluster, &ns, 1);
    let jobs = e2e::jobs::watch_jobs(&cluster, &opts.operator_namespace)
        .await
        .unwrap();
    let op = Operator::start_replicated(&cluster, opts, leaders).unwrap();
    let deployment = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: slow, namespace: {ns}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: slow}}}}\n  template:\n    metadata: {{labels: {{app: slow}}}}\n    spec:\n      containers: [{{name: main, image: \"trivy-double.test/sleep-6/alpine-310/slow:1.0\"}}]\n"
    );
    cluster.apply(&deployment).unwrap();
    let worker = op.worker_ids().pop().unwrap();
    eventually("the scan Job", LONG, || async {
        op.log(&worker)
            .contains("scan job created")
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await
    .unwrap();
    MidScan {
        cluster,
        ns,
        jobs,
        op,
        worker,
    }
}

/// The interrupted scan ends in exactly one report, from exactly one Job, and no Job stays.
async fn one_report_and_no_job_left(
    cluster: &Cluster,
    ns: &str,
    jobs: &std::sync::Mutex<e2e::jobs::Jobs>,
) {
    eventually("the report", LONG, || async {
        let reports = cluster
            .list(&["vulnerabilityreports", "-n", ns])
            .map_err(|e| e.to_string())?;
        (reports.len() == 1)
            .then_some(())
            .ok_or(format!("{} reports", reports.len()))
    })
    .await
    .unwrap();
    eventually("no Job left behind", LONG, || async {
        let live = jobs.lock().unwrap().live.len();
        (live == 0).then_some(()).ok_or(format!("{live} Jobs"))
    })
    .await
    .unwrap();
    assert_eq!(
        jobs.lock().unwrap().seen.len(),
        1,
        "the Job was adopted or awaited, never duplicated"
    );
}

/// Sends SIGTERM to `child` and waits up to `within` for it: (exit status, time taken).
fn terminate(
    child: &mut std::process::Child,
    within: Duration,
) -> (Option<std::process::ExitStatus>, Duration) {
    let started = std::time::Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (Some(status), started.elapsed());
        }
        if started.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            return (None, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A program of this workspace's target directory (the e2e binaries' neighbours).
fn sibling(name: &str) -> std::path::PathBuf {
    std::path::Path::new(e2e::binaries!().leader).with_file_name(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_sim_the_trivy_double_and_a_leader_waiting_for_the_api_stop_at_once() {
    let dir = std::env::temp_dir().join(format!("e2e-signals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kube_sim = sibling("kube-sim");
    if !kube_sim.is_file() {
        // Built with the workspace by `scripts/test`; a filtered build may lack it.
        panic!(
            "{} is missing: build it with `cargo build -p kube-sim --bins`",
            kube_sim.display()
        );
    }
    let kubeconfig = dir.join("kubeconfig");
    let mut sim = std::process::Command::new(&kube_sim)
        .args(["--kubeconfig-out", &kubeconfig.to_string_lossy()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually("kube-sim to listen", LONG, || async {
        kubeconfig
            .is_file()
            .then_some(())
            .ok_or_else(|| "no kubeconfig yet".to_string())
    })
    .await
    .unwrap();
    assert_prompt_clean_exit("kube-sim", terminate(&mut sim, Duration::from_secs(30)));

    // The Trivy double in the middle of a scan (its built-in `slow:1` waits an hour) ends as
    // a process without a handler does: at once, by the signal.
    let mut trivy = std::process::Command::new(sibling("trivy-double"))
        .args(["image", "--format", "json", "slow:1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        trivy.try_wait().unwrap().is_none(),
        "the double is scanning"
    );
    let (status, took) = terminate(&mut trivy, Duration::from_secs(30));
    let status = status.expect("the Trivy double stopped");
    assert!(!status.success(), "an interrupted scan is no success");
    assert!(took <= PROMPT, "the Trivy double took {took:?} to stop");

    // A leader whose API server does not answer (nobody listens on the port any more).
    let grpc = e2e::operator::free_port().unwrap();
    let admin = e2e::operator::free_port().unwrap();
    let log = std::fs::File::create(dir.join("leader.log")).unwrap();
    let mut leader = std::process::Command::new(e2e::binaries!().leader)
        .args([
            "run",
            "--kubeconfig",
            &kubeconfig.to_string_lossy(),
            "--connect-timeout",
            "120s",
            "--grpc-addr",
            &format!("127.0.0.1:{grpc}"),
            "--admin-addr",
            &format!("127.0.0.1:{admin}"),
            "--status-open",
        ])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        leader.try_wait().unwrap().is_none(),
        "the leader waits for the API"
    );
    assert_prompt_clean_exit(
        "the leader waiting for the API",
        terminate(&mut leader, Duration::from_secs(30)),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
