//! The cash incentive's records: rule sets, assessments, claims.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use repat_core::Named;
use repat_core::incentive::claim::{
    self as claims, Claim, ClaimItem, ClaimStatus, ClaimStep, ClaimStepKind,
};
use repat_core::incentive::totals::{LedgerEntry, Measure};
use repat_core::journey::{self, NewStep, Step};
use repat_core::time::dhaka_date;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::locked_journeys::LockedJourneys;
use super::{SqlRepository, append_audit, audit_draft, claim, page, page_limit, save_response};
use crate::codec::{self, derive_id, now};
use crate::db::{Conn, Tx};
use crate::rows::{
    AssessedRow, ClaimItemRow, ClaimRow, ClaimStepRow, ClaimedRow, DetailRow, RuleSetRow,
};
use crate::types::{DbDecimal, DbTime};
use crate::{
    AssessmentFilter, ClaimFilter, ClaimRequest, ClaimStepRequest, Idempotency,
    IncentiveRepository, Page, PageRequest, StoreError, StoredAssessment, StoredRuleSet,
};

fn bdt(amount: Decimal) -> Result<repat_core::Money, StoreError> {
    codec::money(amount, "BDT")
}

async fn fetch_claim(c: &mut Conn<'_>, id: Uuid) -> Result<Claim, StoreError> {
    let row: ClaimRow = c
        .query("SELECT * FROM claims WHERE id = $1")
        .bind(id)
        .fetch_optional()
        .await?
        .ok_or_else(|| StoreError::NotFound {
            kind: "claim",
            id: id.to_string(),
        })?;
    let items: Vec<ClaimItemRow> = c
        .query("SELECT * FROM claim_items WHERE claim_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all()
        .await?;
    let steps: Vec<ClaimStepRow> = c
        .query("SELECT * FROM claim_steps WHERE claim_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all()
        .await?;
    row.into_claim(
        items
            .into_iter()
            .map(ClaimItem::try_from)
            .collect::<Result<_, _>>()?,
        steps
            .into_iter()
            .map(ClaimStep::try_from)
            .collect::<Result<_, _>>()?,
    )
}

async fn insert_claim_step(
    c: &mut Conn<'_>,
    claim: Uuid,
    position: usize,
    step: &ClaimStep,
) -> Result<(), StoreError> {
    c.query("INSERT INTO claim_steps (claim_id, position, kind, occurred_at, recorded_at, reason, amount) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(claim)
        .bind(position as i32)
        .bind(step.kind.name())
        .bind(DbTime(step.occurred_at))
        .bind(DbTime(step.recorded_at))
        .bind(&step.reason)
        .bind(step.amount.map(|a| DbDecimal(a.amount())))
        .execute()
        .await?;
    Ok(())
}

/// Records the journey step a claim step stands for on each claimed
/// repatriation (inside the caller's transaction, with the same ordering
/// rules as any step).
async fn record_journey_steps(
    c: &mut Conn<'_>,
    idem: &Idempotency,
    repatriations: &[Uuid],
    kind: journey::StepKind,
    at: DateTime<Utc>,
    recorded: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut journeys = LockedJourneys::default();
    journeys.lock(c, repatriations).await?;
    let base = derive_id(idem.request_id);
    let mut stored = Vec::with_capacity(repatriations.len());
    for rid in repatriations {
        let new = NewStep::new(*rid, kind, at);
        journeys.admit(&new)?;
        let step = Step {
            id: Uuid::new_v5(&base, rid.as_bytes()),
            details: new,
            recorded_at: recorded,
        };
        journeys.add(&step);
        stored.push(step);
    }
    c.dialect().insert_steps(&stored).await?;
    journeys.save(c, recorded).await
}

/// The assessment a claim on repatriation `rid` would rest on: its
/// current one, which must be eligible and still claimable on `filed_on`.
async fn claimable(
    c: &mut Conn<'_>,
    rid: Uuid,
    filed_on: chrono::NaiveDate,
) -> Result<StoredAssessment, StoreError> {
    let row: DetailRow = c
        .query("SELECT seq, detail FROM assessments WHERE repatriation_id = $1 ORDER BY seq DESC LIMIT 1")
        .bind(rid)
        .fetch_optional()
        .await?
        .ok_or_else(|| StoreError::Precondition(format!("repatriation {rid} has not been assessed; assess it before claiming")))?;
    let current: StoredAssessment = row.parse()?;
    let a = &current.assessment;
    if !a.eligible {
        let reasons: Vec<&str> = a.violations.iter().map(|v| v.reason.name()).collect();
        return Err(StoreError::Precondition(format!(
            "the current assessment {} of repatriation {rid} is not eligible ({})",
            current.id,
            reasons.join(", ")
        )));
    }
    if let Some(deadline) = a.claim_deadline
        && filed_on > deadline
    {
        return Err(StoreError::Precondition(format!(
            "filed on {filed_on}, after repatriation {rid}'s claim deadline of {deadline} (CLAIM_WINDOW_EXPIRED)"
        )));
    }
    Ok(current)
}

#[async_trait]
impl IncentiveRepository for SqlRepository {
    async fn register_rule_set(&self, rs: &StoredRuleSet) -> Result<StoredRuleSet, StoreError> {
        // Replicas starting together may race: the first insert wins, and
        // every replica then compares with what is stored.
        let mut tx = self.writer.begin().await?;
        tx.conn()
            .query(
                "INSERT INTO rule_sets (version, name, sha256, source_toml, load_time) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (version) DO NOTHING",
            )
            .bind(&rs.version)
            .bind(&rs.name)
            .bind(&rs.sha256)
            .bind(&rs.source_toml)
            .bind(DbTime(rs.load_time))
            .execute()
            .await?;
        tx.commit().await?;
        let stored = self.get_rule_set(&rs.version).await?;
        if stored.sha256 != rs.sha256 {
            return Err(StoreError::Precondition(format!(
                "rule set version {:?} is already stored with other content (sha256 {}, loaded {}); raise `version` when the rules change",
                rs.version, stored.sha256, stored.load_time
            )));
        }
        Ok(stored)
    }

    async fn list_rule_sets(&self) -> Result<Vec<StoredRuleSet>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let rows: Vec<RuleSetRow> = pooled
            .conn()
            .query("SELECT * FROM rule_sets ORDER BY load_time DESC, version DESC")
            .fetch_all()
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn get_rule_set(&self, version: &str) -> Result<StoredRuleSet, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let row: RuleSetRow = pooled
            .conn()
            .query("SELECT * FROM rule_sets WHERE version = $1")
            .bind(version)
            .fetch_optional()
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "rule set",
                id: version.to_string(),
            })?;
        Ok(row.into())
    }

    async fn save_assessment(
        &self,
        idem: &Idempotency,
        a: &StoredAssessment,
    ) -> Result<StoredAssessment, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let stored = StoredAssessment {
            id: derive_id(idem.request_id),
            assess_time: at,
            ..a.clone()
        };
        tx.conn()
            .query(
                "INSERT INTO assessments (id, repatriation_id, party_id, rule_set_version, eligible, programme, incentive_bdt, realized_on, claim_deadline, detail, assess_time)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(stored.id)
            .bind(stored.repatriation_id)
            .bind(stored.party_id)
            .bind(&stored.assessment.rule_set_version)
            .bind(stored.assessment.eligible)
            .bind(&stored.assessment.programme)
            .bind(DbDecimal(stored.assessment.incentive_bdt))
            .bind(stored.case.realized_on)
            .bind(stored.assessment.claim_deadline)
            .bind(codec::to_json(&stored)?)
            .bind(DbTime(at))
            .execute()
            .await?;
        append_audit(
            &mut tx,
            vec![audit_draft(idem, format!("assessments/{}", stored.id), at)],
        )
        .await?;
        save_response(&mut tx, idem, &stored).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn get_assessment(&self, id: Uuid) -> Result<StoredAssessment, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let row: DetailRow = pooled
            .conn()
            .query("SELECT seq, detail FROM assessments WHERE id = $1")
            .bind(id)
            .fetch_optional()
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "assessment",
                id: id.to_string(),
            })?;
        row.parse()
    }

    async fn list_assessments(
        &self,
        filter: &AssessmentFilter,
        p: PageRequest,
    ) -> Result<Page<StoredAssessment>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT seq, detail FROM assessments WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", filter.party_id)
            .and_eq("repatriation_id", filter.repatriation_id)
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<DetailRow> = q.fetch_all().await?;
        page(rows, p.size, |r| r.seq, |r| r.parse())
    }

    async fn file_claim(
        &self,
        idem: &Idempotency,
        req: &ClaimRequest,
    ) -> Result<Claim, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let mut c = tx.conn();
        let mut locked = req.repatriation_ids.clone();
        locked.sort();
        let exists = c.dialect().lock_repatriations(&locked).await?;
        let filed_on = dhaka_date(req.filed_at);
        let mut items = Vec::with_capacity(req.repatriation_ids.len());
        let mut programme: Option<String> = None;
        let mut total = Decimal::ZERO;
        for rid in &req.repatriation_ids {
            let not_found = || StoreError::NotFound {
                kind: "repatriation",
                id: rid.to_string(),
            };
            if !exists.contains_key(rid) {
                return Err(not_found());
            }
            let (party,): (Uuid,) = c
                .query("SELECT party_id FROM repatriations WHERE id = $1")
                .bind(rid)
                .fetch_one()
                .await?;
            if party != req.party_id {
                return Err(not_found());
            }
            let claimed: Option<(Uuid,)> = c
                .query("SELECT claim_id FROM claim_items WHERE repatriation_id = $1")
                .bind(rid)
                .fetch_optional()
                .await?;
            if let Some((other,)) = claimed {
                return Err(StoreError::Precondition(format!(
                    "repatriation {rid} is already claimed in claim {other}"
                )));
            }
            let current = claimable(&mut c, *rid, filed_on).await?;
            let a = &current.assessment;
            let this = a.programme.clone().unwrap_or_default();
            match &programme {
                Some(p) if *p != this => {
                    return Err(StoreError::Precondition(format!(
                        "a claim is for one programme: repatriation {rid} is under {this}, the ones before it under {p}"
                    )));
                }
                _ => programme = Some(this),
            }
            total += a.incentive_bdt;
            items.push(ClaimItem {
                repatriation_id: *rid,
                assessment_id: current.id,
                incentive: bdt(a.incentive_bdt)?,
            });
        }
        record_journey_steps(
            &mut c,
            idem,
            &req.repatriation_ids,
            journey::StepKind::IncentiveClaimFiled,
            req.filed_at,
            at,
        )
        .await?;

        let filed = ClaimStep {
            kind: ClaimStepKind::Filed,
            occurred_at: req.filed_at,
            recorded_at: at,
            reason: None,
            amount: None,
        };
        let claim_row = Claim {
            id: derive_id(idem.request_id),
            party_id: req.party_id,
            programme: programme.unwrap_or_default(),
            status: ClaimStatus::Filed,
            items,
            claimed: bdt(total)?,
            disbursed: None,
            steps: vec![filed.clone()],
        };
        c.query("INSERT INTO claims (id, party_id, programme, status, claimed, disbursed, create_time, update_time) VALUES ($1, $2, $3, $4, $5, NULL, $6, $6)")
            .bind(claim_row.id)
            .bind(claim_row.party_id)
            .bind(&claim_row.programme)
            .bind(claim_row.status.name())
            .bind(DbDecimal(claim_row.claimed.amount()))
            .bind(DbTime(at))
            .execute()
            .await?;
        for (position, item) in claim_row.items.iter().enumerate() {
            c.query("INSERT INTO claim_items (repatriation_id, claim_id, position, assessment_id, incentive_bdt) VALUES ($1, $2, $3, $4, $5)")
                .bind(item.repatriation_id)
                .bind(claim_row.id)
                .bind(position as i32)
                .bind(item.assessment_id)
                .bind(DbDecimal(item.incentive.amount()))
                .execute()
                .await?;
        }
        insert_claim_step(&mut c, claim_row.id, 0, &filed).await?;
        append_audit(
            &mut tx,
            vec![audit_draft(idem, format!("claims/{}", claim_row.id), at)],
        )
        .await?;
        save_response(&mut tx, idem, &claim_row).await?;
        tx.commit().await?;
        Ok(claim_row)
    }

    async fn record_claim_step(
        &self,
        idem: &Idempotency,
        req: &ClaimStepRequest,
    ) -> Result<Claim, StoreError> {
        let mut tx: Tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let mut c = tx.conn();
        let mut lock = c.sql("SELECT id FROM claims WHERE id = ");
        lock.bind(req.claim_id).for_update();
        let locked: Option<(Uuid,)> = lock.fetch_optional().await?;
        if locked.is_none() {
            return Err(StoreError::NotFound {
                kind: "claim",
                id: req.claim_id.to_string(),
            });
        }
        let mut current = fetch_claim(&mut c, req.claim_id).await?;
        let last = current
            .steps
            .last()
            .ok_or_else(|| StoreError::Internal(format!("claim {} has no steps", current.id)))?;
        let status = claims::advance(current.status, last, req.kind, req.occurred_at)
            .map_err(|v| StoreError::Precondition(v.to_string()))?;
        let amount = match req.kind {
            ClaimStepKind::Disbursed => {
                let paid = req.amount.unwrap_or(current.claimed);
                if paid.amount() > current.claimed.amount() {
                    return Err(StoreError::Precondition(format!(
                        "disbursed {} BDT exceeds the {} BDT claimed",
                        paid.amount_string(),
                        current.claimed.amount_string()
                    )));
                }
                Some(paid)
            }
            _ => None,
        };
        if let Some(kind) = req.kind.journey_step() {
            let ids: Vec<Uuid> = current.items.iter().map(|i| i.repatriation_id).collect();
            record_journey_steps(&mut c, idem, &ids, kind, req.occurred_at, at).await?;
        }
        let step = ClaimStep {
            kind: req.kind,
            occurred_at: req.occurred_at,
            recorded_at: at,
            reason: req.reason.clone(),
            amount,
        };
        insert_claim_step(&mut c, current.id, current.steps.len(), &step).await?;
        current.steps.push(step);
        current.status = status;
        if amount.is_some() {
            current.disbursed = amount;
        }
        c.query("UPDATE claims SET status = $2, disbursed = $3, update_time = $4 WHERE id = $1")
            .bind(current.id)
            .bind(status.name())
            .bind(current.disbursed.map(|d| DbDecimal(d.amount())))
            .bind(DbTime(at))
            .execute()
            .await?;
        append_audit(
            &mut tx,
            vec![audit_draft(
                idem,
                format!("claims/{}/steps/{}", current.id, current.steps.len() - 1),
                at,
            )],
        )
        .await?;
        save_response(&mut tx, idem, &current).await?;
        tx.commit().await?;
        Ok(current)
    }

    async fn get_claim(&self, id: Uuid) -> Result<Claim, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        fetch_claim(&mut pooled.conn(), id).await
    }

    async fn list_claims(
        &self,
        filter: &ClaimFilter,
        p: PageRequest,
    ) -> Result<Page<Claim>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT * FROM claims WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", filter.party_id)
            .and_eq("status", filter.status.map(|s| s.name()))
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<ClaimRow> = q.fetch_all().await?;
        let ids = page(rows, p.size, |r| r.seq, |r| Ok(r.id))?;
        let mut items = Vec::with_capacity(ids.items.len());
        for id in ids.items {
            items.push(fetch_claim(&mut c, id).await?);
        }
        Ok(Page {
            items,
            next_after: ids.next_after,
        })
    }

    async fn incentive_ledger(
        &self,
        party_id: Option<Uuid>,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut entries = Vec::new();
        // The current assessment of a repatriation is its newest.
        let mut q = c.sql(
            "SELECT party_id, programme, incentive_bdt AS amount, realized_on FROM assessments a
             WHERE eligible AND seq = (SELECT MAX(seq) FROM assessments b WHERE b.repatriation_id = a.repatriation_id)",
        );
        q.and_eq("party_id", party_id);
        let assessed: Vec<AssessedRow> = q.fetch_all().await?;
        for r in assessed {
            let Some(date) = r.realized_on else { continue };
            entries.push(LedgerEntry {
                measure: Measure::Assessed,
                date,
                programme: r.ledger.programme.unwrap_or_default(),
                party_id: r.ledger.party_id,
                amount_bdt: r.ledger.amount.0,
            });
        }
        let mut q = c.sql(
            "SELECT c.party_id, c.programme, i.incentive_bdt AS amount, s.occurred_at
             FROM claim_items i JOIN claims c ON c.id = i.claim_id JOIN claim_steps s ON s.claim_id = c.id AND s.kind = 'FILED'
             WHERE TRUE",
        );
        q.and_eq("c.party_id", party_id);
        let claimed: Vec<ClaimedRow> = q.fetch_all().await?;
        let mut q = c.sql(
            "SELECT c.party_id, c.programme, s.amount, s.occurred_at
             FROM claims c JOIN claim_steps s ON s.claim_id = c.id AND s.kind = 'DISBURSED'
             WHERE TRUE",
        );
        q.and_eq("c.party_id", party_id);
        let disbursed: Vec<ClaimedRow> = q.fetch_all().await?;
        for (measure, rows) in [(Measure::Claimed, claimed), (Measure::Disbursed, disbursed)] {
            for r in rows {
                entries.push(LedgerEntry {
                    measure,
                    date: dhaka_date(r.occurred_at.0),
                    programme: r.ledger.programme.unwrap_or_default(),
                    party_id: r.ledger.party_id,
                    amount_bdt: r.ledger.amount.0,
                });
            }
        }
        Ok(entries)
    }
}
