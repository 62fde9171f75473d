//! The repository over either backend: each operation's SQL is written
//! once here, against [`crate::db`]; what the backends do their own way is
//! their [`crate::dialect::Dialect`].
//!
//! - `journeys`: parties, earnings, repatriations, steps, the audit trail;
//! - `facts`: facts about parties that change over time;
//! - `documents`: the documents firms hold;
//! - `incentive`: rule sets, assessments, claims;
//! - `metrics`: the delay metrics' rows and queries;
//! - `reconciliation`: statements, matches, exceptions;
//! - `revisions`: the corrections of records (amendments, voids);
//! - `search`: finding records by the references people have at hand;
//! - `events`: the outbox, and the leases and cursors of its readers;
//! - `webhooks`: webhook endpoints and deliveries;
//! - `write`: the write transaction use cases commit through.

mod checkpoints;
mod documents;
mod events;
mod facts;
mod incentive;
mod journeys;
mod metrics;
mod reconciliation;
mod revisions;
mod search;
mod webhooks;
mod write;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use repat_core::audit::{self, AuditRecord};
use repat_core::repatriation::Repatriation;
use uuid::Uuid;

use crate::db::{Conn, Pool, Pools, Tx, Writes};
use crate::rows::{ChainHead, KeyRow, RepatriationRow};
use crate::{ConnectOptions, Idempotency, KeyId, Page, StoreError, codec, postgres, sqlite};

pub use events::journey_change_events;
pub use reconciliation::StatementFile;
pub use revisions::{Revision, RevisionRepository};
pub use write::{StoredKey, Write};

/// The repository on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlRepository {
    /// Reads.
    pool: Pool,
    /// Writes: the same pool on PostgreSQL, which has many writers;
    /// SQLite's one writer, which commits requests in groups.
    writer: Writes,
    /// The readiness ping's own connection.
    health: Pool,
    /// Whether changes append their events to the outbox.
    record_events: bool,
}

impl SqlRepository {
    pub async fn postgres(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        Ok(Self::new(postgres::connect(url, options).await?, options))
    }

    pub async fn sqlite(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        Ok(Self::new(sqlite::connect(url, options).await?, options))
    }

    fn new(pools: Pools, options: &ConnectOptions) -> Self {
        SqlRepository {
            pool: pools.reads,
            writer: pools.writes,
            health: pools.health,
            record_events: options.record_events,
        }
    }
}

impl KeyRow {
    /// The stored response if `idem` repeats the recorded request. A
    /// scoped record was found by tenant and method, so only what was asked
    /// must match (any caller of the tenant gets the response); an unscoped
    /// one, from before keys were scoped, is replayed only to its caller.
    fn replay(self, idem: &Idempotency) -> Result<String, StoreError> {
        let same = self.fingerprint == idem.fingerprint
            && (!self.scope.is_empty()
                || (self.principal == idem.principal && self.method == idem.method));
        if !same {
            return Err(StoreError::IdempotencyMismatch(idem.request_id));
        }
        self.response.ok_or_else(|| {
            StoreError::Internal(format!(
                "request {} has no stored response",
                idem.request_id
            ))
        })
    }
}

/// The stored record of each key: its own, else the unscoped record of its
/// request id (keys stored before keys were scoped hold their request id
/// for every tenant and method, as they did then).
async fn find_keys(c: &mut Conn<'_>, keys: &[KeyId]) -> Result<HashMap<KeyId, KeyRow>, StoreError> {
    let rows = c.dialect().fetch_keys(keys).await?;
    let mut found = HashMap::new();
    for k in keys {
        let own = rows
            .iter()
            .find(|r| r.request_id == k.request_id && r.scope == k.scope && r.method == k.method);
        let unscoped = || {
            rows.iter()
                .find(|r| r.request_id == k.request_id && r.scope.is_empty())
        };
        if let Some(row) = own.or_else(unscoped) {
            found.insert(k.clone(), row.clone());
        }
    }
    Ok(found)
}

/// Claims `idem` inside `tx`: `None` when this request is new, the stored
/// response when it is a retry. A stored response ends `tx` (settled): it
/// is returned once it is durable, since on SQLite its first use may be an
/// earlier member of this request's group, not committed yet.
async fn claim(
    tx: &mut Tx,
    idem: &Idempotency,
    at: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let mut c = tx.conn();
    let key = idem.key();
    let claimed = c.dialect().claim_keys(&[(idem.clone(), None)], at).await?;
    if claimed.contains(&key) {
        return Ok(None);
    }
    let mut records = find_keys(&mut c, std::slice::from_ref(&key)).await?;
    let record = records
        .remove(&key)
        .ok_or_else(|| StoreError::Aborted("idempotency key vanished".into()))?;
    let stored = record.replay(idem)?;
    tx.settle().await?;
    Ok(Some(stored))
}

/// Stores the response to `idem` for its retries.
async fn save_response<T: serde::Serialize>(
    tx: &mut Tx,
    idem: &Idempotency,
    value: &T,
) -> Result<(), StoreError> {
    tx.conn()
        .dialect()
        .save_responses(&[(idem.key(), codec::to_json(value)?)])
        .await
}

/// The audit record of the change `idem` made to `resource`.
fn audit_draft(idem: &Idempotency, resource: String, at: DateTime<Utc>) -> AuditRecord {
    AuditRecord {
        sequence: 0,
        time: at,
        subject: idem.principal.clone(),
        role: idem.role.clone(),
        method: idem.method.to_string(),
        resource,
        request_hash: idem.fingerprint.clone(),
        request_id: idem.request_id,
    }
}

/// Appends entries to the chain inside `tx`, after taking the chain's
/// lock, so entries are linked in commit order.
async fn append_audit(tx: &mut Tx, drafts: Vec<AuditRecord>) -> Result<(), StoreError> {
    if drafts.is_empty() {
        return Ok(());
    }
    let mut c = tx.conn();
    c.dialect().lock_audit().await?;
    let head: Option<ChainHead> = c
        .query("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
        .fetch_optional()
        .await?;
    let (sequence, hash) =
        head.map_or_else(|| (0, audit::GENESIS.to_string()), |h| (h.sequence, h.hash));
    c.dialect()
        .insert_audit(&audit::extend(sequence, &hash, drafts))
        .await
}

/// Keyset page over rows read one past `size`: whether another page
/// follows, and the sequence it starts after.
fn page<R, T>(
    rows: Vec<R>,
    size: u32,
    seq: impl Fn(&R) -> i64,
    mut read: impl FnMut(R) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let more = rows.len() > size as usize;
    let mut items = Vec::with_capacity(rows.len().min(size as usize));
    let mut last = 0i64;
    for row in rows.into_iter().take(size as usize) {
        last = seq(&row);
        items.push(read(row)?);
    }
    Ok(Page {
        items,
        next_after: more.then_some(last),
    })
}

/// The rows a page of `size` reads: one more, to know whether another
/// page follows.
fn page_limit(size: u32) -> i64 {
    i64::from(size) + 1
}

async fn fetch_repatriation(c: &mut Conn<'_>, id: Uuid) -> Result<Repatriation, StoreError> {
    let row: RepatriationRow = c
        .query("SELECT * FROM repatriations WHERE id = $1")
        .bind(id)
        .fetch_optional()
        .await?
        .ok_or_else(|| StoreError::NotFound {
            kind: "repatriation",
            id: id.to_string(),
        })?;
    let mut allocations = c.dialect().load_allocations(&[id]).await?;
    row.into_repatriation(allocations.remove(&id).unwrap_or_default())
}
