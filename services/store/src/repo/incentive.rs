//! The cash incentive's records: rule sets, assessments, claims.

use async_trait::async_trait;
use repat_core::Named;
use repat_core::incentive::claim::{Claim, ClaimItem, ClaimStep};
use repat_core::incentive::totals::{LedgerEntry, Measure};
use repat_core::time::dhaka_date;
use uuid::Uuid;

use super::{SqlRepository, Write, page, page_limit};
use crate::codec;
use crate::db::Conn;
use crate::rows::{AssessedRow, ClaimItemRow, ClaimRow, ClaimStepRow, ClaimedRow, RuleSetRow};
use crate::types::{DbDecimal, DbTime};
use crate::{
    AssessmentFilter, ClaimFilter, IncentiveRepository, Page, PageRequest, StoreError,
    StoredAssessment, StoredRuleSet,
};

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

    async fn get_assessment(&self, id: Uuid) -> Result<StoredAssessment, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let row: AssessmentRow = pooled
            .conn()
            .query("SELECT seq, detail, superseded_by FROM assessments WHERE id = $1")
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
        let mut q = c.sql("SELECT seq, detail, superseded_by FROM assessments WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", filter.party_id)
            .and_eq("repatriation_id", filter.repatriation_id)
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<AssessmentRow> = q.fetch_all().await?;
        page(rows, p.size, |r| r.seq, |r| r.parse())
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
             WHERE eligible AND superseded_by IS NULL
               AND seq = (SELECT MAX(seq) FROM assessments b WHERE b.repatriation_id = a.repatriation_id)",
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

/// What the incentive's use cases write.
impl Write {
    pub async fn insert_assessment(&mut self, a: &StoredAssessment) -> Result<(), StoreError> {
        self.conn()
            .query(
                "INSERT INTO assessments (id, repatriation_id, party_id, rule_set_version, eligible, programme, incentive_bdt, realized_on, claim_deadline, detail, assess_time)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(a.id)
            .bind(a.repatriation_id)
            .bind(a.party_id)
            .bind(&a.assessment.rule_set_version)
            .bind(a.assessment.eligible)
            .bind(&a.assessment.programme)
            .bind(DbDecimal(a.assessment.incentive_bdt))
            .bind(a.case.realized_on)
            .bind(a.assessment.claim_deadline)
            .bind(codec::to_json(a)?)
            .bind(DbTime(a.assess_time))
            .execute()
            .await?;
        Ok(())
    }

    /// The newest assessment of a repatriation (the one in force).
    pub async fn current_assessment(
        &mut self,
        repatriation: Uuid,
    ) -> Result<Option<StoredAssessment>, StoreError> {
        let row: Option<AssessmentRow> = self
            .conn()
            .query("SELECT seq, detail, superseded_by FROM assessments WHERE repatriation_id = $1 AND superseded_by IS NULL ORDER BY seq DESC LIMIT 1")
            .bind(repatriation)
            .fetch_optional()
            .await?;
        row.map(|r| r.parse()).transpose()
    }

    /// The claim a repatriation is claimed in, if any.
    pub async fn claim_of(&mut self, repatriation: Uuid) -> Result<Option<Uuid>, StoreError> {
        let claimed: Option<(Uuid,)> = self
            .conn()
            .query("SELECT claim_id FROM claim_items WHERE repatriation_id = $1")
            .bind(repatriation)
            .fetch_optional()
            .await?;
        Ok(claimed.map(|(id,)| id))
    }

    /// Stores a new claim with its items and steps.
    pub async fn insert_claim(&mut self, claim: &Claim) -> Result<(), StoreError> {
        let at = self.time();
        let mut c = self.conn();
        c.query("INSERT INTO claims (id, party_id, programme, status, claimed, disbursed, create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
            .bind(claim.id)
            .bind(claim.party_id)
            .bind(&claim.programme)
            .bind(claim.status.name())
            .bind(DbDecimal(claim.claimed.amount()))
            .bind(claim.disbursed.map(|d| DbDecimal(d.amount())))
            .bind(DbTime(at))
            .execute()
            .await?;
        for (position, item) in claim.items.iter().enumerate() {
            c.query("INSERT INTO claim_items (repatriation_id, claim_id, position, assessment_id, incentive_bdt) VALUES ($1, $2, $3, $4, $5)")
                .bind(item.repatriation_id)
                .bind(claim.id)
                .bind(position as i32)
                .bind(item.assessment_id)
                .bind(DbDecimal(item.incentive.amount()))
                .execute()
                .await?;
        }
        for (position, step) in claim.steps.iter().enumerate() {
            insert_claim_step(&mut c, claim.id, position, step).await?;
        }
        Ok(())
    }

    /// Locks a claim until the transaction ends, and reads it.
    pub async fn lock_claim(&mut self, id: Uuid) -> Result<Claim, StoreError> {
        let mut c = self.conn();
        let mut lock = c.sql("SELECT id FROM claims WHERE id = ");
        lock.bind(id).for_update();
        let locked: Option<(Uuid,)> = lock.fetch_optional().await?;
        if locked.is_none() {
            return Err(StoreError::NotFound {
                kind: "claim",
                id: id.to_string(),
            });
        }
        fetch_claim(&mut c, id).await
    }

    /// Stores a claim's newest step, and the status and disbursement it
    /// leads to.
    pub async fn append_claim_step(&mut self, claim: &Claim) -> Result<(), StoreError> {
        let at = self.time();
        let mut c = self.conn();
        let position = claim
            .steps
            .len()
            .checked_sub(1)
            .ok_or_else(|| StoreError::Internal(format!("claim {} has no steps", claim.id)))?;
        insert_claim_step(&mut c, claim.id, position, &claim.steps[position]).await?;
        c.query("UPDATE claims SET status = $2, disbursed = $3, update_time = $4 WHERE id = $1")
            .bind(claim.id)
            .bind(claim.status.name())
            .bind(claim.disbursed.map(|d| DbDecimal(d.amount())))
            .bind(DbTime(at))
            .execute()
            .await?;
        Ok(())
    }
}

/// An assessment as stored, with the correction that superseded it.
#[derive(sqlx::FromRow)]
struct AssessmentRow {
    seq: i64,
    detail: String,
    superseded_by: Option<String>,
}

impl AssessmentRow {
    fn parse(&self) -> Result<StoredAssessment, StoreError> {
        let mut a: StoredAssessment = codec::from_json(&self.detail)?;
        a.superseded_by = self.superseded_by.clone();
        Ok(a)
    }
}

impl Write {
    /// Marks the journey's assessments not yet superseded as superseded by
    /// `revision` (a correction of the journey); returns their ids.
    pub async fn supersede_assessments(
        &mut self,
        repatriation: Uuid,
        revision: &str,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut c = self.conn();
        let ids: Vec<(Uuid,)> = c
            .query("SELECT id FROM assessments WHERE repatriation_id = $1 AND superseded_by IS NULL ORDER BY seq")
            .bind(repatriation)
            .fetch_all()
            .await?;
        c.query("UPDATE assessments SET superseded_by = $2 WHERE repatriation_id = $1 AND superseded_by IS NULL")
            .bind(repatriation)
            .bind(revision.to_string())
            .execute()
            .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }
}
