//! CreateParty: a firm or freelancer enters the register, by an
//! administrator.

use repat_core::party::{NewParty, Party};
use repat_store::{EventType, Idempotency, NewEvent, derive_id};

use crate::App;
use crate::auth::{Action, Caller, Permit, authorize};
use crate::error::Result;

/// Only an administrator registers parties, whatever the request holds:
/// asked before the request is read.
pub fn permit(caller: &Caller) -> Result<Permit> {
    authorize(caller, Action::Administer)
}

pub async fn create_party(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    new: &NewParty,
) -> Result<Party> {
    let permit = permit(caller)?;
    let mut tx = app.store(&permit).begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let party = Party {
        id: derive_id(idem),
        details: new.clone(),
        create_time: tx.time(),
    };
    tx.insert_party(&party).await?;
    let resource = format!("parties/{}", party.id);
    tx.audit(&[(idem, resource.clone())]).await?;
    tx.emit(vec![NewEvent::new(
        EventType::PartyCreated,
        party.id,
        resource,
        "",
        &party,
    )?])
    .await?;
    tx.respond(idem, &party).await?;
    tx.commit().await?;
    Ok(party)
}
