//! A token bucket: the arithmetic of the API request budget. Pure (time is passed in).

use std::time::{Duration, Instant};

/// Holds at most `capacity` tokens and gains `rate` tokens per second; starts full.
#[derive(Debug, Clone)]
pub struct Bucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket. `capacity` is at least one token, `rate` more than zero.
    pub fn new(capacity: u32, rate: f64, now: Instant) -> Self {
        let capacity = f64::from(capacity.max(1));
        Self {
            capacity,
            rate: rate.max(f64::MIN_POSITIVE),
            tokens: capacity,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.at = self.at.max(now);
    }

    /// Takes up to `want` whole tokens; returns how many it took (possibly none).
    pub fn take(&mut self, want: u32, now: Instant) -> u32 {
        self.refill(now);
        // None while in debt (see `take_now`).
        let whole = self.tokens.floor().clamp(0.0, f64::from(want));
        self.tokens -= whole;
        // `whole` is a whole number between 0 and `want`.
        whole as u32
    }

    /// Takes one token now even if there is none: the bucket goes into debt, which the
    /// next takers wait out, so the rate over time stays the same.
    pub fn take_now(&mut self, now: Instant) {
        self.refill(now);
        self.tokens -= 1.0;
    }

    /// How long until one whole token is there.
    pub fn until_next(&mut self, now: Instant) -> Duration {
        self.refill(now);
        let missing = (1.0 - self.tokens).max(0.0);
        Duration::from_secs_f64(missing / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_gives_its_capacity_then_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10, 5.0, t0);
        assert_eq!(b.take(4, t0), 4);
        assert_eq!(b.take(100, t0), 6);
        assert_eq!(b.take(1, t0), 0);
        assert_eq!(b.until_next(t0), Duration::from_millis(200));
        // One second later: five more, never more than the capacity.
        assert_eq!(b.take(100, t0 + Duration::from_secs(1)), 5);
        assert_eq!(b.take(100, t0 + Duration::from_secs(100)), 10);
    }

    #[test]
    fn a_token_taken_now_is_paid_back_by_the_next_takers() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1, 10.0, t0);
        b.take_now(t0);
        b.take_now(t0);
        assert_eq!(b.take(1, t0), 0);
        assert_eq!(b.until_next(t0), Duration::from_millis(200));
        assert_eq!(b.take(1, t0 + Duration::from_millis(200)), 1);
    }

    #[test]
    fn tokens_taken_in_any_window_stay_under_capacity_plus_rate_times_window() {
        // Someone takes a token whenever one is there, polling every 7 ms for 30 s.
        let t0 = Instant::now();
        let mut b = Bucket::new(20, 8.0, t0);
        let mut taken = Vec::new();
        for step in 0..(30_000 / 7) {
            let now = t0 + Duration::from_millis(step * 7);
            for _ in 0..b.take(3, now) {
                taken.push(now);
            }
        }
        let window = Duration::from_secs(10);
        for (i, start) in taken.iter().enumerate() {
            let within = taken[i..]
                .iter()
                .take_while(|t| **t - *start < window)
                .count();
            assert!(within <= 20 + 80, "{within} tokens in one window");
        }
        assert!(taken.len() >= 20 + 8 * 29, "{} tokens in 30 s", taken.len());
    }
}
