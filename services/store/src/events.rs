//! The outbox's values: events as appended and as stored, the payloads
//! the store writes for them, webhook endpoints and their deliveries, and
//! the interfaces over them.
//!
//! Guarantees, on both backends:
//! - an event is appended in the transaction of the change it tells of:
//!   it exists if and only if the change committed;
//! - its `sequence` follows commit order, with no gap a reader could fall
//!   into: a reader that has seen sequence N has seen every event before N;
//! - its id is derived from what it tells of, so the same change (or
//!   alert) never has two events.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use repat_core::Named;
use repat_core::journey::Step;
use repat_core::reconcile::StatementFormat;
use repat_core::repatriation::RepatriationStatus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use repat_core::events::EventType;

use crate::{Idempotency, Page, PageRequest, StoreError, StoredMatch, StoredStatement, codec};

/// An event to append in the transaction of its change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub id: Uuid,
    pub kind: EventType,
    pub party_id: Uuid,
    /// The resource it is about, e.g. `repatriations/<id>/steps/<id>`.
    pub subject: String,
    /// The record it carries, as JSON.
    pub payload: String,
}

impl NewEvent {
    /// An event of `kind` about `subject`; `key` says which change of the
    /// subject it is (a step's id, a request's), so the id is stable.
    pub fn new<T: Serialize>(
        kind: EventType,
        party_id: Uuid,
        subject: String,
        key: &str,
        payload: &T,
    ) -> Result<Self, StoreError> {
        Ok(NewEvent {
            id: repat_core::events::event_id(&format!("{} {subject} {key}", kind.name())),
            kind,
            party_id,
            subject,
            payload: codec::to_json(payload)?,
        })
    }
}

/// An event as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its place in commit order, from 1.
    pub sequence: i64,
    pub id: Uuid,
    pub kind: EventType,
    pub party_id: Uuid,
    pub subject: String,
    /// When its change committed.
    pub time: DateTime<Utc>,
    pub payload: String,
}

/// Which events a reader wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only these parties' events; `None`: every party's.
    pub parties: Option<Vec<Uuid>>,
    /// Only these types; empty: every type.
    pub types: Vec<EventType>,
}

/// What a journey step did: the payload of `step.recorded` and of the
/// journey events it caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JourneyChange {
    pub repatriation_id: Uuid,
    pub step: Step,
    pub previous_status: RepatriationStatus,
    pub status: RepatriationStatus,
}

/// A repatriation's current assessment replaced by a newer one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentSuperseded {
    pub repatriation_id: Uuid,
    pub assessment_id: Uuid,
    pub superseded_by: Uuid,
}

/// A statement as imported, without its entries (which can be many
/// thousands): what `statement.imported` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementSummary {
    pub id: Uuid,
    pub part: u32,
    pub party_id: Uuid,
    pub format: StatementFormat,
    pub sha256: String,
    pub message_id: String,
    pub account: String,
    pub entry_count: u32,
    pub credit_count: u32,
    pub import_time: DateTime<Utc>,
}

impl From<&StoredStatement> for StatementSummary {
    fn from(s: &StoredStatement) -> Self {
        let credits = s
            .entries
            .iter()
            .filter(|e| e.entry.kind == repat_core::reconcile::EntryKind::Credit)
            .count();
        StatementSummary {
            id: s.id,
            part: s.part,
            party_id: s.party_id,
            format: s.format,
            sha256: s.sha256.clone(),
            message_id: s.message_id.clone(),
            account: s.account.clone(),
            entry_count: s.entries.len() as u32,
            credit_count: credits as u32,
            import_time: s.import_time,
        }
    }
}

/// A credit's matches removed by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditUnmatched {
    pub credit_id: Uuid,
    pub party_id: Uuid,
    pub removed: Vec<StoredMatch>,
    /// Why: a person's note, or what took the credit back.
    #[serde(default)]
    pub reason: String,
}

/// An earning nothing has brought home yet: a candidate for a
/// repatriation-deadline alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnrealizedEarning {
    pub earning_id: Uuid,
    pub party_id: Uuid,
    pub party_kind: String,
    pub service_category: String,
    pub invoice_date: NaiveDate,
}

/// The outbox and those who read it.
#[async_trait]
pub trait EventRepository: Send + Sync {
    /// Up to `limit` events after sequence `after`, in sequence order.
    async fn events_after(
        &self,
        filter: &EventFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// The last sequence committed; 0 when there is none.
    async fn event_head(&self) -> Result<i64, StoreError>;
    /// Appends the alerts never raised before (by id), in one transaction;
    /// returns the ids appended. Alerts raised by several replicas at once
    /// are appended once.
    async fn raise_alerts(&self, alerts: &[NewEvent]) -> Result<Vec<Uuid>, StoreError>;
    /// Unrealized earnings invoiced between the two dates (inclusive).
    async fn unrealized_earnings(
        &self,
        invoiced_from: NaiveDate,
        invoiced_to: NaiveDate,
    ) -> Result<Vec<UnrealizedEarning>, StoreError>;

    /// Takes or renews the lease `name` for `holder` until `ttl` from now;
    /// false while another holder's lease runs.
    async fn take_lease(&self, name: &str, holder: &str, ttl: Duration)
    -> Result<bool, StoreError>;
    /// Gives the lease up, if `holder` has it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
    /// Who holds the lease `name`, and until when.
    async fn lease(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError>;
    /// How far the consumer `name` has got; 0 at first.
    async fn event_cursor(&self, name: &str) -> Result<i64, StoreError>;
    /// Moves the consumer's cursor forward to `to`, only while `holder`
    /// holds the lease of the same name; false when it does not.
    async fn advance_cursor(&self, name: &str, holder: &str, to: i64) -> Result<bool, StoreError>;
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Every attempt failed: on the dead-letter list until replayed.
    Dead,
}

impl Named for DeliveryStatus {
    const NAMES: &'static [(Self, &'static str)] = &[
        (DeliveryStatus::Pending, "PENDING"),
        (DeliveryStatus::Delivered, "DELIVERED"),
        (DeliveryStatus::Dead, "DEAD"),
    ];
}

/// A webhook endpoint to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    pub party_id: Uuid,
    pub url: String,
    /// Only these types; empty: every type.
    pub types: Vec<EventType>,
    pub description: String,
    /// The signing secret.
    pub secret: String,
}

/// A registered webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: Uuid,
    pub party_id: Uuid,
    pub url: String,
    pub types: Vec<String>,
    pub description: String,
    pub secret: String,
    /// It receives the events after this sequence (those committed after
    /// it was registered).
    pub start_sequence: i64,
    pub create_time: DateTime<Utc>,
    pub delete_time: Option<DateTime<Utc>>,
}

impl Endpoint {
    /// Whether it is to receive `event`.
    pub fn wants(&self, event: &StoredEvent) -> bool {
        self.delete_time.is_none()
            && event.party_id == self.party_id
            && event.sequence > self.start_sequence
            && (self.types.is_empty() || self.types.iter().any(|t| t == event.kind.name()))
    }
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub number: i32,
    pub time: DateTime<Utc>,
    /// The HTTP status, when one came back.
    pub status_code: Option<i32>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How long it took.
    pub micros: i64,
}

/// One event to one endpoint, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub party_id: Uuid,
    pub event_sequence: i64,
    pub event_id: Uuid,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    /// Attempts since it was created or last replayed.
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// Every attempt, oldest first.
    pub history: Vec<Attempt>,
}

/// A delivery whose attempt is due, with what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub delivery: Delivery,
    pub endpoint: Endpoint,
    pub event: StoredEvent,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub party_id: Option<Uuid>,
    pub endpoint_id: Option<Uuid>,
    pub status: Option<DeliveryStatus>,
}

/// Webhook endpoints and deliveries.
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    async fn create_endpoint(
        &self,
        idem: &Idempotency,
        endpoint: &NewEndpoint,
    ) -> Result<Endpoint, StoreError>;
    async fn get_endpoint(&self, id: Uuid) -> Result<Endpoint, StoreError>;
    /// Registered endpoints (deleted ones too), oldest first.
    async fn list_endpoints(
        &self,
        party_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<Endpoint>, StoreError>;
    /// Stops deliveries to an endpoint; what it was sent stays listed.
    async fn delete_endpoint(&self, idem: &Idempotency, id: Uuid) -> Result<Endpoint, StoreError>;
    /// Turns up to `limit` events after the fan-out's cursor into pending
    /// deliveries to the endpoints that want them, and moves the cursor,
    /// in one transaction, while `holder` holds the lease `webhooks`.
    /// Returns how many events it went through, and the cursor after them.
    async fn fan_out(&self, holder: &str, limit: u32) -> Result<(usize, i64), StoreError>;
    /// Pending deliveries whose attempt is due at `now`, soonest first.
    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Records an attempt: delivered, or failed with the next attempt at
    /// `retry_at`, or failed for the last time (`retry_at` none: dead).
    async fn record_attempt(
        &self,
        delivery_id: Uuid,
        attempt: &Attempt,
        delivered: bool,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
    async fn get_delivery(&self, id: Uuid) -> Result<Delivery, StoreError>;
    /// Deliveries, oldest first.
    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<Delivery>, StoreError>;
    /// Sends a delivery again (a dead one, or one delivered that the
    /// receiver lost): pending, due at once, with a fresh round of attempts.
    async fn replay_delivery(&self, idem: &Idempotency, id: Uuid) -> Result<Delivery, StoreError>;
}
