//! SearchRepatriations: a journey found by the invoice it pays, or by the
//! UETR or end-to-end id of one of its steps; only what the caller may see.

use repat_api::auth::Role;
use repat_proto::v1 as pb;
use repat_proto::v1::repatriation_service_client::RepatriationServiceClient;
use repat_tests::fixtures::{money, rid, step};
use repat_tests::security::{Bearer, KeyDir, Minter, ed25519_pair};
use repat_tests::{Backend, TestApp, on_both_backends, spawn_with};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;

const UETR: &str = "8a562c67-ca16-48ba-b074-65581be6f011";

fn by(invoice: &str, uetr: &str, e2e: &str) -> pb::SearchRepatriationsRequest {
    pb::SearchRepatriationsRequest {
        invoice_reference: invoice.into(),
        uetr: uetr.into(),
        end_to_end_id: e2e.into(),
        ..Default::default()
    }
}

async fn ids(app: &TestApp, request: pb::SearchRepatriationsRequest) -> Vec<String> {
    let found = app
        .repatriations()
        .search_repatriations(request)
        .await
        .expect("search")
        .into_inner();
    found.repatriations.into_iter().map(|r| r.id).collect()
}

async fn finds_by_invoice_uetr_and_end_to_end_id(app: &TestApp) {
    let a = app.create_firm("Alpha Soft Ltd").await;
    let b = app.create_firm("Beta Soft Ltd").await;
    // The same invoice number at two firms: unique per party only.
    let ea = app.create_earning(&a.id, "INV-7", "1000.00", "USD").await;
    let eb = app.create_earning(&b.id, "INV-7", "2000.00", "USD").await;
    let ra = app.open_repatriation(&a.id, &[&ea.id]).await;
    let rb = app.open_repatriation(&b.id, &[&eb.id]).await;
    let mut sent = step(
        &ra.id,
        pb::StepKind::PaymentInitiated,
        "2024-03-01T09:00:00Z",
    );
    sent.amount = money("1000.00", "USD");
    sent.uetr = UETR.into();
    sent.end_to_end_id = "E2E-ALPHA-1".into();
    app.record(sent).await.expect("step");

    let mut both = ids(app, by("INV-7", "", "")).await;
    both.sort();
    let mut want = vec![ra.id.clone(), rb.id.clone()];
    want.sort();
    assert_eq!(both, want, "the invoice reference at both firms");
    assert_eq!(
        ids(
            app,
            pb::SearchRepatriationsRequest {
                party_id: b.id.clone(),
                ..by("INV-7", "", "")
            }
        )
        .await,
        vec![rb.id.clone()]
    );
    assert_eq!(
        ids(app, by("", UETR, "")).await,
        vec![ra.id.clone()],
        "by UETR"
    );
    assert_eq!(
        ids(app, by("", &UETR.to_uppercase(), "")).await,
        vec![ra.id.clone()],
        "a UUID in capitals is the same UETR"
    );
    assert_eq!(
        ids(app, by("", "", " E2E-ALPHA-1 ")).await,
        vec![ra.id.clone()],
        "by end-to-end id, spaces trimmed"
    );
    assert_eq!(
        ids(app, by("INV-7", "", "E2E-ALPHA-1")).await,
        vec![ra.id.clone()],
        "every reference given must match"
    );
    assert!(ids(app, by("INV-8", "", "")).await.is_empty());
    assert!(
        ids(app, by("", "", "E2E-ALPHA")).await.is_empty(),
        "exact, not a prefix"
    );

    // One page at a time, the token bound to the references.
    let first = app
        .repatriations()
        .search_repatriations(pb::SearchRepatriationsRequest {
            page_size: 1,
            ..by("INV-7", "", "")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.repatriations.len(), 1);
    let second = app
        .repatriations()
        .search_repatriations(pb::SearchRepatriationsRequest {
            page_size: 1,
            page_token: first.next_page_token.clone(),
            ..by("INV-7", "", "")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.repatriations.len(), 1);
    assert_ne!(second.repatriations[0].id, first.repatriations[0].id);
    let other = app
        .repatriations()
        .search_repatriations(pb::SearchRepatriationsRequest {
            page_token: first.next_page_token,
            ..by("INV-9", "", "")
        })
        .await;
    assert_eq!(
        other.unwrap_err().code(),
        Code::InvalidArgument,
        "a token of other references"
    );
}

async fn bad_searches_name_the_field(app: &TestApp) {
    for (request, field) in [
        (by("", "", ""), "invoice_reference"),
        (by("", "not-a-uuid", ""), "uetr"),
        (by(&"X".repeat(141), "", ""), "invoice_reference"),
        (
            pb::SearchRepatriationsRequest {
                party_id: "nope".into(),
                ..by("INV-1", "", "")
            },
            "party_id",
        ),
    ] {
        let status = app
            .repatriations()
            .search_repatriations(request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = tonic_types::StatusExt::get_details_bad_request(&status).expect("BadRequest");
        assert!(
            details.field_violations.iter().any(|v| v.field == field),
            "{field}: {details:?}"
        );
    }
}

on_both_backends!(
    finds_by_invoice_uetr_and_end_to_end_id,
    bad_searches_name_the_field
);

/// A firm finds its own journeys and nothing of another firm's, even by a
/// reference both use; an auditor finds both.
async fn firm_finds_only_its_own(backend: Backend) {
    let keys = KeyDir::new();
    let (private, public) = ed25519_pair();
    let verify = keys.write("verify.pem", &public);
    let Some(app) = spawn_with(backend, |s| {
        s.allow_unauthenticated = false;
        s.jwt_verify_key_file = Some(verify);
    })
    .await
    else {
        return;
    };
    let minter = Minter::new(&private);
    let client = |role: Role, parties: &[uuid::Uuid]| {
        RepatriationServiceClient::new(InterceptedService::new(
            app.channel.clone(),
            Bearer(Some(minter.token("t@repat", role, parties))),
        ))
    };
    let admin_channel = InterceptedService::new(
        app.channel.clone(),
        Bearer(Some(minter.token("ops@repat", Role::Admin, &[]))),
    );
    let parties =
        repat_proto::v1::party_service_client::PartyServiceClient::new(admin_channel.clone());
    let earnings =
        repat_proto::v1::earning_service_client::EarningServiceClient::new(admin_channel.clone());
    let mut reps = RepatriationServiceClient::new(admin_channel);
    let mut opened = Vec::new();
    for name in ["Alpha Soft Ltd", "Beta Soft Ltd"] {
        let p = parties
            .clone()
            .create_party(pb::CreatePartyRequest {
                request_id: rid(),
                party: Some(repat_tests::fixtures::firm(name)),
            })
            .await
            .unwrap()
            .into_inner();
        let e = earnings
            .clone()
            .create_earning(pb::CreateEarningRequest {
                request_id: rid(),
                earning: Some(repat_tests::fixtures::earning(
                    &p.id, "INV-1", "10.00", "USD",
                )),
            })
            .await
            .unwrap()
            .into_inner();
        let r = reps
            .create_repatriation(pb::CreateRepatriationRequest {
                request_id: rid(),
                party_id: p.id.clone(),
                allocations: vec![pb::Allocation {
                    earning_id: e.id,
                    amount: None,
                }],
                channel: pb::Channel::Bank as i32,
                payer_country: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        opened.push((p.id.parse::<uuid::Uuid>().unwrap(), r.id));
    }
    let found = |r: pb::SearchRepatriationsResponse| {
        r.repatriations
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    let alpha = client(Role::Firm, &[opened[0].0])
        .search_repatriations(by("INV-1", "", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        found(alpha),
        vec![opened[0].1.clone()],
        "the firm's own, not the other's"
    );
    let other = client(Role::Firm, &[opened[0].0])
        .search_repatriations(pb::SearchRepatriationsRequest {
            party_id: opened[1].0.to_string(),
            ..by("INV-1", "", "")
        })
        .await;
    assert_eq!(
        other.unwrap_err().code(),
        Code::NotFound,
        "another party's records do not exist for it"
    );
    let auditor = client(Role::Auditor, &[])
        .search_repatriations(by("INV-1", "", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found(auditor).len(), 2);
    let nobody =
        RepatriationServiceClient::new(InterceptedService::new(app.channel.clone(), Bearer(None)))
            .search_repatriations(by("INV-1", "", ""))
            .await;
    assert_eq!(nobody.unwrap_err().code(), Code::Unauthenticated);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firm_finds_only_its_own_sqlite() {
    firm_finds_only_its_own(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firm_finds_only_its_own_postgres() {
    firm_finds_only_its_own(Backend::Postgres).await;
}

/// An exception about a credit shows the credit as its statement has it,
/// so a person can tell which payment it is without opening the statement.
async fn exceptions_show_their_credit(app: &TestApp) {
    let a = app.create_firm("Gamma Soft Ltd").await;
    app.create_earning(&a.id, "INV-1", "1000.00", "USD").await;
    let csv = "booking_date,direction,amount,currency,reference,remittance,counterparty\n2024-03-10,CREDIT,400.00,USD,BANK-REF-9,PAYMENT FOR SERVICES,Harbour Education\n";
    app.reconciliation()
        .import_statement(pb::ImportStatementRequest {
            request_id: rid(),
            party_id: a.id.clone(),
            format: pb::StatementFormat::Csv as i32,
            content: csv.as_bytes().to_vec(),
            ..Default::default()
        })
        .await
        .expect("import");
    app.reconciliation()
        .run_matching(pb::RunMatchingRequest {
            request_id: rid(),
            party_id: a.id.clone(),
        })
        .await
        .expect("run");
    let listed = app
        .reconciliation()
        .list_exceptions(pb::ListExceptionsRequest {
            party_id: a.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let about_credit = listed
        .exceptions
        .iter()
        .find(|x| !x.credit_id.is_empty())
        .expect("the short credit is an exception");
    let credit = about_credit.credit.as_ref().expect("the credit is shown");
    assert_eq!(credit.id, about_credit.credit_id);
    assert_eq!(credit.amount, money("400.00", "USD"));
    assert_eq!(
        (
            credit.counterparty.as_str(),
            credit.remittance.as_str(),
            credit.servicer_reference.as_str()
        ),
        ("Harbour Education", "PAYMENT FOR SERVICES", "BANK-REF-9")
    );
    assert_eq!(credit.status, pb::EntryStatus::Exception as i32);
    assert!(
        listed
            .exceptions
            .iter()
            .filter(|x| x.credit_id.is_empty())
            .all(|x| x.credit.is_none()),
        "an exception about an invoice has no credit"
    );
}

on_both_backends!(exceptions_show_their_credit);
