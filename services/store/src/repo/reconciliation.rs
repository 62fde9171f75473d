//! Reconciliation's records: statements, matches, exceptions. Matching
//! itself is `repat_core::reconcile`, called by the use cases, which load
//! what it needs and keep what it decides through [`Write`].

use std::collections::HashMap;

use async_trait::async_trait;
use repat_core::Named;
use repat_core::journey;
use repat_core::reconcile::matcher::CreditState;
use repat_core::reconcile::{
    self as recon, BookingStatus, EntryKind, Exception, StatementFormat, Subject,
};
use repat_core::repatriation::RepatriationStatus;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{SqlRepository, Write, page, page_limit};
use crate::codec::{self, from_name};
use crate::db::Conn;
use crate::rows::{
    CoveredRow, CreditRow, DetailRow, EarningRow, EntryRow, PayingRow, ReferenceRow, StatementRow,
};
use crate::types::{DbDecimal, DbTime};
use crate::{
    EarningRealization, EntryStatus, Idempotency, MatchFilter, Page, PageRequest,
    ReconciliationRepository, StatementPart, StoreError, StoredEntry, StoredMatch, StoredStatement,
};

/// The file a statement was read from.
pub struct StatementFile<'a> {
    /// The account holder.
    pub party_id: Uuid,
    pub format: StatementFormat,
    /// SHA-256 of the file, hex: the same file is stored once per party.
    pub sha256: &'a str,
}

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
        void: row.void_time.map(|t| repat_core::earning::Void {
            time: t.0,
            reason: row.void_reason.unwrap_or_default(),
        }),
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

/// The party's earnings as the matcher sees them (voided ones left out):
/// with what settled matches cover, the references of their journeys
/// (end-to-end ids, UETRs) and the journeys' conversion rates.
async fn load_invoices(c: &mut Conn<'_>, party: Uuid) -> Result<Vec<recon::Invoice>, StoreError> {
    let rows: Vec<EarningRow> = c
        .query("SELECT * FROM earnings WHERE party_id = $1 AND void_time IS NULL ORDER BY seq")
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
             WHERE e.party_id = $1 AND s.void_time IS NULL AND (s.end_to_end_id IS NOT NULL OR s.uetr IS NOT NULL OR s.fx_rate IS NOT NULL)",
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

/// The party's credits as the matcher sees them (voided statements' left
/// out).
async fn load_credits(c: &mut Conn<'_>, party: Uuid) -> Result<Vec<recon::Credit>, StoreError> {
    let rows: Vec<CreditRow> = c
        .query(
            "SELECT id, state, detail FROM statement_entries WHERE party_id = $1
               AND statement_id NOT IN (SELECT id FROM statements WHERE void_time IS NOT NULL)
             ORDER BY seq",
        )
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

#[async_trait]
impl ReconciliationRepository for SqlRepository {
    async fn get_statement(&self, id: Uuid) -> Result<StoredStatement, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        fetch_statement(&mut pooled.conn(), id).await
    }

    async fn entry_party(&self, id: Uuid) -> Result<Uuid, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        entry_party(&mut pooled.conn(), id).await
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
        // A voided invoice is owed nothing: it is not listed.
        let mut q = c.sql("SELECT * FROM earnings WHERE void_time IS NULL AND seq > ");
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
}

/// What reconciliation's use cases write.
impl Write {
    /// Locks the party's reconciliation (its row) until the transaction
    /// ends, so runs and manual decisions of one party follow one another.
    pub async fn lock_reconciliation(&mut self, party: Uuid) -> Result<(), StoreError> {
        lock_party(&mut self.conn(), party).await
    }

    /// The party a statement entry belongs to.
    pub async fn entry_party(&mut self, id: Uuid) -> Result<Uuid, StoreError> {
        entry_party(&mut self.conn(), id).await
    }

    /// The statements stored from the party's file of this SHA-256, in
    /// file order.
    pub async fn statements_of_file(
        &mut self,
        party: Uuid,
        sha256: &str,
    ) -> Result<Vec<Uuid>, StoreError> {
        let same: Vec<(Uuid,)> = self
            .conn()
            .query("SELECT id FROM statements WHERE party_id = $1 AND sha256 = $2 ORDER BY part")
            .bind(party)
            .bind(sha256)
            .fetch_all()
            .await?;
        Ok(same.into_iter().map(|(id,)| id).collect())
    }

    /// Stores one statement of a file, its entries open.
    pub async fn insert_statement(
        &mut self,
        id: Uuid,
        file: &StatementFile<'_>,
        part: usize,
        st: &StatementPart,
    ) -> Result<(), StoreError> {
        let at = self.time();
        let mut c = self.conn();
        c.query("INSERT INTO statements (id, party_id, format, sha256, part, message_id, account, import_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(id)
            .bind(file.party_id)
            .bind(file.format.name())
            .bind(file.sha256)
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
            .bind(file.party_id)
            .bind(e.index as i32)
            .bind(e.kind.name())
            .bind(DbDecimal(e.amount.amount()))
            .bind(e.amount.currency().code())
            .bind(OPEN)
            .bind(codec::to_json(e)?)
            .execute()
            .await?;
        }
        Ok(())
    }

    pub async fn statement(&mut self, id: Uuid) -> Result<StoredStatement, StoreError> {
        fetch_statement(&mut self.conn(), id).await
    }

    /// Takes the request id of an import: `None` when it is new, else the
    /// ids of the statements its first use stored. Like every replay, it
    /// ends the transaction: read them outside it.
    pub async fn replay_import(
        &mut self,
        idem: &Idempotency,
    ) -> Result<Option<Vec<Uuid>>, StoreError> {
        let Some(json) = self.replay::<serde_json::Value>(idem).await? else {
            return Ok(None);
        };
        // Responses saved before files of several statements hold one id.
        let ids: Vec<Uuid> = serde_json::from_value(json.clone())
            .or_else(|_| serde_json::from_value(json).map(|id: Uuid| vec![id]))?;
        Ok(Some(ids))
    }

    /// The party's earnings as the matcher sees them (voided ones left out):
    /// with what settled
    /// matches cover, the references of their journeys (end-to-end ids,
    /// UETRs) and the journeys' conversion rates.
    pub async fn invoices(&mut self, party: Uuid) -> Result<Vec<recon::Invoice>, StoreError> {
        load_invoices(&mut self.conn(), party).await
    }

    /// The party's statement entries, as credits to match.
    pub async fn credits(&mut self, party: Uuid) -> Result<Vec<recon::Credit>, StoreError> {
        load_credits(&mut self.conn(), party).await
    }

    /// The repatriations paying an earning, oldest first, with their status.
    pub async fn paying_repatriations(
        &mut self,
        earning: Uuid,
    ) -> Result<Vec<(Uuid, RepatriationStatus)>, StoreError> {
        let paying: Vec<PayingRow> = self
            .conn()
            .query("SELECT r.id, r.status FROM allocations a JOIN repatriations r ON r.id = a.repatriation_id WHERE a.earning_id = $1 ORDER BY r.seq")
            .bind(earning)
            .fetch_all()
            .await?;
        paying
            .into_iter()
            .map(|r| Ok((r.id, from_name("status", &r.status)?)))
            .collect()
    }

    pub async fn insert_match(&mut self, m: &StoredMatch) -> Result<(), StoreError> {
        self.conn()
            .query(
                "INSERT INTO recon_matches (id, credit_id, earning_id, party_id, method, covered, currency, detail, create_time)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(m.id)
            .bind(m.detail.credit)
            .bind(m.detail.invoice)
            .bind(m.detail.party)
            .bind(m.detail.method.name())
            .bind(DbDecimal(m.detail.covered.amount()))
            .bind(m.detail.covered.currency().code())
            .bind(codec::to_json(m)?)
            .bind(DbTime(m.create_time))
            .execute()
            .await?;
        Ok(())
    }

    /// Marks credits settled by their matches: they are no exception any
    /// more.
    pub async fn settle_credits(&mut self, credits: &[Uuid]) -> Result<(), StoreError> {
        let mut c = self.conn();
        for credit in credits {
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
        Ok(())
    }

    /// The party's exceptions, as the last run left them.
    pub async fn exceptions(&mut self, party: Uuid) -> Result<Vec<Exception>, StoreError> {
        let rows: Vec<DetailRow> = self
            .conn()
            .query("SELECT seq, detail FROM recon_exceptions WHERE party_id = $1")
            .bind(party)
            .fetch_all()
            .await?;
        rows.iter().map(DetailRow::parse).collect()
    }

    /// Replaces the party's exceptions with those of the latest run.
    pub async fn replace_exceptions(
        &mut self,
        party: Uuid,
        exceptions: &[Exception],
    ) -> Result<(), StoreError> {
        let mut c = self.conn();
        c.query("DELETE FROM recon_exceptions WHERE party_id = $1")
            .bind(party)
            .execute()
            .await?;
        for x in exceptions {
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
        Ok(())
    }

    /// The matches of a credit, oldest first.
    pub async fn matches_of_credit(
        &mut self,
        credit: Uuid,
    ) -> Result<Vec<StoredMatch>, StoreError> {
        let rows: Vec<DetailRow> = self
            .conn()
            .query("SELECT seq, detail FROM recon_matches WHERE credit_id = $1 ORDER BY seq")
            .bind(credit)
            .fetch_all()
            .await?;
        rows.iter().map(DetailRow::parse).collect()
    }

    /// Removes a credit's matches and holds it for a manual match.
    pub async fn hold_credit(&mut self, credit: Uuid) -> Result<(), StoreError> {
        self.unsettle(credit, HELD).await
    }

    /// Removes a credit's matches and leaves it open: a run explains it
    /// (a reversed credit, as REVERSED).
    pub async fn release_credit(&mut self, credit: Uuid) -> Result<(), StoreError> {
        self.unsettle(credit, OPEN).await
    }

    async fn unsettle(&mut self, credit: Uuid, state: &str) -> Result<(), StoreError> {
        let mut c = self.conn();
        c.query("DELETE FROM recon_matches WHERE credit_id = $1")
            .bind(credit)
            .execute()
            .await?;
        c.query("UPDATE statement_entries SET state = $2 WHERE id = $1")
            .bind(credit)
            .bind(state)
            .execute()
            .await?;
        Ok(())
    }
}

/// What voiding a statement writes.
impl Write {
    /// The statement's party, and why it was voided if it was.
    pub async fn statement_state(
        &mut self,
        id: Uuid,
    ) -> Result<(Uuid, Option<String>), StoreError> {
        let row: Option<(Uuid, Option<String>)> = self
            .conn()
            .query("SELECT party_id, void_reason FROM statements WHERE id = $1")
            .bind(id)
            .fetch_optional()
            .await?;
        row.ok_or_else(|| StoreError::NotFound {
            kind: "statement",
            id: id.to_string(),
        })
    }

    /// The statement's entries, in file order.
    pub async fn statement_entry_ids(&mut self, id: Uuid) -> Result<Vec<Uuid>, StoreError> {
        let rows: Vec<(Uuid,)> = self
            .conn()
            .query("SELECT id FROM statement_entries WHERE statement_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all()
            .await?;
        Ok(rows.into_iter().map(|(e,)| e).collect())
    }

    /// Voids the statement: kept, with when and why; its matches and its
    /// exceptions are removed.
    pub async fn void_statement(
        &mut self,
        id: Uuid,
        time: chrono::DateTime<chrono::Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.conn();
        c.query("UPDATE statements SET void_time = $2, void_reason = $3 WHERE id = $1")
            .bind(id)
            .bind(DbTime(time))
            .bind(reason.to_string())
            .execute()
            .await?;
        c.query("DELETE FROM recon_matches WHERE credit_id IN (SELECT id FROM statement_entries WHERE statement_id = $1)")
            .bind(id)
            .execute()
            .await?;
        c.query("DELETE FROM recon_exceptions WHERE credit_id IN (SELECT id FROM statement_entries WHERE statement_id = $1)")
            .bind(id)
            .execute()
            .await?;
        Ok(())
    }
}
