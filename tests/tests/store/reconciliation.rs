//! Statements, matches and exceptions: a file is stored once per party; a
//! run keeps the matcher's matches, records the credit on the journey and
//! replaces the party's exceptions; a person unmatches and matches by hand.

use repat_core::journey::StepKind;
use repat_core::reconcile::{Entry, StatementFormat, Subject, Tolerances};
use repat_store::{
    EntryStatus, ManualMatchRequest, MatchFilter, PageRequest, StatementImport, StatementPart,
    StoreError,
};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;
use uuid::Uuid;

use crate::support::{date, earning, key, money, party, repatriation};

on_both_stores!(statements_are_matched_and_kept);

const IMPORT: &str = "repat.v1.ReconciliationService/ImportStatement";

async fn statements_are_matched_and_kept(store: &TestStore) {
    let repo = store.repo.as_ref();
    let p = party(store, "Reconciled Ltd").await;
    let e = earning(store, p.id, "INV-R1", "1000.00", date(2024, 3, 1)).await;
    let r = repatriation(store, p.id, &[e.id]).await;
    let mut paying = Entry::credit(0, money("990.00", "USD"), date(2024, 3, 20));
    paying.remittance = "Payment for INV-R1".into();
    paying.counterparty = "Nordic Retail AB".into();
    let stray = Entry::credit(1, money("37.00", "USD"), date(2024, 3, 21));
    let statement = StatementImport {
        party_id: p.id,
        format: StatementFormat::Camt053,
        sha256: "ab".repeat(32),
        statements: vec![StatementPart {
            message_id: "MSG-1".into(),
            account: "1501202900001".into(),
            entries: vec![paying, stray],
        }],
    };
    let mut parts = repo
        .import_statement(&key(IMPORT), &statement)
        .await
        .unwrap();
    assert_eq!(parts.len(), 1);
    let stored = parts.remove(0);
    assert_eq!(stored.entries.len(), 2);
    assert!(stored.entries.iter().all(|e| e.status == EntryStatus::Open));
    assert_eq!(repo.get_statement(stored.id).await.unwrap(), stored);
    // The same file again, under another request: the statement stored first.
    let again = repo
        .import_statement(&key(IMPORT), &statement)
        .await
        .unwrap();
    assert_eq!(again.iter().map(|s| s.id).collect::<Vec<_>>(), [stored.id]);
    let (credit, stray) = (stored.entries[0].id, stored.entries[1].id);
    assert_eq!(repo.entry_party(credit).await.unwrap(), p.id);
    let missing = repo.entry_party(Uuid::new_v4()).await.unwrap_err();
    assert!(
        matches!(missing, StoreError::NotFound { .. }),
        "{missing:?}"
    );

    let run = repo
        .run_matching(
            &key("repat.v1.ReconciliationService/RunMatching"),
            p.id,
            &Tolerances::default(),
        )
        .await
        .unwrap();
    assert_eq!(run.matches.len(), 1);
    let m = &run.matches[0];
    assert_eq!(
        (m.detail.credit, m.detail.invoice, m.repatriation_id),
        (credit, e.id, Some(r.id))
    );
    let journey = repo.get_journey(r.id).await.unwrap();
    let credited = journey
        .steps
        .iter()
        .find(|s| s.kind() == StepKind::BeneficiaryCredited)
        .expect("the credit reached the journey");
    assert_eq!(Some(credited.id), m.step_id);
    assert_eq!(credited.details.amount, Some(money("990.00", "USD")));
    let exceptions = repo
        .list_exceptions(Some(p.id), PageRequest { after: 0, size: 10 })
        .await
        .unwrap()
        .items;
    assert_eq!(
        exceptions.iter().map(|x| x.subject).collect::<Vec<_>>(),
        vec![Subject::Credit(stray)]
    );
    assert_eq!(run.exception_count, 1);
    let statuses: Vec<EntryStatus> = repo
        .get_statement(stored.id)
        .await
        .unwrap()
        .entries
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, vec![EntryStatus::Matched, EntryStatus::Exception]);
    let by_earning = MatchFilter {
        earning_id: Some(e.id),
        ..Default::default()
    };
    assert_eq!(
        repo.list_matches(&by_earning, PageRequest { after: 0, size: 10 })
            .await
            .unwrap()
            .items,
        run.matches
    );
    let realizations = repo
        .list_realizations(Some(p.id), PageRequest { after: 0, size: 10 })
        .await
        .unwrap()
        .items;
    assert_eq!(realizations.len(), 1);
    assert_eq!(realizations[0].realization.realized, m.detail.covered);

    // Taken back by hand, then matched by hand.
    let removed = repo
        .unmatch(&key("repat.v1.ReconciliationService/Unmatch"), credit)
        .await
        .unwrap();
    assert_eq!(removed, run.matches);
    assert!(
        repo.list_matches(&by_earning, PageRequest { after: 0, size: 10 })
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let nothing_left = repo
        .unmatch(&key("repat.v1.ReconciliationService/Unmatch"), credit)
        .await
        .unwrap_err();
    assert!(
        matches!(nothing_left, StoreError::Precondition(_)),
        "{nothing_left:?}"
    );
    let by_hand = ManualMatchRequest {
        credit_id: credit,
        allocations: vec![(e.id, None)],
        tolerances: Tolerances::default(),
    };
    let manual = repo
        .manual_match(&key("repat.v1.ReconciliationService/ManualMatch"), &by_hand)
        .await
        .unwrap();
    assert_eq!(manual.len(), 1);
    assert_eq!(
        manual[0].step_id, m.step_id,
        "the journey keeps the one credit step"
    );
    let twice = repo
        .manual_match(&key("repat.v1.ReconciliationService/ManualMatch"), &by_hand)
        .await
        .unwrap_err();
    assert!(
        matches!(&twice, StoreError::Precondition(msg) if msg.contains("already matched")),
        "{twice:?}"
    );
}
