use repat_proto::v1 as pb;
use repat_tests::fixtures::{earning, rid, step};
use repat_tests::{TestApp, on_both_backends};
use tonic::Code;

on_both_backends!(
    a_bad_step_is_reported_and_the_rest_stored,
    a_bad_earning_is_reported_and_the_rest_stored
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
