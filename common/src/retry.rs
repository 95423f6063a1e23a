//! Retries of idempotent API calls (reads, server-side apply) on transient errors: the API
//! server throttling (429), failing (500, 502, 503, 504) or the connection breaking. A few
//! quick attempts with exponential backoff absorb a blip inside one task, so one failed GET
//! among the dozens a scan makes does not fail the whole scan; anything still failing is
//! returned and the caller's own, slower retry (the leader's task backoff) takes over.

use std::future::Future;
use std::time::Duration;

/// Attempts in all, the first included.
pub const ATTEMPTS: u32 = 4;
/// Pause before the first retry; doubled before each next one.
pub const FIRST_PAUSE: Duration = Duration::from_millis(200);

/// Whether `error` may go away by itself: throttling, a server-side failure, or a broken
/// connection. Client errors (403, 404, 409, 422...) never do.
pub fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs `call` until it succeeds, fails for good, or [`ATTEMPTS`] are spent. Only for calls
/// that are safe to repeat (GET, LIST, server-side apply, DELETE with a precondition).
pub async fn idempotent<T, F, Fut>(what: &str, mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < ATTEMPTS && is_transient(&error) => {
                tracing::debug!(%error, attempt, what, retry_in = ?pause, "transient API error");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure("injected", "Test").with_code(code),
        ))
    }

    #[test]
    fn only_throttling_and_server_failures_are_transient() {
        for code in [429, 500, 502, 503, 504] {
            assert!(is_transient(&api_error(code)), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 410, 422] {
            assert!(!is_transient(&api_error(code)), "{code}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_then_succeeds() {
        let calls = AtomicU32::new(0);
        let got = idempotent("get", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(api_error(500))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(got.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_last_attempt_and_at_once_on_a_client_error() {
        let calls = AtomicU32::new(0);
        let got: Result<(), _> = idempotent("get", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(api_error(429))
        })
        .await;
        assert!(matches!(got, Err(kube::Error::Api(s)) if s.code == 429));
        assert_eq!(calls.load(Ordering::SeqCst), ATTEMPTS);

        let calls = AtomicU32::new(0);
        let got: Result<(), _> = idempotent("get", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(api_error(403))
        })
        .await;
        assert!(matches!(got, Err(kube::Error::Api(s)) if s.code == 403));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
