//! Parties, earnings, repatriations and steps: each operation stores what
//! it is given, reads it back unchanged, lists by every filter in keyset
//! pages, and refuses what contradicts what is stored.

use repat_core::journey::{NewStep, StepKind};
use repat_core::party::PartyKind;
use repat_core::repatriation::{AllocationError, Channel, RepatriationStatus, RequestedAllocation};
use repat_store::{EarningFilter, PageRequest, PartyFilter, RepatriationFilter, StoreError};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;
use repat_usecases::Error;
use repat_usecases::create_repatriation::RepatriationRequest;
use uuid::Uuid;

use crate::support::{
    RECORD_STEP, admin, at, date, earning, key, money, new_earning, party, repatriation, step,
};

on_both_stores!(
    parties_are_stored_and_listed,
    earnings_are_stored_once_per_reference,
    repatriations_allocate_what_is_left,
    steps_follow_the_journey_rules,
    journeys_are_read_by_their_extremes
);

fn page(after: i64, size: u32) -> PageRequest {
    PageRequest { after, size }
}

async fn parties_are_stored_and_listed(store: &TestStore) {
    let a = party(store, "Alpha Ltd").await;
    let b = party(store, "Beta Ltd").await;
    assert_eq!(store.repo.get_party(a.id).await.unwrap(), a);
    let missing = store.repo.get_party(Uuid::new_v4()).await.unwrap_err();
    assert!(
        matches!(missing, StoreError::NotFound { kind: "party", .. }),
        "{missing:?}"
    );
    let first = store
        .repo
        .list_parties(&PartyFilter::default(), page(0, 1))
        .await
        .unwrap();
    assert_eq!(first.items, vec![a.clone()]);
    let second = store
        .repo
        .list_parties(&PartyFilter::default(), page(first.next_after.unwrap(), 1))
        .await
        .unwrap();
    assert_eq!((second.items, second.next_after), (vec![b], None));
    let freelancers = PartyFilter {
        kind: Some(PartyKind::Freelancer),
    };
    assert!(
        store
            .repo
            .list_parties(&freelancers, page(0, 10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let firms = PartyFilter {
        kind: Some(PartyKind::Firm),
    };
    assert_eq!(
        store
            .repo
            .list_parties(&firms, page(0, 10))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

async fn earnings_are_stored_once_per_reference(store: &TestStore) {
    let p = party(store, "Earner Ltd").await;
    let e = earning(store, p.id, "INV-1", "1234.56", date(2024, 2, 1)).await;
    assert_eq!(e.allocated, money("0", "USD"));
    assert_eq!(store.repo.get_earning(e.id).await.unwrap(), e);
    let again = admin(store)
        .create_earning(
            &key("repat.v1.EarningService/CreateEarning"),
            &new_earning(p.id, "INV-1", "5.00", date(2024, 2, 2)),
        )
        .await
        .unwrap_err();
    assert!(matches!(again, Error::Duplicate(_)), "{again:?}");
    let orphan = admin(store)
        .create_earning(
            &key("repat.v1.EarningService/CreateEarning"),
            &new_earning(Uuid::new_v4(), "INV-X", "5.00", date(2024, 2, 2)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            orphan,
            Error::Store(StoreError::NotFound { kind: "party", .. })
        ),
        "{orphan:?}"
    );
    let later = earning(store, p.id, "INV-2", "10.00", date(2024, 3, 1)).await;
    let other = party(store, "Other Ltd").await;
    earning(store, other.id, "INV-1", "10.00", date(2024, 3, 1)).await;
    let of = |from, to| EarningFilter {
        party_id: Some(p.id),
        invoice_date_from: from,
        invoice_date_to: to,
    };
    let ids = |f: EarningFilter| {
        let repo = store.repo.clone();
        async move {
            repo.list_earnings(&f, page(0, 10))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(of(None, None)).await, vec![e.id, later.id]);
    assert_eq!(ids(of(Some(date(2024, 2, 2)), None)).await, vec![later.id]);
    assert_eq!(ids(of(None, Some(date(2024, 2, 1)))).await, vec![e.id]);
    assert_eq!(ids(EarningFilter::default()).await.len(), 3);
}

async fn repatriations_allocate_what_is_left(store: &TestStore) {
    let p = party(store, "Allocator Ltd").await;
    let e = earning(store, p.id, "INV-A", "1000.00", date(2024, 4, 1)).await;
    let request = |amount: Option<&str>| RepatriationRequest {
        party_id: p.id,
        allocations: vec![RequestedAllocation {
            earning_id: e.id,
            amount: amount.map(|a| money(a, "USD")),
        }],
        channel: Channel::Platform,
        payer_country: Some("US".into()),
    };
    let part = admin(store)
        .create_repatriation(
            &key("repat.v1.RepatriationService/CreateRepatriation"),
            &request(Some("400.00")),
        )
        .await
        .unwrap();
    assert_eq!(part.expected_amount, money("400.00", "USD"));
    assert_eq!(part.status, RepatriationStatus::AwaitingPayment);
    assert_eq!(
        store.repo.get_earning(e.id).await.unwrap().allocated,
        money("400.00", "USD")
    );
    let too_much = admin(store)
        .create_repatriation(
            &key("repat.v1.RepatriationService/CreateRepatriation"),
            &request(Some("600.01")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            too_much,
            Error::Allocation(AllocationError::OverAllocated { .. })
        ),
        "{too_much:?}"
    );
    let rest = repatriation(store, p.id, &[e.id]).await;
    assert_eq!(rest.expected_amount, money("600.00", "USD"));
    assert_eq!(
        rest.details.payer_country, "SE",
        "the client's country by default"
    );
    assert_eq!(
        store.repo.get_earning(e.id).await.unwrap().allocated,
        money("1000.00", "USD")
    );
    assert_eq!(store.repo.repatriation_party(rest.id).await.unwrap(), p.id);

    let journey = store.repo.get_journey(part.id).await.unwrap();
    assert_eq!(journey.repatriation, part);
    assert_eq!(journey.invoice_dates, vec![date(2024, 4, 1)]);
    assert!(journey.steps.is_empty());

    step(
        store,
        NewStep::new(
            rest.id,
            StepKind::PaymentInitiated,
            at("2024-04-02T09:00:00Z"),
        ),
    )
    .await;
    let list = |f: RepatriationFilter| {
        let repo = store.repo.clone();
        async move {
            repo.list_repatriations(&f, page(0, 10))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    let mine = RepatriationFilter {
        party_id: Some(p.id),
        ..Default::default()
    };
    assert_eq!(list(mine).await, vec![part.id, rest.id]);
    let in_transit = RepatriationFilter {
        status: Some(RepatriationStatus::InTransit),
        ..Default::default()
    };
    assert_eq!(list(in_transit).await, vec![rest.id]);
    let paying = RepatriationFilter {
        earning_id: Some(e.id),
        ..Default::default()
    };
    assert_eq!(list(paying).await.len(), 2);
    let listed = store
        .repo
        .list_repatriations(&RepatriationFilter::default(), page(0, 1))
        .await
        .unwrap();
    assert_eq!(
        listed.items[0].details.allocations, part.details.allocations,
        "allocations read back with the list"
    );
}

async fn steps_follow_the_journey_rules(store: &TestStore) {
    let p = party(store, "Stepper Ltd").await;
    let e = earning(store, p.id, "INV-S", "500.00", date(2024, 5, 1)).await;
    let r = repatriation(store, p.id, &[e.id]).await;
    let initiated = step(
        store,
        NewStep::new(r.id, StepKind::PaymentInitiated, at("2024-05-02T09:00:00Z")),
    )
    .await;
    assert_eq!(initiated.status, RepatriationStatus::InTransit);
    assert_eq!(initiated.wait, None, "the first step waits for nothing");

    // One batch: a good step, one that repeats a kind that occurs once, one
    // of a journey that does not exist, and a later good step.
    let mut credited = NewStep::new(
        r.id,
        StepKind::BeneficiaryCredited,
        at("2024-05-03T09:00:00Z"),
    );
    credited.amount = Some(money("495.00", "USD"));
    let batch = vec![
        (
            key(RECORD_STEP),
            NewStep::new(
                r.id,
                StepKind::IntermediaryProcessed,
                at("2024-05-02T13:00:00Z"),
            ),
        ),
        (
            key(RECORD_STEP),
            NewStep::new(r.id, StepKind::PaymentInitiated, at("2024-05-02T10:00:00Z")),
        ),
        (
            key(RECORD_STEP),
            NewStep::new(
                Uuid::new_v4(),
                StepKind::PaymentInitiated,
                at("2024-05-02T10:00:00Z"),
            ),
        ),
        (key(RECORD_STEP), credited),
    ];
    let results = admin(store).record_steps(&batch).await.unwrap();
    let hop = results[0].as_ref().unwrap();
    assert_eq!(hop.wait, Some(std::time::Duration::from_secs(4 * 3600)));
    assert!(
        matches!(results[1], Err(Error::Journey(_))),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(
            results[2],
            Err(Error::Store(StoreError::NotFound {
                kind: "repatriation",
                ..
            }))
        ),
        "{:?}",
        results[2]
    );
    let last = results[3].as_ref().unwrap();
    assert_eq!(last.status, RepatriationStatus::FundsAvailable);

    let journey = store.repo.get_journey(r.id).await.unwrap();
    assert_eq!(journey.steps.len(), 3);
    assert_eq!(journey.repatriation.step_count, 3);
    assert_eq!(
        journey.repatriation.status,
        RepatriationStatus::FundsAvailable
    );
    let stored = journey.steps.iter().find(|s| s.id == last.step.id).unwrap();
    assert_eq!(*stored, last.step, "amounts and instants read back exactly");
}

/// The earliest and latest step of each kind among `steps`, by occurrence,
/// recording and id, as ids.
fn extreme_ids(steps: &[repat_core::journey::Step]) -> std::collections::BTreeSet<Uuid> {
    let mut ids = std::collections::BTreeSet::new();
    for kind in StepKind::ALL {
        let of_kind = || steps.iter().filter(|s| s.kind() == kind);
        let order = |s: &&repat_core::journey::Step| (s.occurred_at(), s.recorded_at, s.id);
        if let Some(first) = of_kind().min_by_key(order) {
            ids.insert(first.id);
        }
        if let Some(last) = of_kind().max_by_key(order) {
            ids.insert(last.id);
        }
    }
    ids
}

/// A journey without steps is not read, a short one is read whole and a
/// long one probed kind by kind: each way gives the earliest and latest
/// step of every kind, as the journey's stored steps say.
async fn journeys_are_read_by_their_extremes(store: &TestStore) {
    let p = party(store, "Extremes Ltd").await;
    let mut journeys = Vec::new();
    // Hops after initiation: 9 (read whole) and 40 (probed; past the
    // 28 rows two probes per kind would read).
    for (reference, hops) in [("INV-X0", 0), ("INV-X9", 9), ("INV-X40", 40)] {
        let e = earning(store, p.id, reference, "500.00", date(2024, 5, 1)).await;
        let r = repatriation(store, p.id, &[e.id]).await;
        let start = at("2024-05-02T09:00:00Z");
        let mut batch = Vec::new();
        if hops > 0 {
            batch.push((
                key(RECORD_STEP),
                NewStep::new(r.id, StepKind::PaymentInitiated, start),
            ));
        }
        for h in 1..=hops {
            batch.push((
                key(RECORD_STEP),
                NewStep::new(
                    r.id,
                    StepKind::IntermediaryProcessed,
                    start + chrono::Duration::minutes(h),
                ),
            ));
        }
        for result in admin(store).record_steps(&batch).await.unwrap() {
            result.unwrap();
        }
        journeys.push(r.id);
    }
    let mut tx = store.repo.begin().await.unwrap();
    let counts = tx.lock_journeys(&journeys).await.unwrap();
    assert_eq!(counts.values().copied().max(), Some(41));
    let read = tx.load_step_extremes(&counts).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(
        !read.contains_key(&journeys[0]),
        "a journey without steps has nothing to read"
    );
    for id in &journeys[1..] {
        let stored = store.repo.get_journey(*id).await.unwrap().steps;
        let got: std::collections::BTreeSet<Uuid> = read[id].iter().map(|s| s.id).collect();
        assert_eq!(
            got,
            extreme_ids(&stored),
            "journey of {} steps",
            stored.len()
        );
        assert_eq!(got.len(), 3, "initiation, first and last hop");
    }
}
