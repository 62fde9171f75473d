//! Rule sets, assessments and claims: a rule set version names one
//! content forever; assessments are kept whole; a claim rests on the
//! current eligible assessments and moves the journeys with it; the ledger
//! holds every amount the totals sum.

use repat_core::incentive::claim::{ClaimStatus, ClaimStepKind};
use repat_core::incentive::rules::{BANGLADESH, RuleSet};
use repat_core::incentive::totals::Measure;
use repat_core::repatriation::RepatriationStatus;
use repat_store::{
    AssessmentFilter, ClaimFilter, PageRequest, StoreError, StoredAssessment, StoredRuleSet,
};
use repat_tests::on_both_stores;
use repat_tests::store::TestStore;
use repat_usecases::Error;
use repat_usecases::assess::{AssessRequest, Assessed, assess_repatriation};
use repat_usecases::file_claim::{ClaimRequest, file_claim};
use repat_usecases::record_claim_step::{ClaimStepRequest, record_claim_step};
use repat_usecases::rules::ActiveRules;
use uuid::Uuid;

use crate::support::{admin, at, date, earning, key, money, party, realize, repatriation};

on_both_stores!(
    a_version_names_one_rule_set,
    assessments_are_kept_whole,
    claims_move_the_journeys
);

fn shipped() -> StoredRuleSet {
    let rules = RuleSet::from_toml(BANGLADESH).unwrap();
    StoredRuleSet {
        version: rules.version.clone(),
        name: rules.name.clone(),
        sha256: "sha-of-the-shipped-rules".into(),
        source_toml: BANGLADESH.into(),
        load_time: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
    }
}

async fn a_version_names_one_rule_set(store: &TestStore) {
    let rs = shipped();
    let stored = store.repo.register_rule_set(&rs).await.unwrap();
    assert_eq!(stored, rs);
    // Loading it again (another replica starting) keeps the first.
    let again = StoredRuleSet {
        load_time: rs.load_time + chrono::Duration::seconds(5),
        ..rs.clone()
    };
    assert_eq!(store.repo.register_rule_set(&again).await.unwrap(), rs);
    let changed = StoredRuleSet {
        sha256: "other content".into(),
        ..rs.clone()
    };
    let err = store.repo.register_rule_set(&changed).await.unwrap_err();
    assert!(matches!(err, StoreError::Precondition(_)), "{err:?}");
    assert_eq!(store.repo.get_rule_set(&rs.version).await.unwrap(), rs);
    assert_eq!(store.repo.list_rule_sets().await.unwrap(), vec![rs]);
    let missing = store
        .repo
        .get_rule_set("no-such-version")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, StoreError::NotFound { .. }),
        "{missing:?}"
    );
}

/// Assesses repatriation `id` under the shipped rules as of `as_of`, and
/// stores it.
async fn assessed(store: &TestStore, id: Uuid, as_of: chrono::NaiveDate) -> StoredAssessment {
    let rules = ActiveRules {
        rules: RuleSet::from_toml(BANGLADESH).unwrap(),
        stored: shipped(),
    };
    let request = AssessRequest {
        repatriation_id: id,
        as_of: Some(as_of),
        // The papers a claim needs, held by the firm.
        documents: [
            "CONTRACT_OR_WORK_ORDER",
            "INVOICE",
            "PROCEEDS_REALIZATION_CERTIFICATE",
        ]
        .map(String::from)
        .to_vec(),
        fx_rate: None,
        validate_only: false,
    };
    let admin = admin(store);
    let key = key("repat.v1.IncentiveService/AssessRepatriation");
    match assess_repatriation(&admin.app, &rules, &admin.caller, &key, &request)
        .await
        .unwrap()
    {
        Assessed::Stored(a) => a,
        Assessed::Looked { .. } => panic!("an assessment asked to be stored was only looked at"),
    }
}

async fn assessments_are_kept_whole(store: &TestStore) {
    store.repo.register_rule_set(&shipped()).await.unwrap();
    let p = party(store, "Assessed Ltd").await;
    let e = earning(store, p.id, "INV-1", "1000.00", date(2024, 8, 1)).await;
    let r = repatriation(store, p.id, &[e.id]).await;
    realize(store, r.id, "990.00", "2024-08-20T04:00:00Z", "118.05").await;
    let a = assessed(store, r.id, date(2024, 8, 25)).await;
    assert!(a.assessment.eligible, "{:?}", a.assessment.violations);
    // DOMAIN.md's worked example: 990.00 × 118.05 × 6%.
    assert_eq!(a.assessment.incentive_bdt.to_string(), "7012.17");
    assert_eq!(store.repo.get_assessment(a.id).await.unwrap(), a);
    let b = assessed(store, r.id, date(2024, 8, 26)).await;
    let by_repatriation = AssessmentFilter {
        repatriation_id: Some(r.id),
        ..Default::default()
    };
    let page = store
        .repo
        .list_assessments(&by_repatriation, PageRequest { after: 0, size: 1 })
        .await
        .unwrap();
    assert_eq!(page.items, vec![a]);
    let rest = store
        .repo
        .list_assessments(
            &by_repatriation,
            PageRequest {
                after: page.next_after.unwrap(),
                size: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items, vec![b]);
    let others = AssessmentFilter {
        party_id: Some(Uuid::new_v4()),
        ..Default::default()
    };
    assert!(
        store
            .repo
            .list_assessments(&others, PageRequest { after: 0, size: 5 })
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn claims_move_the_journeys(store: &TestStore) {
    store.repo.register_rule_set(&shipped()).await.unwrap();
    let p = party(store, "Claimant Ltd").await;
    let e = earning(store, p.id, "INV-1", "1000.00", date(2024, 8, 1)).await;
    let r = repatriation(store, p.id, &[e.id]).await;
    realize(store, r.id, "990.00", "2024-08-20T04:00:00Z", "118.05").await;
    let file = |ids: Vec<Uuid>| ClaimRequest {
        party_id: p.id,
        repatriation_ids: ids,
        filed_at: at("2024-09-01T04:00:00Z"),
    };
    let admin = admin(store);
    let claim_of = |ids: Vec<Uuid>| {
        let admin = admin.clone();
        async move {
            let key = key("repat.v1.IncentiveService/FileClaim");
            file_claim(&admin.app, &admin.caller, &key, &file(ids)).await
        }
    };
    let not_assessed = claim_of(vec![r.id]).await.unwrap_err();
    assert!(
        matches!(&not_assessed, Error::Precondition(m) if m.contains("has not been assessed")),
        "{not_assessed:?}"
    );
    let a = assessed(store, r.id, date(2024, 8, 25)).await;
    let claim = claim_of(vec![r.id]).await.unwrap();
    assert_eq!(claim.status, ClaimStatus::Filed);
    assert_eq!(claim.claimed, money("7012.17", "BDT"));
    assert_eq!(claim.items[0].assessment_id, a.id);
    assert_eq!(store.repo.get_claim(claim.id).await.unwrap(), claim);
    assert_eq!(
        store
            .repo
            .get_journey(r.id)
            .await
            .unwrap()
            .repatriation
            .status,
        RepatriationStatus::IncentiveClaimed
    );
    let twice = claim_of(vec![r.id]).await.unwrap_err();
    assert!(
        matches!(&twice, Error::Precondition(m) if m.contains("already claimed")),
        "{twice:?}"
    );

    let advance = |kind, when: &str, amount: Option<&str>| ClaimStepRequest {
        claim_id: claim.id,
        kind,
        occurred_at: at(when),
        reason: None,
        amount: amount.map(|a| money(a, "BDT")),
    };
    let settle = |step: ClaimStepRequest| {
        let admin = admin.clone();
        async move {
            let key = key("repat.v1.IncentiveService/RecordClaimStep");
            record_claim_step(&admin.app, &admin.caller, &key, &step).await
        }
    };
    let early = settle(advance(
        ClaimStepKind::Disbursed,
        "2024-09-10T04:00:00Z",
        None,
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(early, Error::Precondition(_)),
        "disbursed before audited: {early:?}"
    );
    settle(advance(
        ClaimStepKind::Audited,
        "2024-09-05T04:00:00Z",
        None,
    ))
    .await
    .unwrap();
    let over = settle(advance(
        ClaimStepKind::Disbursed,
        "2024-09-10T04:00:00Z",
        Some("7012.18"),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(&over, Error::Precondition(m) if m.contains("exceeds")),
        "{over:?}"
    );
    let paid = settle(advance(
        ClaimStepKind::Disbursed,
        "2024-09-10T04:00:00Z",
        None,
    ))
    .await
    .unwrap();
    assert_eq!(
        (paid.status, paid.disbursed),
        (ClaimStatus::Disbursed, Some(money("7012.17", "BDT")))
    );
    assert_eq!(paid.steps.len(), 3);
    assert_eq!(
        store
            .repo
            .get_journey(r.id)
            .await
            .unwrap()
            .repatriation
            .status,
        RepatriationStatus::IncentiveDisbursed
    );
    let mine = ClaimFilter {
        party_id: Some(p.id),
        status: Some(ClaimStatus::Disbursed),
    };
    assert_eq!(
        store
            .repo
            .list_claims(&mine, PageRequest { after: 0, size: 5 })
            .await
            .unwrap()
            .items,
        vec![paid]
    );

    let ledger = store.repo.incentive_ledger(Some(p.id)).await.unwrap();
    let of = |m: Measure| {
        ledger
            .iter()
            .filter(|l| l.measure == m)
            .map(|l| l.amount_bdt.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(of(Measure::Assessed), vec!["7012.17"]);
    assert_eq!(of(Measure::Claimed), vec!["7012.17"]);
    assert_eq!(of(Measure::Disbursed), vec!["7012.17"]);
    assert!(
        store
            .repo
            .incentive_ledger(Some(Uuid::new_v4()))
            .await
            .unwrap()
            .is_empty()
    );
}
