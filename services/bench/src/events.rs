//! Event benchmark: the ingest rate with the event outbox and its NATS
//! JetStream publisher on, beside the same ingest with no events written,
//! in the same run; and the lag of each `step.recorded` event from its
//! commit (the event's `time`) to its arrival at a NATS subscriber, p50,
//! p99 and the largest, while the ingest runs at full rate.
//!
//! ```sh
//! cargo run --release -p repat-bench --bin events-bench -- [JOURNEYS] [STREAMS]
//! ```
//! Defaults: 5,000 journeys of 8 steps (40,000 steps), 16 concurrent
//! streams, on PostgreSQL (`REPAT_BENCH_DATABASE_URL`, a fresh database per
//! run) and NATS at `REPAT_BENCH_NATS_URL` (default
//! `nats://127.0.0.1:4222`, JetStream on; a stream of its own, deleted
//! after).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use repat_bench::workload::{Scratch, seed, split, stream_steps};
use tonic::transport::Channel;
use uuid::Uuid;

/// How long the last events may take to arrive after the ingest ends.
const DRAIN: Duration = Duration::from_secs(120);

/// What a run measured.
struct Run {
    steps: usize,
    rate: f64,
    /// Commit-to-arrival lag of each step event, in milliseconds.
    lags: Vec<f64>,
    /// How long after the last step's answer the last event arrived.
    drained_after: Option<Duration>,
}

/// Where the publisher sends, when the run publishes.
struct Nats {
    url: String,
    stream: String,
    prefix: String,
}

/// Ingests `journeys` journeys on a fresh database; with `nats`, events
/// are written and published there, and their arrival is timed.
async fn run(journeys: usize, streams: usize, nats: Option<&Nats>) -> anyhow::Result<Run> {
    let scratch = Scratch::create().await?;
    let mut settings = repatd::Settings::ephemeral(&scratch.url);
    settings.record_events = nats.is_some();
    if let Some(n) = nats {
        settings.nats_url = Some(n.url.clone());
        settings.nats_stream = n.stream.clone();
        settings.nats_subject_prefix = n.prefix.clone();
    }
    let server = repatd::start(&settings).await?;
    let channel = Channel::from_shared(format!("http://{}", server.addr))?
        .connect()
        .await?;
    let (reps, _) = seed(&channel, journeys).await.context("seeding")?;
    let batches = split(&reps, streams);
    let steps: usize = batches.iter().map(Vec::len).sum();

    // Arrivals of step events, counted and timed as they come.
    let lags = Arc::new(Mutex::new(Vec::with_capacity(steps)));
    let watcher = match nats {
        Some(n) => {
            let client = async_nats::connect(&n.url)
                .await
                .context("connecting to REPAT_BENCH_NATS_URL")?;
            let mut sub = client
                .subscribe(format!("{}.step.recorded.>", n.prefix))
                .await?;
            let lags = lags.clone();
            Some(tokio::spawn(async move {
                while let Some(m) = sub.next().await {
                    let arrived = chrono::Utc::now();
                    let committed = m
                        .headers
                        .as_ref()
                        .and_then(|h| h.get("ce-time"))
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.as_str()).ok());
                    if let Some(c) = committed {
                        let ms =
                            (arrived - c.to_utc()).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                        lags.lock().expect("not poisoned").push(ms);
                    }
                }
            }))
        }
        None => None,
    };
    let elapsed = stream_steps(&channel, batches).await?;
    let ended = std::time::Instant::now();
    let mut drained_after = None;
    if watcher.is_some() {
        while lags.lock().expect("not poisoned").len() < steps && ended.elapsed() < DRAIN {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drained_after = Some(ended.elapsed());
    }
    if let Some(w) = watcher {
        w.abort();
    }
    server.stop().await?;
    scratch.drop().await?;
    let lags = std::mem::take(&mut *lags.lock().expect("not poisoned"));
    Ok(Run {
        steps,
        rate: steps as f64 / elapsed.as_secs_f64(),
        lags,
        drained_after,
    })
}

/// The `p`-th percentile (nearest rank) of sorted `v`.
fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let journeys: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5_000);
    let streams: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(16);
    let id = Uuid::new_v4().simple().to_string();
    let nats = Nats {
        url: std::env::var("REPAT_BENCH_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        stream: format!("REPAT_BENCH_{id}"),
        prefix: format!("repat.bench.{id}"),
    };
    println!(
        "event benchmark: {journeys} journeys x 8 steps, {streams} concurrent streams, PostgreSQL"
    );
    let without = run(journeys, streams, None).await?;
    println!(
        "without events:            {} steps, {:>8.0} steps/s",
        without.steps, without.rate
    );
    let mut with = run(journeys, streams, Some(&nats)).await?;
    println!(
        "with outbox + NATS:        {} steps, {:>8.0} steps/s ({:.2} of the rate without)",
        with.steps,
        with.rate,
        with.rate / without.rate
    );
    with.lags.sort_by(f64::total_cmp);
    println!(
        "commit -> NATS subscriber: {} of {} step events, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; the last {:.1} s after the ingest ended",
        with.lags.len(),
        with.steps,
        percentile(&with.lags, 50.0),
        percentile(&with.lags, 99.0),
        with.lags.last().copied().unwrap_or(f64::NAN),
        with.drained_after.map_or(f64::NAN, |d| d.as_secs_f64()),
    );
    let client = async_nats::connect(&nats.url).await?;
    async_nats::jetstream::new(client)
        .delete_stream(&nats.stream)
        .await
        .ok();
    Ok(())
}
