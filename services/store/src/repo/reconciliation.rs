//! Reconciliation's records: statements, matches, exceptions. Matching
//! itself is `repat_core::reconcile`; this loads what it needs and keeps
//! what it decides, in one transaction per run.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use repat_core::Named;
use repat_core::journey::{self, NewStep, Step};
use repat_core::reconcile::matcher::CreditState;
use repat_core::reconcile::{self as recon, BookingStatus, EntryKind, Exception, Subject};
use repat_core::repatriation::RepatriationStatus;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::locked_journeys::LockedJourneys;
use super::{SqlRepository, append_audit, audit_draft, claim, page, page_limit, save_response};
use crate::codec::{self, derive_id, from_name, now};
use crate::db::{Conn, Tx};
use crate::rows::{
    CoveredRow, CreditRow, DetailRow, EarningRow, EntryRow, PayingRow, ReferenceRow, StatementRow,
};
use crate::types::{DbDecimal, DbTime};
use crate::{
    EarningRealization, EntryStatus, Idempotency, ManualMatchRequest, MatchFilter, MatchingRun,
    Page, PageRequest, ReconciliationRepository, StatementImport, StoreError, StoredEntry,
    StoredMatch, StoredStatement,
};

const OPEN: &str = "OPEN";
const SETTLED: &str = "SETTLED";
const HELD: &str = "HELD";

fn credit_state(state: &str) -> CreditState {
    match state {
        SETTLED => CreditState::Settled,
        HELD => CreditState::Held,
        _ => CreditState::Open,
    }
}

async fn fetch_statement(c: &mut Conn<'_>, id: Uuid) -> Result<StoredStatement, StoreError> {
    let row: StatementRow = c
        .query("SELECT * FROM statements WHERE id = $1")
        .bind(id)
        .fetch_optional()
        .await?
        .ok_or_else(|| StoreError::NotFound {
            kind: "statement",
            id: id.to_string(),
        })?;
    let rows: Vec<EntryRow> = c
        .query(
            "SELECT e.id, e.state, e.detail, EXISTS (SELECT 1 FROM recon_exceptions x WHERE x.credit_id = e.id) AS excepted
             FROM statement_entries e WHERE e.statement_id = $1 ORDER BY e.position",
        )
        .bind(id)
        .fetch_all()
        .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for r in rows {
        let entry: recon::Entry = codec::from_json(&r.detail)?;
        let status = if entry.kind != EntryKind::Credit || entry.amount.amount().is_zero() {
            EntryStatus::NotACredit
        } else if entry.status != BookingStatus::Booked {
            EntryStatus::Pending
        } else if r.state == SETTLED {
            EntryStatus::Matched
        } else if r.state == HELD || r.excepted {
            EntryStatus::Exception
        } else {
            EntryStatus::Open
        };
        entries.push(StoredEntry {
            id: r.id,
            entry,
            status,
        });
    }
    Ok(StoredStatement {
        id,
        part: row.part as u32,
        party_id: row.party_id,
        format: from_name("statement format", &row.format)?,
        sha256: row.sha256,
        message_id: row.message_id,
        account: row.account,
        entries,
        import_time: row.import_time.0,
    })
}

/// Locks the party's reconciliation (its row), so runs and manual
/// decisions of one party follow one another.
async fn lock_party(c: &mut Conn<'_>, party: Uuid) -> Result<(), StoreError> {
    let mut q = c.sql("SELECT id FROM parties WHERE id = ");
    q.bind(party).for_update();
    let locked: Option<(Uuid,)> = q.fetch_optional().await?;
    locked.map(|_| ()).ok_or_else(|| StoreError::NotFound {
        kind: "party",
        id: party.to_string(),
    })
}

/// The party a statement entry belongs to.
async fn entry_party(c: &mut Conn<'_>, id: Uuid) -> Result<Uuid, StoreError> {
    let row: Option<(Uuid,)> = c
        .query("SELECT party_id FROM statement_entries WHERE id = $1")
        .bind(id)
        .fetch_optional()
        .await?;
    row.map(|(p,)| p).ok_or_else(|| StoreError::NotFound {
        kind: "statement entry",
        id: id.to_string(),
    })
}

/// The party's earnings as the matcher sees them: with what settled
/// matches cover, the references of their journeys (end-to-end ids,
/// UETRs) and the journeys' conversion rates.
async fn load_invoices(c: &mut Conn<'_>, party: Uuid) -> Result<Vec<recon::Invoice>, StoreError> {
    let rows: Vec<EarningRow> = c
        .query("SELECT * FROM earnings WHERE party_id = $1 ORDER BY seq")
        .bind(party)
        .fetch_all()
        .await?;
    let mut invoices = Vec::with_capacity(rows.len());
    let mut at: HashMap<Uuid, usize> = HashMap::new();
    for r in rows {
        let e = repat_core::earning::Earning::try_from(r)?;
        at.insert(e.id, invoices.len());
        invoices.push(recon::Invoice {
            id: e.id,
            party,
            amount: e.details.amount,
            invoice_date: e.details.invoice_date,
            references: vec![e.details.invoice_reference.clone()],
            realized: Decimal::ZERO,
            journey_rates: vec![],
            payer: e.details.client_name.clone(),
        });
    }
    let covered: Vec<CoveredRow> = c
        .query("SELECT earning_id, covered, currency FROM recon_matches WHERE party_id = $1")
        .bind(party)
        .fetch_all()
        .await?;
    for r in &covered {
        if let Some(&i) = at.get(&r.earning_id) {
            invoices[i].realized += r.covered.0;
        }
    }
    let steps: Vec<ReferenceRow> = c
        .query(
            "SELECT a.earning_id, s.kind, s.end_to_end_id, s.uetr, s.fx_source, s.fx_target, s.fx_rate
             FROM allocations a JOIN earnings e ON e.id = a.earning_id JOIN steps s ON s.repatriation_id = a.repatriation_id
             WHERE e.party_id = $1 AND (s.end_to_end_id IS NOT NULL OR s.uetr IS NOT NULL OR s.fx_rate IS NOT NULL)",
        )
        .bind(party)
        .fetch_all()
        .await?;
    for r in steps {
        let Some(&i) = at.get(&r.earning_id) else {
            continue;
        };
        let inv = &mut invoices[i];
        inv.references.extend(r.end_to_end_id);
        inv.references.extend(r.uetr.map(|u| u.to_string()));
        if r.kind == journey::StepKind::ConvertedToBdt.name() {
            inv.journey_rates
                .extend(codec::fx(r.fx_source, r.fx_target, r.fx_rate.map(|d| d.0))?);
        }
    }
    Ok(invoices)
}

async fn load_credits(c: &mut Conn<'_>, party: Uuid) -> Result<Vec<recon::Credit>, StoreError> {
    let rows: Vec<CreditRow> = c
        .query("SELECT id, state, detail FROM statement_entries WHERE party_id = $1 ORDER BY seq")
        .bind(party)
        .fetch_all()
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(recon::Credit {
                id: r.id,
                party,
                entry: codec::from_json(&r.detail)?,
                state: credit_state(&r.state),
            })
        })
        .collect()
}

/// When the credit's money became available, for the journey: the bank's
/// booking instant if it gives one, else noon in Dhaka on the value (or
/// booking) date.
fn credited_at(e: &recon::Entry) -> Option<DateTime<Utc>> {
    e.booked_at.or_else(|| {
        let noon = e.date()?.and_hms_opt(12, 0, 0)?;
        noon.and_local_timezone(repat_core::time::DHAKA)
            .single()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// Stores matches, links each to its earning's repatriation and, where
/// that journey has no BENEFICIARY_CREDITED yet, records it from the
/// credit (same transaction, same ordering rules as any step). `credits`
/// gives each credit's entry.
async fn store_matches(
    c: &mut Conn<'_>,
    idem: &Idempotency,
    matches: Vec<recon::Match>,
    credits: &HashMap<Uuid, recon::Entry>,
    at: DateTime<Utc>,
) -> Result<Vec<StoredMatch>, StoreError> {
    let base = derive_id(idem.request_id);
    let mut journeys = LockedJourneys::default();
    let mut new_steps: Vec<Step> = Vec::new();
    let mut stored = Vec::with_capacity(matches.len());
    for m in matches {
        let entry = credits.get(&m.credit).ok_or_else(|| {
            StoreError::Internal(format!("credit {} of a match is not loaded", m.credit))
        })?;
        let mut pair = [0u8; 32];
        pair[..16].copy_from_slice(m.credit.as_bytes());
        pair[16..].copy_from_slice(m.invoice.as_bytes());
        let mut sm = StoredMatch {
            id: Uuid::new_v5(&base, &pair),
            detail: m,
            repatriation_id: None,
            step_id: None,
            journey_note: None,
            create_time: at,
        };
        let paying: Vec<PayingRow> = c
            .query("SELECT r.id, r.status FROM allocations a JOIN repatriations r ON r.id = a.repatriation_id WHERE a.earning_id = $1 ORDER BY r.seq")
            .bind(sm.detail.invoice)
            .fetch_all()
            .await?;
        let mut open = None;
        for r in &paying {
            let status: RepatriationStatus = from_name("status", &r.status)?;
            if !status.is_terminal() {
                open = Some(r.id);
                break;
            }
        }
        if let Some(rid) = open {
            sm.repatriation_id = Some(rid);
            if journeys.summary(rid).is_none() {
                journeys.lock(c, &[rid]).await?;
            }
            let credited = journeys
                .summary(rid)
                .and_then(|s| s.first_of(journey::StepKind::BeneficiaryCredited));
            if let Some(s) = credited {
                sm.step_id = Some(s.id);
            } else if let Some(when) = credited_at(entry) {
                let mut new = NewStep::new(rid, journey::StepKind::BeneficiaryCredited, when);
                new.amount = Some(entry.amount);
                new.end_to_end_id = entry.end_to_end_id.clone();
                new.uetr = entry.uetr;
                new.note = format!("reconciled from statement entry {}", sm.detail.credit);
                match journeys.admit(&new) {
                    Ok(()) => {
                        let step = Step {
                            id: Uuid::new_v5(&base, rid.as_bytes()),
                            details: new,
                            recorded_at: at,
                        };
                        sm.step_id = Some(step.id);
                        journeys.add(&step);
                        new_steps.push(step);
                    }
                    Err(v) => {
                        sm.journey_note = Some(format!("BENEFICIARY_CREDITED not recorded: {v}"))
                    }
                }
            }
        }
        c.query(
            "INSERT INTO recon_matches (id, credit_id, earning_id, party_id, method, covered, currency, detail, create_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(sm.id)
        .bind(sm.detail.credit)
        .bind(sm.detail.invoice)
        .bind(sm.detail.party)
        .bind(sm.detail.method.name())
        .bind(DbDecimal(sm.detail.covered.amount()))
        .bind(sm.detail.covered.currency().code())
        .bind(codec::to_json(&sm)?)
        .bind(DbTime(at))
        .execute()
        .await?;
        stored.push(sm);
    }
    let mut settled: Vec<Uuid> = stored.iter().map(|m| m.detail.credit).collect();
    settled.sort();
    settled.dedup();
    for credit in settled {
        c.query("UPDATE statement_entries SET state = $2 WHERE id = $1")
            .bind(credit)
            .bind(SETTLED)
            .execute()
            .await?;
        c.query("DELETE FROM recon_exceptions WHERE credit_id = $1")
            .bind(credit)
            .execute()
            .await?;
    }
    if !new_steps.is_empty() {
        c.dialect().insert_steps(&new_steps).await?;
        journeys.save(c, at).await?;
    }
    Ok(stored)
}

#[async_trait]
impl ReconciliationRepository for SqlRepository {
    async fn import_statement(
        &self,
        idem: &Idempotency,
        s: &StatementImport,
    ) -> Result<Vec<StoredStatement>, StoreError> {
        let mut tx: Tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            // Responses saved before files of several statements hold one id.
            let ids: Vec<Uuid> = codec::from_json(&json)
                .or_else(|_| codec::from_json(&json).map(|id: Uuid| vec![id]))?;
            let mut stored = Vec::with_capacity(ids.len());
            for id in ids {
                stored.push(fetch_statement(&mut tx.conn(), id).await?);
            }
            return Ok(stored);
        }
        let mut c = tx.conn();
        lock_party(&mut c, s.party_id).await?;
        let same: Vec<(Uuid,)> = c
            .query("SELECT id FROM statements WHERE party_id = $1 AND sha256 = $2 ORDER BY part")
            .bind(s.party_id)
            .bind(&s.sha256)
            .fetch_all()
            .await?;
        if !same.is_empty() {
            // The same file again: nothing new is stored.
            let ids: Vec<Uuid> = same.into_iter().map(|(id,)| id).collect();
            save_response(&mut tx, idem, &ids).await?;
            let mut stored = Vec::with_capacity(ids.len());
            for id in ids {
                stored.push(fetch_statement(&mut tx.conn(), id).await?);
            }
            tx.commit().await?;
            return Ok(stored);
        }
        let first = derive_id(idem.request_id);
        let mut ids = Vec::with_capacity(s.statements.len());
        for (part, st) in s.statements.iter().enumerate() {
            let id = if part == 0 {
                first
            } else {
                Uuid::new_v5(&first, format!("part {part}").as_bytes())
            };
            c.query("INSERT INTO statements (id, party_id, format, sha256, part, message_id, account, import_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(id)
                .bind(s.party_id)
                .bind(s.format.name())
                .bind(&s.sha256)
                .bind(part as i32)
                .bind(&st.message_id)
                .bind(&st.account)
                .bind(DbTime(at))
                .execute()
                .await?;
            for e in &st.entries {
                c.query(
                    "INSERT INTO statement_entries (id, statement_id, party_id, position, kind, amount, currency, state, detail)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(Uuid::new_v5(&id, &e.index.to_be_bytes()))
                .bind(id)
                .bind(s.party_id)
                .bind(e.index as i32)
                .bind(e.kind.name())
                .bind(DbDecimal(e.amount.amount()))
                .bind(e.amount.currency().code())
                .bind(OPEN)
                .bind(codec::to_json(e)?)
                .execute()
                .await?;
            }
            ids.push(id);
        }
        let drafts = ids
            .iter()
            .map(|id| audit_draft(idem, format!("statements/{id}"), at))
            .collect();
        append_audit(&mut tx, drafts).await?;
        save_response(&mut tx, idem, &ids).await?;
        let mut stored = Vec::with_capacity(ids.len());
        for id in ids {
            stored.push(fetch_statement(&mut tx.conn(), id).await?);
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn get_statement(&self, id: Uuid) -> Result<StoredStatement, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        fetch_statement(&mut pooled.conn(), id).await
    }

    async fn entry_party(&self, id: Uuid) -> Result<Uuid, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        entry_party(&mut pooled.conn(), id).await
    }

    async fn run_matching(
        &self,
        idem: &Idempotency,
        party: Uuid,
        tolerances: &recon::Tolerances,
    ) -> Result<MatchingRun, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let mut c = tx.conn();
        lock_party(&mut c, party).await?;
        let invoices = load_invoices(&mut c, party).await?;
        let credits = load_credits(&mut c, party).await?;
        let outcome = recon::reconcile(&invoices, &credits, tolerances);
        let entries: HashMap<Uuid, recon::Entry> =
            credits.into_iter().map(|c| (c.id, c.entry)).collect();
        let matches = store_matches(&mut c, idem, outcome.matches, &entries, at).await?;
        c.query("DELETE FROM recon_exceptions WHERE party_id = $1")
            .bind(party)
            .execute()
            .await?;
        for x in &outcome.exceptions {
            let (credit, earning) = match x.subject {
                Subject::Credit(c) => (Some(c), None),
                Subject::Invoice(e) => (None, Some(e)),
            };
            c.query("INSERT INTO recon_exceptions (party_id, credit_id, earning_id, reason, detail) VALUES ($1, $2, $3, $4, $5)")
                .bind(party)
                .bind(credit)
                .bind(earning)
                .bind(x.reason.name())
                .bind(codec::to_json(x)?)
                .execute()
                .await?;
        }
        let run = MatchingRun {
            party_id: party,
            matches,
            exception_count: outcome.exceptions.len(),
            run_time: at,
        };
        append_audit(
            &mut tx,
            vec![audit_draft(
                idem,
                format!("parties/{party}/reconciliation"),
                at,
            )],
        )
        .await?;
        save_response(&mut tx, idem, &run).await?;
        tx.commit().await?;
        Ok(run)
    }

    async fn list_matches(
        &self,
        filter: &MatchFilter,
        p: PageRequest,
    ) -> Result<Page<StoredMatch>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT seq, detail FROM recon_matches WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", filter.party_id)
            .and_eq("earning_id", filter.earning_id)
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<DetailRow> = q.fetch_all().await?;
        page(rows, p.size, |r| r.seq, |r| r.parse())
    }

    async fn list_exceptions(
        &self,
        party: Option<Uuid>,
        p: PageRequest,
    ) -> Result<Page<Exception>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT seq, detail FROM recon_exceptions WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", party)
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<DetailRow> = q.fetch_all().await?;
        page(rows, p.size, |r| r.seq, |r| r.parse())
    }

    async fn list_realizations(
        &self,
        party: Option<Uuid>,
        p: PageRequest,
    ) -> Result<Page<EarningRealization>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT * FROM earnings WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", party)
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<EarningRow> = q.fetch_all().await?;
        let earnings = page(
            rows,
            p.size,
            |r| r.seq,
            repat_core::earning::Earning::try_from,
        )?;
        let mut items = Vec::with_capacity(earnings.items.len());
        for earning in earnings.items {
            let covered: Vec<CoveredRow> = c
                .query(
                    "SELECT earning_id, covered, currency FROM recon_matches WHERE earning_id = $1",
                )
                .bind(earning.id)
                .fetch_all()
                .await?;
            let covered = covered
                .iter()
                .map(CoveredRow::money)
                .collect::<Result<Vec<_>, _>>()?;
            let realization = recon::realization(earning.details.amount, covered);
            items.push(EarningRealization {
                earning,
                realization,
            });
        }
        Ok(Page {
            items,
            next_after: earnings.next_after,
        })
    }

    async fn manual_match(
        &self,
        idem: &Idempotency,
        req: &ManualMatchRequest,
    ) -> Result<Vec<StoredMatch>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let mut c = tx.conn();
        let party = entry_party(&mut c, req.credit_id).await?;
        lock_party(&mut c, party).await?;
        let credits = load_credits(&mut c, party).await?;
        let credit = credits
            .iter()
            .find(|c| c.id == req.credit_id)
            .ok_or_else(|| StoreError::Internal("credit vanished".into()))?;
        if let Some(why) = credit.entry.not_payable() {
            return Err(StoreError::Precondition(format!(
                "entry {} {why}; only a booked credit of more than zero pays an earning",
                credit.id
            )));
        }
        if credit.state == CreditState::Settled {
            return Err(StoreError::Precondition(format!(
                "credit {} is already matched; unmatch it first",
                credit.id
            )));
        }
        let invoices = load_invoices(&mut c, party).await?;
        let mut matches = Vec::new();
        for (n, (earning, amount)) in req.allocations.iter().enumerate() {
            let inv =
                invoices
                    .iter()
                    .find(|i| i.id == *earning)
                    .ok_or_else(|| StoreError::NotFound {
                        kind: "earning",
                        id: earning.to_string(),
                    })?;
            let m = recon::matcher::manual(credit, inv, *amount, &req.tolerances)
                .map_err(|e| StoreError::Precondition(format!("allocations[{n}]: {e}")))?;
            matches.push(m);
        }
        let entries: HashMap<Uuid, recon::Entry> =
            [(credit.id, credit.entry.clone())].into_iter().collect();
        let stored = store_matches(&mut c, idem, matches, &entries, at).await?;
        let drafts = stored
            .iter()
            .map(|m| audit_draft(idem, format!("reconciliation/matches/{}", m.id), at))
            .collect();
        append_audit(&mut tx, drafts).await?;
        save_response(&mut tx, idem, &stored).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn unmatch(
        &self,
        idem: &Idempotency,
        credit: Uuid,
    ) -> Result<Vec<StoredMatch>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let mut c = tx.conn();
        let party = entry_party(&mut c, credit).await?;
        lock_party(&mut c, party).await?;
        let rows: Vec<DetailRow> = c
            .query("SELECT seq, detail FROM recon_matches WHERE credit_id = $1 ORDER BY seq")
            .bind(credit)
            .fetch_all()
            .await?;
        let removed = rows
            .iter()
            .map(DetailRow::parse)
            .collect::<Result<Vec<StoredMatch>, _>>()?;
        if removed.is_empty() {
            return Err(StoreError::Precondition(format!(
                "credit {credit} has no match to remove"
            )));
        }
        // The journey keeps its BENEFICIARY_CREDITED: the money did arrive;
        // only which invoice it paid is in question.
        c.query("DELETE FROM recon_matches WHERE credit_id = $1")
            .bind(credit)
            .execute()
            .await?;
        c.query("UPDATE statement_entries SET state = $2 WHERE id = $1")
            .bind(credit)
            .bind(HELD)
            .execute()
            .await?;
        append_audit(
            &mut tx,
            vec![audit_draft(
                idem,
                format!("reconciliation/credits/{credit}"),
                at,
            )],
        )
        .await?;
        save_response(&mut tx, idem, &removed).await?;
        tx.commit().await?;
        Ok(removed)
    }
}
