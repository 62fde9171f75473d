use repat_proto::v1 as pb;
use repat_tests::fixtures::{date, earning, money, rid, step, ts};
use repat_tests::{TestApp, on_both_backends};
use tonic::{Code, Status};
use tonic_types::StatusExt;

on_both_backends!(
    bad_amounts_name_the_field,
    missing_and_unknown_parties,
    bad_steps_name_the_field,
    steps_out_of_order_name_both,
    oversized_pages_and_foreign_tokens,
    allocations_are_checked
);

/// Asserts `code` and that a field violation names `field`.
fn assert_violation(err: &Status, code: Code, field: &str) {
    assert_eq!(err.code(), code, "{err:?}");
    let fields: Vec<String> = err
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|f| f.field).collect())
        .unwrap_or_default();
    assert!(
        fields.iter().any(|f| f == field),
        "expected a violation of {field}, got {fields:?} ({})",
        err.message()
    );
}

async fn bad_amounts_name_the_field(app: &TestApp) {
    let party = app.create_firm("Jamuna Data").await;
    let cases = [
        ("-5.00", "USD", "earning.amount.amount"),
        ("0", "USD", "earning.amount.amount"),
        ("12.345", "USD", "earning.amount.amount"),
        ("1e3", "USD", "earning.amount.amount"),
        ("NaN", "USD", "earning.amount.amount"),
        ("Infinity", "USD", "earning.amount.amount"),
        (
            "1234567890123456789012345678901234567890",
            "USD",
            "earning.amount.amount",
        ),
        ("", "USD", "earning.amount.amount"),
        ("10.00", "XYZ", "earning.amount.currency"),
        ("10.00", "usd", "earning.amount.currency"),
        ("10.5", "JPY", "earning.amount.amount"),
    ];
    for (i, (amount, currency, field)) in cases.into_iter().enumerate() {
        let e = earning(&party.id, &format!("INV-BAD-{i}"), amount, currency);
        let err = app
            .earnings()
            .create_earning(pb::CreateEarningRequest {
                request_id: rid(),
                earning: Some(e),
            })
            .await
            .unwrap_err();
        assert_violation(&err, Code::InvalidArgument, field);
    }
    // Three minor units are fine where the currency has them.
    let ok = app
        .create_earning(&party.id, "INV-KWD", "12.345", "KWD")
        .await;
    assert_eq!(ok.amount.unwrap().amount, "12.345");
    let ok = app
        .create_earning(&party.id, "INV-USD", "12.5", "USD")
        .await;
    assert_eq!(ok.amount.unwrap().amount, "12.50");
    let list = app
        .earnings()
        .list_earnings(pb::ListEarningsRequest {
            party_id: party.id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.earnings.len(), 2, "nothing bad was stored");
}

async fn missing_and_unknown_parties(app: &TestApp) {
    let err = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning("", "INV-1", "1.00", "USD")),
        })
        .await
        .unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "earning.party_id");
    let unknown = uuid::Uuid::new_v4().to_string();
    let err = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning(&unknown, "INV-1", "1.00", "USD")),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .parties()
        .get_party(pb::GetPartyRequest {
            id: unknown,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .parties()
        .get_party(pb::GetPartyRequest {
            id: "not-a-uuid".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "id");
    let err = app
        .parties()
        .create_party(pb::CreatePartyRequest {
            request_id: "42".into(),
            party: None,
        })
        .await
        .unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "request_id");
    assert_violation(&err, Code::InvalidArgument, "party");
    // A duplicate invoice reference for one party is refused.
    let party = app.create_firm("Surma Soft").await;
    app.create_earning(&party.id, "INV-9", "1.00", "USD").await;
    let err = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning(&party.id, "INV-9", "2.00", "USD")),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    // A due date before the invoice date.
    let mut e = earning(&party.id, "INV-10", "1.00", "USD");
    e.due_date = date(2024, 2, 1);
    let err = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(e),
        })
        .await
        .unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "earning.due_date");
}

async fn bad_steps_name_the_field(app: &TestApp) {
    let party = app.create_firm("Rupsha Labs").await;
    let e = app
        .create_earning(&party.id, "INV-1", "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let mut before_1970 = step(
        &r.id,
        pb::StepKind::PaymentInitiated,
        "1969-12-31T23:59:59Z",
    );
    let err = app.record(before_1970.clone()).await.unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "step.occurred_at");
    before_1970.occurred_at = ts("2999-01-01T00:00:00Z");
    let err = app.record(before_1970).await.unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "step.occurred_at");
    let mut s = step(
        &r.id,
        pb::StepKind::IntermediaryProcessed,
        "2024-03-02T00:00:00Z",
    );
    s.institution_bic = "chase".into();
    s.fees = vec![pb::Fee {
        amount: money("-1.00", "USD"),
        charged_by: String::new(),
        kind: String::new(),
    }];
    s.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "1e2".into(),
    });
    s.uetr = "nope".into();
    let err = app.record(s).await.unwrap_err();
    for field in [
        "step.institution_bic",
        "step.fees[0].amount.amount",
        "step.fees[0].charged_by",
        "step.fx_rate.rate",
        "step.uetr",
    ] {
        assert_violation(&err, Code::InvalidArgument, field);
    }
    let err = app
        .record(step(
            &r.id,
            pb::StepKind::Unspecified,
            "2024-03-02T00:00:00Z",
        ))
        .await
        .unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "step.kind");
    let err = app
        .record(step(
            &uuid::Uuid::new_v4().to_string(),
            pb::StepKind::PaymentInitiated,
            "2024-03-02T00:00:00Z",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

async fn steps_out_of_order_name_both(app: &TestApp) {
    let party = app.create_firm("Titas Systems").await;
    let e = app
        .create_earning(&party.id, "INV-1", "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    app.record(step(
        &r.id,
        pb::StepKind::NostroCredited,
        "2024-03-04T09:00:00Z",
    ))
    .await
    .unwrap();
    let err = app
        .record(step(
            &r.id,
            pb::StepKind::BeneficiaryCredited,
            "2024-03-03T09:00:00Z",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("BENEFICIARY_CREDITED") && err.message().contains("NOSTRO_CREDITED"),
        "{}",
        err.message()
    );
    // A late predecessor that claims to follow its successor.
    let err = app
        .record(step(
            &r.id,
            pb::StepKind::PaymentInitiated,
            "2024-03-05T09:00:00Z",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("PAYMENT_INITIATED") && err.message().contains("NOSTRO_CREDITED"),
        "{}",
        err.message()
    );
    // The same late predecessor, in its place, is fine.
    app.record(step(
        &r.id,
        pb::StepKind::PaymentInitiated,
        "2024-03-01T09:00:00Z",
    ))
    .await
    .unwrap();
    // Only intermediaries repeat.
    let err = app
        .record(step(
            &r.id,
            pb::StepKind::NostroCredited,
            "2024-03-04T10:00:00Z",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    // A return ends the journey.
    let returned = app
        .record(step(&r.id, pb::StepKind::Returned, "2024-03-06T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(returned.status, pb::RepatriationStatus::Returned as i32);
    let err = app
        .record(step(
            &r.id,
            pb::StepKind::BeneficiaryCredited,
            "2024-03-07T00:00:00Z",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("RETURNED"), "{}", err.message());
}

async fn oversized_pages_and_foreign_tokens(app: &TestApp) {
    for i in 0..5 {
        app.create_firm(&format!("Firm {i}")).await;
    }
    let err = app
        .parties()
        .list_parties(pb::ListPartiesRequest {
            page_size: 1001,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "page_size");
    let err = app
        .parties()
        .list_parties(pb::ListPartiesRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "page_size");
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .parties()
            .list_parties(pb::ListPartiesRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.parties.len() <= 2);
        names.extend(page.parties.into_iter().map(|p| p.legal_name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        names,
        (0..5).map(|i| format!("Firm {i}")).collect::<Vec<_>>()
    );
    let first = app
        .parties()
        .list_parties(pb::ListPartiesRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let err = app
        .parties()
        .list_parties(pb::ListPartiesRequest {
            page_size: 2,
            page_token: first.next_page_token,
            kind: pb::PartyKind::Freelancer as i32,
        })
        .await
        .unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "page_token");
    let err = app
        .parties()
        .list_parties(pb::ListPartiesRequest {
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "page_token");
}

async fn allocations_are_checked(app: &TestApp) {
    let party = app.create_firm("Buriganga Bytes").await;
    let other = app.create_firm("Other Ltd").await;
    let e1 = app
        .create_earning(&party.id, "INV-1", "1000.00", "USD")
        .await;
    let e2 = app
        .create_earning(&party.id, "INV-2", "250.00", "USD")
        .await;
    let eur = app.create_earning(&party.id, "INV-3", "90.00", "EUR").await;
    let foreign = app.create_earning(&other.id, "INV-X", "10.00", "USD").await;
    let open = |allocations: Vec<pb::Allocation>| {
        let mut client = app.repatriations();
        let party_id = party.id.clone();
        async move {
            client
                .create_repatriation(pb::CreateRepatriationRequest {
                    request_id: rid(),
                    party_id,
                    allocations,
                    channel: pb::Channel::Bank as i32,
                    payer_country: String::new(),
                })
                .await
                .map(|r| r.into_inner())
        }
    };
    let alloc = |id: &str, amount: Option<&str>| pb::Allocation {
        earning_id: id.into(),
        amount: amount.and_then(|a| money(a, "USD")),
    };
    // One payment for two invoices.
    let bulk = open(vec![alloc(&e1.id, Some("600.00")), alloc(&e2.id, None)])
        .await
        .unwrap();
    assert_eq!(bulk.expected_amount, money("850.00", "USD"));
    assert_eq!(bulk.payer_country, "SE");
    // The rest of the first invoice as an instalment.
    let instalment = open(vec![alloc(&e1.id, None)]).await.unwrap();
    assert_eq!(instalment.expected_amount, money("400.00", "USD"));
    let got = app
        .earnings()
        .get_earning(pb::GetEarningRequest { id: e1.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.allocated, money("1000.00", "USD"));
    let err = open(vec![alloc(&e1.id, None)]).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let err = open(vec![alloc(&e2.id, Some("0.01"))]).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let err = open(vec![alloc(&eur.id, None), alloc(&e1.id, None)])
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::InvalidArgument | Code::FailedPrecondition),
        "{err:?}"
    );
    // Another party's earning is answered as an absent one.
    let err = open(vec![alloc(&foreign.id, None)]).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = open(vec![]).await.unwrap_err();
    assert_violation(&err, Code::InvalidArgument, "allocations");
    let list = app
        .repatriations()
        .list_repatriations(pb::ListRepatriationsRequest {
            earning_id: e1.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        list.repatriations
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![bulk.id, instalment.id]
    );
}
