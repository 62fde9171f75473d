//! ManualMatch: a person matches a credit to earnings by hand; the same
//! journeys are extended as by a matching run.

use std::collections::HashMap;

use repat_core::Money;
use repat_core::reconcile::{self as recon, Tolerances, matcher::CreditState};
use repat_store::{Idempotency, StoredMatch};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller};
use crate::error::{Error, Result};
use crate::run_matching::{announce_journeys, match_events, store_matches};

/// A credit matched by hand to earnings; an amount left out is what the
/// credit settles under the tolerances (one earning only). Each amount is
/// bounded by its earning's outstanding amount, and together by what the
/// credit is worth (`matcher::manual_all`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualMatchRequest {
    pub credit_id: Uuid,
    pub allocations: Vec<(Uuid, Option<Money>)>,
    /// Why, kept on each match made.
    pub note: String,
}

/// Matches a credit by hand (it must have no match yet).
pub async fn manual_match(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    req: &ManualMatchRequest,
    tolerances: &Tolerances,
) -> Result<Vec<StoredMatch>> {
    let (_, permit) = app
        .entry_party(caller, req.credit_id, Action::Write)
        .await?;
    let stored = match_by_hand(app.store(&permit), idem, req, tolerances).await?;
    announce_journeys(app, &stored).await;
    Ok(stored)
}

async fn match_by_hand(
    store: &dyn repat_store::Repository,
    idem: &Idempotency,
    req: &ManualMatchRequest,
    tolerances: &Tolerances,
) -> Result<Vec<StoredMatch>> {
    let mut tx = store.begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let party = tx.entry_party(req.credit_id).await?;
    tx.lock_reconciliation(party).await?;
    let credits = tx.credits(party).await?;
    let credit = credits
        .iter()
        .find(|c| c.id == req.credit_id)
        .ok_or_else(|| {
            Error::Precondition(format!(
                "credit {} is not matched any more: its statement was voided",
                req.credit_id
            ))
        })?;
    if let Some(why) = credit.entry.not_payable() {
        return Err(Error::Precondition(format!(
            "entry {} {why}; only a booked credit of more than zero pays an earning",
            credit.id
        )));
    }
    if credit.state == CreditState::Settled {
        return Err(Error::Precondition(format!(
            "credit {} is already matched; unmatch it first",
            credit.id
        )));
    }
    let invoices = tx.invoices(party).await?;
    let mut allocations = Vec::with_capacity(req.allocations.len());
    for (earning, amount) in &req.allocations {
        let inv = invoices.iter().find(|i| i.id == *earning).ok_or_else(|| {
            Error::Store(repat_store::StoreError::NotFound {
                kind: "earning",
                id: earning.to_string(),
            })
        })?;
        allocations.push((inv, *amount));
    }
    let matches = recon::matcher::manual_all(credit, &allocations, tolerances)
        .map_err(|(n, e)| Error::Precondition(format!("allocations[{n}]: {e}")))?;
    let entries: HashMap<Uuid, recon::Entry> =
        [(credit.id, credit.entry.clone())].into_iter().collect();
    let note = Some(req.note.as_str()).filter(|n| !n.is_empty());
    let (stored, journeys) = store_matches(&mut tx, idem, matches, &entries, note).await?;
    let audited: Vec<_> = stored
        .iter()
        .map(|m| (idem, format!("reconciliation/matches/{}", m.id)))
        .collect();
    tx.audit(&audited).await?;
    tx.emit(match_events(&stored, &journeys)?).await?;
    tx.respond(idem, &stored).await?;
    tx.commit().await?;
    Ok(stored)
}
