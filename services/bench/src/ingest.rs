//! Ingestion benchmark: streams generated steps into a running repatd and
//! prints steps per second, beside a raw PostgreSQL `COPY` of the same rows
//! into the same table, measured in the same run.
//!
//! ```sh
//! cargo run --release -p repat-bench --bin ingest-bench -- [JOURNEYS] [STREAMS] [SQLITE_JOURNEYS]
//! ```
//! Defaults: 25,000 journeys of 8 steps (200,000 steps) on PostgreSQL,
//! 16 concurrent streams, and 5,000 journeys (40,000 steps) on SQLite, run
//! twice: its one writer committing each request alone (the baseline), then
//! committing the requests queued together in groups (the default), both
//! durable (`synchronous = FULL`). PostgreSQL comes from `REPAT_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); a fresh database is created
//! and dropped.

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use repat_bench::workload::{JOURNEY, Scratch, journey_steps, seed, split, stream_steps};
use repat_proto::v1 as pb;
use sqlx::{Connection, PgConnection};
use tonic::transport::Channel;
use uuid::Uuid;

/// Runs the service on `url` and returns steps per second, the steps, and
/// the seeding's unary CreateRepatriation calls per second. On SQLite,
/// `write_group` is the most requests its one writer commits together.
async fn service_rate(
    url: &str,
    journeys: usize,
    streams: usize,
    write_group: usize,
) -> anyhow::Result<(f64, usize, f64)> {
    let settings = repatd::Settings {
        sqlite_write_group: write_group,
        ..repatd::Settings::ephemeral(url)
    };
    let server = repatd::start(&settings).await?;
    let channel = Channel::from_shared(format!("http://{}", server.addr))?
        .connect()
        .await?;
    let (reps, unary) = seed(&channel, journeys).await.context("seeding")?;
    let batches = split(&reps, streams);
    let steps: usize = batches.iter().map(Vec::len).sum();
    let elapsed = stream_steps(&channel, batches).await?;
    server.stop().await?;
    Ok((steps as f64 / elapsed.as_secs_f64(), steps, unary))
}

/// COPYs the same rows (new ids) into the steps table of `url`, emptied,
/// whose repatriations the service run seeded, and returns rows per second.
async fn copy_rate(url: &str) -> anyhow::Result<f64> {
    let mut conn = PgConnection::connect(url).await?;
    // Both runs start from an empty steps table.
    sqlx::query("TRUNCATE steps").execute(&mut conn).await?;
    sqlx::query("VACUUM ANALYZE steps")
        .execute(&mut conn)
        .await?;
    let reps: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM repatriations ORDER BY seq")
        .fetch_all(&mut conn)
        .await?;
    let now = Utc::now().format("%Y-%m-%d %H:%M:%S%.6f+00").to_string();
    let mut csv = String::new();
    let mut rows = 0usize;
    for (j, (rid,)) in reps.iter().enumerate() {
        for req in journey_steps(j, &rid.to_string()) {
            let s = req.step.unwrap();
            let at = DateTime::from_timestamp(s.occurred_at.unwrap().seconds, 0)
                .unwrap()
                .format("%Y-%m-%d %H:%M:%S+00");
            let kind = pb::StepKind::try_from(s.kind)
                .unwrap()
                .as_str_name()
                .trim_start_matches("STEP_KIND_")
                .to_string();
            let (amount, currency) = s
                .amount
                .map_or((String::new(), String::new()), |m| (m.amount, m.currency));
            let fees = if s.fees.is_empty() {
                "[]".to_string()
            } else {
                format!(
                    r#"[{{"amount":{{"amount":"12.50","currency":"USD"}},"charged_by":"{}","kind":"CORRESPONDENT"}}]"#,
                    s.institution_bic
                )
            };
            let (fs, ft, fr) = s
                .fx_rate
                .map_or((String::new(), String::new(), String::new()), |f| {
                    (f.source_currency, f.target_currency, f.rate)
                });
            let bic = if s.institution_bic.is_empty() {
                String::new()
            } else {
                s.institution_bic
            };
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},\"{}\",{},{},{},,,,,\"\"\n",
                Uuid::new_v4(),
                rid,
                kind,
                at,
                now,
                bic,
                amount,
                currency,
                fees.replace('"', "\"\""),
                fs,
                ft,
                fr
            ));
            rows += 1;
        }
    }
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(
            "COPY steps (id, repatriation_id, kind, occurred_at, recorded_at, institution_bic, amount, currency, fees,
                         fx_source, fx_target, fx_rate, end_to_end_id, uetr, gpi_status, reason_code, note) FROM STDIN (FORMAT csv)",
        )
        .await?;
    copy.send(csv.as_bytes()).await?;
    copy.finish().await?;
    let elapsed = started.elapsed();
    Ok(rows as f64 / elapsed.as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let journeys: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(25_000);
    let streams: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(16);
    let sqlite_journeys: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5_000);
    let scratch = Scratch::create().await?;
    let url = scratch.url.clone();

    println!(
        "ingest benchmark: {journeys} journeys x {} steps, {streams} concurrent streams",
        JOURNEY.len()
    );
    let (pg_rate, steps, _) =
        service_rate(&url, journeys, streams, repat_store::DEFAULT_WRITE_GROUP).await?;
    let copy = copy_rate(&url).await?;
    println!("postgres  service BatchRecordSteps: {steps} steps, {pg_rate:>10.0} steps/s");
    println!("postgres  raw COPY into steps:       {steps} rows,  {copy:>10.0} rows/s");
    println!("postgres  service / COPY:            {:.2}", pg_rate / copy);
    scratch.drop().await?;

    // SQLite twice, each on a fresh file: the one writer committing each
    // request alone (the baseline), then committing requests in groups.
    for (label, group) in [
        ("one commit per request", 1),
        ("group commit", repat_store::DEFAULT_WRITE_GROUP),
    ] {
        let dir = std::env::temp_dir().join(format!("repat-bench-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let (rate, steps, unary) = service_rate(
            &format!("sqlite:{}", dir.join("bench.db").display()),
            sqlite_journeys,
            streams,
            group,
        )
        .await?;
        println!(
            "sqlite    service BatchRecordSteps: {steps} steps, {rate:>10.0} steps/s ({label}, write group {group})"
        );
        println!(
            "sqlite    unary CreateRepatriation x16: {unary:>10.0} calls/s ({label}, write group {group})"
        );
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
