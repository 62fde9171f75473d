//! Corrections at the store's seam: an amendment or a void changes the
//! record's row and appends its revision in one transaction; concurrent
//! corrections of one record made against the same revision leave exactly
//! one standing (the record is locked while it is corrected).

use repat_core::Money;
use repat_store::StoreError;
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;
use repat_usecases::amend_earning::{Amendment, amend_earning};
use repat_usecases::void_earning::void_earning;
use repat_usecases::{Error, Role};

use crate::support::{admin, date, earning, key, new_earning, party};

on_both_stores!(
    a_correction_is_the_row_and_its_revision_together,
    concurrent_corrections_of_one_revision_leave_one
);

const AMEND: &str = "repat.v1.EarningService/AmendEarning";
const VOID: &str = "repat.v1.EarningService/VoidEarning";

async fn a_correction_is_the_row_and_its_revision_together(store: &TestStore) {
    let p = party(store, "Typo Ltd").await;
    let e = earning(store, p.id, "INV-1", "100.00", date(2024, 3, 1)).await;
    let a = admin(store);
    let amendment = Amendment {
        id: Some(e.id),
        earning: new_earning(p.id, "INV-1", "110.00", date(2024, 3, 1)),
        reason: "the invoice says 110".into(),
        expected_revision: Some(1),
    };
    let amended = amend_earning(&a.app, &a.caller, &key(AMEND), &amendment)
        .await
        .unwrap();
    let stored = store.repo.get_earning(e.id).await.unwrap();
    assert_eq!(stored, amended);
    assert_eq!(stored.revision, 2);
    assert_eq!(
        stored.details.amount,
        Money::parse("110.00", "USD").unwrap()
    );

    let voided = void_earning(&a.app, &a.caller, &key(VOID), e.id, "mistake", Some(2))
        .await
        .unwrap();
    assert_eq!(store.repo.get_earning(e.id).await.unwrap(), voided);
    assert_eq!(voided.void.as_ref().unwrap().reason, "mistake");

    let history = store
        .repo
        .list_revisions(&format!("earnings/{}", e.id))
        .await
        .unwrap();
    let seen: Vec<(u32, &str, &str)> = history
        .iter()
        .map(|r| (r.revision, r.action.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (2, "amended", "the invoice says 110"),
            (3, "voided", "mistake")
        ]
    );
    assert_eq!(history[0].fields, ["amount"]);
    assert_eq!(history[0].subject, "conformance@repat");
    assert_eq!(history[0].role, Role::Admin.name());
    let before: repat_core::earning::Earning = serde_json::from_str(&history[0].before).unwrap();
    assert_eq!(before, e);
    let after: repat_core::earning::Earning = serde_json::from_str(&history[1].after).unwrap();
    assert_eq!(after, voided);
    assert!(
        store
            .repo
            .list_revisions("earnings/none")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_corrections_of_one_revision_leave_one(store: &TestStore) {
    let p = party(store, "Race Ltd").await;
    let e = earning(store, p.id, "INV-2", "100.00", date(2024, 3, 1)).await;
    let a = admin(store);
    let tries = (0..8).map(|n| {
        let a = a.clone();
        let amendment = Amendment {
            id: Some(e.id),
            earning: new_earning(p.id, "INV-2", &format!("{}.00", 200 + n), date(2024, 3, 1)),
            reason: format!("correction {n}"),
            expected_revision: Some(1),
        };
        tokio::spawn(async move { amend_earning(&a.app, &a.caller, &key(AMEND), &amendment).await })
    });
    let outcomes = futures::future::join_all(tries).await;
    let mut standing = 0;
    for o in outcomes {
        match o.unwrap() {
            Ok(_) => standing += 1,
            Err(Error::Precondition(m)) => assert!(m.contains("revision 2"), "{m}"),
            // PostgreSQL may also refuse a writer that raced the lock.
            Err(Error::Store(StoreError::Aborted(_))) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(standing, 1);
    let history = store
        .repo
        .list_revisions(&format!("earnings/{}", e.id))
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(store.repo.get_earning(e.id).await.unwrap().revision, 2);
}
