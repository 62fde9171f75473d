//! The audit chain: every change appends one entry, linked by hash to the
//! one before in commit order, also when writers race; the trail is
//! listed by who, what and when.

use repat_core::audit::ChainVerifier;
use repat_store::{AuditFilter, PageRequest};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;

use crate::support::{admin, chain, date, earning, key, new_party, party};

on_both_stores!(
    each_change_extends_the_chain,
    racing_writers_keep_one_chain,
    the_trail_is_listed_by_filter
);

fn verify(entries: &[repat_core::audit::AuditEntry]) {
    let mut verifier = ChainVerifier::default();
    for e in entries {
        verifier
            .check(e)
            .unwrap_or_else(|b| panic!("chain broken at {}: {}", b.sequence, b.reason));
    }
    let sequences: Vec<i64> = entries.iter().map(|e| e.record.sequence).collect();
    assert_eq!(
        sequences,
        (1..=entries.len() as i64).collect::<Vec<_>>(),
        "no gaps"
    );
}

async fn each_change_extends_the_chain(store: &TestStore) {
    let k = key("repat.v1.PartyService/CreateParty");
    let p = admin(store)
        .create_party(&k, &new_party("Chain Ltd"))
        .await
        .unwrap();
    let e = earning(store, p.id, "INV-C", "10.00", date(2024, 1, 2)).await;
    let entries = chain(store.repo.as_ref()).await;
    verify(&entries);
    assert_eq!(entries.len(), 2);
    let first = &entries[0].record;
    assert_eq!(
        (
            first.method.as_str(),
            first.resource.clone(),
            first.request_id,
            first.request_hash.as_str(),
            first.subject.as_str(),
            first.role.as_str()
        ),
        (
            "repat.v1.PartyService/CreateParty",
            format!("parties/{}", p.id),
            k.request_id,
            k.fingerprint.as_str(),
            "conformance@repat",
            "admin"
        )
    );
    assert_eq!(entries[1].record.resource, format!("earnings/{}", e.id));
    assert_eq!(entries[1].previous_hash, entries[0].hash);
}

async fn racing_writers_keep_one_chain(store: &TestStore) {
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let admin = admin(store);
            tokio::spawn(async move {
                admin
                    .create_party(
                        &key("repat.v1.PartyService/CreateParty"),
                        &new_party(&format!("Racer {n}")),
                    )
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let entries = chain(store.repo.as_ref()).await;
    assert_eq!(entries.len(), 16);
    verify(&entries);
}

async fn the_trail_is_listed_by_filter(store: &TestStore) {
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let p = party(store, "Trail Ltd").await;
    for n in 0..3 {
        earning(store, p.id, &format!("INV-T{n}"), "10.00", date(2024, 1, 2)).await;
    }
    let after = chrono::Utc::now() + chrono::Duration::seconds(1);
    let list = |filter: AuditFilter, page: PageRequest| {
        let repo = store.repo.clone();
        async move { repo.list_audit(&filter, page).await.unwrap() }
    };
    let earnings = AuditFilter {
        method: Some("repat.v1.EarningService/CreateEarning".into()),
        ..Default::default()
    };
    let first = list(earnings.clone(), PageRequest { after: 0, size: 2 }).await;
    assert_eq!(first.items.len(), 2);
    let rest = list(
        earnings,
        PageRequest {
            after: first.next_after.expect("a second page"),
            size: 2,
        },
    )
    .await;
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_after, None);
    let by_someone_else = AuditFilter {
        subject: Some("nobody".into()),
        ..Default::default()
    };
    assert!(
        list(by_someone_else, PageRequest { after: 0, size: 10 })
            .await
            .items
            .is_empty()
    );
    let in_window = AuditFilter {
        start: Some(before),
        end: Some(after),
        ..Default::default()
    };
    assert_eq!(
        list(in_window, PageRequest { after: 0, size: 10 })
            .await
            .items
            .len(),
        4
    );
    let later = AuditFilter {
        start: Some(after),
        ..Default::default()
    };
    assert!(
        list(later, PageRequest { after: 0, size: 10 })
            .await
            .items
            .is_empty()
    );
}
