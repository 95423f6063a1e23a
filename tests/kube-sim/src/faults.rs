//! Fault injection: fail a fraction of API requests with chosen status codes (429 with
//! `Retry-After`), add latency, optionally only for some paths, methods or user agents.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What to inject; the JSON body of `POST /_sim/faults`. The default injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Fraction (0.0–1.0) of matching requests that fail.
    pub error_rate: f64,
    /// Status codes to fail with, picked at random (default `[500]`); 429 carries
    /// `Retry-After: 1`.
    pub error_codes: Vec<u16>,
    /// Latency added to every matching request, in milliseconds.
    pub latency_ms: u64,
    /// Only requests whose path starts with this.
    pub path_prefix: Option<String>,
    /// Only requests whose User-Agent contains this.
    pub match_user_agent: Option<String>,
    /// Only requests with one of these HTTP methods (upper case, e.g. `DELETE`).
    pub methods: Option<Vec<String>>,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    /// Sleep this long first.
    pub latency: Duration,
    /// Then fail with this code, if any.
    pub error_code: Option<u16>,
}

/// Current fault settings plus a small PRNG.
#[derive(Debug)]
pub struct Faults {
    config: RwLock<FaultConfig>,
    rng: AtomicU64,
}

impl Faults {
    /// Faults with an initial configuration.
    pub fn new(config: FaultConfig) -> Self {
        let seed = jiff::Timestamp::now().as_nanosecond() as u64 | 1;
        Self {
            config: RwLock::new(config),
            rng: AtomicU64::new(seed),
        }
    }

    /// Replaces the configuration.
    pub fn set(&self, config: FaultConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The current configuration.
    pub fn get(&self) -> FaultConfig {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn next_random(&self) -> u64 {
        // xorshift64*; races only make it more random.
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// What to do with a request, or `None` if nothing applies.
    pub fn decide(&self, method: &str, path: &str, user_agent: &str) -> Option<Injection> {
        let cfg = self.config.read().unwrap_or_else(|e| e.into_inner());
        if cfg.error_rate <= 0.0 && cfg.latency_ms == 0 {
            return None;
        }
        if cfg
            .path_prefix
            .as_deref()
            .is_some_and(|p| !path.starts_with(p))
            || cfg
                .match_user_agent
                .as_deref()
                .is_some_and(|u| !user_agent.contains(u))
            || cfg
                .methods
                .as_ref()
                .is_some_and(|m| !m.iter().any(|m| m.eq_ignore_ascii_case(method)))
        {
            return None;
        }
        let roll = (self.next_random() >> 11) as f64 / (1u64 << 53) as f64;
        let error_code = (roll < cfg.error_rate).then(|| {
            let codes = if cfg.error_codes.is_empty() {
                &[500][..]
            } else {
                &cfg.error_codes[..]
            };
            codes[(self.next_random() % codes.len() as u64) as usize]
        });
        Some(Injection {
            latency: Duration::from_millis(cfg.latency_ms),
            error_code,
        })
    }
}

/// Reason and message of an injected error code.
pub fn describe(code: u16) -> (&'static str, &'static str) {
    match code {
        429 => (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted",
        ),
        409 => ("Conflict", "the object has been modified (injected fault)"),
        _ => ("InternalError", "Internal error occurred: injected fault"),
    }
}
