//! The cash incentive through gRPC: DOMAIN.md's worked examples exactly,
//! rule-set versions kept by old assessments, what-if simulation, claims
//! and their journey steps, and exact totals.

use chrono::{DateTime, Utc};
use repat_proto::google::r#type::Date;
use repat_proto::v1 as pb;
use repat_tests::fixtures::{date, firm, money, rid, step, ts};
use repat_tests::{TestApp, on_both_backends};
use tonic::Code;

on_both_backends!(
    worked_examples_come_out_exactly,
    claims_follow_the_money,
    simulation_stores_nothing,
    old_assessments_keep_their_rules,
    one_clock_for_the_deadline,
    a_look_stores_nothing
);

async fn party(app: &TestApp, kind: pb::PartyKind, zone: pb::Zone) -> pb::Party {
    let mut p = firm("Padma Code Works");
    p.kind = kind as i32;
    p.zone = zone as i32;
    app.parties()
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(p),
        })
        .await
        .unwrap()
        .into_inner()
}

/// An export invoiced on `invoice`, credited `credited` (after fees abroad)
/// at `credited_at`, converted an hour later at `fx` taka.
async fn realized(
    app: &TestApp,
    party: &pb::Party,
    invoice: Option<Date>,
    invoiced: &str,
    credited: &str,
    credited_at: &str,
    fx: &str,
) -> pb::Repatriation {
    let mut e =
        repat_tests::fixtures::earning(&party.id, &format!("INV-{}", rid()), invoiced, "USD");
    e.invoice_date = invoice;
    e.due_date = None;
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
    let at: DateTime<Utc> = credited_at.parse().unwrap();
    let mut credit = step(&r.id, pb::StepKind::BeneficiaryCredited, credited_at);
    credit.amount = money(credited, "USD");
    app.record(credit).await.unwrap();
    let mut convert = step(
        &r.id,
        pb::StepKind::ConvertedToBdt,
        &(at + chrono::Duration::hours(1)).to_rfc3339(),
    );
    convert.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: fx.into(),
    });
    app.record(convert).await.unwrap();
    app.add_claim_papers(&r).await;
    r
}

async fn assess(app: &TestApp, r: &pb::Repatriation, as_of: Option<Date>) -> pb::Assessment {
    app.incentives()
        .assess_repatriation(pb::AssessRepatriationRequest {
            request_id: rid(),
            repatriation_id: r.id.clone(),
            as_of,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

fn amount(m: &Option<pb::Money>) -> String {
    let m = m.as_ref().expect("money present");
    assert_eq!(m.currency, "BDT");
    m.amount.clone()
}

fn codes(a: &pb::Assessment) -> Vec<String> {
    a.violations.iter().map(|v| v.code.clone()).collect()
}

async fn worked_examples_come_out_exactly(app: &TestApp) {
    let firm = party(app, pb::PartyKind::Firm, pb::Zone::None).await;
    let freelancer = party(app, pb::PartyKind::Freelancer, pb::Zone::None).await;

    // 1. Firm, USD 9,975.00 (10,000 invoiced, 25 deducted abroad) credited
    //    2023-09-12, FX 110.00.
    let r = realized(
        app,
        &firm,
        date(2023, 8, 1),
        "10000.00",
        "9975.00",
        "2023-09-12T04:00:00Z",
        "110.00",
    )
    .await;
    let a = assess(app, &r, date(2023, 9, 20)).await;
    assert!(a.eligible, "{:?}", a.violations);
    assert_eq!(
        (a.programme.as_str(), a.rate.as_str()),
        ("ICT_EXPORT_FIRM", "0.10")
    );
    assert_eq!(amount(&a.base), "1097250.00");
    assert_eq!(amount(&a.incentive), "109725.00");
    assert_eq!(a.claim_deadline, date(2024, 3, 10));
    assert_eq!(a.rule_set_version, "bd-2024.07.2");
    let lines: Vec<&str> = a.arithmetic.iter().map(|l| l.expression.as_str()).collect();
    // Rates are kept as exact decimals without trailing zeros.
    assert_eq!(
        lines,
        [
            "9975.00 × 110 = 1097250.00",
            "round(1097250.00) = 1097250.00",
            "1097250.00 × 0.10 = 109725.0000",
            "round(109725.0000) = 109725.00"
        ]
    );
    let inputs = a.inputs.as_ref().unwrap();
    assert_eq!(
        (
            inputs.net_credited.as_ref().unwrap().amount.as_str(),
            inputs.fx_rate.as_str()
        ),
        ("9975.00", "110")
    );
    // Stored, and read back the same.
    let got = app
        .incentives()
        .get_assessment(pb::GetAssessmentRequest { id: a.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, a);

    // 2. Freelancer, USD 1,250.00 credited 2023-05-02, FX 104.50: 4%.
    let r = realized(
        app,
        &freelancer,
        date(2023, 4, 1),
        "1250.00",
        "1250.00",
        "2023-05-02T06:00:00Z",
        "104.50",
    )
    .await;
    let a = assess(app, &r, date(2023, 5, 3)).await;
    assert!(a.eligible, "{:?}", a.violations);
    assert_eq!(
        (a.programme.as_str(), a.rate.as_str()),
        ("ICT_EXPORT_FREELANCER", "0.04")
    );
    assert_eq!(
        (amount(&a.base), amount(&a.incentive)),
        ("130625.00".into(), "5225.00".into())
    );

    // 3. USD 3,333.33 at 110.00: 10% to the last second of 2024-01-31 in
    //    Dhaka (17:59:59 UTC), 8% from its first second of 2024-02-01.
    let before = realized(
        app,
        &firm,
        date(2024, 1, 1),
        "3333.33",
        "3333.33",
        "2024-01-31T17:59:59Z",
        "110.00",
    )
    .await;
    let after = realized(
        app,
        &firm,
        date(2024, 1, 1),
        "3333.33",
        "3333.33",
        "2024-01-31T18:00:00Z",
        "110.00",
    )
    .await;
    let (a, b) = (
        assess(app, &before, date(2024, 2, 5)).await,
        assess(app, &after, date(2024, 2, 5)).await,
    );
    assert_eq!(
        (amount(&a.base), a.rate.as_str(), amount(&a.incentive)),
        ("366666.30".into(), "0.10", "36666.63".into())
    );
    assert_eq!(
        (amount(&b.base), b.rate.as_str(), amount(&b.incentive)),
        ("366666.30".into(), "0.08", "29333.30".into())
    );
    assert_eq!(b.arithmetic[2].expression, "366666.30 × 0.08 = 29333.3040");
    assert_eq!(a.inputs.unwrap().realized_on, date(2024, 1, 31));
    assert_eq!(b.inputs.unwrap().realized_on, date(2024, 2, 1));

    // 4. Invoice dated 2023-08-01: 120 days end 2023-11-29 (Dhaka dates).
    let on_time = realized(
        app,
        &firm,
        date(2023, 8, 1),
        "500.00",
        "500.00",
        "2023-11-29T17:00:00Z",
        "110.00",
    )
    .await;
    let late = realized(
        app,
        &firm,
        date(2023, 8, 1),
        "500.00",
        "500.00",
        "2023-11-29T18:00:00Z",
        "110.00",
    )
    .await;
    let a = assess(app, &on_time, date(2023, 12, 1)).await;
    assert!(a.eligible, "{:?}", a.violations);
    assert_eq!(a.repatriation_deadline, date(2023, 11, 29));
    let b = assess(app, &late, date(2023, 12, 1)).await;
    assert!(!b.eligible);
    assert_eq!(codes(&b), ["REPATRIATION_LATE"]);
    assert_eq!(
        b.violations[0].reason,
        pb::IneligibilityReason::RepatriationLate as i32
    );
    assert!(
        b.violations[0].message.contains("2023-11-29"),
        "{}",
        b.violations[0].message
    );
    assert_eq!(amount(&b.incentive), "0.00");
    assert_eq!(
        amount(&b.computed_incentive),
        "5500.00",
        "the arithmetic is shown even when nothing is due"
    );

    // An excluded zone, and a journey not yet credited.
    let epz = party(app, pb::PartyKind::Firm, pb::Zone::Epz).await;
    let r = realized(
        app,
        &epz,
        date(2024, 8, 1),
        "100.00",
        "100.00",
        "2024-08-05T04:00:00Z",
        "118.00",
    )
    .await;
    assert_eq!(
        codes(&assess(app, &r, date(2024, 8, 6)).await),
        ["EXCLUDED_ZONE"]
    );
    let e = app
        .create_earning(&firm.id, "INV-OPEN", "100.00", "USD")
        .await;
    let open = app.open_repatriation(&firm.id, &[&e.id]).await;
    let a = assess(app, &open, None).await;
    assert_eq!(codes(&a), ["NOT_REALIZED"]);
    assert!(a.base.is_none());
}

async fn claims_follow_the_money(app: &TestApp) {
    let firm = party(app, pb::PartyKind::Firm, pb::Zone::None).await;
    let one = realized(
        app,
        &firm,
        date(2024, 8, 1),
        "1000.00",
        "990.00",
        "2024-08-20T04:00:00Z",
        "118.05",
    )
    .await;
    let two = realized(
        app,
        &firm,
        date(2024, 8, 1),
        "2000.00",
        "1980.50",
        "2024-08-21T04:00:00Z",
        "118.05",
    )
    .await;
    let a1 = assess(app, &one, date(2024, 8, 25)).await;
    let a2 = assess(app, &two, date(2024, 8, 25)).await;
    // 990.00 × 118.05 = 116869.50; × 0.06 = 7012.17. 1980.50 × 118.05 = 233798.025 → 233798.03; × 0.06 = 14027.8818 → 14027.88.
    assert_eq!(
        (amount(&a1.incentive), amount(&a2.incentive)),
        ("7012.17".into(), "14027.88".into())
    );
    assert_eq!(amount(&a2.base), "233798.03", "half a poisha rounds up");

    let claims = || app.incentives();
    // Not assessed yet: refused, naming why.
    let fresh = realized(
        app,
        &firm,
        date(2024, 8, 1),
        "10.00",
        "10.00",
        "2024-08-21T04:00:00Z",
        "118.05",
    )
    .await;
    let file = |ids: Vec<String>, request_id: String, at: &str| pb::FileClaimRequest {
        request_id,
        party_id: firm.id.clone(),
        repatriation_ids: ids,
        file_time: ts(at),
    };
    let err = claims()
        .file_claim(file(vec![fresh.id.clone()], rid(), "2024-09-01T04:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("has not been assessed"),
        "{}",
        err.message()
    );
    // Assessed, but filed after the 180-day window: refused.
    let stale = realized(
        app,
        &firm,
        date(2024, 1, 1),
        "10.00",
        "10.00",
        "2024-01-10T04:00:00Z",
        "110.00",
    )
    .await;
    assert!(assess(app, &stale, date(2024, 1, 11)).await.eligible);
    let err = claims()
        .file_claim(file(vec![stale.id.clone()], rid(), "2024-07-09T04:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("CLAIM_WINDOW_EXPIRED"),
        "{}",
        err.message()
    );
    // On the last day of the window (2024-01-10 + 180 days) it is accepted.
    claims()
        .file_claim(file(vec![stale.id.clone()], rid(), "2024-07-08T04:00:00Z"))
        .await
        .unwrap();
    let err = claims()
        .file_claim(file(vec![fresh.id.clone()], rid(), "2024-09-01T04:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("has not been assessed"),
        "{}",
        err.message()
    );

    let request_id = rid();
    let claim = claims()
        .file_claim(file(
            vec![one.id.clone(), two.id.clone()],
            request_id.clone(),
            "2024-09-01T04:00:00Z",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(claim.status, pb::ClaimStatus::Filed as i32);
    assert_eq!(amount(&claim.claimed), "21040.05");
    assert_eq!(
        claim
            .items
            .iter()
            .map(|i| i.assessment_id.clone())
            .collect::<Vec<_>>(),
        [a1.id.clone(), a2.id.clone()]
    );
    // A retry returns the same claim; a second claim on the same money is refused.
    let again = claims()
        .file_claim(file(
            vec![one.id.clone(), two.id.clone()],
            request_id,
            "2024-09-01T04:00:00Z",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, claim);
    let err = claims()
        .file_claim(file(vec![two.id.clone()], rid(), "2024-09-02T04:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("already claimed"),
        "{}",
        err.message()
    );

    // The claim's steps are the claim's: RecordStep refuses them.
    let err = app
        .record(step(
            &fresh.id,
            pb::StepKind::IncentiveClaimFiled,
            "2024-09-01T04:00:00Z",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("FileClaim"), "{}", err.message());

    // The journey shows the filing.
    let journey = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: one.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        journey.status,
        pb::RepatriationStatus::IncentiveClaimed as i32
    );
    assert_eq!(
        journey.timeline.last().unwrap().kind,
        pb::StepKind::IncentiveClaimFiled as i32
    );

    let step =
        |kind: pb::ClaimStepKind, at: &str, paid: Option<pb::Money>| pb::RecordClaimStepRequest {
            request_id: rid(),
            claim_id: claim.id.clone(),
            kind: kind as i32,
            occur_time: ts(at),
            reason: String::new(),
            amount: paid,
        };
    // Out of order and out of bounds: refused.
    let err = claims()
        .record_claim_step(step(
            pb::ClaimStepKind::Disbursed,
            "2024-10-01T04:00:00Z",
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    let err = claims()
        .record_claim_step(step(
            pb::ClaimStepKind::Audited,
            "2024-08-31T04:00:00Z",
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    let err = claims()
        .record_claim_step(step(pb::ClaimStepKind::Filed, "2024-09-05T04:00:00Z", None))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = claims()
        .record_claim_step(step(
            pb::ClaimStepKind::Disbursed,
            "2024-09-05T04:00:00Z",
            money("10.00", "USD"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("amount.currency"),
        "{}",
        err.message()
    );

    claims()
        .record_claim_step(step(
            pb::ClaimStepKind::Audited,
            "2024-10-15T04:00:00Z",
            None,
        ))
        .await
        .unwrap();
    let err = claims()
        .record_claim_step(step(
            pb::ClaimStepKind::Disbursed,
            "2024-11-02T04:00:00Z",
            money("21040.06", "BDT"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "more than claimed");
    let paid = claims()
        .record_claim_step(step(
            pb::ClaimStepKind::Disbursed,
            "2024-11-02T04:00:00Z",
            money("21000.00", "BDT"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(paid.status, pb::ClaimStatus::Disbursed as i32);
    assert_eq!(amount(&paid.disbursed), "21000.00");
    assert_eq!(paid.steps.len(), 3);
    let journey = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: two.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        journey.status,
        pb::RepatriationStatus::IncentiveDisbursed as i32
    );

    // A rejected claim: the reason is required and kept; the payments' own
    // journeys are not rejected.
    let three = realized(
        app,
        &firm,
        date(2024, 9, 1),
        "100.00",
        "100.00",
        "2024-09-10T04:00:00Z",
        "119.00",
    )
    .await;
    assess(app, &three, date(2024, 9, 11)).await;
    let other = claims()
        .file_claim(file(vec![three.id.clone()], rid(), "2024-09-12T04:00:00Z"))
        .await
        .unwrap()
        .into_inner();
    let mut reject = step(pb::ClaimStepKind::Rejected, "2024-09-20T04:00:00Z", None);
    reject.claim_id = other.id.clone();
    assert_eq!(
        claims()
            .record_claim_step(reject.clone())
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    reject.reason = "PRC does not match the invoice".into();
    let rejected = claims()
        .record_claim_step(reject)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.status, pb::ClaimStatus::Rejected as i32);
    assert_eq!(rejected.steps[1].reason, "PRC does not match the invoice");
    let listed = claims()
        .list_claims(pb::ListClaimsRequest {
            party_id: firm.id.clone(),
            status: pb::ClaimStatus::Rejected as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed
            .claims
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        [other.id.as_str()]
    );

    // Totals, exactly: assessed by realization month, claimed by filing
    // month, disbursed by payment month.
    let totals = claims()
        .get_incentive_totals(pb::GetIncentiveTotalsRequest {
            party_id: firm.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rows: Vec<(String, String, String, String, i64)> = totals
        .totals
        .iter()
        .map(|t| {
            (
                t.month.clone(),
                amount(&t.assessed),
                amount(&t.claimed),
                amount(&t.disbursed),
                t.assessed_count,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "2024-01".into(),
                "110.00".into(),
                "0.00".into(),
                "0.00".into(),
                1
            ),
            (
                "2024-07".into(),
                "0.00".into(),
                "110.00".into(),
                "0.00".into(),
                0
            ),
            (
                "2024-08".into(),
                "21040.05".into(),
                "0.00".into(),
                "0.00".into(),
                2
            ),
            (
                "2024-09".into(),
                "714.00".into(),
                "21754.05".into(),
                "0.00".into(),
                1
            ),
            (
                "2024-11".into(),
                "0.00".into(),
                "0.00".into(),
                "21000.00".into(),
                0
            ),
        ]
    );
    assert_eq!(
        (
            amount(&totals.assessed),
            amount(&totals.claimed),
            amount(&totals.disbursed)
        ),
        ("21864.05".into(), "21864.05".into(), "21000.00".into())
    );
    let september = claims()
        .get_incentive_totals(pb::GetIncentiveTotalsRequest {
            party_id: firm.id.clone(),
            start_month: date(2024, 9, 1),
            end_month: date(2024, 9, 30),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(september.totals.len(), 1);
}

async fn simulation_stores_nothing(app: &TestApp) {
    let inputs = pb::AssessmentInputs {
        party_kind: pb::PartyKind::Firm as i32,
        zone: pb::Zone::None as i32,
        service_category: pb::ServiceCategory::Ites as i32,
        formal_channel: true,
        invoice_date: date(2024, 7, 1),
        realized_on: date(2024, 8, 1),
        net_credited: money("3333.33", "USD"),
        fx_rate: "110.00".into(),
        as_of: date(2024, 8, 2),
        documents: [
            "CONTRACT_OR_WORK_ORDER",
            "INVOICE",
            "PROCEEDS_REALIZATION_CERTIFICATE",
        ]
        .map(String::from)
        .to_vec(),
        ..Default::default()
    };
    let sim = |toml: &str| pb::SimulateAssessmentRequest {
        inputs: Some(inputs.clone()),
        rule_set_version: String::new(),
        rule_set_toml: toml.into(),
    };
    let now = app
        .incentives()
        .simulate_assessment(sim(""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (now.rate.as_str(), amount(&now.incentive)),
        ("0.06", "21999.98".into())
    );
    assert!(now.id.is_empty());

    // "What if the rate went back to 10%?"
    let active = app
        .incentives()
        .get_rule_set(pb::GetRuleSetRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(active.active);
    let firm = active
        .programmes
        .iter()
        .find(|p| p.id == "ICT_EXPORT_FIRM")
        .unwrap();
    assert_eq!(
        firm.rates
            .iter()
            .map(|r| r.rate.as_str())
            .collect::<Vec<_>>(),
        ["0.10", "0.08", "0.06"]
    );
    let what_if = active
        .source_toml
        .replace("version = \"bd-2024.07.2\"", "version = \"what-if\"")
        .replace("rate = \"0.06\"", "rate = \"0.10\"");
    let sim10 = app
        .incentives()
        .simulate_assessment(sim(&what_if))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            sim10.rule_set_version.as_str(),
            sim10.rate.as_str(),
            amount(&sim10.incentive)
        ),
        ("what-if", "0.10", "36666.63".into())
    );

    // A broken rule set is refused, naming the field and the reason.
    let err = app
        .incentives()
        .simulate_assessment(sim(&active
            .source_toml
            .replace("rate = \"0.10\"", "rate = 0.1")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("rule_set_toml:"),
        "{}",
        err.message()
    );
    let mut bad = sim("");
    bad.inputs.as_mut().unwrap().net_credited = money("1.005", "USD");
    let err = app.incentives().simulate_assessment(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("inputs.net_credited"),
        "{}",
        err.message()
    );

    // Nothing was stored, and the inline rules did not become a stored set.
    let stored = app
        .incentives()
        .list_assessments(pb::ListAssessmentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(stored.assessments.is_empty());
    let sets = app
        .incentives()
        .list_rule_sets(pb::ListRuleSetsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        sets.rule_sets
            .iter()
            .map(|s| (s.version.as_str(), s.active))
            .collect::<Vec<_>>(),
        [("bd-2024.07.2", true)]
    );
}

/// An operator corrects a rate by editing data under a new version; old
/// assessments keep the version (and the figures) they were made under.
async fn old_assessments_keep_their_rules(app: &TestApp) {
    let firm = party(app, pb::PartyKind::Firm, pb::Zone::None).await;
    let r = realized(
        app,
        &firm,
        date(2024, 8, 1),
        "1000.00",
        "1000.00",
        "2024-08-05T04:00:00Z",
        "118.00",
    )
    .await;
    let old = assess(app, &r, date(2024, 8, 6)).await;
    assert_eq!(amount(&old.incentive), "7080.00");

    let dir = std::env::temp_dir().join(format!("repat-rules-{}", rid()));
    std::fs::create_dir_all(&dir).unwrap();
    let edited = repat_api::SHIPPED_RULES
        .replace("version = \"bd-2024.07.2\"", "version = \"bd-2024.07.3\"")
        .replace("rate = \"0.06\"", "rate = \"0.065\"");
    let file = dir.join("rules.toml");
    std::fs::write(&file, &edited).unwrap();
    let mut settings = repatd::Settings::ephemeral(app.database_url.clone());
    settings.rules_file = Some(file.clone());
    let second = repatd::start(&settings)
        .await
        .expect("a second server with the corrected rules");
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", second.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client =
        repat_proto::v1::incentive_service_client::IncentiveServiceClient::new(channel);
    let new = client
        .assess_repatriation(pb::AssessRepatriationRequest {
            request_id: rid(),
            repatriation_id: r.id.clone(),
            as_of: date(2024, 8, 6),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (new.rule_set_version.as_str(), amount(&new.incentive)),
        ("bd-2024.07.3", "7670.00".into())
    );
    let kept = client
        .get_assessment(pb::GetAssessmentRequest { id: old.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (kept.rule_set_version.as_str(), amount(&kept.incentive)),
        ("bd-2024.07.2", "7080.00".into())
    );
    let sets = client
        .list_rule_sets(pb::ListRuleSetsRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut versions: Vec<(String, bool)> = sets
        .rule_sets
        .iter()
        .map(|s| (s.version.clone(), s.active))
        .collect();
    versions.sort();
    assert_eq!(
        versions,
        [
            ("bd-2024.07.2".into(), false),
            ("bd-2024.07.3".into(), true)
        ]
    );
    let old_set = client
        .get_rule_set(pb::GetRuleSetRequest {
            version: "bd-2024.07.2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(old_set.source_toml, repat_api::SHIPPED_RULES);
    second.stop().await.unwrap();

    // The same version with other content is refused at start.
    std::fs::write(&file, edited.replace("rate = \"0.065\"", "rate = \"0.07\"")).unwrap();
    let err = repatd::start(&settings)
        .await
        .err()
        .expect("a changed rule set under an old version is refused");
    assert!(format!("{err:#}").contains("raise `version`"), "{err:#}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A credit that lands in the evening, UTC, is on the next day in Dhaka,
/// the calendar the 120-day deadline counts in: GetRepatriation's days,
/// the assessment and the breach listing all say the same.
async fn one_clock_for_the_deadline(app: &TestApp) {
    let firm = party(app, pb::PartyKind::Firm, pb::Zone::None).await;
    // Invoiced 2024-03-01: the 120th day is 2024-06-29. Credited at 19:00
    // UTC that day, which is 01:00 on 2024-06-30 in Dhaka: a day late.
    let late = realized(
        app,
        &firm,
        date(2024, 3, 1),
        "1000.00",
        "1000.00",
        "2024-06-29T19:00:00Z",
        "118.00",
    )
    .await;
    // Credited at 17:59 UTC: still 2024-06-29 in Dhaka, in time.
    let in_time = realized(
        app,
        &firm,
        date(2024, 3, 1),
        "1000.00",
        "1000.00",
        "2024-06-29T17:59:00Z",
        "118.00",
    )
    .await;

    let get = |id: String| {
        let mut c = app.repatriations();
        async move {
            c.get_repatriation(pb::GetRepatriationRequest { id })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let days = |r: &pb::Repatriation| r.durations.as_ref().unwrap().invoice_to_realization_days;
    assert_eq!(days(&get(late.id.clone()).await), 121);
    assert_eq!(days(&get(in_time.id.clone()).await), 120);

    let a = assess(app, &late, date(2024, 7, 1)).await;
    assert!(
        codes(&a).contains(&"REPATRIATION_LATE".to_string()),
        "{:?}",
        codes(&a)
    );
    assert_eq!(a.repatriation_deadline, date(2024, 6, 29));
    let b = assess(app, &in_time, date(2024, 7, 1)).await;
    assert!(
        !codes(&b).contains(&"REPATRIATION_LATE".to_string()),
        "{:?}",
        codes(&b)
    );

    let breaches = app
        .metrics()
        .list_deadline_breaches(pb::ListDeadlineBreachesRequest {
            kind: pb::BreachKind::RepatriationLate as i32,
            party_id: firm.id.clone(),
            as_of: date(2024, 7, 1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<(&str, Option<Date>, i64)> = breaches
        .breaches
        .iter()
        .map(|b| (b.repatriation_id.as_str(), b.deadline, b.days_late))
        .collect();
    assert_eq!(listed, [(late.id.as_str(), date(2024, 6, 29), 1)]);
    assert_eq!(breaches.freshness.unwrap().pending_journeys, 0);
}

/// `validate_only`: the assessment of a stored journey, computed and
/// returned, with nothing stored and nothing in the audit trail.
async fn a_look_stores_nothing(app: &TestApp) {
    let p = party(app, pb::PartyKind::Firm, pb::Zone::None).await;
    let r = realized(
        app,
        &p,
        date(2023, 8, 1),
        "10000.00",
        "9975.00",
        "2023-09-12T04:00:00Z",
        "110.00",
    )
    .await;
    let audit = |app: &TestApp| {
        let mut c =
            repat_proto::v1::audit_service_client::AuditServiceClient::new(app.channel.clone());
        async move {
            c.list_audit_entries(pb::ListAuditEntriesRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries
            .len()
        }
    };
    let before = audit(app).await;
    let look = pb::AssessRepatriationRequest {
        repatriation_id: r.id.clone(),
        as_of: date(2023, 9, 20),
        validate_only: true,
        ..Default::default()
    };
    let looked = app
        .incentives()
        .assess_repatriation(look.clone())
        .await
        .expect("a look needs no request id")
        .into_inner();
    assert!(looked.id.is_empty(), "not stored, so no id");
    assert_eq!(
        (looked.repatriation_id.as_str(), looked.party_id.as_str()),
        (r.id.as_str(), p.id.as_str())
    );
    assert!(looked.eligible, "{:?}", codes(&looked));
    assert_eq!(amount(&looked.incentive), "109725.00");
    let stored = app
        .incentives()
        .list_assessments(pb::ListAssessmentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(stored.assessments.is_empty(), "a look stores no assessment");
    assert_eq!(
        audit(app).await,
        before,
        "and writes nothing to the audit trail"
    );
    // Judged as of today, the unclaimed 2023 realization is past its window.
    let today = app
        .incentives()
        .assess_repatriation(pb::AssessRepatriationRequest {
            as_of: None,
            ..look
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(codes(&today), ["CLAIM_WINDOW_EXPIRED"]);
    // Recording is what it was: stored, with an id.
    let recorded = assess(app, &r, date(2023, 9, 20)).await;
    assert!(!recorded.id.is_empty());
}
