//! The delay metrics' records: a step marks its journey pending; draining
//! recomputes its observations, summary and rollup; every query reads the
//! same figures on both backends, and rebuilding or compacting changes
//! none of them.

use repat_core::journey::{NewStep, StepKind};
use repat_core::metrics::observe::INITIATION_TO_FUNDS_AVAILABLE;
use repat_store::{Breach, BreachFilter, BreachKind, DelayFilter, Dimension, Repository};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;

use crate::support::{at, date, earning, money, party, repatriation, shipped_rules, step};

on_both_stores!(metrics_follow_the_steps);

const HOUR: i64 = 3_600_000_000;

async fn drain(repo: &dyn Repository) {
    while repo.drain_pending_metrics(100).await.unwrap() > 0 {}
    assert_eq!(repo.pending_metrics().await.unwrap(), 0);
}

fn by_measure(measure: &str) -> DelayFilter {
    DelayFilter {
        measure: Some(measure.into()),
        ..Default::default()
    }
}

async fn metrics_follow_the_steps(store: &TestStore) {
    let repo = store.repo.as_ref();
    let p = party(store, "Timed Ltd").await;
    let e = earning(store, p.id, "INV-M", "1000.00", date(2024, 1, 10)).await;
    let r = repatriation(store, p.id, &[e.id]).await;
    // Unpaid, and judged well after its deadline: late, from the start.
    let late = BreachFilter {
        kind: BreachKind::RepatriationLate,
        party_id: Some(p.id),
        today: date(2024, 6, 1),
        claim_days: 180,
        realization_cutoff: date(2024, 1, 11),
        initiated_before: at("2024-02-01T00:00:00Z"),
    };
    let breaches: Vec<Breach> = repo.breaches(&late, None, 10).await.unwrap();
    assert_eq!(
        breaches
            .iter()
            .map(|b| b.repatriation_id)
            .collect::<Vec<_>>(),
        vec![r.id]
    );
    assert_eq!(breaches[0].service_category, "SOFTWARE");
    // The deadline stored when it was opened, by the rules' one function.
    let deadline =
        shipped_rules()
            .rules
            .repatriation_deadline("FIRM", "SOFTWARE", date(2024, 1, 10));
    assert_eq!(deadline, Some(date(2024, 5, 9)));
    assert_eq!(breaches[0].repatriation_deadline, deadline);
    // The listing compares the stored date: moved past the day judged, the
    // repatriation is not late; moved back, it is again.
    let set_deadline = |d: &str| {
        let sql = format!(
            "UPDATE repatriations SET repatriation_deadline = '{d}' WHERE repatriation_deadline IS NOT NULL"
        );
        async move { repat_tests::tamper(store.backend, &store.url, &sql).await }
    };
    set_deadline("2024-06-02").await;
    assert!(repo.breaches(&late, None, 10).await.unwrap().is_empty());
    set_deadline("2024-05-09").await;
    assert_eq!(repo.breaches(&late, None, 10).await.unwrap().len(), 1);

    step(
        store,
        NewStep::new(r.id, StepKind::PaymentInitiated, at("2024-02-01T09:00:00Z")),
    )
    .await;
    step(
        store,
        NewStep::new(
            r.id,
            StepKind::IntermediaryProcessed,
            at("2024-02-01T10:00:00Z"),
        ),
    )
    .await;
    assert_eq!(repo.pending_metrics().await.unwrap(), 1);
    let in_flight = BreachFilter {
        kind: BreachKind::InFlight,
        initiated_before: at("2024-02-02T00:00:00Z"),
        ..late.clone()
    };
    drain(repo).await;
    assert_eq!(repo.breaches(&in_flight, None, 10).await.unwrap().len(), 1);
    let mut credited = NewStep::new(
        r.id,
        StepKind::BeneficiaryCredited,
        at("2024-02-01T10:30:00Z"),
    );
    credited.amount = Some(money("990.00", "USD"));
    step(store, credited).await;
    drain(repo).await;
    assert!(
        repo.breaches(&in_flight, None, 10)
            .await
            .unwrap()
            .is_empty(),
        "credited: no longer in flight"
    );
    assert!(
        repo.breaches(&late, None, 10).await.unwrap().is_empty(),
        "realized within 120 days"
    );

    let figures = || async {
        let values = repo
            .delay_values(
                &DelayFilter::default(),
                &[Dimension::Corridor, Dimension::Month],
            )
            .await
            .unwrap();
        let mut buckets = repo
            .delay_buckets(&DelayFilter::default(), &[Dimension::Corridor])
            .await
            .unwrap();
        buckets.sort_by(|a, b| a.key.cmp(&b.key));
        for g in &mut buckets {
            g.buckets.sort_by_key(|b| b.bucket);
        }
        let exported = repo
            .export_observations(&DelayFilter::default(), None, 100)
            .await
            .unwrap();
        let scorecard = repo.scorecard(None, None, None).await.unwrap();
        (values, buckets, exported, scorecard)
    };
    let (mut values, buckets, exported, scorecard) = figures().await;
    values.sort();
    let key = |m: &str| {
        vec![
            Some(m.to_string()),
            Some("SE".to_string()),
            Some("2024-02".to_string()),
        ]
    };
    assert!(
        values.contains(&(key("INTERMEDIARY_PROCESSED"), HOUR)),
        "{values:?}"
    );
    assert!(
        values.contains(&(key("BENEFICIARY_CREDITED"), HOUR / 2)),
        "{values:?}"
    );
    assert!(
        values.contains(&(key(INITIATION_TO_FUNDS_AVAILABLE), HOUR * 3 / 2)),
        "{values:?}"
    );
    let counted = || buckets.iter().flat_map(|g| &g.buckets);
    assert_eq!(counted().map(|b| b.count).sum::<i64>(), values.len() as i64);
    assert_eq!(
        counted().map(|b| b.sum).sum::<i128>(),
        values.iter().map(|v| i128::from(v.1)).sum::<i128>()
    );
    assert_eq!(exported.len(), values.len());
    assert!(
        exported
            .iter()
            .all(|o| o.party_id == p.id && o.corridor == "SE" && o.channel == "BANK")
    );
    // Keyset pages of the export: the same observations, in order.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = repo
            .export_observations(&DelayFilter::default(), after, 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.repatriation_id, last.position));
        paged.extend(page);
    }
    assert_eq!(paged, exported);
    let only = repo
        .delay_values(&by_measure("INTERMEDIARY_PROCESSED"), &[])
        .await
        .unwrap();
    assert_eq!(
        only,
        vec![(vec![Some("INTERMEDIARY_PROCESSED".to_string())], HOUR)]
    );
    let other_party = DelayFilter {
        party_id: Some(uuid::Uuid::new_v4()),
        ..Default::default()
    };
    assert!(
        repo.delay_values(&other_party, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(scorecard.len(), 1);
    assert_eq!(
        (
            scorecard[0].completed,
            scorecard[0].within_hour,
            scorecard[0].month.as_str()
        ),
        (1, 0, "2024-02")
    );

    // Rebuilt from the steps, and the rollup folded: the same figures.
    let mut after = None;
    while let Some(last) = repo.rebuild_metrics(after, 1).await.unwrap() {
        after = Some(last);
    }
    repo.compact_delay_rollup().await.unwrap();
    let (mut again, buckets_again, exported_again, scorecard_again) = figures().await;
    again.sort();
    assert_eq!(
        (again, buckets_again, exported_again, scorecard_again),
        (values, buckets, exported, scorecard)
    );
}
