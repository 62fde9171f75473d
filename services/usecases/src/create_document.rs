//! CreateDocument: a document a firm holds, recorded against the party,
//! one of its earnings or one of its repatriations, for the incentive
//! rules to read; one document of a kind under one reference per party.

use repat_core::Named;
use repat_core::document::{Document, NewDocument};
use repat_store::{Idempotency, derive_id};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller};
use crate::documents::party_of;
use crate::error::{Error, Result};

/// Records `new`; its party, when not named, is that of the record it is
/// attached to.
pub async fn create_document(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    new: &NewDocument,
    named_party: Option<Uuid>,
) -> Result<Document> {
    let (party_id, permit) =
        party_of(app, caller, named_party, new.attached_to, Action::Write).await?;
    let new = NewDocument {
        party_id,
        ..new.clone()
    };
    let mut tx = app.store(&permit).begin().await?;
    if let Some(stored) = tx.replay(idem).await? {
        return Ok(stored);
    }
    // The record it is attached to must be the party's: another party's
    // is as good as absent.
    tx.require_attachment(party_id, new.attached_to).await?;
    if let Some(existing) = tx
        .document_with_reference(party_id, new.kind, &new.reference)
        .await?
    {
        return Err(Error::Duplicate(format!(
            "{} {:?} is already recorded for this party (document {existing})",
            new.kind.name(),
            new.reference
        )));
    }
    let document = Document {
        id: derive_id(idem),
        details: new,
        recorded_by: idem.principal.clone(),
        record_time: tx.time(),
    };
    tx.insert_document(&document).await?;
    tx.audit(&[(
        idem,
        format!("parties/{party_id}/documents/{}", document.id),
    )])
    .await?;
    tx.respond(idem, &document).await?;
    tx.commit().await?;
    Ok(document)
}
