//! CreateEarning (and each item of BatchCreateEarnings): an invoice to a
//! foreign client, recorded once per invoice reference of its party.

use repat_core::Money;
use repat_core::earning::{Earning, NewEarning};
use repat_store::{EventType, Idempotency, NewEvent, derive_id};

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
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
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
