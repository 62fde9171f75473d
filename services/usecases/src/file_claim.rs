//! FileClaim: the firm claims the incentive on assessed repatriations;
//! each journey records INCENTIVE_CLAIM_FILED.

use chrono::{DateTime, NaiveDate, Utc};
use repat_core::incentive::claim::{Claim, ClaimItem, ClaimStatus, ClaimStep, ClaimStepKind};
use repat_core::journey::{self, NewStep, Step};
use repat_core::money::parse_currency;
use repat_core::repatriation::RepatriationStatus;
use repat_core::time::dhaka_date;
use repat_core::{Money, Named};
use repat_store::{
    EventType, Idempotency, JourneyChange, NewEvent, StoreError, StoredAssessment, Write,
    derive_id, journey_change_events,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::{Error, Result};
use crate::record_steps::journey_update;

/// A claim to file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    pub party_id: Uuid,
    pub repatriation_ids: Vec<Uuid>,
    pub filed_at: DateTime<Utc>,
}

pub async fn file_claim(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    req: &ClaimRequest,
) -> Result<Claim> {
    let permit = authorize(caller, Action::Write(req.party_id))?;
    let claim = file(app.store(&permit), idem, req).await?;
    app.announce(req.repatriation_ids.clone()).await;
    Ok(claim)
}

async fn file(
    store: &dyn repat_store::Repository,
    idem: &Idempotency,
    req: &ClaimRequest,
) -> Result<Claim> {
    let mut tx = store.begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let exists = tx.lock_journeys(&req.repatriation_ids).await?;
    let filed_on = dhaka_date(req.filed_at);
    let mut items = Vec::with_capacity(req.repatriation_ids.len());
    let mut programme: Option<String> = None;
    let mut total = Decimal::ZERO;
    for rid in &req.repatriation_ids {
        let not_found = || {
            Error::Store(StoreError::NotFound {
                kind: "repatriation",
                id: rid.to_string(),
            })
        };
        if !exists.contains_key(rid) {
            return Err(not_found());
        }
        if tx.repatriation_party(*rid).await? != req.party_id {
            return Err(not_found());
        }
        if let Some(other) = tx.claim_of(*rid).await? {
            return Err(Error::Precondition(format!(
                "repatriation {rid} is already claimed in claim {other}"
            )));
        }
        let current = claimable(&mut tx, *rid, filed_on).await?;
        let a = &current.assessment;
        let this = a.programme.clone().unwrap_or_default();
        match &programme {
            Some(p) if *p != this => {
                return Err(Error::Precondition(format!(
                    "a claim is for one programme: repatriation {rid} is under {this}, the ones before it under {p}"
                )));
            }
            _ => programme = Some(this),
        }
        total += a.incentive_bdt;
        items.push(ClaimItem {
            repatriation_id: *rid,
            assessment_id: current.id,
            incentive: bdt(a.incentive_bdt)?,
        });
    }
    let journeys = record_journey_steps(
        &mut tx,
        idem,
        &req.repatriation_ids,
        journey::StepKind::IncentiveClaimFiled,
        req.filed_at,
    )
    .await?;
    let claim = Claim {
        id: derive_id(idem),
        party_id: req.party_id,
        programme: programme.unwrap_or_default(),
        status: ClaimStatus::Filed,
        items,
        claimed: bdt(total)?,
        disbursed: None,
        steps: vec![ClaimStep {
            kind: ClaimStepKind::Filed,
            occurred_at: req.filed_at,
            recorded_at: tx.time(),
            reason: None,
            amount: None,
        }],
    };
    tx.insert_claim(&claim).await?;
    tx.audit(&[(idem, format!("claims/{}", claim.id))]).await?;
    tx.emit(claim_events(EventType::ClaimFiled, &claim, 0, &journeys)?)
        .await?;
    tx.respond(idem, &claim).await?;
    tx.commit().await?;
    Ok(claim)
}

pub(crate) fn bdt(amount: Decimal) -> Result<Money> {
    let taka = parse_currency("BDT").map_err(|e| Error::internal(e.to_string()))?;
    Money::new(amount, taka).map_err(|e| Error::internal(format!("claimed amount {e}")))
}

/// The assessment a claim on repatriation `rid` would rest on: its
/// current one, which must be eligible and still claimable on `filed_on`.
async fn claimable(tx: &mut Write, rid: Uuid, filed_on: NaiveDate) -> Result<StoredAssessment> {
    let current = tx.current_assessment(rid).await?.ok_or_else(|| {
        Error::Precondition(format!(
            "repatriation {rid} has not been assessed; assess it before claiming"
        ))
    })?;
    let a = &current.assessment;
    if !a.eligible {
        let reasons: Vec<&str> = a.violations.iter().map(|v| v.reason.name()).collect();
        return Err(Error::Precondition(format!(
            "the current assessment {} of repatriation {rid} is not eligible ({})",
            current.id,
            reasons.join(", ")
        )));
    }
    if let Some(deadline) = a.claim_deadline
        && filed_on > deadline
    {
        return Err(Error::Precondition(format!(
            "filed on {filed_on}, after repatriation {rid}'s claim deadline of {deadline} (CLAIM_WINDOW_EXPIRED)"
        )));
    }
    Ok(current)
}

/// The events of a claim's step: the claim's own, and its journeys'.
pub(crate) fn claim_events(
    kind: EventType,
    claim: &Claim,
    step: usize,
    journeys: &[JourneyChange],
) -> Result<Vec<NewEvent>> {
    let mut out = vec![NewEvent::new(
        kind,
        claim.party_id,
        format!("claims/{}", claim.id),
        &step.to_string(),
        claim,
    )?];
    let journeys: Vec<(Uuid, JourneyChange)> = journeys
        .iter()
        .map(|j| (claim.party_id, j.clone()))
        .collect();
    out.extend(journey_change_events(&journeys)?);
    Ok(out)
}

/// Records the journey step a claim step stands for on each claimed
/// repatriation (inside the claim's transaction, with the same ordering
/// rules as any step); returns what each journey did.
pub(crate) async fn record_journey_steps(
    tx: &mut Write,
    idem: &Idempotency,
    repatriations: &[Uuid],
    kind: journey::StepKind,
    at: DateTime<Utc>,
) -> Result<Vec<JourneyChange>> {
    let mut ids = repatriations.to_vec();
    ids.sort();
    tx.lock_journeys(&ids).await?;
    let mut journeys = tx.load_steps(&ids).await?;
    let base = derive_id(idem);
    let mut stored = Vec::with_capacity(ids.len());
    let mut updates = Vec::with_capacity(ids.len());
    let mut changes = Vec::with_capacity(ids.len());
    for rid in &ids {
        let steps = journeys.entry(*rid).or_default();
        let new = NewStep::new(*rid, kind, at);
        journey::admit(steps, &new)?;
        let step = Step {
            id: Uuid::new_v5(&base, rid.as_bytes()),
            details: new,
            recorded_at: tx.time(),
        };
        let previous_status = RepatriationStatus::of(steps);
        steps.push(step.clone());
        updates.push(journey_update(*rid, steps));
        changes.push(JourneyChange {
            repatriation_id: *rid,
            step: step.clone(),
            previous_status,
            status: RepatriationStatus::of(steps),
        });
        stored.push(step);
    }
    tx.extend_journeys(&stored, &updates).await?;
    Ok(changes)
}
