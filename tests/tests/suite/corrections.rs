//! Correcting the record: earnings amended and voided as revisions, each
//! with its reason, its before and after, and its audit entry; what a
//! repatriation's reference to an earning still allows.

use repat_proto::v1 as pb;
use repat_proto::v1::audit_service_client::AuditServiceClient;
use repat_tests::fixtures::{date, earning, money, rid, step};
use repat_tests::{TestApp, on_both_backends};
use tonic::Code;

on_both_backends!(
    an_amendment_is_a_revision_with_its_history_and_audit_entry,
    a_changed_reimport_names_the_earning_and_the_way_to_amend_it,
    a_repatriation_fixes_what_it_counts_from,
    a_voided_earning_is_kept_but_taken_by_nothing,
    a_party_is_corrected_with_its_history,
    a_step_is_superseded_or_voided_and_its_assessment_kept_as_superseded,
    a_voided_statement_undoes_its_matches_and_the_steps_they_recorded
);

fn amend(id: &str, earning: pb::Earning, reason: &str, expected: i64) -> pb::AmendEarningRequest {
    pb::AmendEarningRequest {
        request_id: rid(),
        id: id.to_string(),
        earning: Some(earning),
        reason: reason.into(),
        expected_revision: expected,
    }
}

async fn an_amendment_is_a_revision_with_its_history_and_audit_entry(app: &TestApp) {
    let party = app.create_firm("Typo Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-7", "1000.00", "USD")
        .await;
    assert_eq!(e.revision, 1);
    let req = amend(
        &e.id,
        earning(&party.id, "INV-7", "1100.00", "USD"),
        "the CSV said 1000; the invoice says 1100",
        1,
    );
    let amended = app
        .earnings()
        .amend_earning(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(amended.revision, 2);
    assert_eq!(amended.amount, money("1100.00", "USD"));
    assert_eq!(amended.id, e.id);
    // A retry answers the same and appends nothing.
    let again = app
        .earnings()
        .amend_earning(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, amended);
    let read = app
        .earnings()
        .get_earning(pb::GetEarningRequest { id: e.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, amended);

    // A caller who read revision 1 is told the earning moved on.
    let stale = app
        .earnings()
        .amend_earning(amend(
            &e.id,
            earning(&party.id, "INV-7", "1200.00", "USD"),
            "a second look",
            1,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition, "{stale:?}");
    assert!(
        stale.message().contains("revision 2"),
        "{}",
        stale.message()
    );
    // No reason, no correction; nothing changed is no correction either.
    let bad = app
        .earnings()
        .amend_earning(amend(
            &e.id,
            earning(&party.id, "INV-7", "1.00", "USD"),
            " ",
            0,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("reason") || format!("{bad:?}").contains("reason"));
    let same = app
        .earnings()
        .amend_earning(amend(
            &e.id,
            earning(&party.id, "INV-7", "1100.00", "USD"),
            "again",
            0,
        ))
        .await
        .unwrap_err();
    assert_eq!(same.code(), Code::InvalidArgument, "{same:?}");

    let history = app
        .earnings()
        .list_earning_revisions(pb::ListEarningRevisionsRequest { id: e.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(history.len(), 1, "{history:?}");
    let r = &history[0];
    assert_eq!(r.resource, format!("earnings/{}", e.id));
    assert_eq!(r.revision, 2);
    assert_eq!(r.action, "amended");
    assert_eq!(r.reason, "the CSV said 1000; the invoice says 1100");
    assert_eq!(r.changed_fields, ["amount"]);
    assert!(!r.subject.is_empty());
    let before: serde_json::Value = serde_json::from_str(&r.before_json).unwrap();
    let after: serde_json::Value = serde_json::from_str(&r.after_json).unwrap();
    assert_eq!(before["amount"]["amount"], "1000.00", "{before}");
    assert_eq!(after["amount"]["amount"], "1100.00", "{after}");
    assert_eq!(before["revision"], 1);
    assert_eq!(after["revision"], 2);

    // The audit trail names the revision, by the same request.
    let entries = AuditServiceClient::new(app.channel.clone())
        .list_audit_entries(pb::ListAuditEntriesRequest {
            method: "repat.v1.EarningService/AmendEarning".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        entries[0].resource,
        format!("earnings/{}/revisions/2", e.id)
    );
    assert_eq!(entries[0].request_id, r.request_id);
}

async fn a_changed_reimport_names_the_earning_and_the_way_to_amend_it(app: &TestApp) {
    let party = app.create_firm("Reimport Ltd").await;
    let request_id = rid();
    let first = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: request_id.clone(),
            earning: Some(earning(&party.id, "INV-9", "100.00", "USD")),
        })
        .await
        .unwrap()
        .into_inner();
    let err = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id,
            earning: Some(earning(&party.id, "INV-9", "150.00", "USD")),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    for part in [
        &first.id,
        "INV-9",
        "repatctl earnings import --amend",
        "AmendEarning",
    ] {
        assert!(err.message().contains(part), "{part}: {}", err.message());
    }
}

async fn a_repatriation_fixes_what_it_counts_from(app: &TestApp) {
    let party = app.create_firm("Paid Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-3", "500.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let refused = |what: pb::Earning| amend(&e.id, what, "a correction", 0);

    let mut later = earning(&party.id, "INV-3", "500.00", "USD");
    later.invoice_date = date(2024, 3, 5);
    let err = app
        .earnings()
        .amend_earning(refused(later))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("invoice_date"), "{}", err.message());
    assert!(err.message().contains(&r.id), "{}", err.message());

    let err = app
        .earnings()
        .amend_earning(refused(earning(&party.id, "INV-3", "400.00", "USD")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains(&r.id), "{}", err.message());

    let err = app
        .earnings()
        .void_earning(pb::VoidEarningRequest {
            request_id: rid(),
            id: e.id.clone(),
            reason: "mistake".into(),
            expected_revision: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains(&r.id), "{}", err.message());

    // What the journey does not count from may still change.
    let mut renamed = earning(&party.id, "INV-3A", "600.00", "USD");
    renamed.client_name = "Nordic Retail Group AB".into();
    let amended = app
        .earnings()
        .amend_earning(refused(renamed))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(amended.invoice_reference, "INV-3A");
    assert_eq!(amended.allocated, money("500.00", "USD"));
    let history = app
        .earnings()
        .list_earning_revisions(pb::ListEarningRevisionsRequest { id: e.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(
        history[0].changed_fields,
        ["client_name", "amount", "invoice_reference"]
    );
}

async fn a_voided_earning_is_kept_but_taken_by_nothing(app: &TestApp) {
    let party = app.create_firm("Void Ltd").await;
    let e = app.create_earning(&party.id, "INV-5", "70.00", "USD").await;
    let void = pb::VoidEarningRequest {
        request_id: rid(),
        id: e.id.clone(),
        reason: "imported twice under another reference".into(),
        expected_revision: 1,
    };
    let voided = app
        .earnings()
        .void_earning(void.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(voided.revision, 2);
    assert!(voided.void_time.is_some());
    assert_eq!(voided.void_reason, "imported twice under another reference");
    assert_eq!(
        app.earnings()
            .void_earning(void)
            .await
            .unwrap()
            .into_inner(),
        voided
    );
    let err = app
        .earnings()
        .amend_earning(amend(
            &e.id,
            earning(&party.id, "INV-5", "80.00", "USD"),
            "too late",
            0,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("voided"), "{}", err.message());
    let err = app
        .repatriations()
        .create_repatriation(pb::CreateRepatriationRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            allocations: vec![pb::Allocation {
                earning_id: e.id.clone(),
                amount: None,
            }],
            channel: pb::Channel::Bank as i32,
            payer_country: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("voided"), "{}", err.message());
    let history = app
        .earnings()
        .list_earning_revisions(pb::ListEarningRevisionsRequest { id: e.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "voided");
    // The firm's invoices no longer list it as owed.
    let owed = app
        .reconciliation()
        .list_realizations(pb::ListRealizationsRequest {
            party_id: party.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .realizations;
    assert!(owed.iter().all(|r| r.earning_id != e.id), "{owed:?}");
    // A missing earning is NOT_FOUND, never an empty history.
    let missing = app
        .earnings()
        .list_earning_revisions(pb::ListEarningRevisionsRequest {
            id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

async fn a_party_is_corrected_with_its_history(app: &TestApp) {
    let party = app.create_firm("Dhaka Sfot Ltd").await;
    let req = pb::CorrectPartyRequest {
        request_id: rid(),
        id: party.id.clone(),
        legal_name: "Dhaka Soft Ltd".into(),
        reason: "misspelt at registration".into(),
        expected_revision: 1,
        ..Default::default()
    };
    let corrected = app
        .parties()
        .correct_party(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(corrected.legal_name, "Dhaka Soft Ltd");
    assert_eq!(corrected.country, party.country);
    assert_eq!(corrected.bank_accounts, party.bank_accounts);
    assert_eq!(
        app.parties().correct_party(req).await.unwrap().into_inner(),
        corrected
    );
    let read = app
        .parties()
        .get_party(pb::GetPartyRequest {
            id: party.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, corrected);
    let stale = app
        .parties()
        .correct_party(pb::CorrectPartyRequest {
            request_id: rid(),
            id: party.id.clone(),
            country: "IN".into(),
            reason: "a second look".into(),
            expected_revision: 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition, "{stale:?}");
    let bad = app
        .parties()
        .correct_party(pb::CorrectPartyRequest {
            request_id: rid(),
            id: party.id.clone(),
            country: "india".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let history = app
        .parties()
        .list_party_revisions(pb::ListPartyRevisionsRequest {
            id: party.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].revision, 2);
    assert_eq!(history[0].action, "corrected");
    assert_eq!(history[0].changed_fields, ["legal_name"]);
    assert!(history[0].before_json.contains("Dhaka Sfot Ltd"));
    assert!(history[0].after_json.contains("Dhaka Soft Ltd"));
}

/// When each of the party's observed waits and spans ended, as the delay
/// metrics hold them.
async fn observed_ends(app: &TestApp, party: &str) -> Vec<String> {
    use futures::StreamExt;
    let mut ends: Vec<String> = app
        .metrics()
        .export_durations(pb::ExportDurationsRequest {
            party_id: party.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .map(|r| {
            let r = r.unwrap();
            let t = r.end_time.unwrap();
            format!("{} {}", r.measure, t.seconds)
        })
        .collect()
        .await;
    ends.sort();
    ends.dedup();
    ends
}

async fn a_step_is_superseded_or_voided_and_its_assessment_kept_as_superseded(app: &TestApp) {
    let party = app.create_firm("Late Credit Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-11", "1000.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let mut credit = step(
        &r.id,
        pb::StepKind::BeneficiaryCredited,
        "2024-03-20T04:00:00Z",
    );
    credit.amount = money("1000.00", "USD");
    let credit_request = pb::RecordStepRequest {
        request_id: rid(),
        step: Some(credit.clone()),
    };
    let credited = app
        .repatriations()
        .record_step(credit_request.clone())
        .await
        .unwrap()
        .into_inner();
    let mut convert = step(&r.id, pb::StepKind::ConvertedToBdt, "2024-03-20T05:00:00Z");
    convert.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "110".into(),
    });
    app.record(convert).await.unwrap();
    let assessed = app
        .incentives()
        .assess_repatriation(pb::AssessRepatriationRequest {
            request_id: rid(),
            repatriation_id: r.id.clone(),
            as_of: date(2024, 3, 21),
            documents: [
                "CONTRACT_OR_WORK_ORDER",
                "INVOICE",
                "PROCEEDS_REALIZATION_CERTIFICATE",
            ]
            .map(String::from)
            .to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let voided_id = credited.step.unwrap().id;
    let at = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp()
            .to_string()
    };
    let credited_on = |t: &str, ends: &[String]| {
        ends.iter().any(|e| {
            e.ends_with(&format!(" {}", at(t))) && e.starts_with("INVOICE_TO_REALIZATION ")
        })
    };
    let before = observed_ends(app, &party.id).await;
    assert!(credited_on("2024-03-20T04:00:00Z", &before), "{before:?}");

    // The credit was keyed a day early: superseded by the right one.
    let mut right = credit.clone();
    right.occurred_at = repat_tests::fixtures::ts("2024-03-19T04:00:00Z");
    let req = pb::VoidStepRequest {
        request_id: rid(),
        repatriation_id: r.id.clone(),
        step_id: voided_id.clone(),
        reason: "the bank's advice gives the 19th".into(),
        replacement: Some(right),
    };
    let done = app
        .repatriations()
        .void_step(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.revision, 2);
    assert_eq!(
        done.superseded_assessment_ids,
        std::slice::from_ref(&assessed.id)
    );
    assert_eq!(
        app.repatriations()
            .void_step(req)
            .await
            .unwrap()
            .into_inner(),
        done
    );
    let replacement = done.replacement.unwrap();
    let journey = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = journey.timeline.iter().map(|s| s.id.as_str()).collect();
    assert!(!ids.contains(&voided_id.as_str()), "{ids:?}");
    assert!(ids.contains(&replacement.id.as_str()), "{ids:?}");
    // The delay metrics follow: the wait now ends on the 19th.
    let after = observed_ends(app, &party.id).await;
    assert!(credited_on("2024-03-19T04:00:00Z", &after), "{after:?}");
    assert!(!credited_on("2024-03-20T04:00:00Z", &after), "{after:?}");

    // The assessment stays readable, with its figures, marked superseded.
    let old = app
        .incentives()
        .get_assessment(pb::GetAssessmentRequest {
            id: assessed.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        old.superseded_by,
        format!("repatriations/{}/revisions/2", r.id)
    );
    assert_eq!(old.incentive, assessed.incentive);
    assert_eq!(old.rule_set_version, assessed.rule_set_version);

    let history = app
        .repatriations()
        .list_repatriation_revisions(pb::ListRepatriationRevisionsRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "step.superseded");
    assert!(history[0].before_json.contains(&voided_id));
    assert!(history[0].after_json.contains(&replacement.id));

    // A bad replacement is refused naming its field.
    let mut bad = credit.clone();
    bad.institution_bic = "NOT A BIC".into();
    let err = app
        .repatriations()
        .void_step(pb::VoidStepRequest {
            request_id: rid(),
            repatriation_id: r.id.clone(),
            step_id: replacement.id.clone(),
            reason: "wrong".into(),
            replacement: Some(bad),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        format!("{err:?}").contains("replacement.institution_bic"),
        "{err:?}"
    );
    // A replacement that contradicts the journey is refused, naming why.
    let mut early = credit.clone();
    early.kind = pb::StepKind::PaymentInitiated as i32;
    early.occurred_at = repat_tests::fixtures::ts("2024-03-25T04:00:00Z");
    let err = app
        .repatriations()
        .void_step(pb::VoidStepRequest {
            request_id: rid(),
            repatriation_id: r.id.clone(),
            step_id: replacement.id.clone(),
            reason: "wrong".into(),
            replacement: Some(early),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");

    // Voided outright.
    let done = app
        .repatriations()
        .void_step(pb::VoidStepRequest {
            request_id: rid(),
            repatriation_id: r.id.clone(),
            step_id: replacement.id.clone(),
            reason: "no credit yet after all".into(),
            replacement: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.revision, 3);
    assert!(done.replacement.is_none());
    let gone = observed_ends(app, &party.id).await;
    assert!(
        !gone
            .iter()
            .any(|e| e.starts_with("INVOICE_TO_REALIZATION ")),
        "{gone:?}"
    );
    // The original request, retried, says its step is gone.
    let err = app
        .repatriations()
        .record_step(credit_request)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("voided"), "{}", err.message());
}

async fn a_voided_statement_undoes_its_matches_and_the_steps_they_recorded(app: &TestApp) {
    let party = app.create_firm("Wrong File Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-S1", "500.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let statement = app
        .reconciliation()
        .import_statement(pb::ImportStatementRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            format: pb::StatementFormat::Csv as i32,
            content: "booking_date,direction,amount,currency,remittance\n2024-03-20,CREDIT,500.00,USD,INV-S1\n"
                .into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let run = app
        .reconciliation()
        .run_matching(pb::RunMatchingRequest {
            request_id: rid(),
            party_id: party.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(run.matches.len(), 1, "{run:?}");
    let step_id = run.matches[0].step_id.clone();
    assert!(
        !step_id.is_empty(),
        "the match recorded the credit: {run:?}"
    );

    let req = pb::VoidStatementRequest {
        request_id: rid(),
        statement_id: statement.id.clone(),
        reason: "the file is another firm's".into(),
    };
    let done = app
        .reconciliation()
        .void_statement(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.removed.len(), 1);
    assert_eq!(done.voided_step_ids, std::slice::from_ref(&step_id));
    assert_eq!(
        done.statement.as_ref().unwrap().void_reason,
        "the file is another firm's"
    );
    assert_eq!(
        app.reconciliation()
            .void_statement(req)
            .await
            .unwrap()
            .into_inner(),
        done
    );
    // The matches are gone, the journey no longer has the credit.
    let matches = app
        .reconciliation()
        .list_matches(pb::ListMatchesRequest {
            party_id: party.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .matches;
    assert!(matches.is_empty(), "{matches:?}");
    let journey = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(
        journey.timeline.iter().all(|s| s.id != step_id),
        "{journey:?}"
    );
    let journey_history = app
        .repatriations()
        .list_repatriation_revisions(pb::ListRepatriationRevisionsRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(journey_history.len(), 1);
    assert!(
        journey_history[0]
            .reason
            .contains("the file is another firm's")
    );
    // Matching again finds nothing in it; voiding again is refused.
    let again = app
        .reconciliation()
        .run_matching(pb::RunMatchingRequest {
            request_id: rid(),
            party_id: party.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again.matches.is_empty(), "{again:?}");
    let err = app
        .reconciliation()
        .void_statement(pb::VoidStatementRequest {
            request_id: rid(),
            statement_id: statement.id.clone(),
            reason: "again".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let history = app
        .reconciliation()
        .list_statement_revisions(pb::ListStatementRevisionsRequest {
            statement_id: statement.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "voided");
}
