//! CreatePartyFact: a party's zone, memberships or bank accounts change
//! from a day; the change is appended with the value it replaced, under a
//! lock of its party, so concurrent changes keep one linear history.

use repat_core::facts::{NewPartyFact, PartyFact, value_on};
use repat_store::{Idempotency, derive_id};

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::Result;

pub async fn create_party_fact(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    new: &NewPartyFact,
) -> Result<PartyFact> {
    let permit = authorize(caller, Action::Write(new.party_id))?;
    let mut tx = app.store(&permit).begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let history = tx.lock_party_history(new.party_id).await?;
    let fact = PartyFact {
        id: derive_id(idem),
        previous: value_on(
            &history.party.details,
            &history.facts,
            new.value.kind(),
            new.effective_from,
        ),
        details: new.clone(),
        recorded_by: idem.principal.clone(),
        record_time: tx.time(),
    };
    tx.insert_party_fact(&fact).await?;
    tx.audit(&[(
        idem,
        format!("parties/{}/facts/{}", history.party.id, fact.id),
    )])
    .await?;
    tx.respond(idem, &fact).await?;
    tx.commit().await?;
    Ok(fact)
}
