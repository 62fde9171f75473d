//! AmendEarning: an earning corrected as a new revision, with the reason
//! and the earning before and after kept in its history. What may change
//! once repatriations or matches refer to it is the core's rule
//! (`Earning::amend`).

use repat_core::earning::{CorrectionError, Earning, NewEarning};
use repat_store::{EventType, Idempotency, NewEvent, Revision, StoreError};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::{Error, Result};

/// A correction of an earning: how it should read, and why.
#[derive(Debug, Clone)]
pub struct Amendment {
    /// The earning; `None`: the one of `earning`'s party with its invoice
    /// reference (as a re-import names it; the reference then stays).
    pub id: Option<Uuid>,
    pub earning: NewEarning,
    pub reason: String,
    /// The revision the caller read, when it asks to be refused if the
    /// earning moved on since.
    pub expected_revision: Option<u32>,
}

pub async fn amend_earning(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    a: &Amendment,
) -> Result<Earning> {
    let (party, permit) = match a.id {
        Some(id) => app.earning_party(caller, id, Action::Write).await?,
        None => {
            let party = a.earning.party_id;
            (party, authorize(caller, Action::Write(party))?)
        }
    };
    let store = app.store(&permit);
    let mut tx = store.begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let reference = &a.earning.invoice_reference;
    let id = match a.id {
        Some(id) => id,
        None => tx
            .earning_with_reference(party, reference)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "earning",
                id: format!("with invoice_reference {reference:?}"),
            })?,
    };
    let before = locked(&mut tx, id).await?;
    let refs = tx.earning_references(id).await?;
    let (after, fields) = before
        .amend(&a.earning, a.expected_revision, &refs)
        .map_err(refused)?;
    if fields.contains(&"invoice_reference")
        && let Some(other) = tx
            .earning_with_reference(party, &after.details.invoice_reference)
            .await?
    {
        return Err(Error::Duplicate(format!(
            "earning.invoice_reference: {:?} is already recorded for this party (earning {other})",
            after.details.invoice_reference
        )));
    }
    tx.update_earning(&after).await?;
    record(
        &mut tx,
        idem,
        (&before, &after),
        "amended",
        &a.reason,
        fields,
    )
    .await?;
    tx.respond(idem, &after).await?;
    tx.commit().await?;
    Ok(after)
}

/// The earning, locked for the transaction.
pub(crate) async fn locked(tx: &mut repat_store::Write, id: Uuid) -> Result<Earning> {
    tx.lock_earnings(&[id])
        .await?
        .remove(&id)
        .ok_or_else(|| Error::internal("locked earning missing"))
}

/// Appends the revision, its audit entry (naming the revision, whose
/// record holds the why and the before and after) and its event.
pub(crate) async fn record(
    tx: &mut repat_store::Write,
    idem: &Idempotency,
    (before, after): (&Earning, &Earning),
    action: &str,
    reason: &str,
    fields: Vec<&'static str>,
) -> Result<()> {
    let party = after.details.party_id;
    let resource = format!("earnings/{}", after.id);
    let json = |e: &Earning| serde_json::to_string(e).map_err(|e| Error::internal(e.to_string()));
    tx.insert_revision(&Revision::new(
        idem,
        resource.clone(),
        party,
        after.revision,
        action,
        reason,
        tx.time(),
        (json(before)?, json(after)?),
        fields.into_iter().map(str::to_string).collect(),
    ))
    .await?;
    tx.audit(&[(idem, format!("{resource}/revisions/{}", after.revision))])
        .await?;
    let kind = if after.void.is_some() {
        EventType::EarningVoided
    } else {
        EventType::EarningAmended
    };
    tx.emit(vec![NewEvent::new(
        kind,
        party,
        resource,
        &after.revision.to_string(),
        after,
    )?])
    .await?;
    Ok(())
}

/// A correction the earning's state refuses, as the caller is told it.
pub(crate) fn refused(e: CorrectionError) -> Error {
    match e {
        CorrectionError::OtherParty(_) => Error::invalid("earning.party_id", e.to_string()),
        CorrectionError::Unchanged => Error::invalid("earning", e.to_string()),
        e => Error::Precondition(e.to_string()),
    }
}
