//! The NATS JetStream publisher: moves events from the outbox to a stream,
//! in commit order, one replica at a time (the lease `nats`).
//!
//! Each message's subject is `<prefix>.<type>.<party id>` (for example
//! `repat.events.step.recorded.<party id>`), its `Nats-Msg-Id` the event
//! id, so a message published again after a crash (before the cursor
//! moved) is dropped by the server as a duplicate within the stream's
//! duplicate window. Headers carry the CloudEvents attributes (`ce-id`,
//! `ce-type`, ...); the body is the protobuf `repat.v1.Event`, or its
//! CloudEvents JSON.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::Context, stream};
use prost::Message;
use repat_api::events::{Head, wire};
use repat_core::Named;
use repat_store::{EventFilter, Repository, StoredEvent};

use super::Lease;
use crate::config::NatsFormat;

/// The lease and cursor of the publisher.
pub const NAME: &str = "nats";
/// Events published per round: their acknowledgements are awaited together.
const BATCH: u32 = 2000;
/// Pause after a failure (connecting, publishing) before trying again.
const RETRY: Duration = Duration::from_secs(1);
/// How long JetStream remembers message ids: a re-publish within it is
/// dropped. Far beyond a lease's takeover.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Where and how events are published.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub stream: String,
    pub subject_prefix: String,
    pub format: NatsFormat,
}

impl Target {
    /// The subject of an event.
    pub fn subject(&self, e: &StoredEvent) -> String {
        format!("{}.{}.{}", self.subject_prefix, e.kind.name(), e.party_id)
    }
}

/// The message of an event: its headers and body.
fn message(target: &Target, e: &StoredEvent) -> anyhow::Result<(HeaderMap, Vec<u8>)> {
    let event = wire::event(e)?;
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", e.id.to_string().as_str());
    headers.insert("ce-specversion", wire::SPEC_VERSION);
    headers.insert("ce-id", event.id.as_str());
    headers.insert("ce-source", wire::SOURCE);
    headers.insert("ce-type", event.r#type.as_str());
    headers.insert("ce-subject", event.subject.as_str());
    headers.insert(
        "ce-time",
        event
            .time
            .as_ref()
            .map(wire::rfc3339)
            .unwrap_or_default()
            .as_str(),
    );
    headers.insert("ce-sequence", e.sequence.to_string().as_str());
    headers.insert("ce-partyid", event.party_id.as_str());
    let body = match target.format {
        NatsFormat::Protobuf => {
            headers.insert(
                "content-type",
                "application/protobuf; messageType=repat.v1.Event",
            );
            event.encode_to_vec()
        }
        NatsFormat::Json => {
            headers.insert("content-type", "application/cloudevents+json");
            serde_json::to_vec(&wire::cloud_event_json(&event))?
        }
    };
    Ok((headers, body))
}

/// Connects and makes sure the stream exists, capturing the prefix's
/// subjects.
async fn connect(target: &Target) -> anyhow::Result<Context> {
    let client = async_nats::connect(&target.url).await?;
    let js = jetstream::new(client);
    js.get_or_create_stream(stream::Config {
        name: target.stream.clone(),
        subjects: vec![format!("{}.>", target.subject_prefix)],
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    })
    .await?;
    Ok(js)
}

/// Publishes `events` and waits for the stream to store each; returns how
/// many the stream had already (duplicates of an earlier publish).
async fn publish(js: &Context, target: &Target, events: &[StoredEvent]) -> anyhow::Result<usize> {
    let mut acks = Vec::with_capacity(events.len());
    for e in events {
        let (headers, body) = message(target, e)?;
        acks.push(
            js.publish_with_headers(target.subject(e), headers, body.into())
                .await?,
        );
    }
    let mut duplicates = 0;
    for ack in acks {
        if ack.await?.duplicate {
            duplicates += 1;
        }
    }
    Ok(duplicates)
}

/// Publishes the outbox to NATS for as long as the server runs: while this
/// replica holds the lease, the events after the cursor, then the cursor
/// moved past them.
pub async fn run(repo: Arc<dyn Repository>, head: Head, target: Target, mut lease: Lease) {
    let mut wake = head.subscribe();
    let mut js: Option<Context> = None;
    // The cursor as this replica last moved it, read again from the
    // database each time the lease is taken or renewed (another replica
    // may have moved it in between), not on every round.
    let mut cursor: Option<i64> = None;
    let mut confirmed = None;
    loop {
        if !lease.hold(repo.as_ref()).await {
            cursor = None;
            tokio::time::sleep(lease.ttl / 3).await;
            continue;
        }
        if lease.renewed_at() != confirmed {
            confirmed = lease.renewed_at();
            cursor = None;
        }
        let Some(ctx) = js.as_ref() else {
            match connect(&target).await {
                Ok(c) => {
                    tracing::info!(url = %target.url, stream = %target.stream, "publishing events to NATS JetStream");
                    js = Some(c);
                }
                Err(e) => {
                    tracing::warn!(url = %target.url, error = %e, "connecting to NATS failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
            continue;
        };
        let round = async {
            let after = match cursor {
                Some(c) => c,
                None => repo.event_cursor(NAME).await?,
            };
            cursor = Some(after);
            let events = repo
                .events_after(&EventFilter::default(), after, BATCH)
                .await?;
            let Some(last) = events.last().map(|e| e.sequence) else {
                return anyhow::Ok(0);
            };
            let duplicates = publish(ctx, &target, &events).await?;
            if duplicates > 0 {
                tracing::info!(
                    duplicates,
                    "events published again after a takeover; JetStream dropped the duplicates"
                );
            }
            if !repo.advance_cursor(NAME, &lease.holder, last).await? {
                anyhow::bail!("the lease lapsed before the cursor moved");
            }
            cursor = Some(last);
            Ok(events.len())
        };
        match round.await {
            Ok(0) => {
                // Nothing new: wait for the next commit (or renew the lease).
                let _ = tokio::time::timeout(lease.ttl / 3, wake.changed()).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "publishing events failed; retrying");
                lease.lost();
                cursor = None;
                js = None;
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
