//! Delay metrics through gRPC, against figures computed by hand: nearest-
//! rank statistics, grouping by corridor and Dhaka month, a missing hop, a
//! returned payment, business days across the Friday–Saturday weekend, the
//! cost share, deadline breaches and the raw export.

use futures::StreamExt;
use repat_proto::v1 as pb;
use repat_proto::v1::metrics_service_client::MetricsServiceClient;
use repat_tests::fixtures::{date, money, rid, step};
use repat_tests::{TestApp, on_both_backends};

on_both_backends!(
    statistics_match_hand_computation,
    scorecard_counts_business_days_and_cost,
    breaches_name_their_records
);

fn metrics(app: &TestApp) -> MetricsServiceClient<tonic::transport::Channel> {
    MetricsServiceClient::new(app.channel.clone())
}

/// A repatriation of a fresh earning invoiced on `invoice`, paid from
/// `country`.
async fn journey(app: &TestApp, party: &str, country: &str, invoice: (i32, i32, i32)) -> String {
    let mut e = repat_tests::fixtures::earning(party, &format!("INV-{}", rid()), "10000.00", "USD");
    e.client_country = country.into();
    e.invoice_date = date(invoice.0, invoice.1, invoice.2);
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
    app.open_repatriation(party, &[&e.id]).await.id
}

/// Records `(kind, at)` steps in the order given.
async fn steps(app: &TestApp, r: &str, list: &[(pb::StepKind, &str)]) {
    for (kind, at) in list {
        app.record(step(r, *kind, at)).await.unwrap();
    }
}

fn secs(d: &Option<prost_types::Duration>) -> i64 {
    let d = d.as_ref().expect("duration");
    assert_eq!(d.nanos, 0, "whole seconds in these journeys");
    d.seconds
}

async fn stats(
    app: &TestApp,
    measure: &str,
    group_by: Vec<pb::Dimension>,
) -> pb::GetDelayStatisticsResponse {
    metrics(app)
        .get_delay_statistics(pb::GetDelayStatisticsRequest {
            group_by: group_by.into_iter().map(|d| d as i32).collect(),
            measure: measure.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

async fn statistics_match_hand_computation(app: &TestApp) {
    use pb::StepKind::*;
    let firm = app.create_firm("Meghna Data").await;
    let a = journey(app, &firm.id, "SE", (2024, 3, 1)).await;
    // Recorded backwards: each late step corrects the waits around it.
    steps(
        app,
        &a,
        &[
            (BeneficiaryCredited, "2024-03-05T09:00:00Z"),
            (NostroCredited, "2024-03-04T13:00:00Z"),
            (IntermediaryProcessed, "2024-03-04T10:00:00Z"),
            (PaymentInitiated, "2024-03-04T09:00:00Z"),
        ],
    )
    .await;
    // No correspondent, no nostro: the credit waits for the initiation.
    let b = journey(app, &firm.id, "SE", (2024, 3, 1)).await;
    steps(
        app,
        &b,
        &[
            (PaymentInitiated, "2024-03-04T09:00:00Z"),
            (BeneficiaryCredited, "2024-03-04T09:30:00Z"),
        ],
    )
    .await;
    // Returned after a correspondent hop.
    let c = journey(app, &firm.id, "US", (2024, 4, 1)).await;
    steps(
        app,
        &c,
        &[
            (PaymentInitiated, "2024-04-10T00:00:00Z"),
            (IntermediaryProcessed, "2024-04-10T02:00:00Z"),
            (Returned, "2024-04-10T05:00:00Z"),
        ],
    )
    .await;
    // Credited at 00:30 on 1 April in Dhaka (18:30 UTC on 31 March).
    let d = journey(app, &firm.id, "SE", (2024, 3, 1)).await;
    steps(
        app,
        &d,
        &[
            (PaymentInitiated, "2024-03-31T10:00:00Z"),
            (BeneficiaryCredited, "2024-03-31T18:30:00Z"),
        ],
    )
    .await;

    // Waits before the credit: 20 h (A), 30 min (B), 8.5 h (D).
    let r = stats(app, "BENEFICIARY_CREDITED", vec![]).await;
    assert!(r.exact);
    assert_eq!(r.groups.len(), 1);
    let g = &r.groups[0];
    assert_eq!(g.count, 3);
    assert_eq!((secs(&g.min), secs(&g.max)), (1_800, 72_000));
    assert_eq!(secs(&g.mean), 34_800, "(72000 + 1800 + 30600) / 3");
    assert_eq!(secs(&g.p50), 30_600, "rank ceil(1.5) = 2");
    assert_eq!(
        (secs(&g.p90), secs(&g.p95), secs(&g.p99)),
        (72_000, 72_000, 72_000)
    );

    // The hop's wait, by corridor: 1 h from SE, 2 h from US.
    let r = stats(app, "INTERMEDIARY_PROCESSED", vec![pb::Dimension::Corridor]).await;
    let by: Vec<(String, i64, i64)> = r
        .groups
        .iter()
        .map(|g| (g.corridor.clone(), g.count, secs(&g.p50)))
        .collect();
    assert_eq!(by, [("SE".into(), 1, 3_600), ("US".into(), 1, 7_200)]);
    // The returned payment waited 3 h after its hop, and was never available.
    let r = stats(app, "RETURNED", vec![]).await;
    assert_eq!((r.groups[0].count, secs(&r.groups[0].max)), (1, 10_800));

    // End to end, by Dhaka month of the credit: A (24 h) and B in March,
    // D in April.
    let r = stats(
        app,
        "INITIATION_TO_FUNDS_AVAILABLE",
        vec![pb::Dimension::Month],
    )
    .await;
    let by: Vec<(String, i64, i64, i64)> = r
        .groups
        .iter()
        .map(|g| (g.month.clone(), g.count, secs(&g.min), secs(&g.max)))
        .collect();
    assert_eq!(
        by,
        [
            ("2024-03".into(), 2, 1_800, 86_400),
            ("2024-04".into(), 1, 30_600, 30_600)
        ]
    );
    let april = metrics(app)
        .get_delay_statistics(pb::GetDelayStatisticsRequest {
            measure: "INITIATION_TO_FUNDS_AVAILABLE".into(),
            start_month: "2024-04".into(),
            end_month: "2024-04".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(april.groups[0].count, 1);

    // Bad input names its field.
    let err = metrics(app)
        .get_delay_statistics(pb::GetDelayStatisticsRequest {
            start_month: "2024-13".into(),
            measure: "SOON".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("start_month") && err.message().contains("measure"),
        "{}",
        err.message()
    );

    // The export has every observation, one message each.
    let all = stats(app, "", vec![]).await;
    let total: i64 = all.groups.iter().map(|g| g.count).sum();
    let exported: Vec<pb::DurationRecord> = metrics(app)
        .export_durations(pb::ExportDurationsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(exported.len() as i64, total);
    // The rollup (signed deltas from every rewrite of A's waits) counts the
    // same before and after its deltas are folded.
    app.server.repo.compact_delay_rollup().await.unwrap();
    let folded = stats(app, "", vec![]).await;
    assert_eq!(folded.groups, all.groups);
    let by_corridor = stats(app, "", vec![pb::Dimension::Corridor, pb::Dimension::Month]).await;
    assert_eq!(
        by_corridor.groups.iter().map(|g| g.count).sum::<i64>(),
        total
    );
    let credit_of_d = exported
        .iter()
        .find(|o| o.repatriation_id == d && o.measure == "BENEFICIARY_CREDITED")
        .unwrap();
    assert_eq!(
        (
            credit_of_d.month.as_str(),
            secs(&credit_of_d.duration),
            credit_of_d.corridor.as_str()
        ),
        ("2024-04", 30_600, "SE")
    );
}

async fn scorecard_counts_business_days_and_cost(app: &TestApp) {
    use pb::StepKind::*;
    let firm = app.create_firm("Karnaphuli Labs").await;
    let initiated = |r: &str, at: &str, amount: &str| {
        let mut s = step(r, PaymentInitiated, at);
        s.amount = money(amount, "USD");
        s
    };
    // A: Monday to Tuesday (24 h), 25.00 of 10,000.00 in fees.
    let a = journey(app, &firm.id, "SE", (2024, 3, 1)).await;
    app.record(initiated(&a, "2024-03-04T09:00:00Z", "10000.00"))
        .await
        .unwrap();
    let mut hop = step(&a, IntermediaryProcessed, "2024-03-04T12:00:00Z");
    hop.fees = vec![pb::Fee {
        amount: money("25.00", "USD"),
        charged_by: "CHASUS33".into(),
        kind: "CORRESPONDENT".into(),
    }];
    app.record(hop).await.unwrap();
    steps(app, &a, &[(BeneficiaryCredited, "2024-03-05T09:00:00Z")]).await;
    // B: half an hour, no fees.
    let b = journey(app, &firm.id, "SE", (2024, 3, 1)).await;
    app.record(initiated(&b, "2024-03-04T09:00:00Z", "5000.00"))
        .await
        .unwrap();
    steps(app, &b, &[(BeneficiaryCredited, "2024-03-04T09:30:00Z")]).await;
    // E: Thursday to Sunday afternoon in Dhaka: within one business day.
    let e = journey(app, &firm.id, "SE", (2024, 3, 1)).await;
    steps(
        app,
        &e,
        &[
            (PaymentInitiated, "2024-03-07T04:00:00Z"),
            (BeneficiaryCredited, "2024-03-10T10:00:00Z"),
        ],
    )
    .await;
    // F: Thursday to Monday: not.
    let f = journey(app, &firm.id, "SE", (2024, 3, 1)).await;
    steps(
        app,
        &f,
        &[
            (PaymentInitiated, "2024-03-07T04:00:00Z"),
            (BeneficiaryCredited, "2024-03-11T04:00:00Z"),
        ],
    )
    .await;
    // US: twenty minutes.
    let u = journey(app, &firm.id, "US", (2024, 3, 1)).await;
    steps(
        app,
        &u,
        &[
            (PaymentInitiated, "2024-03-20T04:00:00Z"),
            (BeneficiaryCredited, "2024-03-20T04:20:00Z"),
        ],
    )
    .await;
    // Still in flight: not in the scorecard.
    let g = journey(app, &firm.id, "SE", (2024, 3, 1)).await;
    steps(app, &g, &[(PaymentInitiated, "2024-03-20T04:00:00Z")]).await;

    let card = metrics(app)
        .get_scorecard(pb::GetScorecardRequest::default())
        .await
        .unwrap()
        .into_inner();
    let rows: Vec<_> = card
        .entries
        .iter()
        .map(|e| {
            (
                e.corridor.as_str(),
                e.month.as_str(),
                e.completed,
                e.within_one_hour,
                e.within_one_business_day,
                e.share_within_one_hour.as_str(),
                e.share_within_one_business_day.as_str(),
                e.average_cost.as_str(),
                e.meets_speed_target,
                e.meets_cost_target,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            // (0.0025 + 0) / 2 = 0.00125: only A and B recorded the amount initiated.
            (
                "SE", "2024-03", 4, 1, 3, "0.2500", "0.7500", "0.001250", false, true
            ),
            (
                "US", "2024-03", 1, 1, 1, "1.0000", "1.0000", "", true, false
            ),
        ]
    );
    assert!(card.targets.contains("75%"));
}

async fn breaches_name_their_records(app: &TestApp) {
    use pb::StepKind::*;
    let firm = app.create_firm("Surma Systems").await;
    // Unpaid since March: the 120 days ended on 2024-06-29.
    let unpaid = journey(app, &firm.id, "SE", (2024, 3, 1)).await;
    // Paid on 2024-06-01 for an invoice of 2024-01-01: 32 days late.
    let late = journey(app, &firm.id, "SE", (2024, 1, 1)).await;
    steps(app, &late, &[(BeneficiaryCredited, "2024-06-01T04:00:00Z")]).await;
    // Realized on 2024-01-15, never claimed: the window ended 2024-07-13.
    let unclaimed = journey(app, &firm.id, "SE", (2024, 1, 1)).await;
    steps(
        app,
        &unclaimed,
        &[(BeneficiaryCredited, "2024-01-15T04:00:00Z")],
    )
    .await;
    // Initiated a week ago and stuck.
    let stuck = journey(app, &firm.id, "SE", (2024, 8, 20)).await;
    steps(app, &stuck, &[(PaymentInitiated, "2024-08-25T04:00:00Z")]).await;
    // Recent and unpaid: no breach.
    journey(app, &firm.id, "SE", (2024, 8, 1)).await;

    let list = |kind: pb::BreachKind| {
        let client = metrics(app);
        async move {
            let mut client = client;
            let r = client
                .list_deadline_breaches(pb::ListDeadlineBreachesRequest {
                    kind: kind as i32,
                    as_of: date(2024, 9, 1),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            let mut got: Vec<(String, i64)> = r
                .breaches
                .iter()
                .map(|b| (b.repatriation_id.clone(), b.days_late))
                .collect();
            got.sort();
            got
        }
    };
    let mut want = vec![(unpaid.clone(), 64), (late.clone(), 32)];
    want.sort();
    assert_eq!(list(pb::BreachKind::RepatriationLate).await, want);
    assert_eq!(
        list(pb::BreachKind::ClaimWindowExpired).await,
        [(unclaimed.clone(), 50)]
    );
    assert_eq!(list(pb::BreachKind::InFlight).await, [(stuck.clone(), 5)]);

    // Pages follow each other without gaps.
    let mut client = metrics(app);
    let first = client
        .list_deadline_breaches(pb::ListDeadlineBreachesRequest {
            kind: pb::BreachKind::RepatriationLate as i32,
            as_of: date(2024, 9, 1),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.breaches.len(), 1);
    let second = client
        .list_deadline_breaches(pb::ListDeadlineBreachesRequest {
            kind: pb::BreachKind::RepatriationLate as i32,
            as_of: date(2024, 9, 1),
            page_size: 1,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.breaches.len(), 1);
    assert_ne!(
        first.breaches[0].repatriation_id,
        second.breaches[0].repatriation_id
    );
    assert!(second.next_page_token.is_empty());
}
