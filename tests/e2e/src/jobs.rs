//! Watching the scan Jobs of a namespace from the test: the distinct Jobs ever seen and the
//! most that existed at once, as kubectl or any client can observe them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use kube::runtime::{WatchStreamExt, watcher};

use crate::Cluster;

/// What the watch has seen so far.
#[derive(Debug, Default)]
pub struct Jobs {
    /// Uids of every Job seen.
    pub seen: BTreeSet<String>,
    /// The last version seen of every Job, by uid.
    pub objects: std::collections::BTreeMap<String, Job>,
    /// Uids of the Jobs that exist now.
    pub live: BTreeSet<String>,
    /// The most Jobs that existed at once.
    pub max_live: usize,
    /// Uids listed by a re-list in progress (the watch restarted).
    relisted: BTreeSet<String>,
}

impl Jobs {
    fn apply(&mut self, job: &Job) {
        let id = job.metadata.uid.clone().unwrap_or_default();
        self.seen.insert(id.clone());
        self.objects.insert(id.clone(), job.clone());
        self.live.insert(id);
        self.max_live = self.max_live.max(self.live.len());
    }

    fn event(&mut self, event: watcher::Event<Job>) {
        match event {
            watcher::Event::Init => self.relisted.clear(),
            watcher::Event::InitApply(job) => {
                let id = job.metadata.uid.clone().unwrap_or_default();
                self.seen.insert(id.clone());
                self.objects.insert(id.clone(), job.clone());
                self.relisted.insert(id);
            }
            // After a re-list, exactly the listed Jobs exist: one deleted while the watch was
            // down must not stay counted as live.
            watcher::Event::InitDone => {
                self.live = std::mem::take(&mut self.relisted);
                self.max_live = self.max_live.max(self.live.len());
            }
            watcher::Event::Apply(job) => self.apply(&job),
            watcher::Event::Delete(job) => {
                self.live
                    .remove(&job.metadata.uid.clone().unwrap_or_default());
            }
        }
    }
}

/// Starts watching the Jobs of `namespace` and returns once the first list is in, so that
/// every Job created after this call is counted. The watch backs off on errors (so it never
/// spins) and ends with the test's runtime.
pub async fn watch_jobs(cluster: &Cluster, namespace: &str) -> anyhow::Result<Arc<Mutex<Jobs>>> {
    let jobs = Arc::new(Mutex::new(Jobs::default()));
    let api: kube::Api<Job> = kube::Api::namespaced(cluster.client.clone(), namespace);
    let shared = jobs.clone();
    let (synced_tx, synced) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut synced_tx = Some(synced_tx);
        let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
        while let Some(event) = stream.next().await {
            let Ok(event) = event else { continue };
            let done = matches!(event, watcher::Event::InitDone);
            shared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .event(event);
            if done && let Some(tx) = synced_tx.take() {
                let _ = tx.send(());
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(120), synced)
        .await
        .map_err(|_| anyhow::anyhow!("the Job watch did not list within 120 s"))?
        .map_err(|_| anyhow::anyhow!("the Job watch ended before its first list"))?;
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(uid: &str) -> Job {
        let mut j = Job::default();
        j.metadata.uid = Some(uid.into());
        j
    }

    #[test]
    fn a_relist_forgets_jobs_deleted_while_the_watch_was_down() {
        let mut jobs = Jobs::default();
        jobs.event(watcher::Event::Init);
        jobs.event(watcher::Event::InitDone);
        jobs.event(watcher::Event::Apply(job("a")));
        jobs.event(watcher::Event::Apply(job("b")));
        // The watch restarts; "a" was deleted meanwhile, "c" created.
        jobs.event(watcher::Event::Init);
        jobs.event(watcher::Event::InitApply(job("b")));
        jobs.event(watcher::Event::InitApply(job("c")));
        jobs.event(watcher::Event::InitDone);
        assert_eq!(jobs.live, BTreeSet::from(["b".into(), "c".into()]));
        assert_eq!(jobs.seen.len(), 3);
        assert_eq!(jobs.max_live, 2);
        jobs.event(watcher::Event::Delete(job("b")));
        assert_eq!(jobs.live, BTreeSet::from(["c".to_string()]));
    }
}
