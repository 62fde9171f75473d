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
    a_request_id_is_one_tenants_for_one_method,
    an_unscoped_key_holds_its_id_for_everyone,
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
    let first = admin(store)
        .create_party(&k, &new_party("First Ltd"))
        .await
        .unwrap();
    let other_payload = repat_store::Idempotency {
        fingerprint: "another request".into(),
        ..k.clone()
    };
    let err = admin(store)
        .create_party(&other_payload, &new_party("Second Ltd"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Store(StoreError::IdempotencyMismatch(id)) if id == k.request_id),
        "{err:?}"
    );
    // Another caller of the same tenant repeating the request is a retry.
    let colleague = repat_store::Idempotency {
        principal: "colleague@repat".into(),
        ..k.clone()
    };
    let again = admin(store)
        .create_party(&colleague, &new_party("First Ltd"))
        .await
        .unwrap();
    assert_eq!(again, first, "the tenant's stored response");
    assert_eq!(chain(store.repo.as_ref()).await.len(), 1);
}

/// A request id is one tenant's, for one method: another tenant (or
/// method) using the same id makes a request of its own, with an id of
/// its own.
async fn a_request_id_is_one_tenants_for_one_method(store: &TestStore) {
    let k = key(CREATE_PARTY);
    let first = admin(store)
        .create_party(&k, &new_party("Mine Ltd"))
        .await
        .unwrap();
    let other_tenant = repat_store::Idempotency {
        scope: "integrator:mallory@elsewhere".into(),
        principal: "mallory@elsewhere".into(),
        ..k.clone()
    };
    let theirs = admin(store)
        .create_party(&other_tenant, &new_party("Theirs Ltd"))
        .await
        .unwrap();
    assert_ne!(theirs.id, first.id);
    let other_method = repat_store::Idempotency {
        method: "repat.v1.PartyService/ImportParty",
        ..k.clone()
    };
    let third = admin(store)
        .create_party(&other_method, &new_party("Third Ltd"))
        .await
        .unwrap();
    assert!(third.id != first.id && third.id != theirs.id);
    // Each retry still finds its own response.
    for (key, party) in [
        (&k, &first),
        (&other_tenant, &theirs),
        (&other_method, &third),
    ] {
        let again = admin(store)
            .create_party(key, &new_party(&party.details.legal_name))
            .await
            .unwrap();
        assert_eq!(&again, party);
    }
    assert_eq!(chain(store.repo.as_ref()).await.len(), 3);
}

/// A key stored before keys were scoped (the empty scope) still holds its
/// request id for every tenant and method, and replays only to its caller.
async fn an_unscoped_key_holds_its_id_for_everyone(store: &TestStore) {
    let k = key(CREATE_PARTY);
    let first = admin(store)
        .create_party(&k, &new_party("Old Ltd"))
        .await
        .unwrap();
    repat_tests::tamper(
        store.backend,
        &store.url,
        "UPDATE idempotency SET scope = ''",
    )
    .await;
    let retry = admin(store)
        .create_party(&k, &new_party("Old Ltd"))
        .await
        .unwrap();
    assert_eq!(retry, first, "its caller's retry is replayed");
    let steps = admin(store)
        .record_steps(&[(
            repat_store::Idempotency {
                method: crate::support::RECORD_STEP,
                ..k.clone()
            },
            NewStep::new(
                first.id,
                StepKind::PaymentInitiated,
                at("2024-03-02T10:00:00Z"),
            ),
        )])
        .await
        .unwrap();
    assert!(
        matches!(
            steps[0],
            Err(Error::Store(StoreError::IdempotencyMismatch(_)))
        ),
        "another method"
    );
    let other_tenant = repat_store::Idempotency {
        scope: "firm:someone".into(),
        principal: "someone@firm".into(),
        ..k.clone()
    };
    let err = admin(store)
        .create_party(&other_tenant, &new_party("Old Ltd"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Store(StoreError::IdempotencyMismatch(_))),
        "{err:?}"
    );
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
