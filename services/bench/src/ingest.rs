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

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use repat_proto::v1 as pb;
use repat_proto::v1::earning_service_client::EarningServiceClient;
use repat_proto::v1::party_service_client::PartyServiceClient;
use repat_proto::v1::repatriation_service_client::RepatriationServiceClient;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
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

/// Creates a party, and one earning and repatriation per journey, over gRPC.
/// Returns the repatriation ids and the rate of the repatriations' unary
/// CreateRepatriation calls (16 at a time), per second.
async fn seed(channel: &Channel, journeys: usize) -> anyhow::Result<(Vec<String>, f64)> {
    let party = PartyServiceClient::new(channel.clone())
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
        .into_inner();
    let earnings: Vec<pb::CreateEarningRequest> = (0..journeys)
        .map(|j| pb::CreateEarningRequest {
            request_id: Uuid::new_v4().to_string(),
            earning: Some(pb::Earning {
                party_id: party.id.clone(),
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
    let started = Instant::now();
    let reps = futures::stream::iter(ids)
        .map(|earning_id| {
            let mut client = RepatriationServiceClient::new(channel.clone());
            let party_id = party.id.clone();
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
    let rate = reps.len() as f64 / started.elapsed().as_secs_f64();
    Ok((reps.into_iter().collect::<Result<_, _>>()?, rate))
}

/// Streams every step over `streams` concurrent BatchRecordSteps calls
/// (journeys split between them) and returns the elapsed time.
async fn stream_steps(
    channel: &Channel,
    batches: Vec<Vec<pb::RecordStepRequest>>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let calls = batches.into_iter().map(|batch| {
        let mut client =
            RepatriationServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
        async move {
            let n = batch.len();
            let mut results = client
                .batch_record_steps(futures::stream::iter(batch))
                .await?
                .into_inner();
            let mut ok = 0usize;
            while let Some(r) = results.next().await {
                let r = r?;
                anyhow::ensure!(r.code == 0, "item {} failed: {}", r.index, r.message);
                ok += 1;
            }
            anyhow::ensure!(ok == n, "{ok} of {n} results");
            anyhow::Ok(())
        }
    });
    for r in futures::future::join_all(calls).await {
        r?;
    }
    Ok(started.elapsed())
}

fn split(reps: &[String], streams: usize) -> Vec<Vec<pb::RecordStepRequest>> {
    let mut batches: Vec<Vec<pb::RecordStepRequest>> = vec![Vec::new(); streams];
    for (j, rid) in reps.iter().enumerate() {
        batches[j % streams].extend(journey_steps(j, rid));
    }
    batches
}

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

/// `url` with its database name replaced (keeping any `?host=` etc.).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
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
    let admin = std::env::var("REPAT_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("repat_bench_{}", Uuid::new_v4().simple());
    let mut admin_conn = PgConnection::connect(&admin)
        .await
        .context("connecting to REPAT_BENCH_DATABASE_URL")?;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin_conn)
        .await?;
    let url = with_database(&admin, &name);

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
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut admin_conn)
        .await?;

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
