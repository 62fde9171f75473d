//! EventService: every change as an event, read from the outbox in commit
//! order and scoped to the caller's parties; and the outbox's head, which
//! wakes the streams (and the publishers) when events commit.
//!
//! - `wire`: events as protobuf, their JSON rendering, CloudEvents;
//! - `webhooks`: WebhookService, and how deliveries are signed;
//! - `alerts`: the deadline alerts due on a day.

pub mod alerts;
pub mod webhooks;
pub mod wire;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use repat_proto::v1 as pb;
use repat_proto::v1::event_service_server::EventService;
use repat_store::{EventType, Repository, StoredEvent};
use repat_usecases::events;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::AppState;
use crate::auth::caller;
use crate::error::{ApiError, ApiResult};
use crate::validate::Violations;

/// Events read per query while a stream catches up.
const STREAM_BATCH: u32 = 500;
/// How often the head is re-read when no change was announced (changes of
/// other kinds than journeys, and on SQLite, are seen this way).
const HEAD_POLL: Duration = Duration::from_millis(100);
/// A stream re-reads at least this often, should the head go unwatched.
const STREAM_POLL: Duration = Duration::from_secs(1);

/// The last sequence committed to the outbox, as this replica has seen it.
#[derive(Clone)]
pub struct Head {
    tx: watch::Sender<i64>,
}

impl Head {
    pub fn new() -> Self {
        Head {
            tx: watch::channel(0).0,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.tx.subscribe()
    }

    pub fn get(&self) -> i64 {
        *self.tx.borrow()
    }

    /// Moves the head forward (never back).
    pub fn advance(&self, to: i64) {
        self.tx.send_if_modified(|h| {
            let moved = to > *h;
            if moved {
                *h = to;
            }
            moved
        });
    }
}

impl Default for Head {
    fn default() -> Self {
        Self::new()
    }
}

/// Keeps `head` at the outbox's last committed sequence: read again when
/// a change is announced (this replica's own at once, and on PostgreSQL
/// every other replica's), and every [`HEAD_POLL`] whatever changed.
pub async fn follow_head(repo: Arc<dyn Repository>, changes: crate::watch::Changes, head: Head) {
    let mut announced = changes.subscribe();
    loop {
        match repo.event_head().await {
            Ok(h) => head.advance(h),
            Err(e) => tracing::debug!(error = %e, "reading the outbox's head failed; retrying"),
        }
        tokio::select! {
            r = announced.recv() => match r {
                // One read covers every announcement queued meanwhile.
                Ok(_) | Err(RecvError::Lagged(_)) => while announced.try_recv().is_ok() {},
                Err(RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(HEAD_POLL) => {}
        }
    }
}

/// Event type names as a filter: each must be one of the types.
pub fn decode_types(v: &mut Violations, field: &str, names: &[String]) -> Option<Vec<EventType>> {
    if !v.at_most(field, names.len(), crate::validate::MAX_EVENT_TYPES) {
        return None;
    }
    let mut out = Vec::with_capacity(names.len());
    let mut ok = true;
    for (i, n) in names.iter().enumerate() {
        match wire::event_type(n) {
            Some(t) => out.push(t),
            None => {
                ok = false;
                v.add(
                    format!("{field}[{i}]"),
                    format!(
                        "{n:?} is not an event type (e.g. \"step.recorded\"; the README lists them)"
                    ),
                );
            }
        }
    }
    ok.then_some(out)
}

/// The filter of a stream or list: the party asked for, the types, and
/// the sequence to read after.
fn decode_filter(
    v: &mut Violations,
    after: i64,
    party: &str,
    types: &[String],
) -> ApiResult<(Option<Uuid>, Vec<EventType>, i64)> {
    if after < 0 {
        v.add("after_sequence", "must be zero or more");
    }
    let party = v.optional_uuid("party_id", party);
    let types = decode_types(v, "types", types);
    let (party, types) = std::mem::take(v).finish(|| party.zip(types))?;
    Ok((party, types, after))
}

fn sent(e: &StoredEvent) -> Result<pb::Event, Status> {
    wire::event(e).map_err(|err| Status::from(ApiError::from(err)))
}

pub struct EventApi {
    state: AppState,
}

impl EventApi {
    pub fn new(state: AppState) -> Self {
        EventApi { state }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl EventService for EventApi {
    type StreamEventsStream = EventStream;

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let (party, types, after) = decode_filter(
            &mut Violations::default(),
            req.after_sequence,
            &req.party_id,
            &req.types,
        )?;
        let slot = self.state.streams.open(&caller.subject)?;
        let mut head = self.state.head.subscribe();
        let mut feed =
            events::open_feed(&self.state.app, &caller, party, types, after, req.from_now)
                .await
                .map_err(ApiError::from)?;
        let closed = self.state.changes.closed();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        crate::incident::spawn_stream_task(tx.clone(), async move {
            let _slot = slot;
            tokio::pin!(closed);
            loop {
                // Everything up to the head seen before the read is in it:
                // when the page is not full, the stream has read that far.
                let seen = *head.borrow_and_update();
                let batch = match feed.next(STREAM_BATCH).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(ApiError::from(e)))).await;
                        return;
                    }
                };
                let full = batch.len() == STREAM_BATCH as usize;
                for e in &batch {
                    if tx.send(sent(e)).await.is_err() {
                        return;
                    }
                }
                if full {
                    continue;
                }
                feed.caught_up(seen);
                tokio::select! {
                    _ = &mut closed => {
                        let _ = tx.send(Err(crate::watch::closing_status())).await;
                        return;
                    }
                    _ = tx.closed() => return,
                    r = head.changed() => if r.is_err() { return },
                    _ = tokio::time::sleep(STREAM_POLL) => {}
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let (party, types, after) =
                decode_filter(&mut v, req.after_sequence, &req.party_id, &req.types)?;
            let size = size.unwrap_or(1);
            let (batch, last) =
                events::list_events(&self.state.app, &caller, party, types, after, size).await?;
            let events = batch
                .iter()
                .map(wire::event)
                .collect::<Result<Vec<_>, _>>()?;
            ApiResult::Ok(pb::ListEventsResponse {
                events,
                last_sequence: last,
            })
        };
        Ok(Response::new(run.await?))
    }
}
