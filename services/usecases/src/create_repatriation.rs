//! CreateRepatriation: a payment home is opened for earnings of one party,
//! each paying all or part of what is left of it.

use repat_core::Named;
use repat_core::repatriation::{
    self as rep, Channel, NewRepatriation, Repatriation, RepatriationStatus, RequestedAllocation,
};
use repat_store::{EventType, Idempotency, NewEvent, derive_id};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::{Error, Result};
use crate::rules::ActiveRules;

/// A repatriation to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepatriationRequest {
    pub party_id: Uuid,
    pub allocations: Vec<RequestedAllocation>,
    pub channel: Channel,
    /// Defaults to the first earning's client country.
    pub payer_country: Option<String>,
}

/// Opens the repatriation with the last day it may be realized under the
/// rules in force.
pub async fn create_repatriation(
    app: &App,
    rules: &ActiveRules,
    caller: &Caller,
    idem: &Idempotency,
    req: &RepatriationRequest,
) -> Result<Repatriation> {
    let permit = authorize(caller, Action::Write(req.party_id))?;
    let mut tx = app.store(&permit).begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let kind = tx.require_party(req.party_id).await?;
    let ids: Vec<Uuid> = req.allocations.iter().map(|a| a.earning_id).collect();
    let earnings = tx.lock_earnings(&ids).await?;
    let ordered: Vec<_> = ids.iter().map(|id| earnings[id].clone()).collect();
    let allocations = rep::allocate(req.party_id, &req.allocations, &ordered)?;
    if let Some(i) = ordered.iter().position(|e| e.void.is_some()) {
        return Err(Error::Precondition(format!(
            "allocations[{i}].earning_id: earning {} is voided",
            ordered[i].id
        )));
    }
    let expected = rep::expected_amount(&allocations)
        .ok_or_else(|| Error::internal("allocations without a sum"))?;
    let at = tx.time();
    let repatriation = Repatriation {
        id: derive_id(idem),
        details: NewRepatriation {
            party_id: req.party_id,
            allocations: allocations.clone(),
            channel: req.channel,
            payer_country: req
                .payer_country
                .clone()
                .unwrap_or_else(|| ordered[0].details.client_country.clone()),
        },
        expected_amount: expected,
        status: RepatriationStatus::AwaitingPayment,
        step_count: 0,
        create_time: at,
        update_time: at,
    };
    // The earliest invoice chooses the programme and starts the count.
    let deadline = ordered
        .iter()
        .min_by_key(|e| (e.details.invoice_date, e.id))
        .and_then(|e| {
            rules.rules.repatriation_deadline(
                kind.name(),
                e.details.service_category.name(),
                e.details.invoice_date,
            )
        });
    tx.insert_repatriation(&repatriation, deadline).await?;
    for a in &allocations {
        let allocated = earnings[&a.earning_id]
            .allocated
            .checked_add(a.amount)
            .ok_or_else(|| Error::internal("allocation overflow"))?;
        tx.set_allocated(a.earning_id, allocated).await?;
    }
    let resource = format!("repatriations/{}", repatriation.id);
    tx.audit(&[(idem, resource.clone())]).await?;
    tx.emit(vec![NewEvent::new(
        EventType::RepatriationCreated,
        req.party_id,
        resource,
        "",
        &repatriation,
    )?])
    .await?;
    tx.respond(idem, &repatriation).await?;
    tx.commit().await?;
    Ok(repatriation)
}
