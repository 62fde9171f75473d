//! VoidStep: a step recorded by mistake set aside, or superseded by a
//! corrected one, with the reason. The step is kept (its journey's
//! history lists it, before and after), the journey's status is recomputed
//! without it, its delay metrics are recomputed, and every assessment made
//! on it is marked superseded (its figures stay readable, under their rule
//! set version). A claimed journey's steps are not corrected.

use repat_core::journey::{self, NewStep, Step};
use repat_core::repatriation::RepatriationStatus;
use repat_store::{
    EventType, Idempotency, JourneyChange, NewEvent, Revision, StoreError, Write, derive_id,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller};
use crate::error::{Error, Result};
use crate::record_steps::journey_update;

/// A step to void, and the corrected one to record in its place, if any.
#[derive(Debug, Clone)]
pub struct StepCorrection {
    pub repatriation_id: Uuid,
    pub step_id: Uuid,
    pub reason: String,
    pub replacement: Option<NewStep>,
}

/// What a correction of a step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepCorrected {
    pub voided: Step,
    pub replacement: Option<Step>,
    /// The journey's status without the voided step (and with its
    /// replacement).
    pub status: RepatriationStatus,
    /// The journey's revision the correction made.
    pub revision: u32,
    /// The assessments it superseded.
    pub superseded_assessments: Vec<Uuid>,
}

pub async fn void_step(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    c: &StepCorrection,
) -> Result<StepCorrected> {
    let (party, permit) = app
        .repatriation_party(caller, c.repatriation_id, Action::Write)
        .await?;
    let mut tx = app.store(&permit).begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let out = correct(&mut tx, idem, party, c).await?;
    tx.respond(idem, &out).await?;
    tx.commit().await?;
    app.announce(vec![c.repatriation_id]).await;
    Ok(out)
}

/// Voids the step (recording its replacement, if any) inside `tx`: the
/// journey's status and metrics, its assessments, its revision with the
/// audit entry, and the event. The caller commits.
pub(crate) async fn correct(
    tx: &mut Write,
    idem: &Idempotency,
    party: Uuid,
    c: &StepCorrection,
) -> Result<StepCorrected> {
    let rid = c.repatriation_id;
    tx.lock_journeys(&[rid]).await?;
    let mut steps = tx
        .load_steps(&[rid])
        .await?
        .remove(&rid)
        .unwrap_or_default();
    let at = steps
        .iter()
        .position(|s| s.id == c.step_id)
        .ok_or_else(|| StoreError::NotFound {
            kind: "step",
            id: format!("{} of repatriation {rid} (or voided already)", c.step_id),
        })?;
    if let Some(claim) = tx.claim_of(rid).await? {
        return Err(Error::Precondition(format!(
            "repatriation {rid} is claimed (claim {claim}); the steps of a claimed journey are not corrected"
        )));
    }
    let previous_status = RepatriationStatus::of(&steps);
    let voided = steps.remove(at);
    let replacement = match &c.replacement {
        None => None,
        Some(new) if new.repatriation_id != rid => {
            return Err(Error::invalid(
                "replacement.repatriation_id",
                format!("must be the voided step's repatriation {rid}"),
            ));
        }
        Some(new) => {
            journey::admit(&steps, new)?;
            let step = Step {
                id: derive_id(idem),
                details: new.clone(),
                recorded_at: tx.time(),
            };
            steps.push(step.clone());
            Some(step)
        }
    };
    let status = RepatriationStatus::of(&steps);
    let resource = format!("repatriations/{rid}");
    // The journey is at revision 1 + its corrections; this one makes the next.
    let revision = tx.revision_count(&resource).await? + 2;
    let revision_name = format!("{resource}/revisions/{revision}");
    tx.void_step(voided.id, tx.time(), &c.reason).await?;
    tx.extend_journeys(replacement.as_slice(), &[journey_update(rid, &steps)])
        .await?;
    let superseded_assessments = tx.supersede_assessments(rid, &revision_name).await?;
    let json =
        |s: Option<&Step>| serde_json::to_string(&s).map_err(|e| Error::internal(e.to_string()));
    let (action, kind, shown) = match &replacement {
        Some(r) => ("step.superseded", EventType::StepCorrected, r),
        None => ("step.voided", EventType::StepVoided, &voided),
    };
    tx.insert_revision(&Revision::new(
        idem,
        resource.clone(),
        party,
        revision,
        action,
        &c.reason,
        tx.time(),
        (json(Some(&voided))?, json(replacement.as_ref())?),
        vec![format!("steps/{}", voided.id)],
    ))
    .await?;
    tx.audit(&[(idem, revision_name)]).await?;
    tx.emit(vec![NewEvent::new(
        kind,
        party,
        format!("{resource}/steps/{}", shown.id),
        &revision.to_string(),
        &JourneyChange {
            repatriation_id: rid,
            step: shown.clone(),
            previous_status,
            status,
        },
    )?])
    .await?;
    Ok(StepCorrected {
        voided,
        replacement,
        status,
        revision,
        superseded_assessments,
    })
}
