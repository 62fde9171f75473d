//! The repository over either backend: each operation's SQL is written
//! once here, against [`crate::db`]; what the backends do their own way is
//! their [`crate::dialect::Dialect`].
//!
//! - `journeys`: parties, earnings, repatriations, steps, the audit trail;
//! - `incentive`: rule sets, assessments, claims;
//! - `metrics`: the delay metrics' rows and queries;
//! - `reconciliation`: statements, matches, exceptions;
//! - `search`: finding records by the references people have at hand.

mod incentive;
mod journeys;
mod locked_journeys;
mod metrics;
mod reconciliation;
mod search;

use chrono::{DateTime, Utc};
use repat_core::audit::{self, AuditRecord};
use repat_core::repatriation::Repatriation;
use uuid::Uuid;

use crate::db::{Conn, Pool, Pools, Tx, Writes};
use crate::rows::{KeyRow, RepatriationRow};
use crate::{ConnectOptions, Idempotency, Page, StoreError, codec, postgres, sqlite};

/// The repository on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct SqlRepository {
    /// Reads.
    pool: Pool,
    /// Writes: the same pool on PostgreSQL, which has many writers;
    /// SQLite's one writer, committing requests in groups.
    writer: Writes,
    /// The readiness ping's own connection.
    health: Pool,
}

impl SqlRepository {
    pub async fn postgres(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        Ok(Self::new(postgres::connect(url, options).await?))
    }

    pub async fn sqlite(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        Ok(Self::new(sqlite::connect(url, options).await?))
    }

    fn new(pools: Pools) -> Self {
        SqlRepository {
            pool: pools.reads,
            writer: pools.writes,
            health: pools.health,
        }
    }
}

impl KeyRow {
    /// The stored response if `idem` repeats the recorded request.
    fn replay(self, idem: &Idempotency) -> Result<String, StoreError> {
        if self.principal != idem.principal
            || self.method != idem.method
            || self.fingerprint != idem.fingerprint
        {
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

/// Claims `idem` inside `tx`: `None` when this request is new, the stored
/// response when it is a retry.
async fn claim(
    tx: &mut Tx,
    idem: &Idempotency,
    at: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let mut c = tx.conn();
    let claimed = c.dialect().claim_keys(&[(idem.clone(), None)], at).await?;
    if claimed.contains(&idem.request_id) {
        return Ok(None);
    }
    let mut records = c.dialect().fetch_keys(&[idem.request_id]).await?;
    let record = records
        .remove(&idem.request_id)
        .ok_or_else(|| StoreError::Aborted("idempotency key vanished".into()))?;
    record.replay(idem).map(Some)
}

/// Stores the response to `idem` for its retries.
async fn save_response<T: serde::Serialize>(
    tx: &mut Tx,
    idem: &Idempotency,
    value: &T,
) -> Result<(), StoreError> {
    tx.conn()
        .dialect()
        .save_responses(&[(idem.request_id, codec::to_json(value)?)])
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
    let (sequence, hash) = c.dialect().lock_audit().await?;
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
