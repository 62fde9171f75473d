//! Parties, earnings, repatriations and their steps, and the audit trail.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use repat_core::Named;
use repat_core::audit::{AuditEntry, AuditRecord};
use repat_core::earning::{Earning, NewEarning};
use repat_core::journey::{NewStep, Step};
use repat_core::party::{NewParty, Party};
use repat_core::repatriation::{self as rep, NewRepatriation, Repatriation, RepatriationStatus};
use uuid::Uuid;

use super::locked_journeys::LockedJourneys;
use super::metrics::refresh_metrics;
use super::{
    SqlRepository, append_audit, audit_draft, claim, fetch_repatriation, page, page_limit,
    save_response,
};
use crate::codec::{self, derive_id, now};
use crate::dialect::StepWrites;
use crate::rows::{AuditRow, EarningRow, PartyRow, RepatriationRow};
use crate::types::{DbDecimal, DbTime};
use crate::{
    AuditFilter, ChangeFeed, EarningFilter, Idempotency, Journey, Page, PageRequest, PartyFilter,
    PoolUsage, RepatriationFilter, RepatriationRequest, Repository, StepRecorded, StoreError,
};

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

    fn pool_usage(&self) -> PoolUsage {
        let (size, idle, max) = self.pool.usage();
        PoolUsage {
            in_use: size.saturating_sub(idle),
            idle,
            max,
        }
    }

    async fn create_party(&self, idem: &Idempotency, new: &NewParty) -> Result<Party, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let party = Party {
            id: derive_id(idem.request_id),
            details: new.clone(),
            create_time: at,
        };
        tx.conn()
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
            .bind(DbTime(at))
            .execute()
            .await?;
        append_audit(
            &mut tx,
            vec![audit_draft(idem, format!("parties/{}", party.id), at)],
        )
        .await?;
        save_response(&mut tx, idem, &party).await?;
        tx.commit().await?;
        Ok(party)
    }

    async fn get_party(&self, id: Uuid) -> Result<Party, StoreError> {
        let mut c = self.pool.acquire().await?;
        let row: PartyRow = c
            .conn()
            .query("SELECT * FROM parties WHERE id = $1")
            .bind(id)
            .fetch_optional()
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "party",
                id: id.to_string(),
            })?;
        row.try_into()
    }

    async fn list_parties(
        &self,
        filter: &PartyFilter,
        p: PageRequest,
    ) -> Result<Page<Party>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let mut c = c.conn();
        let mut q = c.sql("SELECT * FROM parties WHERE seq > ");
        q.bind(p.after)
            .and_eq("kind", filter.kind.map(Named::name))
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<PartyRow> = q.fetch_all().await?;
        page(rows, p.size, |r| r.seq, Party::try_from)
    }

    async fn create_earning(
        &self,
        idem: &Idempotency,
        new: &NewEarning,
    ) -> Result<Earning, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let mut c = tx.conn();
        let party: Option<(Uuid,)> = c
            .query("SELECT id FROM parties WHERE id = $1")
            .bind(new.party_id)
            .fetch_optional()
            .await?;
        if party.is_none() {
            return Err(StoreError::NotFound {
                kind: "party",
                id: new.party_id.to_string(),
            });
        }
        let duplicate: Option<(Uuid,)> = c
            .query("SELECT id FROM earnings WHERE party_id = $1 AND invoice_reference = $2")
            .bind(new.party_id)
            .bind(&new.invoice_reference)
            .fetch_optional()
            .await?;
        if let Some((existing,)) = duplicate {
            return Err(StoreError::Duplicate(format!(
                "invoice_reference {:?} is already recorded for this party (earning {existing})",
                new.invoice_reference
            )));
        }
        let earning = Earning {
            id: derive_id(idem.request_id),
            details: new.clone(),
            allocated: repat_core::Money::zero(new.amount.currency()),
            create_time: at,
        };
        c.query(
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
        .bind(DbTime(at))
        .execute()
        .await?;
        append_audit(
            &mut tx,
            vec![audit_draft(idem, format!("earnings/{}", earning.id), at)],
        )
        .await?;
        save_response(&mut tx, idem, &earning).await?;
        tx.commit().await?;
        Ok(earning)
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

    async fn create_repatriation(
        &self,
        idem: &Idempotency,
        req: &RepatriationRequest,
    ) -> Result<Repatriation, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let mut c = tx.conn();
        let party: Option<(Uuid,)> = c
            .query("SELECT id FROM parties WHERE id = $1")
            .bind(req.party_id)
            .fetch_optional()
            .await?;
        if party.is_none() {
            return Err(StoreError::NotFound {
                kind: "party",
                id: req.party_id.to_string(),
            });
        }
        // Lock the earnings in id order (no deadlock between two
        // repatriations sharing earnings), then read them in request order.
        let mut ids: Vec<Uuid> = req.allocations.iter().map(|a| a.earning_id).collect();
        ids.sort();
        ids.dedup();
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
        let ordered: Vec<Earning> = req
            .allocations
            .iter()
            .map(|a| earnings[&a.earning_id].clone())
            .collect();
        let allocations = rep::allocate(req.party_id, &req.allocations, &ordered)?;
        let expected = rep::expected_amount(&allocations)
            .ok_or_else(|| StoreError::Internal("allocations without a sum".into()))?;
        let repatriation = Repatriation {
            id: derive_id(idem.request_id),
            details: NewRepatriation {
                party_id: req.party_id,
                allocations: allocations.clone(),
                channel: req.channel,
                payer_country: req
                    .payer_country
                    .clone()
                    .unwrap_or_else(|| ordered[0].details.client_country.clone()),
            },
            expected_amount: expected,
            status: RepatriationStatus::AwaitingPayment,
            step_count: 0,
            create_time: at,
            update_time: at,
        };
        c.query(
            "INSERT INTO repatriations (id, party_id, channel, payer_country, expected_amount, currency, status, step_count, create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
        )
        .bind(repatriation.id)
        .bind(req.party_id)
        .bind(req.channel.name())
        .bind(&repatriation.details.payer_country)
        .bind(DbDecimal(expected.amount()))
        .bind(expected.currency().code())
        .bind(repatriation.status.name())
        .bind(DbTime(at))
        .execute()
        .await?;
        for (position, a) in allocations.iter().enumerate() {
            c.query("INSERT INTO allocations (repatriation_id, position, earning_id, amount, currency) VALUES ($1, $2, $3, $4, $5)")
                .bind(repatriation.id)
                .bind(position as i32)
                .bind(a.earning_id)
                .bind(DbDecimal(a.amount.amount()))
                .bind(a.amount.currency().code())
                .execute()
                .await?;
            let allocated = earnings[&a.earning_id]
                .allocated
                .checked_add(a.amount)
                .ok_or_else(|| StoreError::Internal("allocation overflow".into()))?;
            c.query("UPDATE earnings SET allocated = $2 WHERE id = $1")
                .bind(a.earning_id)
                .bind(DbDecimal(allocated.amount()))
                .execute()
                .await?;
        }
        // Its summary exists from the start, so an unpaid invoice can be seen to be late.
        refresh_metrics(&mut c, &[repatriation.id], &HashMap::new()).await?;
        append_audit(
            &mut tx,
            vec![audit_draft(
                idem,
                format!("repatriations/{}", repatriation.id),
                at,
            )],
        )
        .await?;
        save_response(&mut tx, idem, &repatriation).await?;
        tx.commit().await?;
        Ok(repatriation)
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

    async fn record_steps(
        &self,
        items: &[(Idempotency, NewStep)],
    ) -> Result<Vec<Result<StepRecorded, StoreError>>, StoreError> {
        // A concurrent request with one of these ids may commit between
        // our read of the keys and our insert of them; then the insert
        // finds it, and the whole batch is redone, which sees it as a retry.
        for _ in 0..3 {
            if let Some(results) = self.try_record_steps(items).await? {
                return Ok(results);
            }
        }
        Err(StoreError::Aborted(
            "request ids kept colliding with concurrent requests".into(),
        ))
    }
}

/// What the idempotency record of a step keeps: steps never change, so
/// the step is read back on a retry; the status is the one right after
/// the step.
#[derive(serde::Serialize, serde::Deserialize)]
struct StepReceipt {
    step: Uuid,
    status: RepatriationStatus,
}

impl SqlRepository {
    /// One attempt at [`Repository::record_steps`]; `None` when a
    /// concurrent request claimed one of the ids first (nothing stored).
    async fn try_record_steps(
        &self,
        items: &[(Idempotency, NewStep)],
    ) -> Result<Option<Vec<Result<StepRecorded, StoreError>>>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        let mut results: Vec<Option<Result<StepRecorded, StoreError>>> =
            (0..items.len()).map(|_| None).collect();

        // A request id repeated inside the batch is a retry of its first use.
        let mut first_use: HashMap<Uuid, usize> = HashMap::new();
        let mut unique: Vec<usize> = Vec::new();
        for (i, (idem, _)) in items.iter().enumerate() {
            if let std::collections::hash_map::Entry::Vacant(e) = first_use.entry(idem.request_id) {
                e.insert(i);
                unique.push(i);
            }
        }

        // Lock the journeys touched and read the keys in one round trip.
        let rep_ids: Vec<Uuid> = unique.iter().map(|&i| items[i].1.repatriation_id).collect();
        let ids: Vec<Uuid> = unique.iter().map(|&i| items[i].0.request_id).collect();
        let mut c = tx.conn();
        let mut journeys = LockedJourneys::default();
        let mut records = journeys.lock_with_keys(&mut c, &rep_ids, &ids).await?;

        // Retries read their step back (steps never change).
        let mut receipts: HashMap<usize, Result<StepReceipt, StoreError>> = HashMap::new();
        for &i in &unique {
            let idem = &items[i].0;
            if let Some(record) = records.remove(&idem.request_id) {
                let receipt = record
                    .replay(idem)
                    .and_then(|json| codec::from_json::<StepReceipt>(&json));
                receipts.insert(i, receipt);
            }
        }
        let replayed: Vec<Uuid> = receipts
            .values()
            .filter_map(|r| r.as_ref().ok().map(|r| r.step))
            .collect();
        let mut replayed: HashMap<Uuid, Step> = c
            .dialect()
            .fetch_steps(&replayed)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();

        let mut stored: Vec<Step> = Vec::new();
        let mut drafts: Vec<AuditRecord> = Vec::new();
        let mut keys: Vec<(Idempotency, Option<String>)> = Vec::new();
        for &i in &unique {
            let (idem, new) = &items[i];
            let rid = new.repatriation_id;
            if let Some(receipt) = receipts.remove(&i) {
                results[i] = Some(receipt.and_then(|receipt| {
                    let step = replayed.remove(&receipt.step).ok_or_else(|| {
                        StoreError::Internal(format!(
                            "step {} of a stored response is missing",
                            receipt.step
                        ))
                    })?;
                    Ok(StepRecorded {
                        step,
                        status: receipt.status,
                        replayed: true,
                        wait: None,
                    })
                }));
                continue;
            }
            let id = derive_id(idem.request_id);
            if let Err(e) = journeys.admit(new) {
                // This very step, committed by a concurrent retry after our
                // read of the keys: redo, and it is seen as a retry.
                if matches!(&e, StoreError::Journey(v) if v.names(id)) {
                    tx.rollback().await?;
                    return Ok(None);
                }
                results[i] = Some(Err(e));
                continue;
            }
            let step = Step {
                id,
                details: new.clone(),
                recorded_at: at,
            };
            let (status, before) = journeys.add(&step);
            let wait = before.and_then(|b| (step.occurred_at() - b).to_std().ok());
            keys.push((
                idem.clone(),
                Some(codec::to_json(&StepReceipt {
                    step: step.id,
                    status,
                })?),
            ));
            results[i] = Some(Ok(StepRecorded {
                step: step.clone(),
                status,
                replayed: false,
                wait,
            }));
            drafts.push(audit_draft(
                idem,
                format!("repatriations/{rid}/steps/{}", step.id),
                at,
            ));
            stored.push(step);
        }

        // Keys, steps and journeys in one statement where the backend
        // allows; if a key was taken meanwhile, store nothing and redo.
        let updates = journeys.updates()?;
        let writes = StepWrites {
            keys: &keys,
            steps: &stored,
            journeys: &updates,
        };
        if c.dialect().write_steps(&writes, at).await? != keys.len() {
            tx.rollback().await?;
            return Ok(None);
        }
        append_audit(&mut tx, drafts).await?;
        tx.commit().await?;

        // Repeats inside the batch share their first use's outcome.
        for (i, (idem, _)) in items.iter().enumerate() {
            if results[i].is_none() {
                let first = first_use[&idem.request_id];
                let outcome = match &results[first] {
                    Some(Ok(r)) if items[first].0 == *idem => Ok(r.clone()),
                    Some(Ok(_)) => Err(StoreError::IdempotencyMismatch(idem.request_id)),
                    Some(Err(e)) => Err(StoreError::Aborted(format!(
                        "the first use of this request_id in the batch failed: {e}"
                    ))),
                    None => Err(StoreError::Internal("batch item without an outcome".into())),
                };
                results[i] = Some(outcome);
            }
        }
        Ok(Some(
            results
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| {
                        Err(StoreError::Internal("batch item without an outcome".into()))
                    })
                })
                .collect(),
        ))
    }
}
