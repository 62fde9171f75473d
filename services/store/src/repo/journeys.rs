//! Parties, earnings, repatriations and their steps, and the audit trail.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use repat_core::Named;
use repat_core::audit::AuditEntry;
use repat_core::earning::Earning;
use repat_core::facts::party_on;
use repat_core::journey::{Step, StepKind};
use repat_core::party::{Party, PartyKind};
use repat_core::repatriation::Repatriation;
use repat_core::time::dhaka_date;
use uuid::Uuid;

use super::facts::fetch_facts_of_page;
use super::metrics::refresh_metrics;
use super::{SqlRepository, Write, fetch_repatriation, page, page_limit};
use crate::codec::{self, now};
use crate::dialect::JourneyUpdate;
use crate::rows::{AuditRow, EarningRow, PartyRow, RepatriationRow, UndatedRow};
use crate::types::{DbDecimal, DbTime};
use crate::{
    AuditFilter, ChangeFeed, EarningFilter, Journey, Page, PageRequest, PartyFactRepository,
    PartyFilter, PoolUsage, RepatriationFilter, Repository, StoreError, UndatedRepatriation,
};

/// Longest journey read whole by [`Write::load_step_extremes`]: two
/// probes (earliest, latest) per kind read at most this many rows.
const READ_WHOLE_UP_TO: i32 = 2 * StepKind::ALL.len() as i32;

/// The earliest and latest step of each kind among `steps` (by occurrence,
/// then recording, then id: the order the backends' probes read them in),
/// kind by kind in [`StepKind::ALL`]'s order.
fn extremes(mut steps: Vec<Step>) -> Vec<Step> {
    steps.sort_by_key(|s| (s.kind(), s.occurred_at(), s.recorded_at, s.id));
    let mut out: Vec<Step> = Vec::new();
    for kind in steps.chunk_by(|a, b| a.kind() == b.kind()) {
        out.push(kind[0].clone());
        if kind.len() > 1 {
            out.push(kind[kind.len() - 1].clone());
        }
    }
    out
}

#[async_trait]
impl Repository for SqlRepository {
    fn backend(&self) -> &'static str {
        self.pool.backend()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.health.acquire().await?;
        c.conn().query("SELECT 1").execute().await?;
        Ok(())
    }

    async fn publish_changes(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        self.pool.publish_changes(ids).await
    }

    async fn change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        self.pool.change_feed().await
    }

    async fn begin(&self) -> Result<Write, StoreError> {
        Write::begin(&self.writer, self.record_events).await
    }

    fn pool_usage(&self) -> PoolUsage {
        let (size, idle, max) = self.pool.usage();
        PoolUsage {
            in_use: size.saturating_sub(idle),
            idle,
            max,
        }
    }

    /// The party with the facts in force today (Dhaka).
    async fn get_party(&self, id: Uuid) -> Result<Party, StoreError> {
        let history = self.party_history(id).await?;
        Ok(party_on(&history.party, &history.facts, dhaka_date(now())))
    }

    async fn list_parties(
        &self,
        filter: &PartyFilter,
        p: PageRequest,
    ) -> Result<Page<Party>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT * FROM parties WHERE seq > ");
        q.bind(p.after)
            .and_eq("kind", filter.kind.map(Named::name))
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<PartyRow> = q.fetch_all().await?;
        let last = rows.iter().take(p.size as usize).map(|r| r.seq).max();
        let facts = match last {
            Some(last) => fetch_facts_of_page(&mut c, p.after, last).await?,
            None => Vec::new(),
        };
        let today = dhaka_date(now());
        let mut found = page(rows, p.size, |r| r.seq, Party::try_from)?;
        for party in &mut found.items {
            let own: Vec<_> = facts
                .iter()
                .filter(|f| f.details.party_id == party.id)
                .cloned()
                .collect();
            *party = party_on(party, &own, today);
        }
        Ok(found)
    }

    async fn get_earning(&self, id: Uuid) -> Result<Earning, StoreError> {
        let mut c = self.pool.acquire().await?;
        let row: EarningRow = c
            .conn()
            .query("SELECT * FROM earnings WHERE id = $1")
            .bind(id)
            .fetch_optional()
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "earning",
                id: id.to_string(),
            })?;
        row.try_into()
    }

    async fn list_earnings(
        &self,
        filter: &EarningFilter,
        p: PageRequest,
    ) -> Result<Page<Earning>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let mut c = c.conn();
        let mut q = c.sql("SELECT * FROM earnings WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", filter.party_id)
            .and("invoice_date", ">=", filter.invoice_date_from)
            .and("invoice_date", "<=", filter.invoice_date_to)
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<EarningRow> = q.fetch_all().await?;
        page(rows, p.size, |r| r.seq, Earning::try_from)
    }

    async fn get_journey(&self, id: Uuid) -> Result<Journey, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let repatriation = fetch_repatriation(&mut c, id).await?;
        let steps = c
            .dialect()
            .load_steps(&[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        let mut invoice_dates: Vec<NaiveDate> = Vec::new();
        for a in &repatriation.details.allocations {
            let (date,): (NaiveDate,) = c
                .query("SELECT invoice_date FROM earnings WHERE id = $1")
                .bind(a.earning_id)
                .fetch_one()
                .await?;
            invoice_dates.push(date);
        }
        Ok(Journey {
            repatriation,
            steps,
            invoice_dates,
        })
    }

    async fn repatriation_party(&self, id: Uuid) -> Result<Uuid, StoreError> {
        let mut c = self.pool.acquire().await?;
        let (party,): (Uuid,) = c
            .conn()
            .query("SELECT party_id FROM repatriations WHERE id = $1")
            .bind(id)
            .fetch_optional()
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "repatriation",
                id: id.to_string(),
            })?;
        Ok(party)
    }

    async fn undated_repatriations(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<UndatedRepatriation>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        // The earliest invoice chooses the programme and starts the count.
        let mut q = c.sql(
            "SELECT r.id, p.kind AS party_kind,
                    (SELECT e.service_category FROM allocations a JOIN earnings e ON e.id = a.earning_id
                     WHERE a.repatriation_id = r.id ORDER BY e.invoice_date, e.id LIMIT 1) AS service_category,
                    (SELECT MIN(e.invoice_date) FROM allocations a JOIN earnings e ON e.id = a.earning_id
                     WHERE a.repatriation_id = r.id) AS invoice_date
             FROM repatriations r JOIN parties p ON p.id = r.party_id
             WHERE r.repatriation_deadline IS NULL",
        );
        q.and("r.id", ">", after)
            .push(" ORDER BY r.id LIMIT ")
            .bind(i64::from(limit));
        let rows: Vec<UndatedRow> = q.fetch_all().await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(UndatedRepatriation {
                    id: r.id,
                    party_kind: r.party_kind,
                    service_category: r.service_category?,
                    invoice_date: r.invoice_date?,
                })
            })
            .collect())
    }

    async fn list_repatriations(
        &self,
        filter: &RepatriationFilter,
        p: PageRequest,
    ) -> Result<Page<Repatriation>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT * FROM repatriations WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", filter.party_id)
            .and_eq("status", filter.status.map(|s| s.name()));
        if let Some(earning) = filter.earning_id {
            q.push(" AND id IN (SELECT repatriation_id FROM allocations WHERE earning_id = ")
                .bind(earning)
                .push(")");
        }
        q.push(" ORDER BY seq LIMIT ").bind(page_limit(p.size));
        let rows: Vec<RepatriationRow> = q.fetch_all().await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut allocations = c.dialect().load_allocations(&ids).await?;
        page(
            rows,
            p.size,
            |r| r.seq,
            |r| {
                let id = r.id;
                r.into_repatriation(allocations.remove(&id).unwrap_or_default())
            },
        )
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        p: PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let mut c = c.conn();
        let mut q = c.sql("SELECT * FROM audit_log WHERE sequence > ");
        q.bind(p.after)
            .and_eq("subject", filter.subject.as_deref())
            .and_eq("method", filter.method.as_deref())
            .and("time", ">=", filter.start.map(DbTime))
            .and("time", "<", filter.end.map(DbTime))
            .push(" ORDER BY sequence LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<AuditRow> = q.fetch_all().await?;
        page(rows, p.size, |r| r.sequence, |r| Ok(r.into()))
    }

    async fn audit_chain(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let rows: Vec<AuditRow> = c
            .conn()
            .query("SELECT * FROM audit_log WHERE sequence > $1 ORDER BY sequence LIMIT $2")
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all()
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// What the journeys' use cases write.
impl Write {
    pub async fn insert_party(&mut self, party: &Party) -> Result<(), StoreError> {
        let new = &party.details;
        self.conn()
            .query(
                "INSERT INTO parties (id, kind, legal_name, country, zone, memberships, bank_accounts, create_time)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(party.id)
            .bind(new.kind.name())
            .bind(&new.legal_name)
            .bind(&new.country)
            .bind(new.zone.name())
            .bind(codec::to_json(&new.memberships)?)
            .bind(codec::to_json(&new.bank_accounts)?)
            .bind(DbTime(party.create_time))
            .execute()
            .await?;
        Ok(())
    }

    /// The kind of a party; refuses one that does not exist.
    pub async fn require_party(&mut self, id: Uuid) -> Result<PartyKind, StoreError> {
        let party: Option<(String,)> = self
            .conn()
            .query("SELECT kind FROM parties WHERE id = $1")
            .bind(id)
            .fetch_optional()
            .await?;
        let (kind,) = party.ok_or_else(|| StoreError::NotFound {
            kind: "party",
            id: id.to_string(),
        })?;
        codec::from_name("party kind", &kind)
    }

    /// The party's earning with this invoice reference, if there is one.
    pub async fn earning_with_reference(
        &mut self,
        party: Uuid,
        reference: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        let found: Option<(Uuid,)> = self
            .conn()
            .query("SELECT id FROM earnings WHERE party_id = $1 AND invoice_reference = $2")
            .bind(party)
            .bind(reference)
            .fetch_optional()
            .await?;
        Ok(found.map(|(id,)| id))
    }

    pub async fn insert_earning(&mut self, earning: &Earning) -> Result<(), StoreError> {
        let new = &earning.details;
        self.conn()
            .query(
                "INSERT INTO earnings (id, party_id, client_name, client_country, service_category, amount, currency, allocated,
                                       invoice_date, due_date, invoice_reference, marketplace, create_time)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(earning.id)
            .bind(new.party_id)
            .bind(&new.client_name)
            .bind(&new.client_country)
            .bind(new.service_category.name())
            .bind(DbDecimal(new.amount.amount()))
            .bind(new.amount.currency().code())
            .bind(DbDecimal(earning.allocated.amount()))
            .bind(new.invoice_date)
            .bind(new.due_date)
            .bind(&new.invoice_reference)
            .bind(&new.marketplace)
            .bind(DbTime(earning.create_time))
            .execute()
            .await?;
        Ok(())
    }

    /// Locks the earnings until the transaction ends and reads them. They
    /// are locked in id order, so two transactions sharing earnings never
    /// deadlock.
    pub async fn lock_earnings(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Earning>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        let mut c = self.conn();
        let mut earnings = HashMap::new();
        for id in ids {
            let mut q = c.sql("SELECT * FROM earnings WHERE id = ");
            q.bind(id).for_update();
            let row: EarningRow =
                q.fetch_optional()
                    .await?
                    .ok_or_else(|| StoreError::NotFound {
                        kind: "earning",
                        id: id.to_string(),
                    })?;
            earnings.insert(id, Earning::try_from(row)?);
        }
        Ok(earnings)
    }

    /// Stores how much of an earning repatriations pay.
    pub async fn set_allocated(
        &mut self,
        earning: Uuid,
        allocated: repat_core::Money,
    ) -> Result<(), StoreError> {
        self.conn()
            .query("UPDATE earnings SET allocated = $2 WHERE id = $1")
            .bind(earning)
            .bind(DbDecimal(allocated.amount()))
            .execute()
            .await?;
        Ok(())
    }

    /// Stores a new repatriation with its allocations, the last day it may
    /// be realized, and its metrics summary (so an unpaid invoice can be
    /// seen to be late from the start).
    pub async fn insert_repatriation(
        &mut self,
        r: &Repatriation,
        deadline: Option<NaiveDate>,
    ) -> Result<(), StoreError> {
        let mut c = self.conn();
        c.query(
            "INSERT INTO repatriations (id, party_id, channel, payer_country, expected_amount, currency, status, step_count, create_time, update_time, repatriation_deadline)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(r.id)
        .bind(r.details.party_id)
        .bind(r.details.channel.name())
        .bind(&r.details.payer_country)
        .bind(DbDecimal(r.expected_amount.amount()))
        .bind(r.expected_amount.currency().code())
        .bind(r.status.name())
        .bind(r.step_count)
        .bind(DbTime(r.create_time))
        .bind(DbTime(r.update_time))
        .bind(deadline)
        .execute()
        .await?;
        for (position, a) in r.details.allocations.iter().enumerate() {
            c.query("INSERT INTO allocations (repatriation_id, position, earning_id, amount, currency) VALUES ($1, $2, $3, $4, $5)")
                .bind(r.id)
                .bind(position as i32)
                .bind(a.earning_id)
                .bind(DbDecimal(a.amount.amount()))
                .bind(a.amount.currency().code())
                .execute()
                .await?;
        }
        refresh_metrics(&mut c, &[r.id], &HashMap::new()).await
    }

    /// Stores the last day a repatriation opened before deadlines were
    /// stored may be realized.
    pub async fn set_repatriation_deadline(
        &mut self,
        id: Uuid,
        deadline: NaiveDate,
    ) -> Result<(), StoreError> {
        self.conn()
            .query("UPDATE repatriations SET repatriation_deadline = $2 WHERE id = $1")
            .bind(id)
            .bind(deadline)
            .execute()
            .await?;
        Ok(())
    }

    /// The party a repatriation pays.
    pub async fn repatriation_party(&mut self, id: Uuid) -> Result<Uuid, StoreError> {
        let (party,): (Uuid,) = self
            .conn()
            .query("SELECT party_id FROM repatriations WHERE id = $1")
            .bind(id)
            .fetch_optional()
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "repatriation",
                id: id.to_string(),
            })?;
        Ok(party)
    }

    /// Locks the journeys until the transaction ends (in id order); returns
    /// the step counts of those that exist.
    pub async fn lock_journeys(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, i32>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        self.conn().dialect().lock_repatriations(&ids).await
    }

    /// The steps of each journey, in no particular order.
    pub async fn load_steps(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Step>>, StoreError> {
        self.conn().dialect().load_steps(ids).await
    }

    /// Each journey's earliest and latest step of every kind: what the
    /// ordering rules and the status need, at a cost independent of the
    /// journey's length. `step_counts` (from [`Write::lock_journeys`])
    /// says how each is read: a journey without steps is not read, a short
    /// one is read whole (fewer rows than two index probes per kind) and
    /// reduced here, a long one is probed.
    pub async fn load_step_extremes(
        &mut self,
        step_counts: &HashMap<Uuid, i32>,
    ) -> Result<HashMap<Uuid, Vec<Step>>, StoreError> {
        let (mut short, mut long) = (Vec::new(), Vec::new());
        for (id, count) in step_counts {
            match *count {
                ..=0 => {}
                n if n <= READ_WHOLE_UP_TO => short.push(*id),
                _ => long.push(*id),
            }
        }
        short.sort();
        long.sort();
        let mut out = self.conn().dialect().load_step_extremes(&long).await?;
        for (id, steps) in self.conn().dialect().load_steps(&short).await? {
            if !steps.is_empty() {
                out.insert(id, extremes(steps));
            }
        }
        Ok(out)
    }

    /// The steps `ids` that exist.
    pub async fn load_steps_by_id(&mut self, ids: &[Uuid]) -> Result<Vec<Step>, StoreError> {
        self.conn().dialect().load_steps_by_id(ids).await
    }

    /// Stores new steps and the journeys' new status and step counts; their
    /// delay metrics are brought up to date behind them.
    pub async fn extend_journeys(
        &mut self,
        steps: &[Step],
        updates: &[JourneyUpdate],
    ) -> Result<(), StoreError> {
        let at = self.time();
        let mut c = self.conn();
        c.dialect().insert_steps(steps).await?;
        c.dialect().update_repatriations(updates, at).await?;
        let changed: Vec<Uuid> = updates.iter().map(|u| u.id).collect();
        c.dialect().mark_pending(&changed).await
    }
}
