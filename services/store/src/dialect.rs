//! What the two backends do their own way, behind one typed interface.
//!
//! PostgreSQL does set operations as single statements over arrays
//! (`UNNEST`, `= ANY`), locks rows with `FOR UPDATE` and serializes appends
//! to the audit chain with its head's row lock. SQLite's write transaction
//! (`BEGIN IMMEDIATE`) already holds the database, so it needs no locks and
//! does set operations as loops of prepared statements. Everything else is
//! one SQL text, shared (see `repo`).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use repat_core::audit::AuditEntry;
use repat_core::journey::Step;
use repat_core::repatriation::Allocation;
use uuid::Uuid;

use crate::metrics_rows::{JourneyDims, MetricsChange, StoredObservation, SummaryRow};
use crate::rows::{KeyRow, LockedJourney};
use crate::{Idempotency, StoreError};

/// A change to a repatriation's status, step count and step summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyUpdate {
    pub id: Uuid,
    pub status: &'static str,
    pub step_count: i32,
    /// The journey's `repat_core::journey::Summary`, as JSON.
    pub summary: String,
}

/// What recording steps writes, besides the audit trail: the requests'
/// keys (with their responses), the steps, the journeys they change, and
/// the journeys whose metrics are now behind.
pub struct StepWrites<'a> {
    pub keys: &'a [(Idempotency, Option<String>)],
    pub steps: &'a [Step],
    pub journeys: &'a [JourneyUpdate],
}

/// The operations whose SQL differs between the backends; each takes and
/// returns whole sets.
#[async_trait]
pub trait Dialect: Send {
    /// Locks the audit chain's head until the transaction ends, so the
    /// chain follows commit order, and reads it: (sequence, hash).
    async fn lock_audit(&mut self) -> Result<(i64, String), StoreError>;
    /// Appends entries after the locked head, and makes the last the head.
    async fn insert_audit(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError>;

    /// Inserts the keys (with their responses, when known) that are not
    /// taken; returns the ids inserted.
    async fn claim_keys(
        &mut self,
        keys: &[(Idempotency, Option<String>)],
        at: DateTime<Utc>,
    ) -> Result<HashSet<Uuid>, StoreError>;
    async fn fetch_keys(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, KeyRow>, StoreError>;
    async fn save_responses(&mut self, responses: &[(Uuid, String)]) -> Result<(), StoreError>;

    /// Locks the repatriations (`ids` in id order) until the transaction
    /// ends; returns those that exist.
    async fn lock_repatriations(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, LockedJourney>, StoreError> {
        Ok(self.lock_with_keys(ids, &[]).await?.0)
    }
    /// Locks the repatriations as [`Dialect::lock_repatriations`] does and
    /// reads the idempotency keys `keys`, in one round trip where the
    /// backend allows. A key committed while the lock was awaited may be
    /// missed (PostgreSQL reads it in the statement's snapshot); the
    /// insert of the keys finds it.
    async fn lock_with_keys(
        &mut self,
        ids: &[Uuid],
        keys: &[Uuid],
    ) -> Result<(HashMap<Uuid, LockedJourney>, HashMap<Uuid, KeyRow>), StoreError>;
    /// The steps of each journey, in no particular order.
    async fn load_steps(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Step>>, StoreError>;
    /// The steps `ids` (by step id) that exist.
    async fn fetch_steps(&mut self, ids: &[Uuid]) -> Result<Vec<Step>, StoreError>;
    /// Writes recorded steps, their keys and their journeys; returns how
    /// many of the keys were claimed (all, unless a concurrent request took
    /// one first; then the caller rolls back).
    async fn write_steps(
        &mut self,
        w: &StepWrites<'_>,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError>;
    /// The allocations of each repatriation, in position order.
    async fn load_allocations(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Allocation>>, StoreError>;
    async fn insert_steps(&mut self, steps: &[Step]) -> Result<(), StoreError>;
    async fn update_repatriations(
        &mut self,
        updates: &[JourneyUpdate],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The grouping dimensions of the journeys.
    async fn load_journey_dims(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, JourneyDims>, StoreError>;
    /// The stored metrics rows of the journeys: their observations and
    /// summaries.
    async fn load_metrics(
        &mut self,
        ids: &[Uuid],
    ) -> Result<(Vec<StoredObservation>, Vec<SummaryRow>), StoreError>;
    /// Writes a change of journeys' metrics rows: observations removed and
    /// written, the summaries that changed, and both rollups' deltas.
    async fn write_metrics(
        &mut self,
        change: &MetricsChange,
        summaries: &[SummaryRow],
        dims: &HashMap<Uuid, JourneyDims>,
    ) -> Result<(), StoreError>;
    /// Marks journeys whose metrics rows are behind their steps.
    async fn mark_pending(&mut self, ids: &[Uuid]) -> Result<(), StoreError>;
    /// Takes up to `limit` pending journeys that no other drainer holds.
    async fn take_pending(&mut self, limit: u32) -> Result<Vec<Uuid>, StoreError>;
    async fn clear_pending(&mut self, ids: &[Uuid]) -> Result<(), StoreError>;
    /// Folds each rollup's deltas into one row per key.
    async fn compact_rollup(&mut self) -> Result<(), StoreError>;
}
