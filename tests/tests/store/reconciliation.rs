//! Statements, matches and exceptions: a file is stored once per party; a
//! run keeps the matcher's matches, records the credit on the journey and
//! replaces the party's exceptions; a person unmatches and matches by hand.

use repat_core::journey::StepKind;
use repat_core::reconcile::{StatementFormat, Subject, Tolerances};
use repat_store::{EntryStatus, MatchFilter, PageRequest, StoreError};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;
use repat_usecases::Error;
use repat_usecases::import_statement::{StatementUpload, import_statement};
use repat_usecases::manual_match::{ManualMatchRequest, manual_match};
use repat_usecases::run_matching::run_matching;
use repat_usecases::unmatch::unmatch;
use uuid::Uuid;

use crate::support::{admin, date, earning, key, money, party, repatriation};

on_both_stores!(statements_are_matched_and_kept);

const IMPORT: &str = "repat.v1.ReconciliationService/ImportStatement";

async fn statements_are_matched_and_kept(store: &TestStore) {
    let repo = store.repo.as_ref();
    let p = party(store, "Reconciled Ltd").await;
    let e = earning(store, p.id, "INV-R1", "1000.00", date(2024, 3, 1)).await;
    let r = repatriation(store, p.id, &[e.id]).await;
    let admin = admin(store);
    let (app, caller) = (&admin.app, &admin.caller);
    let file = "booking_date,direction,amount,currency,remittance,counterparty\n\
                2024-03-20,CREDIT,990.00,USD,Payment for INV-R1,Nordic Retail AB\n\
                2024-03-21,CREDIT,37.00,USD,,\n";
    let statement = StatementUpload {
        party_id: p.id,
        format: StatementFormat::Csv,
        charset: None,
        content: file.as_bytes(),
    };
    let mut parts = import_statement(app, caller, &key(IMPORT), &statement)
        .await
        .unwrap();
    assert_eq!(parts.len(), 1);
    let stored = parts.remove(0);
    assert_eq!(stored.entries.len(), 2);
    assert!(stored.entries.iter().all(|e| e.status == EntryStatus::Open));
    assert_eq!(repo.get_statement(stored.id).await.unwrap(), stored);
    // The same file again, under another request: the statement stored first.
    let again = import_statement(app, caller, &key(IMPORT), &statement)
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

    let run = run_matching(
        app,
        caller,
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
    let removed = unmatch(
        app,
        caller,
        &key("repat.v1.ReconciliationService/Unmatch"),
        credit,
        "paid another invoice",
    )
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
    let nothing_left = unmatch(
        app,
        caller,
        &key("repat.v1.ReconciliationService/Unmatch"),
        credit,
        "paid another invoice",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(nothing_left, Error::Precondition(_)),
        "{nothing_left:?}"
    );
    let by_hand = ManualMatchRequest {
        credit_id: credit,
        allocations: vec![(e.id, None)],
        note: "the client's remittance names this invoice".into(),
    };
    let tolerances = Tolerances::default();
    let match_by_hand = || async {
        let key = key("repat.v1.ReconciliationService/ManualMatch");
        manual_match(app, caller, &key, &by_hand, &tolerances).await
    };
    let manual = match_by_hand().await.unwrap();
    assert_eq!(manual.len(), 1);
    assert_eq!(
        manual[0].note.as_deref(),
        Some("the client's remittance names this invoice")
    );
    assert_eq!(
        manual[0].step_id, m.step_id,
        "the journey keeps the one credit step"
    );
    let twice = match_by_hand().await.unwrap_err();
    assert!(
        matches!(&twice, Error::Precondition(msg) if msg.contains("already matched")),
        "{twice:?}"
    );
}
