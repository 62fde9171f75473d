//! GetParty, ListParties: the register, as the caller may see it.

use chrono::NaiveDate;
use repat_core::facts::{FactKind, PartyFact, party_on};
use repat_core::party::{Party, PartyKind};
use repat_core::time::dhaka_date;
use repat_store::{Page, PageRequest, PartyFilter, StoreError};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize, authorize_record};
use crate::error::Result;

/// The party with the facts in force on `as_of` (default: today in Dhaka).
pub async fn get_party(
    app: &App,
    caller: &Caller,
    id: Uuid,
    as_of: Option<NaiveDate>,
) -> Result<Party> {
    let permit = authorize_record(caller, Action::Read(id), "party", id)?;
    let day = as_of.unwrap_or_else(|| dhaka_date(chrono::Utc::now()));
    let history = app.store(&permit).party_history(id).await?;
    Ok(party_on(&history.party, &history.facts, day))
}

/// A party's changes of one kind or all, in the order recorded.
pub async fn list_party_facts(
    app: &App,
    caller: &Caller,
    party_id: Uuid,
    kind: Option<FactKind>,
    page: PageRequest,
) -> Result<Page<PartyFact>> {
    let permit = authorize(caller, Action::Read(party_id))?;
    Ok(app
        .store(&permit)
        .list_party_facts(party_id, kind, page)
        .await?)
}

/// Whether the caller lists the whole register (in the order parties were
/// registered) rather than the parties it acts for (in id order).
pub fn sees_all(caller: &Caller) -> bool {
    authorize(caller, Action::ReadAll).is_ok()
}

/// The whole register, for a caller who [`sees_all`].
pub async fn list_parties(
    app: &App,
    caller: &Caller,
    kind: Option<PartyKind>,
    page: PageRequest,
) -> Result<Page<Party>> {
    let permit = authorize(caller, Action::ReadAll)?;
    Ok(app
        .store(&permit)
        .list_parties(&PartyFilter { kind }, page)
        .await?)
}

/// The parties the caller acts for, in id order after `after`, at most
/// `size`; and the id the next page starts after, if there is one.
pub async fn list_own_parties(
    app: &App,
    caller: &Caller,
    kind: Option<PartyKind>,
    after: Option<Uuid>,
    size: u32,
) -> Result<(Vec<Party>, Option<Uuid>)> {
    let mut ids = caller.parties.clone();
    ids.sort();
    ids.dedup();
    let mut parties = Vec::new();
    let mut last = None;
    let mut rest = ids
        .into_iter()
        .filter(|id| after.is_none_or(|a| *id > a))
        .peekable();
    while parties.len() < size as usize {
        let Some(id) = rest.next() else { break };
        last = Some(id);
        let permit = authorize(caller, Action::Read(id))?;
        match app.store(&permit).get_party(id).await {
            Ok(p) if kind.is_none_or(|k| k == p.details.kind) => parties.push(p),
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let next = match (rest.peek(), last) {
        (Some(_), Some(last)) => Some(last),
        _ => None,
    };
    Ok((parties, next))
}

/// The corrections of party `id`'s legal name and country, oldest first.
pub async fn list_party_revisions(
    app: &App,
    caller: &Caller,
    id: Uuid,
) -> Result<Vec<repat_store::Revision>> {
    let permit = authorize_record(caller, Action::Read(id), "party", id)?;
    let store = app.store(&permit);
    // An absent party is NOT_FOUND, never an empty history.
    store.get_party(id).await?;
    Ok(store.list_revisions(&format!("parties/{id}")).await?)
}
