//! What the two backends do their own way, behind one typed interface.
//!
//! PostgreSQL does set operations as single statements over arrays
//! (`UNNEST`, `= ANY`), locks rows with `FOR UPDATE` and serializes appends
//! to the audit chain with an advisory lock. SQLite's write transaction
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

use crate::events::NewEvent;
use crate::metrics_rows::{JourneyDims, ObservationRow, Removed, RollupDeltas, SummaryRow};
use crate::rows::KeyRow;
use crate::{Idempotency, KeyId, StoreError};

/// A change to a repatriation's status and step count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JourneyUpdate {
    pub id: Uuid,
    pub status: &'static str,
    pub step_count: i32,
}

/// The operations whose SQL differs between the backends; each takes and
/// returns whole sets.
#[async_trait]
pub trait Dialect: Send {
    /// Serializes appends to the audit chain until the transaction ends,
    /// so the chain follows commit order.
    async fn lock_audit(&mut self) -> Result<(), StoreError>;
    async fn insert_audit(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError>;
    /// Serializes appends to the outbox until the transaction ends, so
    /// event sequences follow commit order.
    async fn lock_outbox(&mut self) -> Result<(), StoreError>;
    /// Inserts `events` numbered from `first` on, one after another.
    async fn insert_events(
        &mut self,
        first: i64,
        events: &[NewEvent],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The party of each repatriation among `ids` that exists.
    async fn repatriation_parties(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Uuid>, StoreError>;

    /// Inserts the keys (with their responses, when known) that are not
    /// taken, neither by the same key nor by an unscoped key of the same
    /// request id; returns the keys inserted.
    async fn claim_keys(
        &mut self,
        keys: &[(Idempotency, Option<String>)],
        at: DateTime<Utc>,
    ) -> Result<HashSet<KeyId>, StoreError>;
    /// The records stored under the keys, and the unscoped records of
    /// their request ids (see `repo::find_keys`).
    async fn fetch_keys(&mut self, keys: &[KeyId]) -> Result<Vec<KeyRow>, StoreError>;
    async fn save_responses(&mut self, responses: &[(KeyId, String)]) -> Result<(), StoreError>;

    /// Locks the repatriations (`ids` in id order) until the transaction
    /// ends; returns the step counts of those that exist.
    async fn lock_repatriations(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, i32>, StoreError>;
    /// The steps of each journey, in no particular order.
    async fn load_steps(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Step>>, StoreError>;
    /// Each journey's earliest and latest step of every kind (one step for
    /// a kind recorded once), in no particular order: all the ordering
    /// rules need, read through an index whatever the journey's length.
    async fn load_step_extremes(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Step>>, StoreError>;
    /// The steps `ids` that exist.
    async fn load_steps_by_id(&mut self, ids: &[Uuid]) -> Result<Vec<Step>, StoreError>;
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
    /// Replaces the metrics rows of the journeys `ids` (all of them, also
    /// those with no rows now); returns what was removed. A journey has
    /// observations only beside its summary, so only the journeys whose
    /// summary was removed have observations to remove.
    async fn replace_metrics(
        &mut self,
        ids: &[Uuid],
        dims: &HashMap<Uuid, JourneyDims>,
        observations: &[ObservationRow],
        summaries: &[SummaryRow],
    ) -> Result<Removed, StoreError>;
    /// Marks journeys whose metrics rows are behind their steps.
    async fn mark_pending(&mut self, ids: &[Uuid]) -> Result<(), StoreError>;
    /// Takes up to `limit` pending journeys that no other drainer holds.
    async fn take_pending(&mut self, limit: u32) -> Result<Vec<Uuid>, StoreError>;
    async fn clear_pending(&mut self, ids: &[Uuid]) -> Result<(), StoreError>;
    /// Adds the deltas to their rollups' keys (an upsert each, in the
    /// deltas' sorted order, so two rounds never deadlock).
    async fn insert_rollup(&mut self, deltas: &RollupDeltas) -> Result<(), StoreError>;
    /// Clears each rollup's keys whose sums all came back to zero.
    async fn compact_rollup(&mut self) -> Result<(), StoreError>;
}
