//! The webhook dispatcher, one replica at a time (the lease `webhooks`):
//! turns new events into deliveries to the endpoints that want them, then
//! makes each attempt that is due, recording how it went. A failed attempt
//! is retried after an exponentially growing delay with jitter; after the
//! last attempt the delivery is dead (the dead-letter list) until replayed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use rand::Rng;
use repat_api::events::webhooks::{SIGNATURE_HEADER, signature};
use repat_api::events::{Head, wire};
use repat_store::{Attempt, DueDelivery, Repository};

use super::Lease;
use super::http::{ClientOptions, post};

/// The fan-out's lease and cursor (the store's name for them).
pub const NAME: &str = "webhooks";
/// Events fanned out per transaction.
const FAN_OUT_BATCH: u32 = 500;
/// Attempts made per round, and at once.
const DUE_BATCH: u32 = 64;
const CONCURRENCY: usize = 16;
/// How often due retries are looked for when nothing commits.
const TICK: Duration = Duration::from_millis(250);
/// The longest delay between attempts.
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// How deliveries are retried and made.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub client: ClientOptions,
}

/// The delay before attempt `n + 1` after `n` failed: the base doubled
/// `n - 1` times (at most an hour), of which the second half is random, so
/// receivers recovering from an outage are not hit by every retry at once.
pub fn backoff(base: Duration, failed: u32, jitter: f64) -> Duration {
    let doubled = base.saturating_mul(1u32 << failed.saturating_sub(1).min(20));
    let full = doubled.min(MAX_DELAY);
    full / 2 + full.mul_f64(0.5 * jitter.clamp(0.0, 1.0))
}

/// Makes one attempt at a delivery and records it.
async fn attempt(repo: &dyn Repository, due: DueDelivery, policy: Policy) {
    let started = Instant::now();
    let at = chrono::Utc::now();
    let outcome = match wire::event(&due.event) {
        Ok(event) => {
            let body = serde_json::to_vec(&wire::cloud_event_json(&event)).unwrap_or_default();
            let headers = [
                ("content-type", "application/cloudevents+json".to_string()),
                (
                    SIGNATURE_HEADER,
                    signature(&due.endpoint.secret, at.timestamp(), &body),
                ),
                ("repat-event-id", event.id.clone()),
                ("repat-delivery-id", due.delivery.id.to_string()),
            ];
            post(
                &due.endpoint.url,
                &headers,
                Bytes::from(body),
                policy.client,
            )
            .await
        }
        Err(e) => Err(format!("the event could not be read: {e}")),
    };
    let (status_code, error, delivered) = match outcome {
        Ok((code, _)) if (200..300).contains(&code) => (Some(i32::from(code)), None, true),
        Ok((code, text)) => (
            Some(i32::from(code)),
            Some(format!(
                "HTTP {code}: {}",
                text.chars().take(200).collect::<String>()
            )),
            false,
        ),
        Err(e) => (None, Some(e), false),
    };
    let failed = due.delivery.attempts as u32 + 1;
    let retry_at = (!delivered && failed < policy.max_attempts).then(|| {
        let delay = backoff(policy.retry_base, failed, rand::rng().random::<f64>());
        chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default()
    });
    let record = Attempt {
        number: 0,
        time: at,
        status_code,
        error,
        micros: started.elapsed().as_micros() as i64,
    };
    if let Err(e) = repo
        .record_attempt(due.delivery.id, &record, delivered, retry_at)
        .await
    {
        tracing::warn!(delivery = %due.delivery.id, error = %e, "recording a webhook attempt failed");
    }
}

/// Dispatches webhooks for as long as the server runs.
pub async fn run(repo: Arc<dyn Repository>, head: Head, policy: Policy, mut lease: Lease) {
    let mut wake = head.subscribe();
    // How far the fan-out has got (unknown at first): it runs again only
    // once events committed past it.
    let mut fanned_to: Option<i64> = None;
    loop {
        if !lease.hold(repo.as_ref()).await {
            fanned_to = None;
            tokio::time::sleep(lease.ttl / 3).await;
            continue;
        }
        let round = async {
            let mut fanned = 0;
            if fanned_to.is_none_or(|at| head.get() > at) {
                let (n, cursor) = repo.fan_out(&lease.holder, FAN_OUT_BATCH).await?;
                fanned = n;
                fanned_to = Some(cursor);
            }
            let due = repo.due_deliveries(chrono::Utc::now(), DUE_BATCH).await?;
            let attempted = due.len();
            futures::stream::iter(due)
                .for_each_concurrent(CONCURRENCY, |d| attempt(repo.as_ref(), d, policy))
                .await;
            anyhow::Ok(fanned + attempted)
        };
        match round.await {
            Ok(0) => {
                let _ = tokio::time::timeout(TICK, wake.changed()).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "dispatching webhooks failed; retrying");
                lease.lost();
                fanned_to = None;
                tokio::time::sleep(TICK).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_jitter_in_their_second_half() {
        let base = Duration::from_secs(2);
        assert_eq!(backoff(base, 1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(base, 1, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(base, 2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(base, 3, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(base, 40, 1.0), MAX_DELAY, "capped at an hour");
    }
}
