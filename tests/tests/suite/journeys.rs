use repat_proto::v1 as pb;
use repat_tests::fixtures::{money, step};
use repat_tests::{TestApp, on_both_backends};

on_both_backends!(durations_and_fees_are_exact);

fn secs(d: &Option<prost_types::Duration>) -> (i64, i32) {
    let d = d.as_ref().expect("duration present");
    (d.seconds, d.nanos)
}

/// Steps arrive out of order; the timeline is by occurrence, each wait and
/// span is exact to the microsecond, and fees at each hop add up.
async fn durations_and_fees_are_exact(app: &TestApp) {
    let party = app.create_firm("Shitalakshya Software").await;
    let e = app
        .create_earning(&party.id, "INV-2024-031", "10000.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let hop = |kind, at: &str, bic: &str, amount: &str, fee: Option<&str>| {
        let mut s = step(&r.id, kind, at);
        s.institution_bic = bic.into();
        s.amount = money(amount, "USD");
        s.fees = fee
            .map(|f| pb::Fee {
                amount: money(f, "USD"),
                charged_by: bic.into(),
                kind: "CORRESPONDENT".into(),
            })
            .into_iter()
            .collect();
        s
    };
    use pb::StepKind::*;
    // Recorded out of order: the bank's statement lands before the gpi updates.
    let steps = vec![
        hop(
            BeneficiaryCredited,
            "2024-03-06T10:00:00Z",
            "BRAKBDDH",
            "9950.00",
            None,
        ),
        hop(
            PaymentInitiated,
            "2024-03-04T09:00:00.250Z",
            "HANDSESS",
            "10000.00",
            None,
        ),
        hop(
            IntermediaryProcessed,
            "2024-03-04T15:30:00.250Z",
            "CHASUS33",
            "9985.00",
            Some("15.00"),
        ),
        hop(
            IntermediaryProcessed,
            "2024-03-05T08:00:01Z",
            "CITIUS33",
            "9975.00",
            Some("10.00"),
        ),
        hop(
            NostroCredited,
            "2024-03-05T09:00:00Z",
            "BRAKUS33",
            "9950.00",
            Some("25.00"),
        ),
    ];
    let mut last = None;
    for s in steps {
        last = Some(app.record(s).await.expect("step admitted"));
    }
    assert_eq!(
        last.unwrap().status,
        pb::RepatriationStatus::FundsAvailable as i32,
        "the credit, recorded first, decides the status"
    );
    let mut converted = step(&r.id, ConvertedToBdt, "2024-03-06T11:00:00Z");
    converted.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "110.00".into(),
    });
    converted.amount = money("1094500.00", "BDT");
    app.record(converted).await.unwrap();

    let got = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.status, pb::RepatriationStatus::Realized as i32);
    assert_eq!(got.step_count, 6);
    let kinds: Vec<i32> = got.timeline.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            PaymentInitiated,
            IntermediaryProcessed,
            IntermediaryProcessed,
            NostroCredited,
            BeneficiaryCredited,
            ConvertedToBdt
        ]
        .map(|k| k as i32)
    );
    let waits: Vec<Option<(i64, i32)>> = got
        .timeline
        .iter()
        .map(|s| s.wait_before.as_ref().map(|d| (d.seconds, d.nanos)))
        .collect();
    assert_eq!(
        waits,
        vec![
            None,
            Some((6 * 3600 + 1800, 0)),
            Some((16 * 3600 + 1800, 750_000_000)),
            Some((3599, 0)),
            Some((25 * 3600, 0)),
            Some((3600, 0))
        ]
    );
    assert_eq!(got.timeline[5].fx_rate.as_ref().unwrap().rate, "110");
    let d = got.durations.unwrap();
    assert_eq!(
        secs(&d.initiation_to_funds_available),
        (2 * 86400 + 3599, 750_000_000)
    );
    // Invoice dated 2024-03-01 (00:00 UTC) to credit on 2024-03-06T10:00Z.
    assert_eq!(secs(&d.invoice_to_realization), (5 * 86400 + 10 * 3600, 0));
    assert_eq!(d.invoice_to_realization_days, 5);
    assert_eq!(secs(&d.total), (2 * 86400 + 7199, 750_000_000));
    let f = got.fees.unwrap();
    assert_eq!(f.total_fees, vec![money("50.00", "USD").unwrap()]);
    assert_eq!(f.fee_share_of_initiated, "0.005000");
    assert_eq!(f.initiated_minus_credited, money("50.00", "USD"));
}
