//! Reconciliation through gRPC: real-shaped statements of several banks
//! (tests/data/statements, whose README gives each file's expected result)
//! imported, matched and explained; every cardinality and tolerance edge;
//! duplicates, reversals, debits; refused files that store nothing;
//! re-runs that change nothing; manual decisions that matching respects;
//! and the credit on the earning's journey.

use std::collections::HashMap;

use repat_proto::v1 as pb;
use repat_tests::fixtures::{date, earning, rid, step};
use repat_tests::{TestApp, on_both_backends};
use tonic::Code;
use tonic_types::StatusExt;

on_both_backends!(
    statements_match_as_expected,
    refused_files_store_nothing,
    manual_decisions_stand,
    manual_matches_are_bounded_and_noted,
    a_reversal_after_a_match_unmatches_the_credit
);

fn file(name: &str) -> Vec<u8> {
    let path = format!("{}/data/statements/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn import(
    app: &TestApp,
    party: &str,
    format: pb::StatementFormat,
    name: &str,
) -> Result<pb::Statement, tonic::Status> {
    app.reconciliation()
        .import_statement(pb::ImportStatementRequest {
            request_id: rid(),
            party_id: party.into(),
            format: format as i32,
            content: file(name),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn run(app: &TestApp, party: &str) -> pb::MatchingRun {
    app.reconciliation()
        .run_matching(pb::RunMatchingRequest {
            request_id: rid(),
            party_id: party.into(),
        })
        .await
        .expect("run matching")
        .into_inner()
}

/// Invoices by reference, with `date` as their invoice date.
async fn invoice(
    app: &TestApp,
    party: &str,
    reference: &str,
    amount: &str,
    invoiced: Option<repat_proto::google::r#type::Date>,
) -> pb::Earning {
    let mut e = earning(party, reference, amount, "USD");
    e.invoice_date = invoiced;
    e.due_date = None;
    app.earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(e),
        })
        .await
        .expect("create earning")
        .into_inner()
}

async fn realizations(
    app: &TestApp,
    party: &str,
) -> HashMap<String, (pb::RealizationStatus, String, String)> {
    let page = app
        .reconciliation()
        .list_realizations(pb::ListRealizationsRequest {
            party_id: party.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    page.realizations
        .into_iter()
        .map(|r| {
            let status = pb::RealizationStatus::try_from(r.status).unwrap();
            (
                r.invoice_reference,
                (
                    status,
                    r.realized.unwrap().amount,
                    r.outstanding.unwrap().amount,
                ),
            )
        })
        .collect()
}

async fn exceptions(app: &TestApp, party: &str) -> Vec<pb::ReconciliationException> {
    app.reconciliation()
        .list_exceptions(pb::ListExceptionsRequest {
            party_id: party.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .exceptions
}

async fn matches(app: &TestApp, party: &str) -> Vec<pb::Match> {
    app.reconciliation()
        .list_matches(pb::ListMatchesRequest {
            party_id: party.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .matches
}

fn money(m: &Option<pb::Money>) -> String {
    let m = m.as_ref().expect("money");
    format!("{} {}", m.amount, m.currency)
}

async fn statements_match_as_expected(app: &TestApp) {
    let party = app.create_firm("Padma Code Works").await.id;
    let p = party.as_str();
    let mut by_ref: HashMap<&str, pb::Earning> = HashMap::new();
    for (r, amount, day) in [
        ("INV-1001", "10000.00", date(2024, 3, 1)),
        ("INV-1002", "10000.00", date(2024, 3, 1)),
        ("INV-1003", "1500.00", date(2024, 3, 1)),
        ("INV-1004", "2500.00", date(2024, 3, 2)),
        ("INV-1005", "300.00", date(2024, 3, 1)),
        ("INV-2001", "10000.00", date(2024, 3, 15)),
        ("INV-3001", "1000.00", date(2024, 3, 1)),
        ("INV-3002", "1200.00", date(2024, 3, 1)),
        ("INV-3003", "5000.00", date(2024, 3, 1)),
        ("INV-3004", "6000.00", date(2024, 3, 1)),
        ("INV-3005", "700.00", date(2024, 3, 1)),
        ("INV-3006", "800.00", date(2024, 3, 1)),
        ("INV-3007", "760.00", date(2024, 3, 1)),
        ("INV-3008", "760.00", date(2024, 3, 2)),
        ("INV-3009", "550.00", date(2024, 3, 1)),
        ("INV-3010", "2000.00", date(2024, 3, 1)),
        ("INV-3011", "2200.00", date(2024, 3, 1)),
    ] {
        by_ref.insert(r, invoice(app, p, r, amount, day).await);
    }
    // INV-1001's payment is on its way: its journey waits for the credit.
    let journey = app.open_repatriation(p, &[&by_ref["INV-1001"].id]).await;
    app.record(step(
        &journey.id,
        pb::StepKind::PaymentInitiated,
        "2024-03-05T10:00:00Z",
    ))
    .await
    .unwrap();

    let brac = import(app, p, pb::StatementFormat::Camt053, "brac_camt053_v02.xml")
        .await
        .unwrap();
    assert_eq!(brac.entries.len(), 4);
    assert_eq!(brac.entries[2].kind, pb::EntryKind::Debit as i32);
    assert!(
        brac.entries
            .iter()
            .all(|e| e.status != pb::EntryStatus::Matched as i32)
    );
    import(app, p, pb::StatementFormat::Camt054, "city_camt054_v04.xml")
        .await
        .unwrap();
    let first = run(app, p).await;
    assert_eq!(first.matches.len(), 5, "{:#?}", first.matches);

    // The same credit again in the day's statement, a reversed credit, MT940, CSV.
    let city = import(app, p, pb::StatementFormat::Camt053, "city_camt053_v08.xml")
        .await
        .unwrap();
    let dbbl = import(app, p, pb::StatementFormat::Mt940, "dbbl_mt940.sta")
        .await
        .unwrap();
    let csv = import(app, p, pb::StatementFormat::Csv, "credits.csv")
        .await
        .unwrap();
    let second = run(app, p).await;

    let r = realizations(app, p).await;
    let status = |reference: &str| r[reference].0;
    use pb::RealizationStatus::{Overpaid, PartiallyRealized, Realized, Unpaid};
    assert_eq!(r["INV-1001"], (Realized, "10000.00".into(), "0.00".into()));
    assert_eq!(
        r["INV-1002"],
        (Realized, "10000.00".into(), "0.00".into()),
        "4,000.00 then 5,990.00 with 10.00 of fees"
    );
    assert_eq!(
        (status("INV-1003"), status("INV-1004")),
        (Realized, Realized)
    );
    assert_eq!(r["INV-1005"], (Overpaid, "400.00".into(), "0.00".into()));
    assert_eq!(status("INV-2001"), Realized);
    for (reference, want) in [
        ("INV-3001", Realized),
        ("INV-3002", Unpaid),
        ("INV-3003", Realized),
        ("INV-3004", Unpaid),
        ("INV-3005", Realized),
        ("INV-3006", Unpaid),
        ("INV-3007", Unpaid),
        ("INV-3008", Unpaid),
        ("INV-3009", Unpaid),
        ("INV-3010", Realized),
        ("INV-3011", Unpaid),
    ] {
        assert_eq!(status(reference), want, "{reference}");
    }
    assert_ne!(status("INV-1002"), PartiallyRealized);

    // How each match was made, and its gaps.
    let all = matches(app, p).await;
    let of = |reference: &str| -> Vec<&pb::Match> {
        all.iter()
            .filter(|m| m.earning_id == by_ref[reference].id)
            .collect()
    };
    let m = of("INV-1001")[0];
    assert_eq!(
        (m.method, m.reference.as_str()),
        (pb::MatchMethod::Reference as i32, "INV-1001")
    );
    assert_eq!(
        (
            money(&m.covered),
            money(&m.converted),
            money(&m.fee_gap),
            m.days
        ),
        (
            "10000.00 USD".into(),
            "9975.00 USD".into(),
            "25.00 USD".into(),
            19
        )
    );
    let bulk: Vec<String> = [of("INV-1003")[0], of("INV-1004")[0]]
        .iter()
        .map(|m| format!("{} {}", money(&m.converted), money(&m.fee_gap)))
        .collect();
    assert_eq!(bulk, ["1500.00 USD 0.00 USD", "2490.00 USD 10.00 USD"]);
    assert_eq!(
        of("INV-1003")[0].credit_id,
        of("INV-1004")[0].credit_id,
        "one credit, two invoices"
    );
    let instalments = of("INV-1002");
    assert_eq!(
        instalments
            .iter()
            .map(|m| money(&m.covered))
            .collect::<Vec<_>>(),
        ["4000.00 USD", "6000.00 USD"]
    );
    let fx = of("INV-2001")[0];
    assert_eq!(fx.method, pb::MatchMethod::AmountAndDate as i32);
    assert_eq!(
        (money(&fx.converted), money(&fx.fee_gap), money(&fx.fx_gap)),
        ("9975.00 USD".into(), "25.00 USD".into(), "0.00 USD".into())
    );
    assert_eq!(fx.fx_rate.as_ref().unwrap().rate, "110");
    let edge = of("INV-3010")[0];
    assert_eq!(
        (
            money(&edge.converted),
            money(&edge.fee_gap),
            money(&edge.fx_gap)
        ),
        ("1930.00 USD".into(), "50.00 USD".into(), "20.00 USD".into())
    );
    assert_eq!(of("INV-3005")[0].days, 180);

    // The credit is on the journey: BENEFICIARY_CREDITED at noon in Dhaka
    // on the value date, with the amount credited.
    assert_eq!(m.repatriation_id, journey.id);
    let got = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest {
            id: journey.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.status, pb::RepatriationStatus::FundsAvailable as i32);
    let credited = got
        .timeline
        .iter()
        .find(|s| s.kind == pb::StepKind::BeneficiaryCredited as i32)
        .expect("credited step");
    assert_eq!(credited.id, m.step_id);
    assert_eq!(money(&credited.amount), "9975.00 USD");
    assert_eq!(
        credited.occurred_at.as_ref().unwrap().seconds,
        chrono::DateTime::parse_from_rfc3339("2024-03-20T06:00:00Z")
            .unwrap()
            .timestamp()
    );

    // Every credit left open, and every unpaid invoice, is explained.
    let xs = exceptions(app, p).await;
    let credit_reason = |id: &str| {
        xs.iter()
            .find(|x| x.credit_id == id)
            .map(|x| x.code.clone())
            .unwrap_or_else(|| "none".into())
    };
    assert_eq!(credit_reason(&city.entries[0].id), "DUPLICATE_CREDIT");
    assert_eq!(credit_reason(&city.entries[1].id), "REVERSED");
    assert_eq!(
        credit_reason(&city.entries[2].id),
        "none",
        "a reversal is not a credit"
    );
    assert_eq!(
        credit_reason(&dbbl.entries[2].id),
        "none",
        "nor is a reversal of a debit"
    );
    let csv_reasons: Vec<String> = csv.entries.iter().map(|e| credit_reason(&e.id)).collect();
    assert_eq!(
        csv_reasons,
        [
            "none",
            "AMOUNT_OUTSIDE_TOLERANCE",
            "none",
            "AMOUNT_OUTSIDE_TOLERANCE",
            "none",
            "DATE_OUTSIDE_WINDOW",
            "AMBIGUOUS",
            "CURRENCY_MISMATCH",
            "none",
            "AMOUNT_OUTSIDE_TOLERANCE",
            "none"
        ]
    );
    let x = |id: &str| xs.iter().find(|x| x.credit_id == id).unwrap();
    let near = &x(&csv.entries[1].id).candidates[0];
    assert_eq!(
        (near.id.as_str(), money(&near.amount_difference).as_str()),
        (by_ref["INV-3002"].id.as_str(), "-50.01 USD")
    );
    let near = &x(&csv.entries[9].id).candidates[0];
    assert_eq!(
        (near.id.as_str(), money(&near.amount_difference).as_str()),
        (by_ref["INV-3011"].id.as_str(), "-72.01 USD")
    );
    let late = &x(&csv.entries[5].id).candidates[0];
    assert_eq!(
        (late.id.as_str(), late.days, late.has_days),
        (by_ref["INV-3006"].id.as_str(), 181, true)
    );
    // Both 760.00 invoices fit exactly; INV-3006 (800.00) fits within the fee allowance too.
    let ambiguous: Vec<&str> = x(&csv.entries[6].id)
        .candidates
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        ambiguous,
        [
            by_ref["INV-3007"].id.as_str(),
            by_ref["INV-3008"].id.as_str(),
            by_ref["INV-3006"].id.as_str()
        ]
    );
    assert_eq!(
        x(&csv.entries[6].id).reason,
        pb::ExceptionReason::Ambiguous as i32
    );
    let earning_reason = |reference: &str| {
        xs.iter()
            .find(|x| x.earning_id == by_ref[reference].id)
            .map(|x| x.code.clone())
            .unwrap_or_else(|| "none".into())
    };
    assert_eq!(earning_reason("INV-3007"), "AMBIGUOUS");
    assert_eq!(earning_reason("INV-3006"), "DATE_OUTSIDE_WINDOW");
    assert_eq!(earning_reason("INV-3002"), "NO_CANDIDATE");
    assert_eq!(earning_reason("INV-3001"), "none");

    // Entries say where they stand.
    let got = app
        .reconciliation()
        .get_statement(pb::GetStatementRequest { id: csv.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let statuses: Vec<i32> = got.entries.iter().map(|e| e.status).collect();
    use pb::EntryStatus::{Exception, Matched, NotACredit};
    assert_eq!(
        statuses,
        [
            Matched, Exception, Matched, Exception, Matched, Exception, Exception, Exception,
            Matched, Exception, NotACredit
        ]
        .map(|s| s as i32)
    );

    // A re-run changes nothing: no match, the same exceptions.
    let again = run(app, p).await;
    assert!(again.matches.is_empty(), "{:#?}", again.matches);
    assert_eq!(again.exception_count, second.exception_count);
    assert_eq!(exceptions(app, p).await, xs);
    assert_eq!(matches(app, p).await, all);
    assert_eq!(realizations(app, p).await, r);
}

async fn refused_files_store_nothing(app: &TestApp) {
    let party = app.create_firm("Karnaphuli Apps").await.id;
    let p = party.as_str();
    invoice(app, p, "INV-9", "1250.00", date(2024, 3, 1)).await;
    for (format, name, description) in [
        (
            pb::StatementFormat::Camt053,
            "five_decimals_camt053_v05.xml",
            "has 5 decimal places but USD has 2",
        ),
        (pb::StatementFormat::Mt940, "bad_amount_mt940.sta", "line 7"),
    ] {
        let err = import(app, p, format, name).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        let violations = err
            .get_details_bad_request()
            .expect("bad request")
            .field_violations;
        assert_eq!(violations[0].field, "content.entries[1]", "{name}");
        assert!(
            violations[0].description.contains(description),
            "{name}: {}",
            violations[0].description
        );
    }
    // Not even the good first entry of the refused files went in.
    let nothing = run(app, p).await;
    assert!(nothing.matches.is_empty());
    assert_eq!(nothing.exception_count, 1, "only the unpaid invoice");

    // A wrong declared format, an unset one, another party's file.
    let err = import(app, p, pb::StatementFormat::Camt054, "brac_camt053_v02.xml")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("camt.053.001.02"),
        "{}",
        err.message()
    );
    let err = import(app, p, pb::StatementFormat::Unspecified, "README.md")
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "format"
    );

    // The same file twice: one statement, its credits counted once.
    let a = import(app, p, pb::StatementFormat::Csv, "credits.csv")
        .await
        .unwrap();
    let b = import(app, p, pb::StatementFormat::Csv, "credits.csv")
        .await
        .unwrap();
    assert_eq!((a.id.as_str(), a.entries.len()), (b.id.as_str(), 11));
    // A retry of the same request: the same answer.
    let req = pb::ImportStatementRequest {
        request_id: rid(),
        party_id: p.into(),
        format: pb::StatementFormat::Mt940 as i32,
        content: file("dbbl_mt940.sta"),
        ..Default::default()
    };
    let once = app
        .reconciliation()
        .import_statement(req.clone())
        .await
        .unwrap()
        .into_inner();
    let twice = app
        .reconciliation()
        .import_statement(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(once, twice);
    let mut other = req;
    other.format = pb::StatementFormat::Csv as i32;
    other.content = file("credits.csv");
    assert_eq!(
        app.reconciliation()
            .import_statement(other)
            .await
            .unwrap_err()
            .code(),
        Code::AlreadyExists
    );
}

async fn manual_decisions_stand(app: &TestApp) {
    let party = app.create_firm("Surma Pixels").await.id;
    let p = party.as_str();
    let first = invoice(app, p, "INV-3007", "760.00", date(2024, 3, 1)).await;
    let second = invoice(app, p, "INV-3008", "760.00", date(2024, 3, 2)).await;
    let csv = import(app, p, pb::StatementFormat::Csv, "credits.csv")
        .await
        .unwrap();
    let credit = csv.entries[6].id.clone();
    run(app, p).await;
    let before = exceptions(app, p).await;
    assert_eq!(
        before.iter().find(|x| x.credit_id == credit).unwrap().code,
        "AMBIGUOUS"
    );

    let manual = |earning: &str| pb::ManualMatchRequest {
        request_id: rid(),
        credit_id: credit.clone(),
        allocations: vec![pb::ManualAllocation {
            earning_id: earning.into(),
            amount: None,
        }],
        note: "client confirmed by e-mail it pays INV-3008".into(),
    };
    let made = app
        .reconciliation()
        .manual_match(manual(&second.id))
        .await
        .unwrap()
        .into_inner()
        .matches;
    assert_eq!(
        (made.len(), made[0].method, money(&made[0].covered)),
        (1, pb::MatchMethod::Manual as i32, "760.00 USD".into())
    );
    // Matching never overrides it.
    assert!(run(app, p).await.matches.is_empty());
    let r = realizations(app, p).await;
    assert_eq!(
        (r["INV-3007"].0, r["INV-3008"].0),
        (
            pb::RealizationStatus::Unpaid,
            pb::RealizationStatus::Realized
        )
    );
    // A matched credit is not matched twice; a debit pays nothing.
    assert_eq!(
        app.reconciliation()
            .manual_match(manual(&first.id))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    let mut debit = manual(&first.id);
    debit.credit_id = csv.entries[10].id.clone();
    assert_eq!(
        app.reconciliation()
            .manual_match(debit)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );

    // Unmatched by hand, the credit waits for a person.
    let removed = app
        .reconciliation()
        .unmatch(pb::UnmatchRequest {
            request_id: rid(),
            credit_id: credit.clone(),
            note: "wrong invoice".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .removed;
    assert_eq!(removed.len(), 1);
    assert!(run(app, p).await.matches.is_empty());
    assert_eq!(
        exceptions(app, p)
            .await
            .iter()
            .find(|x| x.credit_id == credit)
            .unwrap()
            .code,
        "HELD_FOR_MANUAL_MATCH"
    );
    let made = app
        .reconciliation()
        .manual_match(manual(&first.id))
        .await
        .unwrap()
        .into_inner()
        .matches;
    assert_eq!(made[0].earning_id, first.id);
    assert_eq!(
        realizations(app, p).await["INV-3007"].0,
        pb::RealizationStatus::Realized
    );

    // Each decision is in the audit trail.
    let mut audit =
        repat_proto::v1::audit_service_client::AuditServiceClient::new(app.channel.clone());
    let entries = audit
        .list_audit_entries(pb::ListAuditEntriesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let methods: Vec<&str> = entries
        .iter()
        .map(|e| e.method.rsplit('/').next().unwrap())
        .filter(|m| ["ManualMatch", "Unmatch"].contains(m))
        .collect();
    assert_eq!(methods, ["ManualMatch", "Unmatch", "ManualMatch"]);
}

async fn import_csv(app: &TestApp, party: &str, text: &str) -> pb::Statement {
    app.reconciliation()
        .import_statement(pb::ImportStatementRequest {
            request_id: rid(),
            party_id: party.into(),
            format: pb::StatementFormat::Csv as i32,
            content: text.as_bytes().to_vec(),
            ..Default::default()
        })
        .await
        .expect("import")
        .into_inner()
}

/// The payload of the party's `credit.unmatched` events, oldest first.
async fn unmatched_events(app: &TestApp, party: &str) -> Vec<pb::CreditUnmatched> {
    app.events()
        .list_events(pb::ListEventsRequest {
            party_id: party.into(),
            types: vec!["credit.unmatched".into()],
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events
        .into_iter()
        .filter_map(|e| match e.data {
            Some(pb::event::Data::CreditUnmatched(u)) => Some(u),
            _ => None,
        })
        .collect()
}

async fn manual_matches_are_bounded_and_noted(app: &TestApp) {
    let party = app.create_firm("Karnaphuli Code").await.id;
    let p = party.as_str();
    let big = invoice(app, p, "INV-5001", "1000.00", date(2024, 3, 1)).await;
    let small = invoice(app, p, "INV-5002", "300.00", date(2024, 3, 2)).await;
    let statement = import_csv(
        app,
        p,
        "booking_date,direction,amount,currency,remittance\n2024-03-20,CREDIT,985.00,USD,no reference\n",
    )
    .await;
    let credit = statement.entries[0].id.clone();
    let by_hand = |allocations: Vec<(&str, &str)>| pb::ManualMatchRequest {
        request_id: rid(),
        credit_id: credit.clone(),
        allocations: allocations
            .into_iter()
            .map(|(earning, amount)| pb::ManualAllocation {
                earning_id: earning.into(),
                amount: repat_tests::fixtures::money(amount, "USD"),
            })
            .collect(),
        note: "settled by phone with the client".into(),
    };
    let refused = |s: tonic::Status| {
        assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
        s.message().to_string()
    };
    // More than the invoice has outstanding.
    let over = refused(
        app.reconciliation()
            .manual_match(by_hand(vec![(&small.id, "300.01")]))
            .await
            .unwrap_err(),
    );
    assert!(
        over.contains("allocations[0]") && over.contains("outstanding"),
        "{over}"
    );
    // More than the credit is worth, beyond the fee tolerance (50 USD).
    let beyond = refused(
        app.reconciliation()
            .manual_match(by_hand(vec![(&big.id, "800.00"), (&small.id, "240.01")]))
            .await
            .unwrap_err(),
    );
    assert!(
        beyond.contains("allocations[1]") && beyond.contains("worth"),
        "{beyond}"
    );
    assert!(
        matches(app, p).await.is_empty(),
        "a refused match stores nothing"
    );

    // Within both bounds: 1,000 settled by 985 (15 of fees on the way).
    let made = app
        .reconciliation()
        .manual_match(by_hand(vec![(&big.id, "1000.00")]))
        .await
        .unwrap()
        .into_inner()
        .matches;
    assert_eq!(made[0].note, "settled by phone with the client");
    assert_eq!(money(&made[0].covered), "1000.00 USD");
    assert_eq!(
        matches(app, p).await[0].note,
        "settled by phone with the client"
    );

    // Unmatched with a note: the event says why.
    app.reconciliation()
        .unmatch(pb::UnmatchRequest {
            request_id: rid(),
            credit_id: credit.clone(),
            note: "the client paid INV-5002 and more".into(),
        })
        .await
        .unwrap();
    let unmatched = unmatched_events(app, p).await;
    assert_eq!(unmatched.len(), 1);
    assert_eq!(unmatched[0].reason, "the client paid INV-5002 and more");
    assert_eq!(unmatched[0].removed[0].earning_id, big.id);
}

async fn a_reversal_after_a_match_unmatches_the_credit(app: &TestApp) {
    let party = app.create_firm("Meghna Apps").await.id;
    let p = party.as_str();
    invoice(app, p, "INV-6001", "640.00", date(2024, 3, 1)).await;
    let statement = import_csv(
        app,
        p,
        "booking_date,direction,amount,currency,reference,remittance\n2024-03-20,CREDIT,640.00,USD,BRAC-77121,INV-6001\n",
    )
    .await;
    let credit = statement.entries[0].id.clone();
    let first = run(app, p).await;
    assert_eq!(first.matches.len(), 1);
    assert_eq!(
        realizations(app, p).await["INV-6001"].0,
        pb::RealizationStatus::Realized
    );

    // The bank takes the credit back (the same reference and amount).
    import_csv(
        app,
        p,
        "booking_date,direction,amount,currency,reference,remittance\n2024-03-22,CREDIT_REVERSAL,640.00,USD,BRAC-77121,returned by the payer's bank\n",
    )
    .await;
    let second = run(app, p).await;
    assert!(second.matches.is_empty());
    assert!(matches(app, p).await.is_empty(), "the match is gone");
    assert_eq!(
        realizations(app, p).await["INV-6001"].0,
        pb::RealizationStatus::Unpaid
    );
    let x = exceptions(app, p).await;
    let reversed = x.iter().find(|x| x.credit_id == credit).unwrap();
    assert_eq!(reversed.code, "REVERSED");
    let unmatched = unmatched_events(app, p).await;
    assert_eq!(unmatched.len(), 1);
    assert_eq!(unmatched[0].credit_id, credit);
    assert!(
        unmatched[0].reason.contains("reversal"),
        "{}",
        unmatched[0].reason
    );
    assert_eq!(unmatched[0].removed, first.matches);

    // A re-run changes nothing.
    assert!(run(app, p).await.matches.is_empty());
    assert_eq!(unmatched_events(app, p).await.len(), 1);
    assert_eq!(exceptions(app, p).await, x);
}
