//! The service benchmarks' common work: journeys of eight steps, seeded
//! over gRPC (a party, then an earning and a repatriation per journey),
//! streamed over concurrent `BatchRecordSteps` calls, on a fresh
//! PostgreSQL database made for the run.

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
pub const JOURNEY: [(pb::StepKind, i64, &str); 8] = [
    (InvoiceIssued, -240, ""),
    (PaymentInitiated, 0, "HANDSESS"),
    (IntermediaryProcessed, 5, "CHASUS33"),
    (IntermediaryProcessed, 20, "CITIUS33"),
    (NostroCredited, 26, "BRAKUS33"),
    (BeneficiaryCredited, 30, "BRAKBDDH"),
    (ConvertedToBdt, 31, "BRAKBDDH"),
    (PrcIssued, 120, "BRAKBDDH"),
];

pub fn ts(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

pub fn money(a: &str, c: &str) -> Option<pb::Money> {
    Some(pb::Money {
        amount: a.into(),
        currency: c.into(),
    })
}

/// The requests of journey `j` of repatriation `rid`.
pub fn journey_steps(j: usize, rid: &str) -> Vec<pb::RecordStepRequest> {
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
pub async fn seed(channel: &Channel, journeys: usize) -> anyhow::Result<(Vec<String>, f64)> {
    let party = create_party(channel, "Bench Ltd").await?;
    seed_journeys(channel, &party, 0, journeys).await
}

/// Registers a firm named `name`; returns its id.
pub async fn create_party(channel: &Channel, name: &str) -> anyhow::Result<String> {
    Ok(PartyServiceClient::new(channel.clone())
        .create_party(pb::CreatePartyRequest {
            request_id: Uuid::new_v4().to_string(),
            party: Some(pb::Party {
                kind: pb::PartyKind::Firm as i32,
                legal_name: name.into(),
                country: "BD".into(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .id)
}

/// Creates journeys `first..first + n` of `party`: an earning (invoice
/// `INV-<j>`) and a repatriation of it each. Returns the repatriation ids
/// and the rate of the unary CreateRepatriation calls (16 at a time).
pub async fn seed_journeys(
    channel: &Channel,
    party: &str,
    first: usize,
    n: usize,
) -> anyhow::Result<(Vec<String>, f64)> {
    let earnings: Vec<pb::CreateEarningRequest> = (first..first + n)
        .map(|j| pb::CreateEarningRequest {
            request_id: Uuid::new_v4().to_string(),
            earning: Some(pb::Earning {
                party_id: party.into(),
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
            let party_id = party.to_string();
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

/// The journeys' steps split between `streams` calls.
pub fn split(reps: &[String], streams: usize) -> Vec<Vec<pb::RecordStepRequest>> {
    let mut batches: Vec<Vec<pb::RecordStepRequest>> = vec![Vec::new(); streams];
    for (j, rid) in reps.iter().enumerate() {
        batches[j % streams].extend(journey_steps(j, rid));
    }
    batches
}

/// Streams every batch over its own concurrent BatchRecordSteps call and
/// returns the elapsed time; any item refused fails the run.
pub async fn stream_steps(
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

/// `url` with its database name replaced (keeping any `?host=` etc.).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A PostgreSQL database of its own for a run, dropped by [`Scratch::drop`].
pub struct Scratch {
    admin: PgConnection,
    name: String,
    pub url: String,
}

impl Scratch {
    /// Creates it beside `REPAT_BENCH_DATABASE_URL` (default
    /// `postgres://postgres@127.0.0.1:5432/test`).
    pub async fn create() -> anyhow::Result<Scratch> {
        let admin_url = std::env::var("REPAT_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("repat_bench_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .context("connecting to REPAT_BENCH_DATABASE_URL")?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        Ok(Scratch {
            url: with_database(&admin_url, &name),
            admin,
            name,
        })
    }

    pub async fn drop(mut self) -> anyhow::Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut self.admin)
        .await?;
        Ok(())
    }
}
