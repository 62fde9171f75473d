//! GetParty, ListParties: the register, as the caller may see it.

use repat_core::party::{Party, PartyKind};
use repat_store::{Page, PageRequest, PartyFilter, StoreError};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::Result;

pub async fn get_party(app: &App, caller: &Caller, id: Uuid) -> Result<Party> {
    let permit = authorize(caller, Action::Read(id))?;
    Ok(app.store(&permit).get_party(id).await?)
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
