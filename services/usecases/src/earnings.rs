//! GetEarning, ListEarnings, ListEarningRevisions.

use repat_core::earning::Earning;
use repat_store::{EarningFilter, Page, PageRequest, Revision};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, list_scope};
use crate::error::Result;

pub async fn get_earning(app: &App, caller: &Caller, id: Uuid) -> Result<Earning> {
    app.read_as(
        caller,
        ("earning", id),
        |s| s.get_earning(id),
        |e| Action::Read(e.details.party_id),
    )
    .await
}

/// Earnings matching `filter`, whose party is the one asked for (`None`:
/// as the caller's scope allows).
pub async fn list_earnings(
    app: &App,
    caller: &Caller,
    filter: EarningFilter,
    page: PageRequest,
) -> Result<Page<Earning>> {
    let (party_id, permit) = list_scope(caller, filter.party_id)?;
    let filter = EarningFilter { party_id, ..filter };
    Ok(app.store(&permit).list_earnings(&filter, page).await?)
}

/// The corrections of earning `id`, oldest first.
pub async fn list_earning_revisions(app: &App, caller: &Caller, id: Uuid) -> Result<Vec<Revision>> {
    let (_, permit) = app.earning_party(caller, id, Action::Read).await?;
    Ok(app
        .store(&permit)
        .list_revisions(&format!("earnings/{id}"))
        .await?)
}
