//! Reconciliation's reads: statements, matches, exceptions, and how much
//! of each earning came home.

use std::collections::HashMap;

use repat_core::reconcile::{Exception, Subject};
use repat_store::{
    EarningRealization, EntryStatus, MatchFilter, Page, PageRequest, StoredEntry, StoredMatch,
    StoredStatement,
};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, list_scope};
use crate::error::Result;

pub async fn get_statement(app: &App, caller: &Caller, id: Uuid) -> Result<StoredStatement> {
    app.read_as(
        caller,
        ("statement", id),
        |s| s.get_statement(id),
        |st| Action::Read(st.party_id),
    )
    .await
}

/// Matches of the party asked for, or of one earning (whose party the
/// caller must see).
pub async fn list_matches(
    app: &App,
    caller: &Caller,
    filter: MatchFilter,
    page: PageRequest,
) -> Result<Page<StoredMatch>> {
    let (party_id, permit) = match (filter.party_id, filter.earning_id) {
        // An earning names its party: authorize on that.
        (None, Some(e)) => {
            let earning = crate::earnings::get_earning(app, caller, e).await?;
            let party = earning.details.party_id;
            (
                Some(party),
                crate::auth::authorize(caller, Action::Read(party))?,
            )
        }
        (p, _) => list_scope(caller, p)?,
    };
    let filter = MatchFilter { party_id, ..filter };
    Ok(app.store(&permit).list_matches(&filter, page).await?)
}

/// Exceptions of the party asked for (`None`: as the caller's scope
/// allows), each with the credit it is about, as its statement shows it.
pub async fn list_exceptions(
    app: &App,
    caller: &Caller,
    party_id: Option<Uuid>,
    page: PageRequest,
) -> Result<(Page<Exception>, HashMap<Subject, StoredEntry>)> {
    let (party_id, permit) = list_scope(caller, party_id)?;
    let store = app.store(&permit);
    let page = store.list_exceptions(party_id, page).await?;
    let ids: Vec<Uuid> = page
        .items
        .iter()
        .filter_map(|x| match x.subject {
            Subject::Credit(c) => Some(c),
            Subject::Invoice(_) => None,
        })
        .collect();
    let credits = store
        .statement_entries(&ids)
        .await?
        .into_iter()
        .map(|(id, entry)| {
            (
                Subject::Credit(id),
                StoredEntry {
                    id,
                    entry,
                    status: EntryStatus::Exception,
                },
            )
        })
        .collect();
    Ok((page, credits))
}

pub async fn list_realizations(
    app: &App,
    caller: &Caller,
    party_id: Option<Uuid>,
    page: PageRequest,
) -> Result<Page<EarningRealization>> {
    let (party_id, permit) = list_scope(caller, party_id)?;
    Ok(app.store(&permit).list_realizations(party_id, page).await?)
}

/// The corrections of statement `id`, oldest first.
pub async fn list_statement_revisions(
    app: &App,
    caller: &Caller,
    id: Uuid,
) -> Result<Vec<repat_store::Revision>> {
    let statement = get_statement(app, caller, id).await?;
    let permit = crate::auth::authorize(caller, Action::Read(statement.party_id))?;
    Ok(app
        .store(&permit)
        .list_revisions(&format!("statements/{id}"))
        .await?)
}
