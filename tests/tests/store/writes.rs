//! The write transaction itself, where writers meet: on SQLite, requests
//! queued behind one another share one group commit of the one writer;
//! each still keeps or loses only its own writes, and what a request
//! answers with is committed. The same holds on PostgreSQL, where each
//! request is its own transaction.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use repat_core::party::Party;
use repat_store::{PageRequest, PartyFilter, StoreError};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;
use uuid::Uuid;

use crate::support::{admin, key, new_party};

on_both_stores!(
    a_failing_writer_leaves_the_others_of_its_group,
    a_retry_is_answered_once_its_first_use_is_committed
);

const CREATE_PARTY: &str = "repat.v1.PartyService/CreateParty";

fn party_named(name: &str) -> Party {
    Party {
        id: Uuid::new_v4(),
        details: new_party(name),
        create_time: Utc::now().trunc_subsecs(6),
    }
}

async fn stored_names(store: &TestStore) -> Vec<String> {
    let mut names: Vec<String> = store
        .repo
        .list_parties(&PartyFilter::default(), PageRequest { after: 0, size: 50 })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.details.legal_name)
        .collect();
    names.sort();
    names
}

/// How a queued writer ends.
#[derive(Clone, Copy)]
enum Fate {
    Commit,
    Abandon,
    Panic,
}

/// While one writer holds its transaction open, five more queue behind it
/// (on SQLite: into the same group): one commits, one breaks a key, one
/// returns without committing, one panics, the last commits. Exactly the
/// writes of those that committed are kept, and they hear OK.
async fn a_failing_writer_leaves_the_others_of_its_group(store: &TestStore) {
    let first_party = party_named("First Ltd");
    let mut first = store.repo.begin().await.unwrap();
    first.insert_party(&first_party).await.unwrap();
    let queue = |party: Party, fate: Fate| {
        let repo = store.repo.clone();
        tokio::spawn(async move {
            let mut tx = repo.begin().await?;
            tx.insert_party(&party).await?;
            match fate {
                Fate::Commit => tx.commit().await,
                Fate::Abandon => Err(StoreError::Precondition("given up".into())),
                Fate::Panic => panic!("a writer that panics inside its transaction"),
            }
        })
    };
    let kept = queue(party_named("Kept Ltd"), Fate::Commit);
    let duplicate = queue(
        Party {
            details: new_party("Duplicate Ltd"),
            ..first_party.clone()
        },
        Fate::Commit,
    );
    let abandoned = queue(party_named("Abandoned Ltd"), Fate::Abandon);
    let panicked = queue(party_named("Panicked Ltd"), Fate::Panic);
    let last = queue(party_named("Last Ltd"), Fate::Commit);
    // Everyone queues behind the first before it commits.
    tokio::time::sleep(Duration::from_millis(10)).await;
    first.commit().await.unwrap();

    assert!(kept.await.unwrap().is_ok());
    let duplicate = duplicate.await.unwrap();
    assert!(
        matches!(duplicate, Err(StoreError::Duplicate(_))),
        "{duplicate:?}"
    );
    assert!(matches!(
        abandoned.await.unwrap(),
        Err(StoreError::Precondition(_))
    ));
    assert!(panicked.await.unwrap_err().is_panic());
    assert!(last.await.unwrap().is_ok());
    assert_eq!(
        stored_names(store).await,
        vec!["First Ltd", "Kept Ltd", "Last Ltd"]
    );
}

/// A retry arriving while its first use is still uncommitted (on SQLite:
/// queued into the same group, where it sees the first use) is answered
/// with the first use's response, and only once that is committed: what
/// it answers is there for every reader.
async fn a_retry_is_answered_once_its_first_use_is_committed(store: &TestStore) {
    let k = key(CREATE_PARTY);
    let party = party_named("Retried Ltd");
    let mut first = store.repo.begin().await.unwrap();
    assert!(first.replay::<Party>(&k).await.unwrap().is_none());
    first.insert_party(&party).await.unwrap();
    first.respond(&k, &party).await.unwrap();
    let retry = {
        let (admin, k) = (admin(store), k.clone());
        tokio::spawn(async move { admin.create_party(&k, &new_party("Retried Ltd")).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        !retry.is_finished(),
        "answered before its first use committed"
    );
    first.commit().await.unwrap();
    let answered = retry.await.unwrap().unwrap();
    assert_eq!(answered, party);
    assert_eq!(stored_names(store).await, vec!["Retried Ltd"]);
}
