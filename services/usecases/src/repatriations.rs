//! GetRepatriation, ListRepatriations, SearchRepatriations,
//! WatchRepatriation: journeys as the caller may see them.

use std::sync::Arc;

use repat_core::repatriation::Repatriation;
use repat_store::{Journey, Page, PageRequest, RepatriationFilter, RepatriationSearch, Repository};
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, list_scope};
use crate::changes::{EVERYTHING, POLL_INTERVAL};
use crate::error::Result;

/// A repatriation with its timeline.
pub async fn get_repatriation(app: &App, caller: &Caller, id: Uuid) -> Result<Journey> {
    app.read_as(
        caller,
        ("repatriation", id),
        |s| s.get_journey(id),
        |j| Action::Read(j.repatriation.details.party_id),
    )
    .await
}

/// Repatriations matching `filter`, whose party is the one asked for
/// (`None`: as the caller's scope allows).
pub async fn list_repatriations(
    app: &App,
    caller: &Caller,
    filter: RepatriationFilter,
    page: PageRequest,
) -> Result<Page<Repatriation>> {
    let (party_id, permit) = list_scope(caller, filter.party_id)?;
    let filter = RepatriationFilter { party_id, ..filter };
    Ok(app.store(&permit).list_repatriations(&filter, page).await?)
}

/// Repatriations found by a reference a person has at hand (invoice
/// reference, UETR, end-to-end id), within the caller's scope.
pub async fn search_repatriations(
    app: &App,
    caller: &Caller,
    search: RepatriationSearch,
    page: PageRequest,
) -> Result<Page<Repatriation>> {
    let (party_id, permit) = list_scope(caller, search.party_id)?;
    let search = RepatriationSearch { party_id, ..search };
    Ok(app
        .store(&permit)
        .search_repatriations(&search, page)
        .await?)
}

/// A journey followed as it changes.
pub struct Watch {
    id: Uuid,
    store: Arc<dyn Repository>,
    changes: broadcast::Receiver<Uuid>,
    tick: tokio::time::Interval,
    last: (i32, chrono::DateTime<chrono::Utc>),
    done: bool,
}

/// Starts watching repatriation `id`: its journey now, and a [`Watch`] of
/// what follows.
pub async fn watch_repatriation(app: &App, caller: &Caller, id: Uuid) -> Result<(Journey, Watch)> {
    // Subscribe before the first read so no change falls in between.
    let changes = app.changes().subscribe();
    let first = get_repatriation(app, caller, id).await?;
    let permit = crate::auth::authorize(caller, Action::Read(first.repatriation.details.party_id))?;
    let watch = Watch {
        id,
        store: app.store_handle(&permit),
        changes,
        tick: tokio::time::interval(POLL_INTERVAL),
        last: (
            first.repatriation.step_count,
            first.repatriation.update_time,
        ),
        done: first.repatriation.status.is_terminal(),
    };
    Ok((first, watch))
}

impl Watch {
    /// The journey when it next changes; `None` once it has ended (a
    /// terminal status) or changes can no longer be heard of.
    pub async fn next(&mut self) -> Option<Result<Journey>> {
        while !self.done {
            tokio::select! {
                changed = self.changes.recv() => match changed {
                    Ok(changed) if changed != self.id && changed != EVERYTHING => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                },
                _ = self.tick.tick() => {}
            }
            match self.store.get_journey(self.id).await {
                Ok(j) => {
                    let now = (j.repatriation.step_count, j.repatriation.update_time);
                    if now == self.last {
                        continue;
                    }
                    self.last = now;
                    self.done = j.repatriation.status.is_terminal();
                    return Some(Ok(j));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
            }
        }
        None
    }
}

/// The corrections of repatriation `id`'s journey (steps voided or
/// superseded), oldest first.
pub async fn list_repatriation_revisions(
    app: &App,
    caller: &Caller,
    id: Uuid,
) -> Result<Vec<repat_store::Revision>> {
    let (_, permit) = app.repatriation_party(caller, id, Action::Read).await?;
    Ok(app
        .store(&permit)
        .list_revisions(&format!("repatriations/{id}"))
        .await?)
}
