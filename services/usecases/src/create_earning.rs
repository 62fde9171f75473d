//! CreateEarning (and each item of BatchCreateEarnings): an invoice to a
//! foreign client, recorded once per invoice reference of its party.

use repat_core::Money;
use repat_core::earning::{Earning, NewEarning};
use repat_store::{EventType, Idempotency, NewEvent, StoreError, Write, derive_id};

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::{Error, Result};

pub async fn create_earning(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    new: &NewEarning,
) -> Result<Earning> {
    let permit = authorize(caller, Action::Write(new.party_id))?;
    let earning = store(app.store(&permit), idem, new).await?;
    app.observer().earning_recorded();
    Ok(earning)
}

async fn store(
    store: &dyn repat_store::Repository,
    idem: &Idempotency,
    new: &NewEarning,
) -> Result<Earning> {
    let mut tx = store.begin().await?;
    match tx.replay(idem).await {
        Ok(Some(stored)) => return Ok(stored),
        Ok(None) => {}
        Err(StoreError::IdempotencyMismatch(_)) => return Err(changed(&mut tx, idem).await),
        Err(e) => return Err(e.into()),
    }
    tx.require_party(new.party_id).await?;
    if let Some(existing) = tx
        .earning_with_reference(new.party_id, &new.invoice_reference)
        .await?
    {
        return Err(Error::Duplicate(format!(
            "invoice_reference {:?} is already recorded for this party (earning {existing})",
            new.invoice_reference
        )));
    }
    let earning = Earning {
        id: derive_id(idem),
        details: new.clone(),
        allocated: Money::zero(new.amount.currency()),
        create_time: tx.time(),
        revision: 1,
        void: None,
    };
    tx.insert_earning(&earning).await?;
    let resource = format!("earnings/{}", earning.id);
    tx.audit(&[(idem, resource.clone())]).await?;
    tx.emit(vec![NewEvent::new(
        EventType::EarningCreated,
        new.party_id,
        resource,
        "",
        &earning,
    )?])
    .await?;
    tx.respond(idem, &earning).await?;
    tx.commit().await?;
    Ok(earning)
}

/// What a request id already used for another earning is answered with:
/// typically a corrected row imported again. It names the earning recorded
/// under it and the way to correct that one.
async fn changed(tx: &mut Write, idem: &Idempotency) -> Error {
    let id = derive_id(idem);
    let found = tx.lock_earnings(&[id]).await.map(|mut m| m.remove(&id));
    match found {
        Ok(Some(e)) => Error::Duplicate(format!(
            "request_id {} already recorded earning {id} (invoice_reference {:?}, revision {}) \
                 with other details; to correct it, amend it: `repatctl earnings import --amend`, \
                 or EarningService/AmendEarning with id {id}",
            idem.request_id, e.details.invoice_reference, e.revision
        )),
        _ => StoreError::IdempotencyMismatch(idem.request_id).into(),
    }
}
