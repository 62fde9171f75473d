//! Documents through gRPC, and the documents the incentive rules require:
//! a freelancer paid through a recognised marketplace needs no contract up
//! to and including USD 5,000 (the marketplace's earnings statement serves
//! instead), and needs one above it.

use repat_proto::v1 as pb;
use repat_tests::fixtures::{date, document, money, rid, step};
use repat_tests::{TestApp, on_both_backends};
use tonic::Code;
use tonic_types::StatusExt;

on_both_backends!(
    the_simplified_route_stands_down_the_contract_up_to_usd_5000,
    documents_are_recorded_once_and_listed
);

async fn freelancer(app: &TestApp) -> pb::Party {
    app.parties()
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(pb::Party {
                kind: pb::PartyKind::Freelancer as i32,
                legal_name: "Nusrat Jahan".into(),
                country: "BD".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
}

/// An Upwork job invoiced 2024-03-01 whose USD `amount` was credited on
/// 2024-03-20, converted at 110.00, its PRC issued by the bank (a step:
/// the step is the certificate), with its invoice recorded but no
/// contract.
async fn marketplace_job(app: &TestApp, party: &pb::Party, amount: &str) -> pb::Repatriation {
    let mut e = repat_tests::fixtures::earning(&party.id, &format!("UP-{amount}"), amount, "USD");
    e.marketplace = "Upwork".into();
    let e = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(e),
        })
        .await
        .unwrap()
        .into_inner();
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let mut credit = step(
        &r.id,
        pb::StepKind::BeneficiaryCredited,
        "2024-03-20T04:00:00Z",
    );
    credit.amount = money(amount, "USD");
    app.record(credit).await.unwrap();
    let mut convert = step(&r.id, pb::StepKind::ConvertedToBdt, "2024-03-20T05:00:00Z");
    convert.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "110.00".into(),
    });
    app.record(convert).await.unwrap();
    let mut prc = step(&r.id, pb::StepKind::PrcIssued, "2024-03-21T05:00:00Z");
    prc.institution_bic = "BRAKBDDH".into();
    app.record(prc).await.unwrap();
    app.add_document(pb::Document {
        earning_id: e.id.clone(),
        ..document(pb::DocumentKind::Invoice, &e.invoice_reference)
    })
    .await;
    r
}

async fn assess(app: &TestApp, r: &pb::Repatriation) -> pb::Assessment {
    app.incentives()
        .assess_repatriation(pb::AssessRepatriationRequest {
            request_id: rid(),
            repatriation_id: r.id.clone(),
            as_of: date(2024, 3, 25),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

async fn the_simplified_route_stands_down_the_contract_up_to_usd_5000(app: &TestApp) {
    let party = freelancer(app).await;
    // Upwork's record of what she earned there serves instead of a contract.
    app.add_document(pb::Document {
        party_id: party.id.clone(),
        valid_from: date(2024, 1, 1),
        valid_until: date(2024, 12, 31),
        ..document(
            pb::DocumentKind::MarketplaceEarningsStatement,
            "UPWORK-2024",
        )
    })
    .await;
    let small = marketplace_job(app, &party, "4999.99").await;
    let large = marketplace_job(app, &party, "5000.01").await;

    let a = assess(app, &small).await;
    assert!(a.eligible, "{:?}", a.violations);
    assert_eq!(a.programme, "ICT_EXPORT_FREELANCER");
    assert!(
        a.inputs
            .unwrap()
            .documents
            .contains(&"PROCEEDS_REALIZATION_CERTIFICATE".to_string()),
        "the PRC_ISSUED step is the certificate"
    );

    let b = assess(app, &large).await;
    assert!(!b.eligible);
    assert_eq!(b.violations.len(), 1, "{:?}", b.violations);
    let v = &b.violations[0];
    assert_eq!(
        (v.code.as_str(), v.document.as_str()),
        ("MISSING_DOCUMENT", "CONTRACT_OR_WORK_ORDER")
    );
    assert!(
        v.message
            .contains("USD 5000.01 credited is above its cap of USD 5000.00"),
        "{}",
        v.message
    );
    assert!(
        v.source.starts_with("Circular of 16 Jan 2022"),
        "{}",
        v.source
    );
    assert_eq!(b.computed_incentive, money("22000.04", "BDT"));

    // With the contract recorded against the repatriation, it is eligible.
    app.add_document(pb::Document {
        repatriation_id: large.id.clone(),
        ..document(pb::DocumentKind::ContractOrWorkOrder, "UPWORK-CONTRACT-88")
    })
    .await;
    let b = assess(app, &large).await;
    assert!(b.eligible, "{:?}", b.violations);
    assert_eq!(b.incentive, money("22000.04", "BDT"));
}

async fn documents_are_recorded_once_and_listed(app: &TestApp) {
    let party = app.create_firm("Papers Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-9", "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;

    let request = pb::CreateDocumentRequest {
        request_id: rid(),
        document: Some(pb::Document {
            earning_id: e.id.clone(),
            content_sha256: "AB".repeat(32),
            ..document(pb::DocumentKind::ContractOrWorkOrder, "WO-2024-17")
        }),
    };
    let stored = app
        .documents()
        .create_document(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (stored.party_id.as_str(), stored.content_sha256.as_str()),
        (party.id.as_str(), "ab".repeat(32).as_str()),
        "the earning's party holds it; the hash is kept in lower case"
    );
    let again = app.documents().create_document(request).await.unwrap();
    assert_eq!(again.into_inner(), stored);
    let got = app
        .documents()
        .get_document(pb::GetDocumentRequest {
            id: stored.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, stored);

    // One document of a kind under one reference.
    let err = app
        .documents()
        .create_document(pb::CreateDocumentRequest {
            request_id: rid(),
            document: Some(pb::Document {
                party_id: party.id.clone(),
                ..document(pb::DocumentKind::ContractOrWorkOrder, "WO-2024-17")
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("WO-2024-17"), "{}", err.message());

    // Bad input is named field by field.
    let err = app
        .documents()
        .create_document(pb::CreateDocumentRequest {
            request_id: rid(),
            document: Some(pb::Document {
                earning_id: e.id.clone(),
                repatriation_id: r.id.clone(),
                issue_date: None,
                valid_from: date(2024, 12, 31),
                valid_until: date(2024, 1, 1),
                content_sha256: "not a hash".into(),
                ..document(pb::DocumentKind::Unspecified, " ")
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = err
        .get_details_bad_request()
        .expect("BadRequest")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    for field in [
        "document.repatriation_id",
        "document.kind",
        "document.reference",
        "document.issue_date",
        "document.valid_until",
        "document.content_sha256",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field}: {fields:?}");
    }
    // Another party's earning is as good as absent.
    let other = app.create_firm("Other Ltd").await;
    let err = app
        .documents()
        .create_document(pb::CreateDocumentRequest {
            request_id: rid(),
            document: Some(pb::Document {
                party_id: other.id.clone(),
                earning_id: e.id.clone(),
                ..document(pb::DocumentKind::Invoice, "INV-9")
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("document.party_id"),
        "{}",
        err.message()
    );

    let prc = app
        .add_document(pb::Document {
            repatriation_id: r.id.clone(),
            ..document(pb::DocumentKind::ProceedsRealizationCertificate, "PRC-1")
        })
        .await;
    let list = |req: pb::ListDocumentsRequest| {
        let mut client = app.documents();
        async move {
            client
                .list_documents(req)
                .await
                .unwrap()
                .into_inner()
                .documents
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(pb::ListDocumentsRequest {
            party_id: party.id.clone(),
            ..Default::default()
        })
        .await,
        [stored.id.clone(), prc.id.clone()]
    );
    assert_eq!(
        list(pb::ListDocumentsRequest {
            repatriation_id: r.id.clone(),
            ..Default::default()
        })
        .await,
        std::slice::from_ref(&prc.id)
    );
    assert_eq!(
        list(pb::ListDocumentsRequest {
            earning_id: e.id.clone(),
            kind: pb::DocumentKind::ContractOrWorkOrder as i32,
            ..Default::default()
        })
        .await,
        std::slice::from_ref(&stored.id)
    );
}
