use repat_proto::v1 as pb;
use repat_tests::fixtures::{earning, firm, rid, step};
use repat_tests::{TestApp, on_both_backends};
use tonic::Code;

on_both_backends!(
    a_retry_returns_the_original_and_stores_nothing,
    same_id_other_payload_is_already_exists,
    fifty_concurrent_retries_store_one_record,
    step_retries_never_double_count
);

async fn a_retry_returns_the_original_and_stores_nothing(app: &TestApp) {
    let req = pb::CreatePartyRequest {
        request_id: rid(),
        party: Some(firm("Padma Code Ltd")),
    };
    let first = app
        .parties()
        .create_party(req.clone())
        .await
        .unwrap()
        .into_inner();
    let again = app.parties().create_party(req).await.unwrap().into_inner();
    assert_eq!(
        first, again,
        "a retry returns the original response, create_time included"
    );
    let list = app
        .parties()
        .list_parties(pb::ListPartiesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.parties.len(), 1);
}

async fn same_id_other_payload_is_already_exists(app: &TestApp) {
    let id = rid();
    app.parties()
        .create_party(pb::CreatePartyRequest {
            request_id: id.clone(),
            party: Some(firm("A Ltd")),
        })
        .await
        .unwrap();
    let err = app
        .parties()
        .create_party(pb::CreatePartyRequest {
            request_id: id.clone(),
            party: Some(firm("B Ltd")),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(err.message().contains(&id), "{}", err.message());
    // The same id on another method is a request of its own: keys are
    // scoped by method (and tenant).
    let party = app.create_firm("C Ltd").await;
    let e = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: id,
            earning: Some(earning(&party.id, "INV-1", "10.00", "USD")),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(e.id, party.id);
}

async fn fifty_concurrent_retries_store_one_record(app: &TestApp) {
    let party = app.create_firm("Meghna Apps").await;
    let req = pb::CreateEarningRequest {
        request_id: rid(),
        earning: Some(earning(&party.id, "INV-50", "1200.00", "USD")),
    };
    let calls = (0..50).map(|_| {
        let mut client = app.earnings();
        let req = req.clone();
        async move { client.create_earning(req).await.map(|r| r.into_inner()) }
    });
    let results = futures::future::join_all(calls).await;
    let first = results[0].as_ref().expect("first call succeeds").clone();
    for r in &results {
        assert_eq!(r.as_ref().expect("every retry succeeds"), &first);
    }
    let list = app
        .earnings()
        .list_earnings(pb::ListEarningsRequest {
            party_id: party.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.earnings.len(), 1);
}

async fn step_retries_never_double_count(app: &TestApp) {
    let party = app.create_firm("Karnaphuli IT").await;
    let e = app
        .create_earning(&party.id, "INV-7", "500.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let mut s = step(
        &r.id,
        pb::StepKind::IntermediaryProcessed,
        "2024-03-05T10:00:00Z",
    );
    s.institution_bic = "CHASUS33".into();
    s.fees = vec![pb::Fee {
        amount: repat_tests::fixtures::money("15.00", "USD"),
        charged_by: "CHASUS33".into(),
        kind: "CORRESPONDENT".into(),
    }];
    let req = pb::RecordStepRequest {
        request_id: rid(),
        step: Some(s),
    };
    let calls = (0..20).map(|_| {
        let mut client = app.repatriations();
        let req = req.clone();
        async move { client.record_step(req).await.map(|r| r.into_inner()) }
    });
    let results = futures::future::join_all(calls).await;
    let first = results[0].as_ref().unwrap().clone();
    assert!(results.iter().all(|r| r.as_ref().unwrap() == &first));
    let got = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.step_count, 1);
    assert_eq!(
        got.fees.unwrap().total_fees,
        vec![pb::Money {
            amount: "15.00".into(),
            currency: "USD".into()
        }]
    );
}
