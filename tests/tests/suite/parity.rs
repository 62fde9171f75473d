//! The same scenario on SQLite and PostgreSQL gives the same responses, to
//! the last digit (server timestamps aside).

use repat_proto::v1 as pb;
use repat_tests::fixtures::{earning, firm, money, step};
use repat_tests::{Backend, TestApp, spawn};

/// Clears what the server's clock decides.
fn strip(mut r: pb::Repatriation) -> pb::Repatriation {
    r.create_time = None;
    r.update_time = None;
    for s in &mut r.timeline {
        s.recorded_at = None;
    }
    r
}

async fn scenario(app: &TestApp, ids: &[String]) -> (pb::Repatriation, pb::Earning) {
    let mut party = app
        .parties()
        .create_party(pb::CreatePartyRequest {
            request_id: ids[0].clone(),
            party: Some(firm("Parity Ltd")),
        })
        .await
        .unwrap()
        .into_inner();
    party.create_time = None;
    let mut e = earning(&party.id, "INV-P", "3333.33", "USD");
    e.invoice_date = repat_tests::fixtures::date(2023, 8, 1);
    let e = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: ids[1].clone(),
            earning: Some(e),
        })
        .await
        .unwrap()
        .into_inner();
    let r = app
        .repatriations()
        .create_repatriation(pb::CreateRepatriationRequest {
            request_id: ids[2].clone(),
            party_id: party.id.clone(),
            allocations: vec![pb::Allocation {
                earning_id: e.id.clone(),
                amount: None,
            }],
            channel: pb::Channel::Bank as i32,
            payer_country: "US".into(),
        })
        .await
        .unwrap()
        .into_inner();
    use pb::StepKind::*;
    let mut steps = vec![
        step(&r.id, PaymentInitiated, "2024-01-29T09:00:00.123456Z"),
        step(&r.id, IntermediaryProcessed, "2024-01-29T13:10:00Z"),
        step(&r.id, BeneficiaryCredited, "2024-01-31T10:00:00Z"),
    ];
    steps[0].amount = money("3350.00", "USD");
    steps[1].fees = vec![pb::Fee {
        amount: money("16.67", "USD"),
        charged_by: "CITIUS33".into(),
        kind: "OUR".into(),
    }];
    steps[1].uetr = "97ed4827-7b6f-4491-a06f-b548d5a7512d".into();
    steps[2].amount = money("3333.33", "USD");
    steps[2].fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "110.0000".into(),
    });
    for (i, s) in steps.into_iter().enumerate() {
        app.repatriations()
            .record_step(pb::RecordStepRequest {
                request_id: ids[3 + i].clone(),
                step: Some(s),
            })
            .await
            .unwrap();
    }
    let got = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: r.id })
        .await
        .unwrap()
        .into_inner();
    let mut e = app
        .earnings()
        .get_earning(pb::GetEarningRequest { id: e.id })
        .await
        .unwrap()
        .into_inner();
    e.create_time = None;
    (strip(got), e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_answer_alike() {
    let Some(pg) = spawn(Backend::Postgres).await else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    let lite = spawn(Backend::Sqlite).await.unwrap();
    let ids: Vec<String> = (0..6).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let a = scenario(&lite, &ids).await;
    let b = scenario(&pg, &ids).await;
    assert_eq!(a, b);
    assert_eq!(
        a.0.fees.as_ref().unwrap().fee_share_of_initiated,
        "0.004976"
    );
    assert_eq!(
        a.0.durations.as_ref().unwrap().invoice_to_realization_days,
        183
    );
    lite.finish().await;
    pg.finish().await;
}
