//! Parties, earnings, repatriations and their steps, and the audit trail.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::NaiveDate;
use repat_core::Named;
use repat_core::audit::{AuditEntry, AuditRecord};
use repat_core::earning::{Earning, NewEarning};
use repat_core::facts::party_on;
use repat_core::journey::{self, NewStep, Step};
use repat_core::party::{NewParty, Party};
use repat_core::repatriation::{self as rep, NewRepatriation, Repatriation, RepatriationStatus};
use repat_core::time::dhaka_date;
use uuid::Uuid;

use super::events::{journey_change_events, repatriation_parties};
use super::facts::fetch_facts_of_page;
use super::metrics::refresh_metrics;
use super::{
    SqlRepository, append_audit, audit_draft, claim, fetch_repatriation, find_keys, page,
    page_limit, save_response,
};
use crate::codec::{self, derive_id, now};
use crate::dialect::JourneyUpdate;
use crate::rows::{AuditRow, EarningRow, PartyRow, RepatriationRow};
use crate::types::{DbDecimal, DbTime};
use crate::{
    AuditFilter, ChangeFeed, EarningFilter, Idempotency, Journey, KeyId, Page, PageRequest,
    PartyFactRepository, PartyFilter, PoolUsage, RepatriationFilter, RepatriationRequest,
    Repository, StepRecorded, StoreError,
};
use crate::{EventType, JourneyChange, NewEvent};

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
        let mut tx = self.writer.begin_write().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let party = Party {
            id: derive_id(idem),
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
        let event = NewEvent::new(
            EventType::PartyCreated,
            party.id,
            format!("parties/{}", party.id),
            "",
            &party,
        )?;
        self.emit(&mut tx, vec![event], at).await?;
        save_response(&mut tx, idem, &party).await?;
        tx.commit().await?;
        Ok(party)
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

    async fn create_earning(
        &self,
        idem: &Idempotency,
        new: &NewEarning,
    ) -> Result<Earning, StoreError> {
        let mut tx = self.writer.begin_write().await?;
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
            id: derive_id(idem),
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
        let event = NewEvent::new(
            EventType::EarningCreated,
            new.party_id,
            format!("earnings/{}", earning.id),
            "",
            &earning,
        )?;
        self.emit(&mut tx, vec![event], at).await?;
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
        let mut tx = self.writer.begin_write().await?;
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
            id: derive_id(idem),
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
        let event = NewEvent::new(
            EventType::RepatriationCreated,
            req.party_id,
            format!("repatriations/{}", repatriation.id),
            "",
            &repatriation,
        )?;
        self.emit(&mut tx, vec![event], at).await?;
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

/// The time from the step before `id` on the timeline of `steps` to it.
fn wait_before(steps: &[Step], id: Uuid) -> Option<std::time::Duration> {
    let timeline = journey::timeline(steps);
    let at = timeline.iter().position(|s| s.id == id)?;
    let (before, step) = (timeline.get(at.checked_sub(1)?)?, timeline[at]);
    (step.occurred_at() - before.occurred_at()).to_std().ok()
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
        let mut tx = self.writer.begin_write().await?;
        let at = now();
        let mut results: Vec<Option<Result<StepRecorded, StoreError>>> =
            (0..items.len()).map(|_| None).collect();

        // A key repeated inside the batch is a retry of its first use.
        let mut first_use: HashMap<KeyId, usize> = HashMap::new();
        let mut unique: Vec<usize> = Vec::new();
        for (i, (idem, _)) in items.iter().enumerate() {
            if let std::collections::hash_map::Entry::Vacant(e) = first_use.entry(idem.key()) {
                e.insert(i);
                unique.push(i);
            }
        }

        // Lock the journeys touched (in id order), then read the keys:
        // a retry of a committed step of these journeys is seen for sure.
        let mut rep_ids: Vec<Uuid> = unique.iter().map(|&i| items[i].1.repatriation_id).collect();
        rep_ids.sort();
        rep_ids.dedup();
        let mut c = tx.conn();
        let step_counts = c.dialect().lock_repatriations(&rep_ids).await?;
        let mut journeys = c.dialect().load_steps(&rep_ids).await?;
        let ids: Vec<KeyId> = unique.iter().map(|&i| items[i].0.key()).collect();
        let mut records = find_keys(&mut c, &ids).await?;

        let mut stored: Vec<Step> = Vec::new();
        let mut drafts: Vec<AuditRecord> = Vec::new();
        let mut keys: Vec<(Idempotency, Option<String>)> = Vec::new();
        let mut touched: HashSet<Uuid> = HashSet::new();
        let mut changes: Vec<JourneyChange> = Vec::new();
        for &i in &unique {
            let (idem, new) = &items[i];
            let rid = new.repatriation_id;
            if let Some(record) = records.remove(&idem.key()) {
                results[i] = Some(record.replay(idem).and_then(|json| {
                    let receipt: StepReceipt = codec::from_json(&json)?;
                    let step = journeys
                        .get(&rid)
                        .and_then(|steps| steps.iter().find(|s| s.id == receipt.step))
                        .cloned();
                    let step = step.ok_or_else(|| {
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
            if !step_counts.contains_key(&rid) {
                results[i] = Some(Err(StoreError::NotFound {
                    kind: "repatriation",
                    id: rid.to_string(),
                }));
                continue;
            }
            let steps = journeys.entry(rid).or_default();
            if let Err(v) = journey::admit(steps, new) {
                results[i] = Some(Err(v.into()));
                continue;
            }
            let step = Step {
                id: derive_id(idem),
                details: new.clone(),
                recorded_at: at,
            };
            let previous_status = RepatriationStatus::of(steps);
            steps.push(step.clone());
            let status = RepatriationStatus::of(steps);
            let wait = wait_before(steps, step.id);
            changes.push(JourneyChange {
                repatriation_id: rid,
                step: step.clone(),
                previous_status,
                status,
            });
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
            touched.insert(rid);
        }

        // Keys first: if any was taken meanwhile, store nothing and redo.
        let claimed = c.dialect().claim_keys(&keys, at).await?;
        if claimed.len() != keys.len() {
            tx.rollback().await?;
            return Ok(None);
        }
        c.dialect().insert_steps(&stored).await?;
        let mut updates: Vec<JourneyUpdate> = touched
            .iter()
            .map(|rid| {
                let steps = &journeys[rid];
                JourneyUpdate {
                    id: *rid,
                    status: RepatriationStatus::of(steps).name(),
                    step_count: steps.len() as i32,
                }
            })
            .collect();
        updates.sort_by_key(|u| u.id);
        c.dialect().update_repatriations(&updates, at).await?;
        let changed: Vec<Uuid> = updates.iter().map(|u| u.id).collect();
        c.dialect().mark_pending(&changed).await?;
        append_audit(&mut tx, drafts).await?;
        if self.record_events && !changes.is_empty() {
            let parties = repatriation_parties(&mut tx.conn(), &changed).await?;
            let changes = changes
                .into_iter()
                .map(|c| match parties.get(&c.repatriation_id) {
                    Some(party) => Ok((*party, c)),
                    None => Err(StoreError::Internal(format!(
                        "repatriation {} has no party",
                        c.repatriation_id
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.emit(&mut tx, journey_change_events(&changes)?, at)
                .await?;
        }
        tx.commit().await?;

        // Repeats inside the batch share their first use's outcome.
        for (i, (idem, _)) in items.iter().enumerate() {
            if results[i].is_none() {
                let first = first_use[&idem.key()];
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
