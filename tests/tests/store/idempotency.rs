//! Idempotent claims: a request id is claimed once, its response kept
//! with its effects; a retry gets the response and writes nothing; the id
//! reused for anything else is refused, also when the claims race.

use repat_core::journey::{NewStep, StepKind};
use repat_store::{PageRequest, PartyFilter, StoreError};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;
use repat_usecases::Error;

use crate::support::{
    RECORD_STEP, admin, at, chain, date, earning, key, new_party, party, repatriation,
};

on_both_stores!(
    a_retry_returns_the_stored_response,
    an_id_reused_for_another_request_is_refused,
    racing_claims_store_once,
    repeats_inside_a_batch_share_the_first_outcome
);

const CREATE_PARTY: &str = "repat.v1.PartyService/CreateParty";

async fn a_retry_returns_the_stored_response(store: &TestStore) {
    let k = key(CREATE_PARTY);
    let first = admin(store)
        .create_party(&k, &new_party("Once Ltd"))
        .await
        .unwrap();
    let again = admin(store)
        .create_party(&k, &new_party("Once Ltd"))
        .await
        .unwrap();
    assert_eq!(first, again, "the stored response, to the microsecond");
    let all = store
        .repo
        .list_parties(&PartyFilter::default(), PageRequest { after: 0, size: 10 })
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1, "one party stored");
    assert_eq!(
        chain(store.repo.as_ref()).await.len(),
        1,
        "one change audited"
    );
}

async fn an_id_reused_for_another_request_is_refused(store: &TestStore) {
    let k = key(CREATE_PARTY);
    admin(store)
        .create_party(&k, &new_party("First Ltd"))
        .await
        .unwrap();
    let other_payload = repat_store::Idempotency {
        fingerprint: "another request".into(),
        ..k.clone()
    };
    let other_caller = repat_store::Idempotency {
        principal: "someone-else".into(),
        ..k.clone()
    };
    let other_method = repat_store::Idempotency {
        method: "repat.v1.EarningService/CreateEarning",
        ..k.clone()
    };
    for reused in [other_payload, other_caller, other_method] {
        let err = admin(store)
            .create_party(&reused, &new_party("Second Ltd"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Store(StoreError::IdempotencyMismatch(id)) if id == k.request_id),
            "{err:?}"
        );
    }
    assert_eq!(chain(store.repo.as_ref()).await.len(), 1);
}

async fn racing_claims_store_once(store: &TestStore) {
    let k = key(CREATE_PARTY);
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (admin, k) = (admin(store), k.clone());
            tokio::spawn(async move { admin.create_party(&k, &new_party("Race Ltd")).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let ok: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    // A loser may be told to retry (a serialization conflict), never
    // anything else; every winner has the one party.
    for o in &outcomes {
        if let Err(e) = o {
            assert!(matches!(e, Error::Store(StoreError::Aborted(_))), "{e:?}");
        }
    }
    assert!(!ok.is_empty());
    assert!(ok.iter().all(|p| **p == *ok[0]));
    let all = store
        .repo
        .list_parties(&PartyFilter::default(), PageRequest { after: 0, size: 50 })
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(chain(store.repo.as_ref()).await.len(), 1);
}

async fn repeats_inside_a_batch_share_the_first_outcome(store: &TestStore) {
    let p = party(store, "Batch Ltd").await;
    let e = earning(store, p.id, "INV-B", "100.00", date(2024, 3, 1)).await;
    let r = repatriation(store, p.id, &[e.id]).await;
    let initiated = NewStep::new(r.id, StepKind::PaymentInitiated, at("2024-03-02T10:00:00Z"));
    let k = key(RECORD_STEP);
    let reused = repat_store::Idempotency {
        fingerprint: "another step".into(),
        ..k.clone()
    };
    let credited = NewStep::new(
        r.id,
        StepKind::BeneficiaryCredited,
        at("2024-03-04T10:00:00Z"),
    );
    let results = admin(store)
        .record_steps(&[
            (k.clone(), initiated.clone()),
            (k.clone(), initiated.clone()),
            (reused, credited),
        ])
        .await
        .unwrap();
    let first = results[0].as_ref().unwrap();
    assert!(!first.replayed);
    assert_eq!(
        results[1].as_ref().unwrap().step,
        first.step,
        "the same step, stored once"
    );
    assert!(matches!(
        results[2],
        Err(Error::Store(StoreError::IdempotencyMismatch(_)))
    ));
    // Asked again later: the stored step, marked as a replay.
    let again = admin(store).record_steps(&[(k, initiated)]).await.unwrap();
    let again = again[0].as_ref().unwrap();
    assert!(again.replayed);
    assert_eq!(again.step, first.step);
    assert_eq!(store.repo.get_journey(r.id).await.unwrap().steps.len(), 1);
}
