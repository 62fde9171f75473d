//! CorrectParty: a party's legal name or country corrected, as a new
//! revision with the reason and the party before and after kept in its
//! history. (Its zone, memberships and bank accounts change over time
//! through CreatePartyFact instead.)

use repat_core::facts::party_on;
use repat_core::party::{Party, PartyCorrection};
use repat_core::time::dhaka_date;
use repat_store::{EventType, Idempotency, NewEvent, Revision};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize, authorize_record};
use crate::error::{Error, Result};

pub async fn correct_party(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    id: Uuid,
    correction: &PartyCorrection,
    reason: &str,
    expected_revision: Option<u32>,
) -> Result<Party> {
    authorize_record(caller, Action::Read(id), "party", id)?;
    let permit = authorize(caller, Action::Write(id))?;
    let mut tx = app.store(&permit).begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let history = tx.lock_party_history(id).await?;
    let resource = format!("parties/{id}");
    let revision = tx.revision_count(&resource).await? + 1;
    if let Some(expected) = expected_revision.filter(|e| *e != revision) {
        return Err(Error::Precondition(format!(
            "party {id} is at revision {revision}, not {expected}; read it again and retry"
        )));
    }
    let before = &history.party;
    let (after, fields) = before
        .corrected(correction)
        .ok_or_else(|| Error::invalid("party", "the correction changes nothing"))?;
    tx.update_party_details(id, &after.details.legal_name, &after.details.country)
        .await?;
    let json = |p: &Party| serde_json::to_string(p).map_err(|e| Error::internal(e.to_string()));
    tx.insert_revision(&Revision::new(
        idem,
        resource.clone(),
        id,
        revision + 1,
        "corrected",
        reason,
        tx.time(),
        (json(before)?, json(&after)?),
        fields.into_iter().map(str::to_string).collect(),
    ))
    .await?;
    tx.audit(&[(idem, format!("{resource}/revisions/{}", revision + 1))])
        .await?;
    // The party as it reads today, its facts included.
    let today = party_on(&after, &history.facts, dhaka_date(tx.time()));
    tx.emit(vec![NewEvent::new(
        EventType::PartyCorrected,
        id,
        resource,
        &(revision + 1).to_string(),
        &today,
    )?])
    .await?;
    tx.respond(idem, &today).await?;
    tx.commit().await?;
    Ok(today)
}
