//! GetDocument, ListDocuments.

use repat_core::document::{Attachment, Document};
use repat_store::{DocumentFilter, Page, PageRequest};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, Permit, authorize, list_scope};
use crate::error::{Error, Result};

/// The party of the record a document is for, once the caller may
/// `action` it: the earning's or the repatriation's party, else the one
/// named.
pub(crate) async fn party_of(
    app: &App,
    caller: &Caller,
    named: Option<Uuid>,
    attached_to: Attachment,
    action: fn(Uuid) -> Action,
) -> Result<(Uuid, Permit)> {
    let party = match attached_to {
        Attachment::Earning(e) => app.party_of_earning(e).await?,
        Attachment::Repatriation(r) => app.party_of_repatriation(r).await?,
        Attachment::Party => named.unwrap_or_default(),
    };
    // Another party's earning or repatriation is as good as absent.
    if attached_to != Attachment::Party {
        authorize(caller, Action::Read(party))?;
    }
    let permit = authorize(caller, action(party))?;
    if named.is_some_and(|p| p != party) {
        let what = match attached_to {
            Attachment::Earning(_) => "the earning",
            _ => "the repatriation",
        };
        return Err(Error::invalid(
            "document.party_id",
            format!("is not the party of {what}; leave it empty or give {party}"),
        ));
    }
    Ok((party, permit))
}

pub async fn get_document(app: &App, caller: &Caller, id: Uuid) -> Result<Document> {
    app.read_as(
        caller,
        ("document", id),
        |s| s.get_document(id),
        |d| Action::Read(d.details.party_id),
    )
    .await
}

/// Documents matching `filter`: a record named is authorized through its
/// party; otherwise the list is scoped as every list is.
pub async fn list_documents(
    app: &App,
    caller: &Caller,
    filter: DocumentFilter,
    page: PageRequest,
) -> Result<Page<Document>> {
    let (party_id, permit) = match (filter.earning_id, filter.repatriation_id) {
        (Some(e), _) => {
            let (p, permit) =
                party_of(app, caller, None, Attachment::Earning(e), Action::Read).await?;
            (Some(p), permit)
        }
        (None, Some(r)) => {
            let (p, permit) =
                party_of(app, caller, None, Attachment::Repatriation(r), Action::Read).await?;
            (Some(p), permit)
        }
        (None, None) => list_scope(caller, filter.party_id)?,
    };
    let filter = DocumentFilter { party_id, ..filter };
    Ok(app.store(&permit).list_documents(&filter, page).await?)
}
