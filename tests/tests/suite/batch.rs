use repat_proto::v1 as pb;
use repat_tests::fixtures::{earning, rid, step};
use repat_tests::{TestApp, on_both_backends};
use tonic::Code;

on_both_backends!(
    a_bad_step_is_reported_and_the_rest_stored,
    a_bad_earning_is_reported_and_the_rest_stored,
    a_hundred_thousand_steps_in_one_stream_are_all_stored
);

async fn a_bad_step_is_reported_and_the_rest_stored(app: &TestApp) {
    let party = app.create_firm("Gorai Digital").await;
    let e = app
        .create_earning(&party.id, "INV-1", "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    use pb::StepKind::*;
    let retry_id = rid();
    let items = vec![
        pb::RecordStepRequest {
            request_id: rid(),
            step: Some(step(&r.id, PaymentInitiated, "2024-03-01T09:00:00Z")),
        },
        // Bad input: no timestamp.
        pb::RecordStepRequest {
            request_id: rid(),
            step: Some(pb::Step {
                occurred_at: None,
                ..step(&r.id, NostroCredited, "2024-03-02T09:00:00Z")
            }),
        },
        pb::RecordStepRequest {
            request_id: retry_id.clone(),
            step: Some(step(&r.id, IntermediaryProcessed, "2024-03-01T12:00:00Z")),
        },
        // Contradicts the journey: before the initiation.
        pb::RecordStepRequest {
            request_id: rid(),
            step: Some(step(&r.id, NostroCredited, "2024-02-28T09:00:00Z")),
        },
        // A retry of item 2 inside the same batch.
        pb::RecordStepRequest {
            request_id: retry_id,
            step: Some(step(&r.id, IntermediaryProcessed, "2024-03-01T12:00:00Z")),
        },
        pb::RecordStepRequest {
            request_id: rid(),
            step: Some(step(&r.id, BeneficiaryCredited, "2024-03-03T09:00:00Z")),
        },
    ];
    let results: Vec<pb::BatchItemResult> = app
        .repatriations()
        .batch_record_steps(futures::stream::iter(items))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.expect("result"))
        .collect()
        .await;
    let codes: Vec<(i64, i32)> = results.iter().map(|r| (r.index, r.code)).collect();
    assert_eq!(
        codes,
        vec![
            (0, 0),
            (1, Code::InvalidArgument as i32),
            (2, 0),
            (3, Code::FailedPrecondition as i32),
            (4, 0),
            (5, 0)
        ]
    );
    assert_eq!(results[1].field_errors[0].field, "step.occurred_at");
    assert!(
        results[3].message.contains("PAYMENT_INITIATED"),
        "{}",
        results[3].message
    );
    assert_eq!(results[2].id, results[4].id);
    let got = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: r.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.step_count, 3);
    assert_eq!(got.status, pb::RepatriationStatus::FundsAvailable as i32);
}

use futures::StreamExt;

async fn a_bad_earning_is_reported_and_the_rest_stored(app: &TestApp) {
    let party = app.create_firm("Kushiyara Tech").await;
    let items: Vec<pb::CreateEarningRequest> = (0..20)
        .map(|i| {
            let amount = if i == 7 { "12.345" } else { "100.00" };
            pb::CreateEarningRequest {
                request_id: rid(),
                earning: Some(earning(&party.id, &format!("INV-{i}"), amount, "USD")),
            }
        })
        .collect();
    let results: Vec<pb::BatchItemResult> = app
        .earnings()
        .batch_create_earnings(futures::stream::iter(items.clone()))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(results.len(), 20);
    for r in &results {
        if r.index == 7 {
            assert_eq!(r.code, Code::InvalidArgument as i32);
            assert_eq!(r.field_errors[0].field, "earning.amount.amount");
        } else {
            assert_eq!(r.code, 0, "{r:?}");
        }
    }
    // Re-sending the whole batch adds nothing.
    let again: Vec<pb::BatchItemResult> = app
        .earnings()
        .batch_create_earnings(futures::stream::iter(items))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(
        again.iter().map(|r| &r.id).collect::<Vec<_>>(),
        results.iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    let list = app
        .earnings()
        .list_earnings(pb::ListEarningsRequest {
            party_id: party.id,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.earnings.len(), 19);
}

/// Journeys of the long stream, eight steps each.
const LONG_STREAM_JOURNEYS: usize = 12_500;

/// `n` repatriations of a new firm named `firm`, each of one earning.
async fn seed_repatriations(app: &TestApp, firm: &str, n: usize) -> Vec<String> {
    let party = app.create_firm(firm).await;
    let earnings: Vec<pb::CreateEarningRequest> = (0..n)
        .map(|j| pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(pb::Earning {
                invoice_date: repat_tests::fixtures::date(2023, 12, 1),
                due_date: None,
                ..earning(&party.id, &format!("INV-LONG-{j}"), "1000.00", "USD")
            }),
        })
        .collect();
    let earning_ids: Vec<String> = app
        .earnings()
        .batch_create_earnings(futures::stream::iter(earnings))
        .await
        .unwrap()
        .into_inner()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(r.code, 0, "{r:?}");
            r.id
        })
        .collect()
        .await;
    futures::stream::iter(earning_ids)
        .map(|earning_id| {
            let mut client = app.repatriations();
            let party_id = party.id.clone();
            async move {
                client
                    .create_repatriation(pb::CreateRepatriationRequest {
                        request_id: rid(),
                        party_id,
                        allocations: vec![pb::Allocation {
                            earning_id,
                            amount: None,
                        }],
                        channel: pb::Channel::Bank as i32,
                        payer_country: String::new(),
                    })
                    .await
                    .expect("create repatriation")
                    .into_inner()
                    .id
            }
        })
        .buffered(16)
        .collect()
        .await
}

/// The eight steps of journey `j` on repatriation `repatriation`, a few
/// minutes after the one before.
fn journey_steps(j: usize, repatriation: &str) -> Vec<pb::RecordStepRequest> {
    use pb::StepKind::*;
    let start = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap()
        + chrono::Duration::minutes(j as i64 * 7);
    let at = |hours: i64| (start + chrono::Duration::hours(hours)).to_rfc3339();
    [
        (InvoiceIssued, -240, ""),
        (PaymentInitiated, 0, "HANDSESS"),
        (IntermediaryProcessed, 5, "CHASUS33"),
        (IntermediaryProcessed, 20, "CITIUS33"),
        (NostroCredited, 26, "BRAKUS33"),
        (BeneficiaryCredited, 30, "BRAKBDDH"),
        (ConvertedToBdt, 31, "BRAKBDDH"),
        (PrcIssued, 120, "BRAKBDDH"),
    ]
    .into_iter()
    .map(|(kind, hours, bic)| {
        let mut s = pb::Step {
            institution_bic: bic.into(),
            ..step(repatriation, kind, &at(hours))
        };
        if kind == IntermediaryProcessed {
            s.fees = vec![pb::Fee {
                amount: repat_tests::fixtures::money("12.50", "USD"),
                charged_by: bic.into(),
                kind: "CORRESPONDENT".into(),
            }];
            s.amount = repat_tests::fixtures::money("987.50", "USD");
        }
        if kind == ConvertedToBdt {
            s.fx_rate = Some(pb::FxRate {
                source_currency: "USD".into(),
                target_currency: "BDT".into(),
                rate: "110.25".into(),
            });
        }
        pb::RecordStepRequest {
            request_id: rid(),
            step: Some(s),
        }
    })
    .collect()
}

/// One client streams 100,000 steps in one BatchRecordSteps call while
/// the server's own background work (the metrics catch-up every second)
/// writes beside it: every step is acknowledged OK (on SQLite both go
/// through the one writer, never "database is locked"), and every journey
/// ends complete.
async fn a_hundred_thousand_steps_in_one_stream_are_all_stored(app: &TestApp) {
    let repatriations = seed_repatriations(app, "Long Stream Ltd", LONG_STREAM_JOURNEYS).await;
    let steps: Vec<pb::RecordStepRequest> = repatriations
        .iter()
        .enumerate()
        .flat_map(|(j, id)| journey_steps(j, id))
        .collect();
    assert_eq!(steps.len(), 100_000);
    let mut results = app
        .repatriations()
        .batch_record_steps(futures::stream::iter(steps))
        .await
        .unwrap()
        .into_inner();
    let mut ok = 0usize;
    while let Some(r) = results.next().await {
        let r =
            r.unwrap_or_else(|status| panic!("the stream ended after {ok} results: {status:?}"));
        assert_eq!(r.code, 0, "item {}: {}", r.index, r.message);
        ok += 1;
    }
    assert_eq!(ok, 100_000);
    for id in [repatriations.first(), repatriations.last()]
        .into_iter()
        .flatten()
    {
        let got = app
            .repatriations()
            .get_repatriation(pb::GetRepatriationRequest { id: id.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.step_count, 8, "{id}");
    }
}

/// Sixteen streams at once while one chunk commits at a time
/// (`batch_commits = 1`): the others wait their turn, and every step of
/// every stream is acknowledged OK and stored.
mod streams_wait_their_turn_to_commit {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(repat_tests::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run(repat_tests::Backend::Postgres).await;
    }

    async fn run(backend: repat_tests::Backend) {
        let Some(app) = repat_tests::spawn_with(backend, |s| s.batch_commits = 1).await else {
            eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
            return;
        };
        const STREAMS: usize = 16;
        let repatriations = seed_repatriations(&app, "Turns Ltd", STREAMS * 40).await;
        let streams = (0..STREAMS).map(|n| {
            let steps: Vec<pb::RecordStepRequest> = repatriations
                .iter()
                .enumerate()
                .skip(n)
                .step_by(STREAMS)
                .flat_map(|(j, id)| journey_steps(j, id))
                .collect();
            let mut client = app.repatriations();
            async move {
                let sent = steps.len();
                let results: Vec<pb::BatchItemResult> = client
                    .batch_record_steps(futures::stream::iter(steps))
                    .await
                    .expect("stream opens")
                    .into_inner()
                    .map(|r| r.expect("no stream error"))
                    .collect()
                    .await;
                assert_eq!(results.len(), sent);
                for r in &results {
                    assert_eq!(r.code, 0, "item {}: {}", r.index, r.message);
                }
                results.len()
            }
        });
        let stored: usize = futures::future::join_all(streams).await.into_iter().sum();
        assert_eq!(stored, repatriations.len() * 8);
        for id in &repatriations {
            let got = app
                .repatriations()
                .get_repatriation(pb::GetRepatriationRequest { id: id.clone() })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(got.step_count, 8, "{id}");
        }
        app.finish().await;
    }
}
