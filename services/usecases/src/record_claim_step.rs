//! RecordClaimStep: the bank records what became of a claim (audited,
//! disbursed, rejected); the claimed journeys record their step too.

use chrono::{DateTime, Utc};
use repat_core::Money;
use repat_core::incentive::claim::{self as claims, Claim, ClaimStep, ClaimStepKind};
use repat_store::{EventType, Idempotency};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::{Error, Result};
use crate::file_claim::{claim_events, record_journey_steps};

/// The next step of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimStepRequest {
    pub claim_id: Uuid,
    pub kind: ClaimStepKind,
    pub occurred_at: DateTime<Utc>,
    pub reason: Option<String>,
    /// BDT paid, for a disbursement; defaults to the amount claimed.
    pub amount: Option<Money>,
}

/// The bank's integrator or an administrator settles a claim, never the
/// claimant; to others it does not exist.
pub async fn record_claim_step(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    req: &ClaimStepRequest,
) -> Result<Claim> {
    let current = app
        .read_as(
            caller,
            ("claim", req.claim_id),
            |s| s.get_claim(req.claim_id),
            |c| Action::Read(c.party_id),
        )
        .await?;
    let permit = authorize(caller, Action::Settle(current.party_id))?;
    let claim = record(app.store(&permit), idem, req).await?;
    app.announce(claim.items.iter().map(|i| i.repatriation_id).collect())
        .await;
    Ok(claim)
}

async fn record(
    store: &dyn repat_store::Repository,
    idem: &Idempotency,
    req: &ClaimStepRequest,
) -> Result<Claim> {
    let mut tx = store.begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let mut current = tx.lock_claim(req.claim_id).await?;
    let last = current
        .steps
        .last()
        .ok_or_else(|| Error::internal(format!("claim {} has no steps", current.id)))?;
    let status = claims::advance(current.status, last, req.kind, req.occurred_at)
        .map_err(|v| Error::Precondition(v.to_string()))?;
    let amount = match req.kind {
        ClaimStepKind::Disbursed => {
            let paid = req.amount.unwrap_or(current.claimed);
            if paid.amount() > current.claimed.amount() {
                return Err(Error::Precondition(format!(
                    "disbursed {} BDT exceeds the {} BDT claimed",
                    paid.amount_string(),
                    current.claimed.amount_string()
                )));
            }
            Some(paid)
        }
        _ => None,
    };
    let mut journeys = Vec::new();
    if let Some(kind) = req.kind.journey_step() {
        let ids: Vec<Uuid> = current.items.iter().map(|i| i.repatriation_id).collect();
        journeys = record_journey_steps(&mut tx, idem, &ids, kind, req.occurred_at).await?;
    }
    current.steps.push(ClaimStep {
        kind: req.kind,
        occurred_at: req.occurred_at,
        recorded_at: tx.time(),
        reason: req.reason.clone(),
        amount,
    });
    current.status = status;
    if amount.is_some() {
        current.disbursed = amount;
    }
    tx.append_claim_step(&current).await?;
    tx.audit(&[(
        idem,
        format!("claims/{}/steps/{}", current.id, current.steps.len() - 1),
    )])
    .await?;
    let kind = match req.kind {
        ClaimStepKind::Filed => EventType::ClaimFiled,
        ClaimStepKind::Audited => EventType::ClaimAudited,
        ClaimStepKind::Disbursed => EventType::ClaimDisbursed,
        ClaimStepKind::Rejected => EventType::ClaimRejected,
    };
    tx.emit(claim_events(
        kind,
        &current,
        current.steps.len() - 1,
        &journeys,
    )?)
    .await?;
    tx.respond(idem, &current).await?;
    tx.commit().await?;
    Ok(current)
}
