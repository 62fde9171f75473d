//! RecordStep and BatchRecordSteps: what happened to a payment on its way
//! home. Each step must fit its journey (core's ordering rules); a batch
//! commits in one transaction, with a result per item.

use std::collections::{HashMap, HashSet};

use repat_core::Named;
use repat_core::journey::{self, NewStep, Step};
use repat_core::repatriation::RepatriationStatus;
use repat_store::{
    Idempotency, JourneyChange, JourneyUpdate, KeyId, StoreError, derive_id, journey_change_events,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, Permit, Role, authorize};
use crate::error::{Error, Result};

/// The outcome of recording a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecorded {
    pub step: Step,
    pub status: RepatriationStatus,
    /// A retry of a request already stored: nothing new went in.
    #[serde(default)]
    pub replayed: bool,
    /// For a new step, the wait since the step before it on the journey's
    /// timeline (none for the first step, or a retry).
    #[serde(skip)]
    pub wait: Option<std::time::Duration>,
}

/// A step its caller may record.
pub struct Authorized {
    idem: Idempotency,
    step: NewStep,
    permit: Permit,
}

/// Authorizes recording `step`: administrators need no lookup; others must
/// act for the repatriation's party.
pub async fn authorize_step(
    app: &App,
    caller: &Caller,
    idem: Idempotency,
    step: NewStep,
) -> Result<Authorized> {
    let permit = if caller.role == Role::Admin {
        authorize(caller, Action::Write(step.repatriation_id))?
    } else {
        app.repatriation_party(caller, step.repatriation_id, Action::Write)
            .await?
            .1
    };
    Ok(Authorized { idem, step, permit })
}

/// Records authorized steps in one transaction, one result per item in
/// order, and announces the journeys changed. An item that contradicts
/// its journey (or repeats a request id with another payload) fails
/// alone; the others are stored. A database failure fails them all and
/// stores nothing.
pub async fn record_steps(app: &App, items: &[Authorized]) -> Result<Vec<Result<StepRecorded>>> {
    let Some(first) = items.first() else {
        return Ok(vec![]);
    };
    let store = app.store(&first.permit);
    // A concurrent request with one of these ids may commit between our
    // read of the keys and our insert of them; then the insert finds it,
    // and the whole batch is redone, which sees it as a retry.
    let mut outcome = None;
    for _ in 0..3 {
        outcome = try_record(store, items, app.max_steps_per_journey()).await?;
        if outcome.is_some() {
            break;
        }
    }
    let results = outcome.ok_or_else(|| {
        Error::Store(StoreError::Aborted(
            "request ids kept colliding with concurrent requests".into(),
        ))
    })?;
    for r in results.iter().flatten().filter(|r| !r.replayed) {
        app.observer().step_recorded(r.step.kind().name(), r.wait);
    }
    let changed: Vec<Uuid> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|s| s.step.details.repatriation_id))
        .collect();
    app.announce(changed).await;
    Ok(results)
}

/// The time from the step before `step` on the timeline of `steps` (the
/// journey's extremes of each kind, and this batch's steps) to it. A hop
/// reported late among recorded hops may follow one not loaded: its wait
/// is not known, and not reported.
fn wait_before(steps: &[Step], step: &Step) -> Option<std::time::Duration> {
    let at = step.occurred_at();
    let same = steps
        .iter()
        .filter(|s| s.kind() == step.kind() && s.id != step.id)
        .map(Step::occurred_at);
    if let (Some(first), Some(last)) = (same.clone().min(), same.max())
        && first <= at
        && at < last
    {
        return None;
    }
    let timeline = journey::timeline(steps);
    let i = timeline.iter().position(|s| s.id == step.id)?;
    let before = timeline.get(i.checked_sub(1)?)?;
    (at - before.occurred_at()).to_std().ok()
}

/// What the idempotency record of a step keeps: steps never change, so
/// the step is read back on a retry; the status is the one right after
/// the step.
#[derive(Serialize, Deserialize)]
struct StepReceipt {
    step: Uuid,
    status: RepatriationStatus,
}

/// One attempt at [`record_steps`]; `None` when a concurrent request
/// claimed one of the ids first (nothing stored).
async fn try_record(
    store: &dyn repat_store::Repository,
    items: &[Authorized],
    limit: u32,
) -> Result<Option<Vec<Result<StepRecorded>>>> {
    let mut tx = store.begin().await?;
    let at = tx.time();
    let mut results: Vec<Option<Result<StepRecorded>>> = (0..items.len()).map(|_| None).collect();

    // A key repeated inside the batch is a retry of its first use.
    let mut first_use: HashMap<KeyId, usize> = HashMap::new();
    let mut unique: Vec<usize> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let std::collections::hash_map::Entry::Vacant(e) = first_use.entry(item.idem.key()) {
            e.insert(i);
            unique.push(i);
        }
    }

    // Lock the journeys touched, then read the keys: a retry of a
    // committed step of these journeys is seen for sure.
    let rep_ids: Vec<Uuid> = unique
        .iter()
        .map(|&i| items[i].step.repatriation_id)
        .collect();
    let mut step_counts = tx.lock_journeys(&rep_ids).await?;
    let mut journeys = tx.load_step_extremes(&step_counts).await?;
    let keys: Vec<KeyId> = unique.iter().map(|&i| items[i].idem.key()).collect();
    let mut records = tx.stored_keys(&keys).await?;

    // Retries: their receipts name the steps stored, read back by id.
    let mut receipts: HashMap<usize, Result<StepReceipt>> = HashMap::new();
    for &i in &unique {
        if let Some(record) = records.remove(&items[i].idem.key()) {
            receipts.insert(i, record.replay(&items[i].idem).map_err(Error::from));
        }
    }
    let replayed: Vec<Uuid> = receipts
        .values()
        .filter_map(|r| r.as_ref().ok().map(|r| r.step))
        .collect();
    let mut replayed: HashMap<Uuid, Step> = tx
        .load_steps_by_id(&replayed)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();

    let mut stored: Vec<Step> = Vec::new();
    let mut audited: Vec<(&Idempotency, String)> = Vec::new();
    let mut keys: Vec<(Idempotency, StepReceipt)> = Vec::new();
    let mut touched: HashSet<Uuid> = HashSet::new();
    let mut changes: Vec<JourneyChange> = Vec::new();
    for &i in &unique {
        let Authorized {
            idem, step: new, ..
        } = &items[i];
        let rid = new.repatriation_id;
        if let Some(receipt) = receipts.remove(&i) {
            results[i] = Some(receipt.and_then(|receipt| {
                let step = replayed.remove(&receipt.step).ok_or_else(|| {
                    Error::Precondition(format!(
                        "step {} was voided since it was recorded (see ListRepatriationRevisions)",
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
        let Some(count) = step_counts.get_mut(&rid) else {
            results[i] = Some(Err(Error::Store(StoreError::NotFound {
                kind: "repatriation",
                id: rid.to_string(),
            })));
            continue;
        };
        if *count as u64 >= u64::from(limit) {
            results[i] = Some(Err(Error::Precondition(format!(
                "repatriation {rid} already has {count} steps, the most one journey may have \
                 (max_steps_per_journey is {limit})"
            ))));
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
        *count += 1;
        let status = RepatriationStatus::of(steps);
        let wait = wait_before(steps, &step);
        changes.push(JourneyChange {
            repatriation_id: rid,
            step: step.clone(),
            previous_status,
            status,
        });
        keys.push((
            idem.clone(),
            StepReceipt {
                step: step.id,
                status,
            },
        ));
        results[i] = Some(Ok(StepRecorded {
            step: step.clone(),
            status,
            replayed: false,
            wait,
        }));
        audited.push((idem, format!("repatriations/{rid}/steps/{}", step.id)));
        stored.push(step);
        touched.insert(rid);
    }

    // Keys first: if any was taken meanwhile, store nothing and redo.
    let claimed = tx.claim_keys(&keys).await?;
    if claimed.len() != keys.len() {
        tx.rollback().await?;
        return Ok(None);
    }
    let mut updates: Vec<JourneyUpdate> = touched
        .iter()
        .map(|rid| JourneyUpdate {
            id: *rid,
            status: RepatriationStatus::of(&journeys[rid]).name(),
            step_count: step_counts[rid],
        })
        .collect();
    updates.sort_by_key(|u| u.id);
    tx.extend_journeys(&stored, &updates).await?;
    // The events are made before the audit chain's lock is taken: what
    // runs under it (to commit) is only the appends.
    let mut events = Vec::new();
    if tx.records_events() && !changes.is_empty() {
        let changed: Vec<Uuid> = updates.iter().map(|u| u.id).collect();
        let parties = tx.repatriation_parties(&changed).await?;
        let changes = changes
            .into_iter()
            .map(|c| match parties.get(&c.repatriation_id) {
                Some(party) => Ok((*party, c)),
                None => Err(Error::internal(format!(
                    "repatriation {} has no party",
                    c.repatriation_id
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        events = journey_change_events(&changes)?;
    }
    tx.audit(&audited).await?;
    tx.emit(events).await?;
    tx.commit().await?;

    // Repeats inside the batch share their first use's outcome.
    for (i, item) in items.iter().enumerate() {
        if results[i].is_none() {
            let idem = &item.idem;
            let first = first_use[&idem.key()];
            let outcome = match &results[first] {
                Some(Ok(r)) if items[first].idem == *idem => Ok(r.clone()),
                Some(Ok(_)) => Err(Error::Store(StoreError::IdempotencyMismatch(
                    idem.request_id,
                ))),
                Some(Err(e)) => Err(Error::Store(StoreError::Aborted(format!(
                    "the first use of this request_id in the batch failed: {e}"
                )))),
                None => Err(Error::internal("batch item without an outcome")),
            };
            results[i] = Some(outcome);
        }
    }
    Ok(Some(
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::internal("batch item without an outcome"))))
            .collect(),
    ))
}

/// A journey's status and step count once `steps` are its steps.
pub(crate) fn journey_update(id: Uuid, steps: &[Step]) -> JourneyUpdate {
    JourneyUpdate {
        id,
        status: RepatriationStatus::of(steps).name(),
        step_count: steps.len() as i32,
    }
}
