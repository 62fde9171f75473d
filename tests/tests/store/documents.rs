//! Documents: stored against a party, one of its earnings or one of its
//! repatriations (never another party's), once per kind and reference,
//! audited, and listed by every filter.

use repat_core::document::{Attachment, DocumentKind, NewDocument};
use repat_store::{DocumentFilter, PageRequest, StoreError};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;
use repat_usecases::Error;
use uuid::Uuid;

use crate::support::{admin, chain, date, earning, key, party, repatriation};

on_both_stores!(documents_belong_to_their_party);

const CREATE: &str = "repat.v1.DocumentService/CreateDocument";

fn document(
    party: Uuid,
    attached_to: Attachment,
    kind: DocumentKind,
    reference: &str,
) -> NewDocument {
    NewDocument {
        party_id: party,
        attached_to,
        kind,
        reference: reference.into(),
        issue_date: date(2024, 1, 15),
        issuer: "Nordic Retail AB".into(),
        valid_from: Some(date(2024, 1, 15)),
        valid_until: Some(date(2024, 12, 31)),
        content_sha256: Some("ab".repeat(32)),
    }
}

async fn documents_belong_to_their_party(store: &TestStore) {
    let p = party(store, "Papers Ltd").await;
    let other = party(store, "Other Ltd").await;
    let e = earning(store, p.id, "INV-1", "1000.00", date(2024, 1, 15)).await;
    let r = repatriation(store, p.id, &[e.id]).await;

    let idem = key(CREATE);
    let contract = document(
        p.id,
        Attachment::Party,
        DocumentKind::ContractOrWorkOrder,
        "WO-7",
    );
    let stored = admin(store)
        .create_document(&idem, &contract)
        .await
        .unwrap();
    assert_eq!(stored.details, contract);
    assert_eq!(
        admin(store)
            .create_document(&idem, &contract)
            .await
            .unwrap(),
        stored
    );
    assert_eq!(store.repo.get_document(stored.id).await.unwrap(), stored);
    let invoice = admin(store)
        .create_document(
            &key(CREATE),
            &document(
                p.id,
                Attachment::Earning(e.id),
                DocumentKind::Invoice,
                "INV-1",
            ),
        )
        .await
        .unwrap();
    let prc = admin(store)
        .create_document(
            &key(CREATE),
            &document(
                p.id,
                Attachment::Repatriation(r.id),
                DocumentKind::ProceedsRealizationCertificate,
                "PRC-1",
            ),
        )
        .await
        .unwrap();

    // One document of a kind under one reference.
    let again = admin(store)
        .create_document(&key(CREATE), &contract)
        .await
        .unwrap_err();
    assert!(
        matches!(&again, Error::Duplicate(m) if m.contains("\"WO-7\"")),
        "{again:?}"
    );
    // Another party's earning or repatriation is as good as absent.
    for attached in [Attachment::Earning(e.id), Attachment::Repatriation(r.id)] {
        let mut tx = store.repo.begin().await.unwrap();
        let err = tx.require_attachment(other.id, attached).await.unwrap_err();
        tx.rollback().await.unwrap();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }

    let page = PageRequest { after: 0, size: 10 };
    let list = |filter: DocumentFilter| {
        let repo = store.repo.clone();
        async move { repo.list_documents(&filter, page).await.unwrap().items }
    };
    assert_eq!(
        list(DocumentFilter {
            party_id: Some(p.id),
            ..Default::default()
        })
        .await,
        vec![stored.clone(), invoice.clone(), prc.clone()]
    );
    assert_eq!(
        list(DocumentFilter {
            earning_id: Some(e.id),
            ..Default::default()
        })
        .await,
        vec![invoice.clone()]
    );
    assert_eq!(
        list(DocumentFilter {
            repatriation_id: Some(r.id),
            ..Default::default()
        })
        .await,
        vec![prc.clone()]
    );
    assert_eq!(
        list(DocumentFilter {
            kind: Some(DocumentKind::Invoice),
            ..Default::default()
        })
        .await,
        vec![invoice.clone()]
    );
    let first = store
        .repo
        .list_documents(
            &DocumentFilter::default(),
            PageRequest { after: 0, size: 2 },
        )
        .await
        .unwrap();
    assert_eq!(first.items, vec![stored.clone(), invoice.clone()]);
    assert!(first.next_after.is_some());
    assert_eq!(
        store.repo.party_documents(p.id).await.unwrap(),
        vec![stored.clone(), invoice, prc]
    );
    assert!(
        store
            .repo
            .party_documents(other.id)
            .await
            .unwrap()
            .is_empty()
    );

    let resources: Vec<String> = chain(store.repo.as_ref())
        .await
        .into_iter()
        .map(|e| e.record.resource)
        .collect();
    assert!(resources.contains(&format!("parties/{}/documents/{}", p.id, stored.id)));
}
