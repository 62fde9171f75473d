//! Statement files as banks write them, through gRPC on both databases:
//! several accounts in one file (each checked against the party's
//! registered accounts), zero amounts, pending and intraday entries that
//! never pay nor realize a journey, undated credits with their own
//! reason, the bank's local time, charsets and detected formats.
//! tests/data/statements/README.md says what each file holds.

use std::collections::HashMap;

use repat_proto::v1 as pb;
use repat_tests::fixtures::{date, earning, firm, rid, step};
use repat_tests::{TestApp, on_both_backends};
use tonic::Code;
use tonic_types::StatusExt;

on_both_backends!(
    one_file_several_accounts,
    pending_zero_and_undated_entries_never_pay,
    intraday_reports_and_charsets,
    bank_local_time_setting
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
    charset: &str,
) -> Result<pb::Statement, tonic::Status> {
    let req = pb::ImportStatementRequest {
        request_id: rid(),
        party_id: party.into(),
        format: format as i32,
        content: file(name),
        charset: charset.into(),
    };
    app.reconciliation()
        .import_statement(req)
        .await
        .map(|r| r.into_inner())
}

async fn invoice(app: &TestApp, party: &str, reference: &str, amount: &str) -> pb::Earning {
    let mut e = earning(party, reference, amount, "USD");
    e.invoice_date = date(2024, 3, 1);
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

async fn run(app: &TestApp, party: &str) -> pb::MatchingRun {
    app.reconciliation()
        .run_matching(pb::RunMatchingRequest {
            request_id: rid(),
            party_id: party.into(),
        })
        .await
        .expect("run")
        .into_inner()
}

async fn realized(app: &TestApp, party: &str) -> HashMap<String, (pb::RealizationStatus, String)> {
    let req = pb::ListRealizationsRequest {
        party_id: party.into(),
        page_size: 1000,
        ..Default::default()
    };
    let page = app
        .reconciliation()
        .list_realizations(req)
        .await
        .unwrap()
        .into_inner();
    page.realizations
        .into_iter()
        .map(|r| {
            (
                r.invoice_reference,
                (
                    pb::RealizationStatus::try_from(r.status).unwrap(),
                    r.realized.unwrap().amount,
                ),
            )
        })
        .collect()
}

async fn exceptions(app: &TestApp, party: &str) -> Vec<pb::ReconciliationException> {
    let req = pb::ListExceptionsRequest {
        party_id: party.into(),
        page_size: 1000,
        ..Default::default()
    };
    app.reconciliation()
        .list_exceptions(req)
        .await
        .unwrap()
        .into_inner()
        .exceptions
}

fn status(e: &pb::StatementEntry) -> pb::EntryStatus {
    pb::EntryStatus::try_from(e.status).unwrap()
}

async fn one_file_several_accounts(app: &TestApp) {
    let party = app.create_firm("Padma Cloud Ltd").await.id;
    let p = party.as_str();
    let s = import(
        app,
        p,
        pb::StatementFormat::Camt053,
        "ebl_camt053_v08_two_accounts.xml",
        "",
    )
    .await
    .unwrap();
    assert_eq!((s.account.as_str(), s.entries.len()), ("1501202900001", 5));
    assert_eq!(s.other_statements.len(), 1);
    let bdt = &s.other_statements[0];
    assert_eq!(
        (
            bdt.account.as_str(),
            bdt.entries.len(),
            bdt.entries[0].index
        ),
        ("BD00CIBL1234567890123456", 1, 0)
    );
    assert_eq!(bdt.entries[0].amount.as_ref().unwrap().currency, "BDT");
    assert_ne!(s.id, bdt.id);
    // Each is a statement of its own; the same file again stores nothing.
    let got = app
        .reconciliation()
        .get_statement(pb::GetStatementRequest { id: bdt.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (got.account.as_str(), got.entries.len()),
        ("BD00CIBL1234567890123456", 1)
    );
    let again = import(
        app,
        p,
        pb::StatementFormat::Unspecified,
        "ebl_camt053_v08_two_accounts.xml",
        "",
    )
    .await
    .unwrap();
    assert_eq!(
        (again.id.as_str(), again.other_statements[0].id.as_str()),
        (s.id.as_str(), bdt.id.as_str())
    );
    // MT940 blocks of two accounts, in ISO-8859-1.
    let m = import(
        app,
        p,
        pb::StatementFormat::Mt940,
        "ucb_mt940_two_accounts_latin1.sta",
        "",
    )
    .await
    .unwrap();
    assert_eq!(
        (m.account.as_str(), m.other_statements[0].account.as_str()),
        ("DBBLBDDH/1051100023456", "1501202900001")
    );
    assert!(
        m.entries[0].remittance.contains("Müller Gerätebau GmbH"),
        "{}",
        m.entries[0].remittance
    );

    // A party holding only one of the file's accounts: refused, naming the
    // other, and nothing of the file is stored.
    let mut only_brac = firm("Jamuna Apps Ltd");
    only_brac.bank_accounts.truncate(1);
    let other = app
        .parties()
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(only_brac),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    invoice(app, &other, "INV-4001", "5000.00").await;
    let err = import(
        app,
        &other,
        pb::StatementFormat::Camt053,
        "ebl_camt053_v08_two_accounts.xml",
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let v = &err.get_details_bad_request().unwrap().field_violations[0];
    assert_eq!(v.field, "content");
    assert!(
        v.description
            .contains("statement 1 is for account \"BD00CIBL1234567890123456\""),
        "{}",
        v.description
    );
    assert!(
        run(app, &other).await.matches.is_empty(),
        "nothing of the refused file was stored"
    );
}

async fn pending_zero_and_undated_entries_never_pay(app: &TestApp) {
    let party = app.create_firm("Karnaphuli Code Ltd").await.id;
    let p = party.as_str();
    let mut earnings = HashMap::new();
    for (r, amount) in [
        ("INV-4001", "5000.00"),
        ("INV-4003", "1200.50"),
        ("INV-4004", "3000.00"),
        ("INV-4005", "5000.00"),
        ("INV-4006", "640.00"),
    ] {
        earnings.insert(r, invoice(app, p, r, amount).await);
    }
    // INV-4001 and INV-4004 have journeys waiting for their credits.
    let j1 = app.open_repatriation(p, &[&earnings["INV-4001"].id]).await;
    app.record(step(
        &j1.id,
        pb::StepKind::PaymentInitiated,
        "2024-04-08T10:00:00Z",
    ))
    .await
    .unwrap();
    let j4 = app.open_repatriation(p, &[&earnings["INV-4004"].id]).await;
    app.record(step(
        &j4.id,
        pb::StepKind::PaymentInitiated,
        "2024-04-08T10:00:00Z",
    ))
    .await
    .unwrap();

    let s = import(
        app,
        p,
        pb::StatementFormat::Camt053,
        "ebl_camt053_v08_two_accounts.xml",
        "",
    )
    .await
    .unwrap();
    let usd = &s.entries;
    // Booked at 19:30 in Dhaka: the bank's day is the 10th, not the 11th.
    assert_eq!(usd[0].booking_date, date(2024, 4, 10));
    assert_eq!(
        usd[0].charges.as_ref().unwrap().amount,
        "25.00",
        "charges counted once"
    );
    assert_eq!(usd[1].amount.as_ref().unwrap().amount, "0.00");
    assert_eq!(usd[2].amount.as_ref().unwrap().amount, "1200.50");
    assert_eq!(
        status(&usd[1]),
        pb::EntryStatus::NotACredit,
        "a zero amount is stored, never a credit"
    );
    assert_eq!(status(&usd[3]), pb::EntryStatus::Pending);
    let fx = s.other_statements[0].entries[0].fx_rate.as_ref().unwrap();
    assert_eq!(
        (fx.source_currency.as_str(), fx.target_currency.as_str()),
        ("USD", "BDT")
    );

    let done = run(app, p).await;
    let r = realized(app, p).await;
    use pb::RealizationStatus::{Realized, Unpaid};
    assert_eq!(r["INV-4001"], (Realized, "5000.00".into()));
    assert_eq!(r["INV-4003"], (Realized, "1200.50".into()));
    assert_eq!(
        r["INV-4004"],
        (Unpaid, "0.00".into()),
        "a pending credit pays nothing"
    );
    assert_eq!(r["INV-4005"], (Realized, "5000.00".into()));
    assert_eq!(r["INV-4006"], (Unpaid, "0.00".into()));
    let matched: Vec<&str> = done.matches.iter().map(|m| m.credit_id.as_str()).collect();
    assert!(!matched.contains(&usd[1].id.as_str()) && !matched.contains(&usd[3].id.as_str()));

    // The booked credit extends its journey at its own instant; the pending one does not.
    let got = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: j1.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let credited = got
        .timeline
        .iter()
        .find(|t| t.kind == pb::StepKind::BeneficiaryCredited as i32)
        .expect("credited");
    assert_eq!(
        credited.occurred_at.as_ref().unwrap().seconds,
        chrono::DateTime::parse_from_rfc3339("2024-04-10T13:30:00Z")
            .unwrap()
            .timestamp()
    );
    let got = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: j4.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(
        got.timeline
            .iter()
            .all(|t| t.kind != pb::StepKind::BeneficiaryCredited as i32),
        "a pending credit realizes no journey"
    );
    assert_ne!(got.status, pb::RepatriationStatus::Realized as i32);

    // Exceptions: the undated credit has its own reason; pending and zero entries have none.
    let x = exceptions(app, p).await;
    let undated = x
        .iter()
        .find(|x| x.credit_id == usd[4].id)
        .expect("the undated credit's exception");
    assert_eq!(
        (undated.code.as_str(), undated.reason),
        ("UNDATED", pb::ExceptionReason::Undated as i32)
    );
    assert_eq!(undated.candidates[0].id, earnings["INV-4006"].id);
    assert!(!undated.candidates[0].has_days);
    assert!(
        x.iter()
            .all(|x| x.credit_id != usd[1].id && x.credit_id != usd[3].id)
    );

    // Neither can be matched by hand.
    for (entry, why) in [(&usd[3], "PENDING"), (&usd[1], "zero amount")] {
        let req = pb::ManualMatchRequest {
            request_id: rid(),
            credit_id: entry.id.clone(),
            note: "by hand".into(),
            allocations: vec![pb::ManualAllocation {
                earning_id: earnings["INV-4004"].id.clone(),
                amount: None,
            }],
        };
        let err = app.reconciliation().manual_match(req).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().contains(why), "{}", err.message());
    }
}

async fn intraday_reports_and_charsets(app: &TestApp) {
    let party = app.create_firm("Meghna Data Ltd").await.id;
    let p = party.as_str();
    invoice(app, p, "INV-4001", "5000.00").await;
    invoice(app, p, "INV-4008", "2000.00").await;
    // Formats told from the content; intraday entries are provisional.
    let report = import(
        app,
        p,
        pb::StatementFormat::Unspecified,
        "ebl_camt052_v08_intraday.xml",
        "",
    )
    .await
    .unwrap();
    assert_eq!(
        (report.format, status(&report.entries[0])),
        (
            pb::StatementFormat::Camt052 as i32,
            pb::EntryStatus::Pending
        )
    );
    let interim = import(
        app,
        p,
        pb::StatementFormat::Unspecified,
        "mbank_mt942_latin2.sta",
        "",
    )
    .await
    .unwrap();
    assert_eq!(interim.format, pb::StatementFormat::Mt942 as i32);
    assert!(
        interim.entries[0].remittance.contains("Łódź Software"),
        "{}",
        interim.entries[0].remittance
    );
    assert!(
        run(app, p).await.matches.is_empty(),
        "provisional entries pay nothing"
    );
    // The end-of-day statement books it.
    import(
        app,
        p,
        pb::StatementFormat::Camt053,
        "ebl_camt053_v08_two_accounts.xml",
        "",
    )
    .await
    .unwrap();
    let done = run(app, p).await;
    assert!(
        done.matches.iter().any(|m| m.reference == "INV-4001"),
        "{:?}",
        done.matches
    );

    // Clear reasons: an MT942 declared as MT940, an empty camt, an MT940 of only :20:, a :61: without its mark.
    for (format, name, reason) in [
        (
            pb::StatementFormat::Mt940,
            "mbank_mt942_latin2.sta",
            "MT942 interim report",
        ),
        (
            pb::StatementFormat::Camt053,
            "empty_camt053_v08.xml",
            "holds no Stmt",
        ),
        (
            pb::StatementFormat::Mt940,
            "header_only_mt940.sta",
            "no account (:25:",
        ),
        (
            pb::StatementFormat::Mt940,
            "missing_mark_mt940.sta",
            "the mandatory debit/credit mark",
        ),
        (
            pb::StatementFormat::Mt940,
            "bad_tag_mt940.sta",
            "the mandatory value date",
        ),
    ] {
        let err = import(app, p, format, name, "").await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}");
        let v = &err.get_details_bad_request().unwrap().field_violations[0];
        assert!(v.description.contains(reason), "{name}: {}", v.description);
    }
    // A charset named: read as it says (for another party: a file is
    // imported once per party); an unknown one refused.
    let other = app.create_firm("Rupsha Soft Ltd").await.id;
    let forced = import(
        app,
        &other,
        pb::StatementFormat::Mt942,
        "mbank_mt942_latin2.sta",
        "windows-1252",
    )
    .await
    .unwrap();
    assert!(
        forced.entries[0].remittance.contains("£ód¼"),
        "{}",
        forced.entries[0].remittance
    );
    let err = import(
        app,
        p,
        pb::StatementFormat::Mt942,
        "mbank_mt942_latin2.sta",
        "klingon",
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "charset"
    );
}

async fn bank_local_time_setting(app: &TestApp) {
    // The USD account's bank keeps UTC+01:00: 19:30 there is 18:30 UTC.
    let mut party = firm("Teesta Labs Ltd");
    party.bank_accounts[0].utc_offset = "+01:00".into();
    let created = app
        .parties()
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(party.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.bank_accounts[0].utc_offset, "+01:00");
    let p = created.id.as_str();
    let j = {
        let e = invoice(app, p, "INV-4001", "5000.00").await;
        app.open_repatriation(p, &[&e.id]).await
    };
    import(
        app,
        p,
        pb::StatementFormat::Camt053,
        "ebl_camt053_v08_two_accounts.xml",
        "",
    )
    .await
    .unwrap();
    run(app, p).await;
    let got = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: j.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let credited = got
        .timeline
        .iter()
        .find(|t| t.kind == pb::StepKind::BeneficiaryCredited as i32)
        .expect("credited");
    assert_eq!(
        credited.occurred_at.as_ref().unwrap().seconds,
        chrono::DateTime::parse_from_rfc3339("2024-04-10T18:30:00Z")
            .unwrap()
            .timestamp()
    );
    // An offset that is not one is refused, naming the field.
    party.bank_accounts[0].utc_offset = "CET".into();
    let err = app
        .parties()
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(party),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "party.bank_accounts[0].utc_offset"
    );
}
