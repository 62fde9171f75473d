//! The outbox: events appended in the transaction of their change, read
//! in commit order; the leases and cursors of those who move them on.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use repat_core::Named;
use repat_core::events::{EventType, journey_events};
use uuid::Uuid;

use super::{SqlRepository, Write};
use crate::codec::now;
use crate::db::Conn;
use crate::event_rows::{EventRow, LeaseRow, UnrealizedRow};
use crate::events::{EventFilter, EventRepository, JourneyChange, NewEvent, StoredEvent};
use crate::types::DbTime;
use crate::{StoreError, UnrealizedEarning};

/// Ids per `IN (...)` list of alerts already raised.
const IDS_PER_LIST: usize = 500;

impl Write {
    /// Appends the events of a change inside its transaction (unless the
    /// outbox is off, as for a benchmark's baseline).
    pub async fn emit(&mut self, events: Vec<NewEvent>) -> Result<(), StoreError> {
        if !self.records_events() || events.is_empty() {
            return Ok(());
        }
        let at = self.time();
        append(&mut self.conn(), &events, at).await
    }

    /// The party of each repatriation among `ids` (those that exist).
    pub async fn repatriation_parties(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Uuid>, StoreError> {
        self.conn().dialect().repatriation_parties(ids).await
    }
}

/// Appends `events` in order, numbered after the last committed one. The
/// outbox's lock is held to commit, so sequences follow commit order and
/// a reader never sees N+1 while N may still commit.
async fn append(
    c: &mut Conn<'_>,
    events: &[NewEvent],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    c.dialect().lock_outbox().await?;
    let (head,): (Option<i64>,) = c
        .query("SELECT MAX(sequence) FROM events")
        .fetch_one()
        .await?;
    c.dialect()
        .insert_events(head.unwrap_or(0) + 1, events, at)
        .await
}

/// The events journey steps emit: `step.recorded` for each, and what it
/// did to its journey (status changed, realized, returned, rejected).
/// `changes` pairs each with the repatriation's party, in the order the
/// steps were recorded.
pub fn journey_change_events(
    changes: &[(Uuid, JourneyChange)],
) -> Result<Vec<NewEvent>, StoreError> {
    let mut out = Vec::with_capacity(changes.len());
    for (party, change) in changes {
        let step = change.step.id.to_string();
        let subject = |s: &str| format!("repatriations/{}{s}", change.repatriation_id);
        out.push(NewEvent::new(
            EventType::StepRecorded,
            *party,
            subject(&format!("/steps/{step}")),
            "",
            change,
        )?);
        for kind in journey_events(change.step.kind(), change.previous_status, change.status) {
            out.push(NewEvent::new(kind, *party, subject(""), &step, change)?);
        }
    }
    Ok(out)
}

#[async_trait]
impl EventRepository for SqlRepository {
    async fn events_after(
        &self,
        filter: &EventFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if filter.parties.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT * FROM events WHERE sequence > ");
        q.bind(after);
        if let Some(parties) = &filter.parties {
            q.push(" AND party_id IN (");
            for (i, p) in parties.iter().enumerate() {
                q.push(if i == 0 { "" } else { ", " }).bind(*p);
            }
            q.push(")");
        }
        if !filter.types.is_empty() {
            q.push(" AND type IN (");
            for (i, t) in filter.types.iter().enumerate() {
                q.push(if i == 0 { "" } else { ", " }).bind(t.name());
            }
            q.push(")");
        }
        q.push(" ORDER BY sequence LIMIT ").bind(i64::from(limit));
        let rows: Vec<EventRow> = q.fetch_all().await?;
        rows.into_iter().map(StoredEvent::try_from).collect()
    }

    async fn event_head(&self) -> Result<i64, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let (head,): (Option<i64>,) = pooled
            .conn()
            .query("SELECT MAX(sequence) FROM events")
            .fetch_one()
            .await?;
        Ok(head.unwrap_or(0))
    }

    async fn raise_alerts(&self, alerts: &[NewEvent]) -> Result<Vec<Uuid>, StoreError> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.writer.begin().await?;
        let at = now();
        let mut c = tx.conn();
        // Under the outbox's lock, so two replicas raising the same alert
        // append it once.
        c.dialect().lock_outbox().await?;
        let mut raised: HashSet<Uuid> = HashSet::new();
        for chunk in alerts.chunks(IDS_PER_LIST) {
            let mut q = c.sql("SELECT id FROM events WHERE id IN (");
            for (i, a) in chunk.iter().enumerate() {
                q.push(if i == 0 { "" } else { ", " }).bind(a.id);
            }
            q.push(")");
            let rows: Vec<(Uuid,)> = q.fetch_all().await?;
            raised.extend(rows.into_iter().map(|(id,)| id));
        }
        let mut new: Vec<NewEvent> = Vec::new();
        for a in alerts {
            if raised.insert(a.id) {
                new.push(a.clone());
            }
        }
        if !new.is_empty() {
            append(&mut c, &new, at).await?;
        }
        tx.commit().await?;
        Ok(new.into_iter().map(|e| e.id).collect())
    }

    async fn unrealized_earnings(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UnrealizedEarning>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let rows: Vec<UnrealizedRow> = pooled
            .conn()
            .query(
                "SELECT e.id, e.party_id, p.kind AS party_kind, e.service_category, e.invoice_date
                 FROM earnings e JOIN parties p ON p.id = e.party_id
                 WHERE e.invoice_date >= $1 AND e.invoice_date <= $2 AND e.void_time IS NULL
                   AND NOT EXISTS (SELECT 1 FROM allocations a JOIN steps s ON s.repatriation_id = a.repatriation_id
                                   WHERE a.earning_id = e.id AND s.kind = 'BENEFICIARY_CREDITED' AND s.void_time IS NULL)
                   AND NOT EXISTS (SELECT 1 FROM recon_matches m WHERE m.earning_id = e.id)
                 ORDER BY e.invoice_date, e.id",
            )
            .bind(from)
            .bind(to)
            .fetch_all()
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let at = now();
        let until = at
            + chrono::Duration::from_std(ttl)
                .map_err(|e| StoreError::Config(format!("lease time: {e}")))?;
        let mut tx = self.writer.begin().await?;
        let taken = tx
            .conn()
            .query(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
            )
            .bind(name)
            .bind(holder)
            .bind(DbTime(until))
            .bind(DbTime(at))
            .execute()
            .await?;
        tx.commit().await?;
        Ok(taken == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        tx.conn()
            .query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute()
            .await?;
        tx.commit().await
    }

    async fn lease(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let row: Option<LeaseRow> = pooled
            .conn()
            .query("SELECT holder, expires_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional()
            .await?;
        Ok(row.map(|r| (r.holder, r.expires_at.0)))
    }

    async fn event_cursor(&self, name: &str) -> Result<i64, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        cursor(&mut pooled.conn(), name).await
    }

    async fn advance_cursor(&self, name: &str, holder: &str, to: i64) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        let mut c = tx.conn();
        if !holds(&mut c, name, holder, at).await? {
            return Ok(false);
        }
        move_cursor(&mut c, name, to, at).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Whether `holder` holds the lease `name` at `at`; the lease row stays
/// locked to the end of the transaction, so it cannot change hands before
/// what the holder does under it commits.
pub(super) async fn holds(
    c: &mut Conn<'_>,
    name: &str,
    holder: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut q = c.sql("SELECT holder, expires_at FROM leases WHERE name = ");
    q.bind(name).for_update();
    let lease: Option<LeaseRow> = q.fetch_optional().await?;
    Ok(lease.is_some_and(|l| l.holder == holder && l.expires_at.0 > at))
}

/// How far the consumer `name` has got.
pub(super) async fn cursor(c: &mut Conn<'_>, name: &str) -> Result<i64, StoreError> {
    let row: Option<(i64,)> = c
        .query("SELECT sequence FROM event_cursors WHERE name = $1")
        .bind(name)
        .fetch_optional()
        .await?;
    Ok(row.map_or(0, |(s,)| s))
}

/// Moves the consumer `name` forward to `to` (never back).
pub(super) async fn move_cursor(
    c: &mut Conn<'_>,
    name: &str,
    to: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    c.query(
        "INSERT INTO event_cursors (name, sequence, update_time) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET sequence = excluded.sequence, update_time = excluded.update_time
         WHERE event_cursors.sequence < excluded.sequence",
    )
    .bind(name)
    .bind(to)
    .bind(DbTime(at))
    .execute()
    .await?;
    Ok(())
}
