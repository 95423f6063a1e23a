//! The worker's side of the API request budget (see [`common::api_budget`]): each request
//! waits for a token the leader granted, until the leader says there is no budget. So a
//! worker that has not reached a leader yet sends nothing (but the one reachability check at
//! start). Tokens are asked for a few at a time over the session's stream (one ask
//! outstanding), and lapse after the grant's validity.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use common::api_budget::{MAX_GRANT, TokenSource};
use common::proto::{self, worker_message};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// How long an unanswered ask stands before it is sent again (the stream may have broken).
const ASK_AGAIN: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct State {
    /// The leader said requests are not limited; until it does, they are.
    unlimited: bool,
    tokens: u32,
    expires: Option<Instant>,
    /// Requests waiting for a token.
    waiting: u32,
    /// When the outstanding ask was sent.
    asked: Option<Instant>,
    /// The stream to the leader, while attached.
    stream: Option<mpsc::Sender<proto::WorkerMessage>>,
}

impl State {
    fn take(&mut self, now: Instant) -> bool {
        if self.unlimited {
            return true;
        }
        if self.expires.is_some_and(|e| e <= now) {
            self.tokens = 0;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }

    /// Asks the leader for tokens for the waiting requests that the tokens held do not
    /// cover, unless an ask is outstanding.
    fn ask(&mut self, now: Instant) {
        let want = self.waiting.saturating_sub(self.tokens);
        if self.unlimited || want == 0 || self.asked.is_some_and(|a| now < a + ASK_AGAIN) {
            return;
        }
        let Some(stream) = &self.stream else {
            return;
        };
        let ask = proto::BudgetRequest {
            tokens: want.min(MAX_GRANT),
        };
        let message = proto::WorkerMessage {
            body: Some(worker_message::Body::BudgetRequest(ask)),
        };
        if stream.try_send(message).is_ok() {
            self.asked = Some(now);
        }
    }
}

/// Tokens granted by the leader.
#[derive(Debug, Default)]
pub struct Granted {
    state: Mutex<State>,
    notify: Notify,
}

impl Granted {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A session started: asks go over `stream`.
    pub fn attached(&self, stream: mpsc::Sender<proto::WorkerMessage>) {
        let mut st = self.lock();
        st.stream = Some(stream);
        st.asked = None;
        st.ask(Instant::now());
    }

    /// The session ended.
    pub fn detached(&self) {
        let mut st = self.lock();
        st.stream = None;
        st.asked = None;
    }

    /// The leader said whether requests are limited.
    pub fn set_limited(&self, limited: bool) {
        let mut st = self.lock();
        if st.unlimited == limited {
            tracing::info!(limited, "API request budget");
        }
        st.unlimited = !limited;
        st.ask(Instant::now());
        drop(st);
        self.notify.notify_waiters();
    }

    /// The leader granted tokens.
    pub fn granted(&self, tokens: u32, valid: Duration) {
        let now = Instant::now();
        let mut st = self.lock();
        st.tokens = tokens;
        st.expires = Some(now + valid);
        st.asked = None;
        // More waiting than granted: ask for the rest at once.
        st.ask(now);
        drop(st);
        self.notify.notify_waiters();
    }
}

/// Counts a waiting request, even when its future is dropped mid-wait.
struct Waiting<'a>(&'a Granted);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.waiting = st.waiting.saturating_sub(1);
    }
}

impl TokenSource for Granted {
    fn acquire(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if self.lock().take(Instant::now()) {
                return;
            }
            self.lock().waiting += 1;
            let _waiting = Waiting(self);
            loop {
                let notified = self.notify.notified();
                let mut notified = std::pin::pin!(notified);
                notified.as_mut().enable();
                {
                    let now = Instant::now();
                    let mut st = self.lock();
                    if st.take(now) {
                        return;
                    }
                    st.ask(now);
                }
                // Woken by a grant; or look again after a while (a lost answer is asked again).
                let _ = tokio::time::timeout(ASK_AGAIN, notified).await;
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn asked(rx: &mut mpsc::Receiver<proto::WorkerMessage>) -> Option<u32> {
        match rx.try_recv().ok()?.body? {
            worker_message::Body::BudgetRequest(r) => Some(r.tokens),
            _ => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn requests_wait_for_the_leader_until_it_says_there_is_no_budget() {
        let g = Arc::new(Granted::default());
        let waiter = {
            let g = g.clone();
            tokio::spawn(async move { g.acquire().await })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished());
        g.set_limited(false);
        waiter.await.unwrap();
        g.acquire().await;
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_requests_ask_once_and_go_with_the_grant() {
        let g = Arc::new(Granted::default());
        let (tx, mut rx) = mpsc::channel(8);
        g.attached(tx);
        g.set_limited(true);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let g = g.clone();
                tokio::spawn(async move { g.acquire().await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(10)).await;
        // One ask outstanding, for the first waiter (the others came after it was sent).
        assert_eq!(asked(&mut rx), Some(1));
        assert_eq!(asked(&mut rx), None);
        g.granted(1, Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(10)).await;
        // One went; the other two are asked for at once.
        assert_eq!(waiters.iter().filter(|w| w.is_finished()).count(), 1);
        assert_eq!(asked(&mut rx), Some(2));
        g.granted(2, Duration::from_secs(1));
        for w in waiters {
            w.await.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn granted_tokens_lapse_and_lost_asks_are_sent_again() {
        let g = Arc::new(Granted::default());
        let (tx, mut rx) = mpsc::channel(8);
        g.attached(tx);
        g.set_limited(true);
        g.granted(5, Duration::from_secs(1));
        g.acquire().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        // The four left have lapsed: the next request asks and waits.
        let waiter = {
            let g = g.clone();
            tokio::spawn(async move { g.acquire().await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(asked(&mut rx), Some(1));
        // No answer (the leader went away): asked again after a while.
        tokio::time::sleep(ASK_AGAIN + Duration::from_millis(10)).await;
        assert_eq!(asked(&mut rx), Some(1));
        assert!(!waiter.is_finished());
        // Unlimited again: it goes.
        g.set_limited(false);
        waiter.await.unwrap();
    }
}
