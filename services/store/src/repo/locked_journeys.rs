//! The journeys a write adds steps to: locked for its transaction, each
//! with the summary its steps are admitted against (never its other steps,
//! so a step costs the same on a long journey as on a short one), and
//! saved with their new status, count and summary.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use repat_core::Named;
use repat_core::journey::{NewStep, Step, Summary};
use repat_core::repatriation::RepatriationStatus;
use uuid::Uuid;

use crate::StoreError;
use crate::codec;
use crate::db::Conn;
use crate::dialect::JourneyUpdate;
use crate::rows::KeyRow;

#[derive(Default)]
pub(super) struct LockedJourneys {
    summaries: HashMap<Uuid, Summary>,
    /// Those a step was added to, in id order.
    changed: BTreeSet<Uuid>,
}

impl LockedJourneys {
    /// Locks the journeys `ids` until the transaction ends and reads their
    /// summaries.
    pub async fn lock(&mut self, c: &mut Conn<'_>, ids: &[Uuid]) -> Result<(), StoreError> {
        self.lock_with_keys(c, ids, &[]).await.map(drop)
    }

    /// Locks as [`LockedJourneys::lock`] does, and reads the idempotency
    /// keys `keys` in the same round trip.
    pub async fn lock_with_keys(
        &mut self,
        c: &mut Conn<'_>,
        ids: &[Uuid],
        keys: &[Uuid],
    ) -> Result<HashMap<Uuid, KeyRow>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        let (locked, keys) = c.dialect().lock_with_keys(&ids, keys).await?;
        let mut unsummarized = Vec::new();
        for (id, row) in locked {
            match row.step_summary {
                Some(json) => {
                    self.summaries.insert(id, codec::from_json(&json)?);
                }
                None if row.step_count == 0 => {
                    self.summaries.insert(id, Summary::default());
                }
                // Recorded before summaries were kept: summarized once.
                None => unsummarized.push(id),
            }
        }
        for (id, steps) in c.dialect().load_steps(&unsummarized).await? {
            self.summaries.insert(id, Summary::of(&steps));
        }
        Ok(keys)
    }

    /// The summary of journey `id`, if it exists.
    pub fn summary(&self, id: Uuid) -> Option<&Summary> {
        self.summaries.get(&id)
    }

    /// Checks that `new` fits its journey.
    pub fn admit(&self, new: &NewStep) -> Result<(), StoreError> {
        let summary =
            self.summaries
                .get(&new.repatriation_id)
                .ok_or_else(|| StoreError::NotFound {
                    kind: "repatriation",
                    id: new.repatriation_id.to_string(),
                })?;
        Ok(summary.admit(new)?)
    }

    /// Adds an admitted step to its (locked) journey; returns the
    /// journey's status after it, and when the step before it on the
    /// timeline occurred.
    pub fn add(&mut self, step: &Step) -> (RepatriationStatus, Option<DateTime<Utc>>) {
        let rid = step.details.repatriation_id;
        let summary = self.summaries.entry(rid).or_default();
        let before = summary.occurred_before(&step.details);
        summary.add(step);
        self.changed.insert(rid);
        (RepatriationStatus::of_steps(summary.kinds()), before)
    }

    /// The journeys steps were added to, as they now stand.
    pub fn updates(&self) -> Result<Vec<JourneyUpdate>, StoreError> {
        self.changed
            .iter()
            .map(|id| {
                let s = &self.summaries[id];
                Ok(JourneyUpdate {
                    id: *id,
                    status: RepatriationStatus::of_steps(s.kinds()).name(),
                    step_count: s.count as i32,
                    summary: codec::to_json(s)?,
                })
            })
            .collect()
    }

    /// Saves the journeys steps were added to, and marks their metrics
    /// pending (for writes other than [`crate::dialect::Dialect::write_steps`]).
    pub async fn save(&self, c: &mut Conn<'_>, at: DateTime<Utc>) -> Result<(), StoreError> {
        let updates = self.updates()?;
        c.dialect().update_repatriations(&updates, at).await?;
        let ids: Vec<Uuid> = updates.iter().map(|u| u.id).collect();
        c.dialect().mark_pending(&ids).await
    }
}
