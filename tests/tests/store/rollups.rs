//! The metrics rollups answer as the rows they count: after steps, a
//! correction (a voided step), a step in a new month, compaction and a
//! rebuild, every grouping read from a rollup (delay_rollup,
//! delay_rollup_dims, scorecard_rollup) equals the same grouping counted
//! from the observations and summaries themselves, on both backends.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use repat_core::journey::{Fee, NewStep, StepKind};
use repat_core::metrics::sketch;
use repat_core::party::PartyKind;
use repat_core::repatriation::{Channel, RequestedAllocation};
use repat_store::{DelayFilter, Dimension, GroupKey, Repository};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;
use repat_usecases::create_repatriation::RepatriationRequest;
use repat_usecases::record_steps::StepRecorded;
use repat_usecases::void_step::{StepCorrection, void_step};
use uuid::Uuid;

use crate::support::{admin, at, date, earning, key, money, new_party, step};

on_both_stores!(rollups_answer_as_the_rows_they_count);

/// A journey of `party` over `channel` from `corridor`, initiated at
/// `start`: initiated, processed by `bic` (with a fee), credited.
async fn journey(
    store: &TestStore,
    party: Uuid,
    channel: Channel,
    corridor: &str,
    bic: &str,
    start: DateTime<Utc>,
    minutes: [i64; 2],
) -> Vec<StepRecorded> {
    let e = earning(
        store,
        party,
        &Uuid::new_v4().to_string(),
        "1000.00",
        date(2024, 1, 5),
    )
    .await;
    let r = admin(store)
        .create_repatriation(
            &key("repat.v1.RepatriationService/CreateRepatriation"),
            &RepatriationRequest {
                party_id: party,
                allocations: vec![RequestedAllocation {
                    earning_id: e.id,
                    amount: None,
                }],
                channel,
                payer_country: Some(corridor.into()),
            },
        )
        .await
        .unwrap();
    let mut initiated = NewStep::new(r.id, StepKind::PaymentInitiated, start);
    initiated.amount = Some(money("1000.00", "USD"));
    let mut processed = NewStep::new(
        r.id,
        StepKind::IntermediaryProcessed,
        start + Duration::minutes(minutes[0]),
    );
    processed.institution_bic = Some(bic.into());
    processed.fees = vec![Fee {
        amount: money("10.00", "USD"),
        charged_by: bic.into(),
        kind: "CORRESPONDENT".into(),
    }];
    let mut credited = NewStep::new(
        r.id,
        StepKind::BeneficiaryCredited,
        start + Duration::minutes(minutes[0] + minutes[1]),
    );
    credited.amount = Some(money("990.00", "USD"));
    let mut out = Vec::new();
    for s in [initiated, processed, credited] {
        out.push(step(store, s).await);
    }
    out
}

async fn drain(repo: &dyn Repository) {
    while repo.drain_pending_metrics(100).await.unwrap() > 0 {}
}

type Counts = BTreeMap<(GroupKey, i32), (i64, i64)>;

/// Every grouping's buckets and the scorecard, read from the rollups,
/// beside the same counted from the observations and summaries.
async fn assert_rollups_agree(repo: &dyn Repository, parties: &[Uuid], when: &str) {
    use Dimension as D;
    let groupings: [&[Dimension]; 8] = [
        &[],
        &[D::Corridor],
        &[D::Channel],
        &[D::Institution],
        &[D::PartyKind],
        &[D::Channel, D::Institution, D::PartyKind, D::Corridor],
        &[D::Corridor, D::Month],
        &[D::Month],
    ];
    let filters = [
        DelayFilter::default(),
        DelayFilter {
            measure: Some("INTERMEDIARY_PROCESSED".into()),
            ..Default::default()
        },
        DelayFilter {
            start_month: Some("2024-03".into()),
            end_month: Some("2024-03".into()),
            ..Default::default()
        },
    ];
    let mut observed = 0;
    for filter in &filters {
        for dims in groupings {
            let mut rolled = Counts::new();
            for g in repo.delay_buckets(filter, dims).await.unwrap() {
                for b in g.buckets {
                    let sum = i64::try_from(b.sum).unwrap();
                    let again = rolled.insert((g.key.clone(), b.bucket), (b.count, sum));
                    assert!(
                        again.is_none(),
                        "{when}: {:?} bucket {} twice",
                        g.key,
                        b.bucket
                    );
                }
            }
            let mut counted = Counts::new();
            for (k, micros) in repo.delay_values(filter, dims).await.unwrap() {
                let e = counted.entry((k, sketch::bucket(micros))).or_default();
                e.0 += 1;
                e.1 += micros;
            }
            assert_eq!(rolled, counted, "{when}: {filter:?} by {dims:?}");
            observed += counted.len();
        }
    }
    assert!(observed > 0, "{when}: nothing observed");
    for (start, end) in [(None, None), (Some("2024-03"), Some("2024-04"))] {
        let rolled = repo.scorecard(start, end, None).await.unwrap();
        // Each party's, read from its summaries, summed.
        let mut counted: BTreeMap<(String, String), [i64; 5]> = BTreeMap::new();
        for p in parties {
            for r in repo.scorecard(start, end, Some(*p)).await.unwrap() {
                let e = counted.entry((r.corridor, r.month)).or_default();
                for (a, b) in e.iter_mut().zip([
                    r.completed,
                    r.within_hour,
                    r.within_business_day,
                    r.costed,
                    r.fee_share_ppm_sum,
                ]) {
                    *a += b;
                }
            }
        }
        let rolled: BTreeMap<(String, String), [i64; 5]> = rolled
            .into_iter()
            .map(|r| {
                (
                    (r.corridor, r.month),
                    [
                        r.completed,
                        r.within_hour,
                        r.within_business_day,
                        r.costed,
                        r.fee_share_ppm_sum,
                    ],
                )
            })
            .collect();
        assert_eq!(rolled, counted, "{when}: scorecard {start:?}..{end:?}");
        assert!(
            !counted.is_empty() || start.is_some(),
            "{when}: no scorecard"
        );
    }
}

async fn rollups_answer_as_the_rows_they_count(store: &TestStore) {
    let repo = store.repo.as_ref();
    let a = admin(store);
    let firm = a
        .create_party(
            &key("repat.v1.PartyService/CreateParty"),
            &new_party("Rolled Ltd"),
        )
        .await
        .unwrap();
    let mut freelancer = new_party("Rolled Freelancer");
    freelancer.kind = PartyKind::Freelancer;
    let freelancer = a
        .create_party(&key("repat.v1.PartyService/CreateParty"), &freelancer)
        .await
        .unwrap();
    let parties = [firm.id, freelancer.id];

    let bank = journey(
        store,
        firm.id,
        Channel::Bank,
        "SE",
        "CHASUS33",
        at("2024-02-28T20:00:00Z"),
        [30, 90],
    )
    .await;
    journey(
        store,
        firm.id,
        Channel::Platform,
        "US",
        "CITIUS33",
        at("2024-03-10T09:00:00Z"),
        [5, 20],
    )
    .await;
    journey(
        store,
        freelancer.id,
        Channel::MobileFinancialService,
        "SE",
        "CHASUS33",
        at("2024-03-31T17:30:00Z"),
        [600, 3000],
    )
    .await;
    let late = journey(
        store,
        freelancer.id,
        Channel::Bank,
        "GB",
        "BARCGB22",
        at("2024-04-02T08:00:00Z"),
        [45, 45],
    )
    .await;
    drain(repo).await;
    assert_rollups_agree(repo, &parties, "after the steps").await;

    // A correction: the credit voided, then recorded a day later (a new
    // month for the span), and a processing step voided outright.
    let credit = &bank[2].step;
    let mut replacement = NewStep::new(
        credit.details.repatriation_id,
        StepKind::BeneficiaryCredited,
        at("2024-03-01T20:00:00Z"),
    );
    replacement.amount = Some(money("990.00", "USD"));
    for (s, replacement) in [(credit, Some(replacement)), (&late[1].step, None)] {
        void_step(
            &a.app,
            &a.caller,
            &key("repat.v1.RepatriationService/VoidStep"),
            &StepCorrection {
                repatriation_id: s.details.repatriation_id,
                step_id: s.id,
                reason: "recorded by mistake".into(),
                replacement,
            },
        )
        .await
        .unwrap();
    }
    drain(repo).await;
    assert_rollups_agree(repo, &parties, "after the corrections").await;

    repo.compact_delay_rollup().await.unwrap();
    assert_rollups_agree(repo, &parties, "after compaction").await;

    let mut after = None;
    while let Some(last) = repo.rebuild_metrics(after, 2).await.unwrap() {
        after = Some(last);
    }
    assert_rollups_agree(repo, &parties, "after a rebuild").await;
    repo.compact_delay_rollup().await.unwrap();
    assert_rollups_agree(repo, &parties, "after a rebuild and compaction").await;
}
