//! Ingestion benchmark: streams generated steps into repatd (a process of
//! its own) and prints steps per second beside a raw PostgreSQL `COPY` of
//! the same rows into the same table, measured in the same run; the
//! server's resident memory through the stream (at each tenth of it, its
//! peak, and after it, idle); on PostgreSQL, where the database's backends
//! spent the stream (sampled from `pg_stat_activity`) and how many steps
//! each transaction committed.
//!
//! ```sh
//! cargo run --release -p repat-bench --bin ingest-bench -- [JOURNEYS] [STREAMS] [SQLITE_JOURNEYS]
//! cargo run --release -p repat-bench --bin ingest-bench -- long-journey [STEPS]
//! ```
//! Defaults: 25,000 journeys of 8 steps (200,000 steps) on PostgreSQL,
//! 16 concurrent streams, and 5,000 journeys (40,000 steps) on SQLite
//! (0 skips either). `125000 16 0` is a sustained 1,000,000-step ingest.
//! The repatriations are seeded beforehand, in SQL on PostgreSQL and
//! through the API on SQLite; only the steps are timed.
//!
//! `long-journey` records STEPS (default: the most a journey may hold) on
//! one journey, 5,000 at a time, and prints the time of the first and of
//! the last 5,000 (equal when a step's cost does not grow with the
//! journey), then shows one more refused, on both backends.
//!
//! PostgreSQL comes from `REPAT_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); a fresh database is created
//! and dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use repat_bench::{Rss, ScratchDb, ServerProcess, channel, serve_if_asked};
use repat_proto::v1 as pb;
use repat_proto::v1::earning_service_client::EarningServiceClient;
use repat_proto::v1::party_service_client::PartyServiceClient;
use repat_proto::v1::repatriation_service_client::RepatriationServiceClient;
use sqlx::{Connection, PgConnection};
use tonic::transport::Channel;
use uuid::Uuid;

use pb::StepKind::*;

/// The steps of one generated journey, with the hours after initiation.
const JOURNEY: [(pb::StepKind, i64, &str); 8] = [
    (InvoiceIssued, -240, ""),
    (PaymentInitiated, 0, "HANDSESS"),
    (IntermediaryProcessed, 5, "CHASUS33"),
    (IntermediaryProcessed, 20, "CITIUS33"),
    (NostroCredited, 26, "BRAKUS33"),
    (BeneficiaryCredited, 30, "BRAKBDDH"),
    (ConvertedToBdt, 31, "BRAKBDDH"),
    (PrcIssued, 120, "BRAKBDDH"),
];

/// Steps timed together on the long journey.
const WINDOW: usize = 5_000;
/// How long the server is left alone before its idle memory is read.
const IDLE: Duration = Duration::from_secs(5);

fn ts(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

fn money(a: &str, c: &str) -> Option<pb::Money> {
    Some(pb::Money {
        amount: a.into(),
        currency: c.into(),
    })
}

/// The requests of journey `j` of repatriation `rid`.
fn journey_steps(j: usize, rid: &str) -> Vec<pb::RecordStepRequest> {
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::minutes(j as i64 * 7);
    JOURNEY
        .iter()
        .map(|(kind, hours, bic)| {
            let mut s = pb::Step {
                repatriation_id: rid.into(),
                kind: *kind as i32,
                occurred_at: ts(start + chrono::Duration::hours(*hours)),
                institution_bic: (*bic).into(),
                ..Default::default()
            };
            if *kind == IntermediaryProcessed {
                s.fees = vec![pb::Fee {
                    amount: money("12.50", "USD"),
                    charged_by: (*bic).into(),
                    kind: "CORRESPONDENT".into(),
                }];
                s.amount = money("987.50", "USD");
            }
            if *kind == ConvertedToBdt {
                s.fx_rate = Some(pb::FxRate {
                    source_currency: "USD".into(),
                    target_currency: "BDT".into(),
                    rate: "110.25".into(),
                });
            }
            pb::RecordStepRequest {
                request_id: Uuid::new_v4().to_string(),
                step: Some(s),
            }
        })
        .collect()
}

/// A party, as the API creates it.
async fn create_party(channel: &Channel) -> anyhow::Result<String> {
    Ok(PartyServiceClient::new(channel.clone())
        .create_party(pb::CreatePartyRequest {
            request_id: Uuid::new_v4().to_string(),
            party: Some(pb::Party {
                kind: pb::PartyKind::Firm as i32,
                legal_name: "Bench Ltd".into(),
                country: "BD".into(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .id)
}

/// One earning and repatriation per journey, through the API (not
/// measured). Returns the repatriation ids.
async fn seed_api(channel: &Channel, journeys: usize) -> anyhow::Result<Vec<String>> {
    let party = create_party(channel).await?;
    let earnings: Vec<pb::CreateEarningRequest> = (0..journeys)
        .map(|j| pb::CreateEarningRequest {
            request_id: Uuid::new_v4().to_string(),
            earning: Some(pb::Earning {
                party_id: party.clone(),
                client_name: "Client".into(),
                client_country: "US".into(),
                service_category: pb::ServiceCategory::Software as i32,
                amount: money("1000.00", "USD"),
                invoice_date: Some(repat_proto::google::r#type::Date {
                    year: 2023,
                    month: 12,
                    day: 1,
                }),
                invoice_reference: format!("INV-{j}"),
                ..Default::default()
            }),
        })
        .collect();
    let ids: Vec<String> = EarningServiceClient::new(channel.clone())
        .batch_create_earnings(futures::stream::iter(earnings))
        .await?
        .into_inner()
        .map(|r| r.map(|r| r.id))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let reps = futures::stream::iter(ids)
        .map(|earning_id| {
            let mut client = RepatriationServiceClient::new(channel.clone());
            let party_id = party.clone();
            async move {
                client
                    .create_repatriation(pb::CreateRepatriationRequest {
                        request_id: Uuid::new_v4().to_string(),
                        party_id,
                        allocations: vec![pb::Allocation {
                            earning_id,
                            amount: None,
                        }],
                        channel: pb::Channel::Bank as i32,
                        payer_country: String::new(),
                    })
                    .await
                    .map(|r| r.into_inner().id)
            }
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await;
    Ok(reps.into_iter().collect::<Result<_, _>>()?)
}

/// The same rows as [`seed_api`] (a party, and per journey an earning,
/// its repatriation and allocation), written in SQL: seeding a million
/// steps' journeys through the API would take longer than ingesting them.
async fn seed_sql(url: &str, party: &str, journeys: usize) -> anyhow::Result<Vec<String>> {
    let mut conn = PgConnection::connect(url).await?;
    let party: Uuid = party.parse()?;
    let n = journeys as i64;
    for sql in [
        "INSERT INTO earnings (id, party_id, client_name, client_country, service_category, amount, currency, allocated,
                               invoice_date, invoice_reference, marketplace, create_time)
         SELECT md5('e' || i)::uuid, $2, 'Client', 'US', 'SOFTWARE', 1000.00, 'USD', 1000.00, DATE '2023-12-01', 'INV-' || i, '', now()
         FROM generate_series(1, $1) i",
        "INSERT INTO repatriations (id, party_id, channel, payer_country, expected_amount, currency, status, step_count, create_time, update_time)
         SELECT md5('r' || i)::uuid, $2, 'BANK', 'US', 1000.00, 'USD', 'AWAITING_PAYMENT', 0, now(), now()
         FROM generate_series(1, $1) i",
    ] {
        sqlx::query(sql).bind(n).bind(party).execute(&mut conn).await?;
    }
    sqlx::query(
        "INSERT INTO allocations (repatriation_id, position, earning_id, amount, currency)
         SELECT md5('r' || i)::uuid, 0, md5('e' || i)::uuid, 1000.00, 'USD' FROM generate_series(1, $1) i",
    )
    .bind(n)
    .execute(&mut conn)
    .await?;
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    let reps: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM repatriations ORDER BY seq")
        .fetch_all(&mut conn)
        .await?;
    Ok(reps.into_iter().map(|(id,)| id.to_string()).collect())
}

/// What a stream of steps measured.
struct Streamed {
    steps: usize,
    elapsed: Duration,
    /// The server's resident memory after each tenth of the steps.
    rss_by_tenth: Vec<u64>,
}

/// Streams every journey's steps over `streams` concurrent
/// BatchRecordSteps calls (journeys split between them, requests made as
/// they are sent), checking each result, while reading the server's
/// memory.
async fn stream_steps(
    channel: &Channel,
    reps: &[String],
    streams: usize,
    server: &ServerProcess,
) -> anyhow::Result<Streamed> {
    let total = reps.len() * JOURNEY.len();
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let calls = (0..streams).map(|s| {
        let mut client =
            RepatriationServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
        let mine: Vec<(usize, String)> = reps
            .iter()
            .enumerate()
            .filter(|(j, _)| j % streams == s)
            .map(|(j, r)| (j, r.clone()))
            .collect();
        let done = done.clone();
        async move {
            let n = mine.len() * JOURNEY.len();
            let requests = futures::stream::iter(mine)
                .flat_map(|(j, rid)| futures::stream::iter(journey_steps(j, &rid)));
            let mut results = client.batch_record_steps(requests).await?.into_inner();
            let mut ok = 0usize;
            while let Some(r) = results.next().await {
                let r = r?;
                anyhow::ensure!(r.code == 0, "item {} failed: {}", r.index, r.message);
                ok += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::ensure!(ok == n, "{ok} of {n} results");
            anyhow::Ok(())
        }
    });
    let watch = async {
        let mut rss_by_tenth = Vec::new();
        while rss_by_tenth.len() < 10 {
            let tenth = total * (rss_by_tenth.len() + 1) / 10;
            if done.load(Ordering::Relaxed) >= tenth {
                rss_by_tenth.push(server.rss().map(|r| r.now_kb).unwrap_or_default());
            } else {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        rss_by_tenth
    };
    let (results, rss_by_tenth) = futures::join!(futures::future::join_all(calls), watch);
    for r in results {
        r?;
    }
    Ok(Streamed {
        steps: total,
        elapsed: started.elapsed(),
        rss_by_tenth,
    })
}

/// Where PostgreSQL's backends of the database spent the stream: the mean
/// number of backends in each state over the samples.
struct Waits {
    samples: usize,
    states: Vec<(&'static str, f64)>,
}

/// What a backend is doing, from `pg_stat_activity`.
fn classify(wait_type: Option<&str>, wait: Option<&str>, query: &str) -> &'static str {
    match (wait_type, wait) {
        (Some("Lock"), Some("advisory")) => "the audit chain's lock",
        (Some("Lock"), _) if query.contains("audit_head") => "the audit chain's lock",
        (Some("Lock"), _) => "journey row locks",
        (Some("IO"), Some(w)) if w.starts_with("WAL") => "writing and flushing WAL",
        (Some("LWLock"), Some(w)) if w.starts_with("WAL") => "writing and flushing WAL",
        (Some("Client"), _) => "waiting for the service",
        (None, _) => "working (CPU)",
        _ => "other waits",
    }
}

/// Samples the backends of database `name` every 10 ms until `stop`.
async fn sample_waits(url: String, name: String, stop: Arc<AtomicBool>) -> anyhow::Result<Waits> {
    let mut conn = PgConnection::connect(&url).await?;
    let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let mut samples = 0;
    while !stop.load(Ordering::Relaxed) {
        let rows: Vec<(Option<String>, Option<String>, String)> = sqlx::query_as(
            "SELECT wait_event_type, wait_event, query FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')",
        )
        .bind(&name)
        .fetch_all(&mut conn)
        .await?;
        for (t, w, q) in &rows {
            *counts
                .entry(classify(t.as_deref(), w.as_deref(), q))
                .or_default() += 1;
        }
        samples += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut states: Vec<(&'static str, f64)> = counts
        .into_iter()
        .map(|(k, n)| (k, n as f64 / samples.max(1) as f64))
        .collect();
    states.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(Waits { samples, states })
}

/// Transactions committed in database `name` so far.
async fn commits(conn: &mut PgConnection, name: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
            .bind(name)
            .fetch_one(conn)
            .await?,
    )
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
            let s = req.step.context("a step")?;
            let at = DateTime::from_timestamp(s.occurred_at.context("a time")?.seconds, 0)
                .context("a time")?
                .format("%Y-%m-%d %H:%M:%S+00");
            let kind = pb::StepKind::try_from(s.kind)?
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
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},\"{}\",{},{},{},,,,,\"\"\n",
                Uuid::new_v4(),
                rid,
                kind,
                at,
                now,
                s.institution_bic,
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
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

fn print_memory(label: &str, s: &Streamed, peak: Rss, idle: Rss) {
    let tenths: Vec<String> = s
        .rss_by_tenth
        .iter()
        .map(|kb| format!("{:.0}", Rss::mb(*kb)))
        .collect();
    println!(
        "{label}  server RSS at each tenth of the stream (MB): {}",
        tenths.join(" ")
    );
    println!(
        "{label}  server RSS peak {:.0} MB, idle {:.0} s after the stream {:.0} MB",
        Rss::mb(peak.peak_kb),
        IDLE.as_secs(),
        Rss::mb(idle.now_kb)
    );
}

/// The PostgreSQL run: the service, then COPY, in one scratch database.
async fn postgres(journeys: usize, streams: usize) -> anyhow::Result<()> {
    let db = ScratchDb::create().await?;
    let server = ServerProcess::start(&db.url)?;
    let channel = channel(server.addr).await?;
    let party = create_party(&channel).await?;
    let reps = seed_sql(&db.url, &party, journeys)
        .await
        .context("seeding")?;
    let mut conn = PgConnection::connect(&db.url).await?;
    let before = commits(&mut conn, &db.name).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_waits(db.url.clone(), db.name.clone(), stop.clone()));
    let streamed = stream_steps(&channel, &reps, streams, &server).await?;
    stop.store(true, Ordering::Relaxed);
    let waits = sampler.await??;
    let transactions = commits(&mut conn, &db.name).await? - before;
    let peak = server.rss()?;
    tokio::time::sleep(IDLE).await;
    let idle = server.rss()?;
    drop(channel);
    server.stop()?;
    let copy = copy_rate(&db.url).await?;
    let rate = streamed.steps as f64 / streamed.elapsed.as_secs_f64();
    let steps = streamed.steps;
    println!("postgres  service BatchRecordSteps: {steps} steps, {rate:>10.0} steps/s");
    println!("postgres  raw COPY into steps:       {steps} rows,  {copy:>10.0} rows/s");
    println!("postgres  service / COPY:            {:.2}", rate / copy);
    println!(
        "postgres  transactions committed during the stream: {transactions} ({:.0} steps each, background work included)",
        steps as f64 / transactions.max(1) as f64
    );
    let busy: f64 = waits.states.iter().map(|(_, n)| n).sum();
    println!(
        "postgres  backends busy during the stream, mean of {} samples: {busy:.2}",
        waits.samples
    );
    for (state, n) in &waits.states {
        println!(
            "postgres    {state:<28} {n:>5.2}  ({:.0}%)",
            100.0 * n / busy.max(f64::MIN_POSITIVE)
        );
    }
    print_memory("postgres", &streamed, peak, idle);
    drop(conn);
    db.drop_now().await
}

/// The SQLite run, in a scratch directory.
async fn sqlite(journeys: usize, streams: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("repat-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let server = ServerProcess::start(&format!("sqlite:{}", dir.join("bench.db").display()))?;
    let channel = channel(server.addr).await?;
    let reps = seed_api(&channel, journeys).await.context("seeding")?;
    let streamed = stream_steps(&channel, &reps, streams, &server).await?;
    let peak = server.rss()?;
    tokio::time::sleep(IDLE).await;
    let idle = server.rss()?;
    drop(channel);
    server.stop()?;
    let rate = streamed.steps as f64 / streamed.elapsed.as_secs_f64();
    println!(
        "sqlite    service BatchRecordSteps: {} steps, {rate:>10.0} steps/s (synchronous = FULL)",
        streamed.steps
    );
    print_memory("sqlite  ", &streamed, peak, idle);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// One journey of `steps` steps, recorded 5,000 at a time.
async fn long_journey(url: &str, label: &str, steps: usize) -> anyhow::Result<()> {
    let server = ServerProcess::start(url)?;
    let channel = channel(server.addr).await?;
    let rid = seed_api(&channel, 1).await?.remove(0);
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let journey = rid.clone();
    let step = move |i: usize| pb::RecordStepRequest {
        request_id: Uuid::new_v4().to_string(),
        step: Some(pb::Step {
            repatriation_id: journey.clone(),
            kind: if i == 0 {
                PaymentInitiated
            } else {
                IntermediaryProcessed
            } as i32,
            occurred_at: ts(start + chrono::Duration::seconds(i as i64)),
            institution_bic: "CHASUS33".into(),
            ..Default::default()
        }),
    };
    let mut client =
        RepatriationServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
    let mut windows = Vec::new();
    let mut from = 0;
    while from < steps {
        let to = (from + WINDOW).min(steps);
        let started = Instant::now();
        let mut results = client
            .batch_record_steps(futures::stream::iter((from..to).map(step.clone())))
            .await?
            .into_inner();
        while let Some(r) = results.next().await {
            let r = r?;
            anyhow::ensure!(
                r.code == 0,
                "step {} failed: {}",
                from + r.index as usize,
                r.message
            );
        }
        windows.push((from, to, started.elapsed()));
        from = to;
    }
    let per = |(a, b, t): (usize, usize, Duration)| {
        format!("steps {}-{}: {:.2} s", a + 1, b, t.as_secs_f64())
    };
    let (first, last) = (windows[0], windows[windows.len() - 1]);
    println!(
        "{label}  one journey of {steps} steps, {WINDOW} at a time: {}, {} (x{:.2})",
        per(first),
        per(last),
        last.2.as_secs_f64() / first.2.as_secs_f64()
    );
    let refused = client.record_step(step(steps)).await;
    match refused {
        Err(s) => println!(
            "{label}  step {} refused: {:?} {}",
            steps + 1,
            s.code(),
            s.message()
        ),
        Ok(_) => println!(
            "{label}  step {} accepted: the journey has no limit",
            steps + 1
        ),
    }
    let started = Instant::now();
    let journey = client
        .get_repatriation(pb::GetRepatriationRequest { id: rid })
        .await?
        .into_inner();
    println!(
        "{label}  GetRepatriation of it: {:.2} MB in {:.0} ms",
        prost::Message::encoded_len(&journey) as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64() * 1000.0
    );
    drop((client, channel));
    server.stop()
}

fn main() -> anyhow::Result<()> {
    serve_if_asked()?;
    tokio::runtime::Runtime::new()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("long-journey") {
        args.next();
        let steps: usize = args
            .next()
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(repat_core::journey::MAX_STEPS as usize);
        let db = ScratchDb::create().await?;
        long_journey(&db.url, "postgres", steps).await?;
        db.drop_now().await?;
        let dir = std::env::temp_dir().join(format!("repat-bench-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite:{}", dir.join("bench.db").display());
        long_journey(&url, "sqlite  ", steps).await?;
        std::fs::remove_dir_all(&dir)?;
        return Ok(());
    }
    let journeys: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(25_000);
    let streams: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(16);
    let sqlite_journeys: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5_000);
    println!(
        "ingest benchmark: journeys of {} steps, {streams} concurrent streams",
        JOURNEY.len()
    );
    if journeys > 0 {
        postgres(journeys, streams).await?;
    }
    if sqlite_journeys > 0 {
        sqlite(sqlite_journeys, streams).await?;
    }
    Ok(())
}
