//! Unmatch: a credit's matches are removed and it is held for a manual
//! match. The journey keeps its BENEFICIARY_CREDITED: the money did
//! arrive; only which invoice it paid is in question.

use repat_store::{CreditUnmatched, EventType, Idempotency, NewEvent, StoredMatch};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller};
use crate::error::{Error, Result};

/// The matches removed; `note` says why.
pub async fn unmatch(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    credit: Uuid,
    note: &str,
) -> Result<Vec<StoredMatch>> {
    let (_, permit) = app.entry_party(caller, credit, Action::Write).await?;
    let mut tx = app.store(&permit).begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let party = tx.entry_party(credit).await?;
    tx.lock_reconciliation(party).await?;
    let removed = tx.matches_of_credit(credit).await?;
    if removed.is_empty() {
        return Err(Error::Precondition(format!(
            "credit {credit} has no match to remove"
        )));
    }
    tx.hold_credit(credit).await?;
    let resource = format!("reconciliation/credits/{credit}");
    tx.audit(&[(idem, resource.clone())]).await?;
    tx.emit(vec![NewEvent::new(
        EventType::CreditUnmatched,
        party,
        resource,
        &idem.request_id.to_string(),
        &CreditUnmatched {
            credit_id: credit,
            party_id: party,
            removed: removed.clone(),
            reason: note.to_string(),
        },
    )?])
    .await?;
    tx.respond(idem, &removed).await?;
    tx.commit().await?;
    Ok(removed)
}
