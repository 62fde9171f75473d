//! The outbox at the store's seam: events read back in commit order by
//! party and type; alerts appended once however often raised; leases held
//! by one holder at a time until they lapse; cursors that move only
//! forward and only under their lease.

use std::time::Duration;

use repat_core::events::EventType;
use repat_store::{EventFilter, NewEvent};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;

use crate::support::{date, earning, party};

on_both_stores!(
    events_are_read_in_commit_order,
    alerts_are_appended_once,
    leases_are_exclusive_until_they_lapse
);

async fn events_are_read_in_commit_order(store: &TestStore) {
    let a = party(store, "Alpha Ltd").await;
    let b = party(store, "Beta Ltd").await;
    earning(store, a.id, "A-1", "10.00", date(2024, 3, 1)).await;
    earning(store, b.id, "B-1", "10.00", date(2024, 3, 1)).await;
    let all = store
        .repo
        .events_after(&EventFilter::default(), 0, 100)
        .await
        .unwrap();
    let kinds: Vec<EventType> = all.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventType::PartyCreated,
            EventType::PartyCreated,
            EventType::EarningCreated,
            EventType::EarningCreated
        ]
    );
    let sequences: Vec<i64> = all.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [1, 2, 3, 4]);
    assert_eq!(store.repo.event_head().await.unwrap(), 4);
    let of_b = EventFilter {
        parties: Some(vec![b.id]),
        types: vec![EventType::EarningCreated],
    };
    let got = store.repo.events_after(&of_b, 0, 100).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].sequence, got[0].party_id), (4, b.id));
    assert!(
        store
            .repo
            .events_after(&of_b, 4, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let none = EventFilter {
        parties: Some(vec![]),
        types: vec![],
    };
    assert!(
        store
            .repo
            .events_after(&none, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let page = store
        .repo
        .events_after(&EventFilter::default(), 1, 2)
        .await
        .unwrap();
    assert_eq!(page.iter().map(|e| e.sequence).collect::<Vec<_>>(), [2, 3]);
}

async fn alerts_are_appended_once(store: &TestStore) {
    let a = party(store, "Alerted Ltd").await;
    let alert = |threshold: &str| {
        NewEvent::new(
            EventType::InFlightAlert,
            a.id,
            format!("repatriations/{}", a.id),
            threshold,
            &serde_json::json!({"threshold": threshold}),
        )
        .unwrap()
    };
    let first = store
        .repo
        .raise_alerts(&[alert("172800"), alert("172800")])
        .await
        .unwrap();
    assert_eq!(first.len(), 1, "the same alert twice in one call is one");
    // Raised again (as another replica would): nothing new.
    let (one, two) = ([alert("172800")], [alert("172800"), alert("86400")]);
    let (x, y) = tokio::join!(store.repo.raise_alerts(&one), store.repo.raise_alerts(&two));
    assert_eq!(
        x.unwrap().len() + y.unwrap().len(),
        1,
        "only the new threshold"
    );
    let alerts = store
        .repo
        .events_after(
            &EventFilter {
                parties: None,
                types: vec![EventType::InFlightAlert],
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(alerts.len(), 2);
}

async fn leases_are_exclusive_until_they_lapse(store: &TestStore) {
    let repo = &store.repo;
    let long = Duration::from_secs(60);
    assert!(repo.take_lease("nats", "a", long).await.unwrap());
    assert!(repo.take_lease("nats", "a", long).await.unwrap(), "renewed");
    assert!(
        !repo.take_lease("nats", "b", long).await.unwrap(),
        "held by a"
    );
    assert!(
        repo.take_lease("webhooks", "b", long).await.unwrap(),
        "another lease"
    );
    assert_eq!(repo.lease("nats").await.unwrap().unwrap().0, "a");
    // The cursor moves only under the lease, and only forward.
    assert_eq!(repo.event_cursor("nats").await.unwrap(), 0);
    assert!(!repo.advance_cursor("nats", "b", 5).await.unwrap());
    assert!(repo.advance_cursor("nats", "a", 5).await.unwrap());
    assert!(repo.advance_cursor("nats", "a", 3).await.unwrap());
    assert_eq!(repo.event_cursor("nats").await.unwrap(), 5);
    // Released, another takes it at once; lapsed, another takes it over.
    repo.release_lease("nats", "a").await.unwrap();
    assert!(
        repo.take_lease("nats", "b", Duration::from_millis(300))
            .await
            .unwrap()
    );
    assert!(!repo.take_lease("nats", "a", long).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !repo.advance_cursor("nats", "b", 9).await.unwrap(),
        "lapsed"
    );
    assert!(repo.take_lease("nats", "a", long).await.unwrap());
    assert!(repo.advance_cursor("nats", "a", 9).await.unwrap());
    assert_eq!(repo.event_cursor("nats").await.unwrap(), 9);
}
