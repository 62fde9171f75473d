//! Facts that change over time: each change is appended with the value it
//! replaced and who recorded it, is audited, and the party a read returns
//! holds the facts in force today; concurrent changes of one party keep
//! one linear history.

use repat_core::facts::{FactKind, FactValue, NewPartyFact, party_on};
use repat_core::party::{BankAccount, Zone};
use repat_store::{PageRequest, PartyFilter, StoreError};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;
use repat_usecases::Error;
use uuid::Uuid;

use crate::support::{admin, chain, date, key, party};

on_both_stores!(
    a_change_applies_from_its_day_and_keeps_what_it_replaced,
    concurrent_changes_keep_one_history
);

const RECORD: &str = "repat.v1.PartyService/CreatePartyFact";

fn zone_change(party: Uuid, from: chrono::NaiveDate, zone: Zone) -> NewPartyFact {
    NewPartyFact {
        party_id: party,
        effective_from: from,
        value: FactValue::Zone(zone),
        reason: "moved into the Hi-Tech Park".into(),
    }
}

async fn a_change_applies_from_its_day_and_keeps_what_it_replaced(store: &TestStore) {
    let p = party(store, "Moving Ltd").await;
    let idem = key(RECORD);
    let change = zone_change(p.id, date(2024, 3, 1), Zone::HiTechPark);
    let fact = admin(store)
        .record_party_fact(&idem, &change)
        .await
        .unwrap();
    assert_eq!(fact.previous, FactValue::Zone(Zone::None));
    assert_eq!(fact.recorded_by, "conformance@repat");
    // A retry returns the same record and stores nothing more.
    assert_eq!(
        admin(store)
            .record_party_fact(&idem, &change)
            .await
            .unwrap(),
        fact
    );
    let history = store.repo.party_history(p.id).await.unwrap();
    assert_eq!(history.party, p, "the registration is kept as it was");
    assert_eq!(history.facts, vec![fact.clone()]);
    let on = |d| party_on(&history.party, &history.facts, d).details.zone;
    assert_eq!(
        (on(date(2024, 2, 29)), on(date(2024, 3, 1))),
        (Zone::None, Zone::HiTechPark)
    );
    // Reads give the facts in force today.
    assert_eq!(
        store.repo.get_party(p.id).await.unwrap().details.zone,
        Zone::HiTechPark
    );
    let listed = store
        .repo
        .list_parties(&PartyFilter::default(), PageRequest { after: 0, size: 10 })
        .await
        .unwrap();
    assert_eq!(listed.items[0].details.zone, Zone::HiTechPark);

    // A change recorded later from an earlier day replaces what that day
    // had; a future change leaves today alone.
    let accounts = FactValue::BankAccounts(vec![BankAccount {
        bank_bic: "SCBLBDDX".into(),
        account_number: "01-2345678-01".into(),
        currency: repat_core::money::parse_currency("USD").unwrap(),
        utc_offset: None,
    }]);
    let future = NewPartyFact {
        party_id: p.id,
        effective_from: date(9999, 1, 1),
        value: accounts,
        reason: "new ERQ account".into(),
    };
    let later = admin(store)
        .record_party_fact(&key(RECORD), &future)
        .await
        .unwrap();
    assert_eq!(later.previous, FactValue::BankAccounts(vec![]));
    assert!(
        store
            .repo
            .get_party(p.id)
            .await
            .unwrap()
            .details
            .bank_accounts
            .is_empty()
    );
    let zones = store
        .repo
        .list_party_facts(
            p.id,
            Some(FactKind::Zone),
            PageRequest { after: 0, size: 10 },
        )
        .await
        .unwrap();
    assert_eq!(zones.items, vec![fact.clone()]);
    let all = store
        .repo
        .list_party_facts(p.id, None, PageRequest { after: 0, size: 1 })
        .await
        .unwrap();
    assert_eq!(all.items, vec![fact.clone()]);
    let rest = store
        .repo
        .list_party_facts(
            p.id,
            None,
            PageRequest {
                after: all.next_after.unwrap(),
                size: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!((rest.items, rest.next_after), (vec![later], None));

    let resources: Vec<String> = chain(store.repo.as_ref())
        .await
        .into_iter()
        .map(|e| e.record.resource)
        .collect();
    assert!(resources.contains(&format!("parties/{}/facts/{}", p.id, fact.id)));

    let missing = admin(store)
        .record_party_fact(
            &key(RECORD),
            &zone_change(Uuid::new_v4(), date(2024, 1, 1), Zone::Epz),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            missing,
            Error::Store(StoreError::NotFound { kind: "party", .. })
        ),
        "{missing:?}"
    );
}

async fn concurrent_changes_keep_one_history(store: &TestStore) {
    let p = party(store, "Busy Ltd").await;
    let zones = [Zone::Epz, Zone::HiTechPark, Zone::EconomicZone, Zone::None];
    let mut tasks = Vec::new();
    for (i, zone) in zones.iter().cycle().take(12).enumerate() {
        let admin = admin(store);
        let change = NewPartyFact {
            reason: format!("change {i}"),
            ..zone_change(p.id, date(2024, 3, 1), *zone)
        };
        tasks.push(tokio::spawn(async move {
            admin.record_party_fact(&key(RECORD), &change).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // Each change replaced exactly the one recorded before it.
    let history = store.repo.party_history(p.id).await.unwrap();
    assert_eq!(history.facts.len(), 12);
    let mut before = FactValue::Zone(Zone::None);
    for f in &history.facts {
        assert_eq!(f.previous, before, "{}", f.details.reason);
        before = f.details.value.clone();
    }
}
