//! StreamEvents, ListEvents: every change as an event, read from the
//! outbox in commit order, scoped to the parties the caller may read.

use std::sync::Arc;

use repat_store::{EventFilter, EventType, Repository, StoredEvent};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, Permit, Role, authorize};
use crate::error::{Error, Result};

/// The parties whose events the caller sees: the one asked for, if it may
/// read it; else all for auditors and administrators, its own for others.
fn scope(caller: &Caller, party: Option<Uuid>) -> Result<(Option<Vec<Uuid>>, Permit)> {
    match (caller.role, party) {
        (_, Some(p)) => authorize(caller, Action::Read(p)).map(|permit| (Some(vec![p]), permit)),
        (Role::Admin | Role::Auditor, None) => {
            authorize(caller, Action::ReadAll).map(|permit| (None, permit))
        }
        (_, None) => match caller.parties.first() {
            None => Err(Error::PermissionDenied(
                "the token names no party to act for".into(),
            )),
            Some(first) => authorize(caller, Action::Read(*first))
                .map(|permit| (Some(caller.parties.clone()), permit)),
        },
    }
}

/// The events of `party` (`None`: as the caller's scope allows) and of
/// `types` (none: all) after `after`, at most `size`; and the sequence the
/// next page starts after: a page not full has read everything up to the
/// head seen before it.
pub async fn list_events(
    app: &App,
    caller: &Caller,
    party: Option<Uuid>,
    types: Vec<EventType>,
    after: i64,
    size: u32,
) -> Result<(Vec<StoredEvent>, i64)> {
    let (parties, permit) = scope(caller, party)?;
    let store = app.store(&permit);
    let filter = EventFilter { parties, types };
    let seen = store.event_head().await?;
    let batch = store.events_after(&filter, after, size).await?;
    let read = batch.last().map_or(after, |e| e.sequence);
    let last = if batch.len() == size as usize {
        read
    } else {
        read.max(seen)
    };
    Ok((batch, last))
}

/// Events read as a stream consumes them.
pub struct Feed {
    store: Arc<dyn Repository>,
    filter: EventFilter,
    /// The last sequence read.
    cursor: i64,
}

/// Opens a feed of the events of `party` and `types` (as for
/// [`list_events`]) after `after`, or after the newest when `from_now`.
pub async fn open_feed(
    app: &App,
    caller: &Caller,
    party: Option<Uuid>,
    types: Vec<EventType>,
    after: i64,
    from_now: bool,
) -> Result<Feed> {
    let (parties, permit) = scope(caller, party)?;
    let store = app.store_handle(&permit);
    let cursor = if from_now {
        store.event_head().await?
    } else {
        after
    };
    Ok(Feed {
        store,
        filter: EventFilter { parties, types },
        cursor,
    })
}

impl Feed {
    /// Up to `limit` events after the cursor, which moves past them.
    pub async fn next(&mut self, limit: u32) -> Result<Vec<StoredEvent>> {
        let batch = self
            .store
            .events_after(&self.filter, self.cursor, limit)
            .await?;
        if let Some(last) = batch.last() {
            self.cursor = last.sequence;
        }
        Ok(batch)
    }

    /// Everything up to `head` has been read (a read that came back short
    /// after the head was seen there).
    pub fn caught_up(&mut self, head: i64) {
        self.cursor = self.cursor.max(head);
    }
}
