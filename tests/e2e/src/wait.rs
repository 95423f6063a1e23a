//! Waiting for a condition: poll until it holds or a generous deadline passes, never
//! sleep-and-hope.

use std::future::Future;
use std::time::{Duration, Instant};

/// Default deadline of a condition: long, because a busy 2-core CI machine is slow.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(250);

/// Polls `check` until it returns `Some`, or fails after `timeout` with the last
/// observation, so a failure says what was seen.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(last) if Instant::now() >= deadline => {
                anyhow::bail!("timed out after {timeout:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}
