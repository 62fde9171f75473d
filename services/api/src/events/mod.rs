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
use repat_store::{EventFilter, EventType, Repository, StoredEvent};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Action, Caller, Role, authorize, caller};
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

/// The parties whose events the caller sees: the one asked for, if it may
/// read it; else all for auditors and administrators, its own for others.
fn scope(caller: &Caller, party: Option<Uuid>) -> ApiResult<Option<Vec<Uuid>>> {
    match (caller.role, party) {
        (_, Some(p)) => authorize(caller, Action::Read(p)).map(|()| Some(vec![p])),
        (Role::Admin | Role::Auditor, None) => Ok(None),
        (_, None) if caller.parties.is_empty() => Err(ApiError::PermissionDenied(
            "the token names no party to act for".into(),
        )),
        (_, None) => Ok(Some(caller.parties.clone())),
    }
}

/// Event type names as a filter: each must be one of the types.
pub fn decode_types(v: &mut Violations, field: &str, names: &[String]) -> Option<Vec<EventType>> {
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

fn decode_filter(
    v: &mut Violations,
    caller: &Caller,
    after: i64,
    party: &str,
    types: &[String],
) -> ApiResult<(EventFilter, i64)> {
    if after < 0 {
        v.add("after_sequence", "must be zero or more");
    }
    let party = v.optional_uuid("party_id", party);
    let types = decode_types(v, "types", types);
    let (party, types) = std::mem::take(v).finish(|| party.zip(types))?;
    let parties = scope(caller, party)?;
    Ok((EventFilter { parties, types }, after))
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
        let (filter, after) = decode_filter(
            &mut Violations::default(),
            &caller,
            req.after_sequence,
            &req.party_id,
            &req.types,
        )?;
        let slot = self.state.streams.open(&caller.subject)?;
        let mut head = self.state.head.subscribe();
        let start = if req.from_now {
            self.state.repo.event_head().await.map_err(ApiError::from)?
        } else {
            after
        };
        let closed = self.state.changes.closed();
        let repo = self.state.repo.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        crate::incident::spawn_stream_task(tx.clone(), async move {
            let _slot = slot;
            tokio::pin!(closed);
            let mut cursor = start;
            loop {
                // Everything up to the head seen before the read is in it:
                // when the page is not full, the stream has read that far.
                let seen = *head.borrow_and_update();
                let batch = match repo.events_after(&filter, cursor, STREAM_BATCH).await {
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
                    cursor = e.sequence;
                }
                if full {
                    continue;
                }
                cursor = cursor.max(seen);
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
            let (filter, after) = decode_filter(
                &mut v,
                &caller,
                req.after_sequence,
                &req.party_id,
                &req.types,
            )?;
            let size = size.unwrap_or(1);
            let seen = self.state.repo.event_head().await?;
            let batch = self.state.repo.events_after(&filter, after, size).await?;
            let read = batch.last().map_or(after, |e| e.sequence);
            // A page not full has read everything up to the head seen
            // before it.
            let last = if batch.len() == size as usize {
                read
            } else {
                read.max(seen)
            };
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
