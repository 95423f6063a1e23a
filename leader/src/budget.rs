//! The leader's side of the API request budget (see [`common::api_budget`]): one token bucket
//! for the whole operator. The leader's own requests take from it one at a time; a worker's
//! request for tokens is answered with a grant of what is there (at least one, waiting for
//! it if need be).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::api_budget::{Bucket, Limits, MAX_GRANT, TokenSource};

/// The operator's budget; `None` inside: no budget.
#[derive(Debug)]
pub struct Budget {
    bucket: Option<Mutex<Bucket>>,
}

impl Budget {
    pub fn new(limits: Option<Limits>) -> Self {
        Self {
            bucket: limits
                .map(|l| Mutex::new(Bucket::new(l.burst, l.bucket_rate(), Instant::now()))),
        }
    }

    /// Whether requests are limited (workers must ask for grants).
    pub fn is_limited(&self) -> bool {
        self.bucket.is_some()
    }

    /// Takes up to `want` tokens (at most [`MAX_GRANT`]), waiting until at least one is there.
    pub async fn grant(&self, want: u32) -> u32 {
        let want = want.clamp(1, MAX_GRANT);
        let Some(bucket) = &self.bucket else {
            return want;
        };
        loop {
            let wait = {
                let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                match b.take(want, now) {
                    0 => b.until_next(now),
                    n => return n,
                }
            };
            // Contenders wake about when a token is due; one gets it, the others wait again.
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

impl TokenSource for Budget {
    fn acquire(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            self.grant(1).await;
        })
    }

    fn take_now(&self) {
        if let Some(bucket) = &self.bucket {
            bucket
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take_now(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn grants_come_from_one_bucket() {
        let budget = Budget::new(Some(Limits::new(10.0, 5).unwrap_or_else(|e| panic!("{e}"))));
        assert!(budget.is_limited());
        assert_eq!(budget.grant(3).await, 3);
        assert_eq!(budget.grant(100).await, 2);
        // Empty: the next grant waits for the steady rate, (100 - 5) / 11 per second.
        let started = Instant::now();
        assert_eq!(budget.grant(100).await, 1);
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn without_a_budget_everything_is_granted() {
        let budget = Budget::new(None);
        assert!(!budget.is_limited());
        assert_eq!(budget.grant(1000).await, MAX_GRANT);
    }
}
