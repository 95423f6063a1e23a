//! The report gauges rendered at most once per [`MAX_AGE`], however many scrapes come: from
//! the leader's watched state when it can tell, else from one listing. The scrape port
//! cannot be used to multiply the load on the API server (or the leader's memory) by
//! scraping often or in parallel.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::{Error, render};

/// How long a listing answers scrapes (Prometheus scrapes every 15–60 s).
pub const MAX_AGE: Duration = Duration::from_secs(15);

/// The last rendered gauges and when they were listed.
#[derive(Debug, Default)]
pub struct CachedGauges {
    last: Mutex<Option<(Instant, String)>>,
}

impl CachedGauges {
    /// The gauges: the cached text while it is younger than `max_age`, else `from_state`'s,
    /// else a new listing. Concurrent scrapes wait for the one rendering and share it.
    pub async fn render(
        &self,
        client: &kube::Client,
        namespaces: &[String],
        (max_age, secrets): (Duration, bool),
        from_state: impl FnOnce() -> Option<String>,
    ) -> Result<String, Error> {
        self.cached(max_age, async move {
            match from_state() {
                Some(text) => Ok(text),
                None => render(client, namespaces, secrets).await,
            }
        })
        .await
    }

    /// The cached text while it is younger than `max_age`, else `make`'s (cached).
    pub async fn cached(
        &self,
        max_age: Duration,
        make: impl std::future::Future<Output = Result<String, Error>>,
    ) -> Result<String, Error> {
        let mut last = self.last.lock().await;
        if let Some((at, text)) = last.as_ref()
            && is_fresh(*at, Instant::now(), max_age)
        {
            return Ok(text.clone());
        }
        let text = make.await?;
        *last = Some((Instant::now(), text.clone()));
        Ok(text)
    }
}

fn is_fresh(at: Instant, now: Instant, max_age: Duration) -> bool {
    now.saturating_duration_since(at) < max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_answers_scrapes_for_its_max_age() {
        let at = Instant::now();
        assert!(is_fresh(at, at, MAX_AGE));
        assert!(is_fresh(
            at,
            at + MAX_AGE - Duration::from_millis(1),
            MAX_AGE
        ));
        assert!(!is_fresh(at, at + MAX_AGE, MAX_AGE));
    }
}
