//! VoidEarning: an earning recorded by mistake, kept but set aside with
//! the reason, as a new revision. Refused while a repatriation allocates
//! it or a match settles against it (`Earning::voided`).

use repat_core::earning::Earning;
use repat_store::Idempotency;
use uuid::Uuid;

use crate::App;
use crate::amend_earning::{locked, record, refused};
use crate::auth::{Action, Caller};
use crate::error::Result;

pub async fn void_earning(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    id: Uuid,
    reason: &str,
    expected_revision: Option<u32>,
) -> Result<Earning> {
    let (_, permit) = app.earning_party(caller, id, Action::Write).await?;
    let store = app.store(&permit);
    let mut tx = store.begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    let before = locked(&mut tx, id).await?;
    let refs = tx.earning_references(id).await?;
    let after = before
        .voided(tx.time(), reason, expected_revision, &refs)
        .map_err(refused)?;
    tx.update_earning(&after).await?;
    record(
        &mut tx,
        idem,
        (&before, &after),
        "voided",
        reason,
        vec!["void"],
    )
    .await?;
    tx.respond(idem, &after).await?;
    tx.commit().await?;
    Ok(after)
}
