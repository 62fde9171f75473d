//! What moves events out of the outbox: the NATS JetStream publisher, the
//! webhook dispatcher, and the look for deadline alerts.
//!
//! The publisher and the dispatcher each run under a lease, so one replica
//! at a time does each; the lease lapses when its holder dies, and another
//! replica takes over from the holder's cursor. Whatever the holder sent
//! and had not yet marked is sent again with the same event id (JetStream
//! drops it as a duplicate; a webhook receiver deduplicates by id).

pub mod http;
pub mod nats;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use repat_api::ActiveRules;
use repat_store::Repository;

/// A lease of this replica's: taken or renewed when a third of its time
/// has passed, so a live holder never lets it lapse.
pub struct Lease {
    pub name: &'static str,
    pub holder: String,
    pub ttl: Duration,
    renewed: Option<std::time::Instant>,
}

impl Lease {
    pub fn new(name: &'static str, holder: &str, ttl: Duration) -> Self {
        Lease {
            name,
            holder: holder.to_string(),
            ttl,
            renewed: None,
        }
    }

    /// When the database last confirmed the lease: what a holder keeps
    /// in memory of the cursor is good until then at least.
    pub fn renewed_at(&self) -> Option<std::time::Instant> {
        self.renewed
    }

    /// Whether this replica holds the lease now (taking or renewing it
    /// when due).
    pub async fn hold(&mut self, repo: &dyn Repository) -> bool {
        if let Some(at) = self.renewed
            && at.elapsed() < self.ttl / 3
        {
            return true;
        }
        let had = self.renewed.is_some();
        match repo.take_lease(self.name, &self.holder, self.ttl).await {
            Ok(true) => {
                if !had {
                    tracing::info!(lease = self.name, holder = %self.holder, "took the lease");
                }
                self.renewed = Some(std::time::Instant::now());
                true
            }
            Ok(false) => {
                if had {
                    tracing::warn!(lease = self.name, "lost the lease to another replica");
                }
                self.renewed = None;
                false
            }
            Err(e) => {
                tracing::warn!(lease = self.name, error = %e, "renewing the lease failed");
                self.renewed = None;
                false
            }
        }
    }

    /// Forgets the lease (after the database refused what was done under
    /// it): the next [`Lease::hold`] asks again.
    pub fn lost(&mut self) {
        self.renewed = None;
    }

    /// Gives the lease up, so another replica need not wait for it to lapse.
    pub async fn release(&self, repo: &dyn Repository) {
        if let Err(e) = repo.release_lease(self.name, &self.holder).await {
            tracing::warn!(lease = self.name, error = %e, "releasing the lease failed");
        }
    }
}

/// Looks for the deadline alerts due, every `interval`, on every replica
/// (each alert is appended once however many replicas raise it).
pub async fn raise_alerts(
    repo: Arc<dyn Repository>,
    rules: Arc<ActiveRules>,
    interval: Duration,
    in_flight: Duration,
) {
    let in_flight = chrono::Duration::from_std(in_flight).unwrap_or(chrono::Duration::hours(48));
    loop {
        match repat_api::events::alerts::raise_due(
            repo.as_ref(),
            &rules.rules,
            chrono::Utc::now(),
            in_flight,
        )
        .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(alerts = n, "deadline alerts raised"),
            Err(e) => tracing::warn!(error = ?e, "looking for deadline alerts failed; retrying"),
        }
        tokio::time::sleep(interval).await;
    }
}
