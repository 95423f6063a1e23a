//! Leader election with a `coordination.k8s.io/v1` Lease. A standby only polls the Lease.
//! The holder renews it every `renew_period`, retrying a failure after a tenth of that; if
//! no renewal has succeeded within `renew_deadline` (shorter than the lease duration), it
//! gives up leadership at once — before another replica could take the expired lease — so
//! two leaders never write.

use std::time::Duration;

use kube::Client;
use kube_leader_election::{LeaseLock, LeaseLockParams, LeaseLockResult};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Leader-election settings.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    pub namespace: String,
    pub lease_name: String,
    pub identity: String,
    pub lease_duration: Duration,
}

impl ElectionConfig {
    /// How often the Lease is renewed (or polled by a standby).
    pub fn renew_period(&self) -> Duration {
        self.lease_duration / 3
    }

    /// Pause before retrying a failed renewal: about ten attempts fit in the time between
    /// the due renewal and the renew deadline.
    pub fn retry_pause(&self) -> Duration {
        (self.renew_period() / 10).max(Duration::from_millis(100))
    }

    /// How long the holder keeps leading without a successful renewal.
    pub fn renew_deadline(&self) -> Duration {
        self.lease_duration * 2 / 3
    }
}

/// How a term ended.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Renewals failed for longer than the renew deadline.
    #[error("lost the lease: no successful renewal for {0:?}")]
    RenewDeadline(Duration),
    /// Another replica holds the lease now.
    #[error("lost the lease to {0}")]
    Taken(String),
}

/// The term won: its epoch ([`new_epoch`]) and a guard that renews.
pub struct Term {
    pub epoch: u64,
    lock: LeaseLock,
    config: ElectionConfig,
    /// When the confirming renewal was sent: the Lease's `renewTime` is no earlier.
    renewed: Instant,
}

/// Waits until this replica holds the lease (or `shutdown`).
pub async fn acquire(
    client: Client,
    config: ElectionConfig,
    shutdown: &CancellationToken,
) -> Option<Term> {
    let lock = LeaseLock::new(
        client,
        &config.namespace,
        LeaseLockParams {
            lease_name: config.lease_name.clone(),
            holder_id: config.identity.clone(),
            lease_ttl: config.lease_duration,
        },
    );
    let mut logged_holder = String::new();
    // kube-leader-election takes an expired lease with a patch that has no resourceVersion
    // precondition: two standbys racing for it both succeed and the later write wins. So a
    // win is confirmed by renewing once more after a short pause; the loser then finds the
    // other holder and keeps standing by.
    let mut unconfirmed = false;
    loop {
        let mut pause = config.renew_period();
        let sent = Instant::now();
        match lock.try_acquire_or_renew().await {
            Ok(LeaseLockResult::Acquired(lease)) if unconfirmed => {
                let transitions = lease.spec.and_then(|s| s.lease_transitions).unwrap_or(0);
                let epoch = new_epoch(u64::try_from(transitions).unwrap_or(0));
                tracing::info!(epoch, lease = %config.lease_name, "acquired the lease: leading");
                return Some(Term {
                    epoch,
                    lock,
                    config,
                    renewed: sent,
                });
            }
            Ok(LeaseLockResult::Acquired(_)) => {
                unconfirmed = true;
                pause = config.retry_pause();
            }
            Ok(LeaseLockResult::NotAcquired(lease)) => {
                unconfirmed = false;
                let holder = holder(&lease);
                if holder != logged_holder {
                    tracing::info!(%holder, "standing by: the lease is held by another replica");
                    logged_holder = holder;
                }
            }
            Err(error) => {
                unconfirmed = false;
                tracing::warn!(%error, "could not read or acquire the lease");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// The epoch of a term that starts now: the wall clock in milliseconds (at least one more
/// than the Lease's transitions). Every acquisition — a restart, a re-acquisition after a
/// lost term, a Lease deleted and created again — gets a larger epoch than any term before
/// it, as long as the replicas' clocks differ by less than a lease duration (two terms are
/// at least that far apart); workers drop messages from older epochs.
pub fn new_epoch(transitions: u64) -> u64 {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    millis.max(transitions.saturating_add(1))
}

fn holder(lease: &k8s_openapi::api::coordination::v1::Lease) -> String {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default()
}

impl Term {
    /// Renews the lease until it is lost (an error) or `shutdown`, when it steps down.
    pub async fn hold(self, shutdown: &CancellationToken) -> Result<(), Error> {
        // Counted from when each successful renewal was sent, not when its answer came: the
        // Lease's `renewTime` is stamped before the request goes out, so the deadline stays
        // ahead of the moment a standby may take the Lease, however slow the answer.
        let mut last_renewed = self.renewed;
        let mut pause = self.config.renew_period();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    if let Err(error) = self.lock.step_down().await {
                        tracing::warn!(%error, "could not release the lease; it expires by itself");
                    }
                    return Ok(());
                }
                _ = tokio::time::sleep(pause) => {}
            }
            let deadline = last_renewed + self.config.renew_deadline();
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::RenewDeadline(last_renewed.elapsed()));
            }
            let sent = Instant::now();
            let attempt = tokio::time::timeout(
                remaining.min(self.config.renew_period()),
                self.lock.try_acquire_or_renew(),
            );
            // After a failure, retry soon: many attempts fit in the renew deadline, so a
            // few failed requests in a row (API errors, throttling) do not end the term.
            pause = self.config.retry_pause();
            match attempt.await {
                Ok(Ok(LeaseLockResult::Acquired(_))) => {
                    last_renewed = sent;
                    pause = self.config.renew_period();
                }
                Ok(Ok(LeaseLockResult::NotAcquired(lease))) => {
                    return Err(Error::Taken(holder(&lease)));
                }
                Ok(Err(error)) => tracing::warn!(%error, "lease renewal failed"),
                Err(_) => tracing::warn!("lease renewal timed out"),
            }
            if Instant::now() >= last_renewed + self.config.renew_deadline() {
                return Err(Error::RenewDeadline(last_renewed.elapsed()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_renew_deadline_ends_before_the_lease_does() {
        let config = ElectionConfig {
            namespace: "ns".into(),
            lease_name: "l".into(),
            identity: "me".into(),
            lease_duration: Duration::from_secs(15),
        };
        assert_eq!(config.renew_period(), Duration::from_secs(5));
        assert!(config.renew_deadline() < config.lease_duration);
        assert!(config.renew_deadline() >= config.renew_period());
        let window = config.renew_deadline() - config.renew_period();
        assert!(window.as_millis() / config.retry_pause().as_millis() >= 10);
    }
}
