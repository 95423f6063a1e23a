//! The operator's API request budget: at most `qps` requests per second to the API server on
//! average over any 10-second window, leader and workers together, whatever the number of
//! workers. The leader owns one token bucket; its own requests take from it directly, and
//! workers ask it for grants of a few tokens at a time, valid for [`GRANT_VALIDITY`]. Every
//! request waits for a token in a [`ThrottleLayer`] on the process's client, which also
//! backs off when the API server answers 429 (API Priority and Fairness) and retries.

mod bucket;
mod throttle;

use std::time::Duration;

pub use bucket::Bucket;
pub use throttle::{ThrottleLayer, ThrottleStats, TokenSource, Unlimited};

/// The window over which the request rate is bounded.
pub const WINDOW: Duration = Duration::from_secs(10);

/// How long a worker may hold granted tokens before they lapse.
pub const GRANT_VALIDITY: Duration = Duration::from_secs(1);

/// The most tokens one grant carries.
pub const MAX_GRANT: u32 = 32;

/// The budget as the user sets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Requests per second, on average over any [`WINDOW`].
    pub qps: f64,
    /// Requests that may go at once, above the steady rate.
    pub burst: u32,
}

impl Limits {
    /// Checks that the budget can be kept: a positive rate, a burst of at least one request
    /// and at most half a window's worth (the steady rate is what the window leaves).
    pub fn new(qps: f64, burst: u32) -> Result<Self, String> {
        if !(qps.is_finite() && qps > 0.0) {
            return Err(format!("the request rate must be above zero, not {qps}"));
        }
        let max_burst = qps * WINDOW.as_secs_f64() / 2.0;
        if burst == 0 || f64::from(burst) > max_burst {
            return Err(format!(
                "the burst must be between 1 and {} requests (half of {}s at {qps}/s), not {burst}",
                max_burst.floor(),
                WINDOW.as_secs()
            ));
        }
        Ok(Self { qps, burst })
    }

    /// The bucket's steady rate. Tokens taken in any interval `T` number at most
    /// `burst + rate × T`; granted tokens are spent up to [`GRANT_VALIDITY`] later, so the
    /// requests of any window are at most `burst + rate × (WINDOW + GRANT_VALIDITY)`, which
    /// this rate makes `qps × WINDOW`.
    pub fn bucket_rate(&self) -> f64 {
        let window = WINDOW.as_secs_f64();
        (self.qps * window - f64::from(self.burst)) / (window + GRANT_VALIDITY.as_secs_f64())
    }

    /// The most requests any window may see.
    pub fn window_bound(&self) -> f64 {
        self.qps * WINDOW.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonsense_budgets_are_refused() {
        assert!(Limits::new(0.0, 1).is_err());
        assert!(Limits::new(f64::NAN, 1).is_err());
        assert!(Limits::new(10.0, 0).is_err());
        assert!(Limits::new(10.0, 51).is_err());
        assert!(Limits::new(10.0, 50).is_ok());
    }

    #[test]
    fn burst_plus_a_window_of_rate_is_the_bound() {
        let l = Limits::new(100.0, 200).unwrap_or_else(|e| panic!("{e}"));
        let window = (WINDOW + GRANT_VALIDITY).as_secs_f64();
        let worst = f64::from(l.burst) + l.bucket_rate() * window;
        assert!((worst - l.window_bound()).abs() < 1e-9, "{worst}");
        assert!(l.bucket_rate() > 70.0);
    }
}
