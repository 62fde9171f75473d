//! The outbox's and the webhooks' rows as read, and their conversion.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::StoreError;
use crate::codec::{self, from_name};
use crate::events::{Attempt, Delivery, Endpoint, StoredEvent, UnrealizedEarning};
use crate::types::DbTime;

#[derive(sqlx::FromRow)]
pub struct EventRow {
    pub sequence: i64,
    pub id: Uuid,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub party_id: Uuid,
    pub subject: String,
    pub time: DbTime,
    pub payload: String,
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(StoredEvent {
            sequence: r.sequence,
            id: r.id,
            kind: from_name("event type", &r.kind)?,
            party_id: r.party_id,
            subject: r.subject,
            time: r.time.0,
            payload: r.payload,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct LeaseRow {
    pub holder: String,
    pub expires_at: DbTime,
}

#[derive(sqlx::FromRow)]
pub struct EndpointRow {
    pub seq: i64,
    pub id: Uuid,
    pub party_id: Uuid,
    pub url: String,
    pub secret: String,
    pub types: String,
    pub description: String,
    pub start_sequence: i64,
    pub create_time: DbTime,
    pub delete_time: Option<DbTime>,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = StoreError;
    fn try_from(r: EndpointRow) -> Result<Self, StoreError> {
        Ok(Endpoint {
            id: r.id,
            party_id: r.party_id,
            url: r.url,
            types: codec::from_json(&r.types)?,
            description: r.description,
            secret: r.secret,
            start_sequence: r.start_sequence,
            create_time: r.create_time.0,
            delete_time: r.delete_time.map(|t| t.0),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct DeliveryRow {
    pub seq: i64,
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub party_id: Uuid,
    pub event_sequence: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DbTime>,
    pub create_time: DbTime,
    pub update_time: DbTime,
}

impl DeliveryRow {
    pub fn into_delivery(self, history: Vec<Attempt>) -> Result<Delivery, StoreError> {
        Ok(Delivery {
            id: self.id,
            endpoint_id: self.endpoint_id,
            party_id: self.party_id,
            event_sequence: self.event_sequence,
            event_id: self.event_id,
            event_type: from_name("event type", &self.event_type)?,
            status: from_name("delivery status", &self.status)?,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.map(|t| t.0),
            create_time: self.create_time.0,
            update_time: self.update_time.0,
            history,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AttemptRow {
    pub delivery_id: Uuid,
    pub number: i32,
    pub time: DbTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub micros: i64,
}

impl From<AttemptRow> for Attempt {
    fn from(r: AttemptRow) -> Self {
        Attempt {
            number: r.number,
            time: r.time.0,
            status_code: r.status_code,
            error: r.error,
            micros: r.micros,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct UnrealizedRow {
    pub id: Uuid,
    pub party_id: Uuid,
    pub party_kind: String,
    pub service_category: String,
    pub invoice_date: NaiveDate,
}

impl From<UnrealizedRow> for UnrealizedEarning {
    fn from(r: UnrealizedRow) -> Self {
        UnrealizedEarning {
            earning_id: r.id,
            party_id: r.party_id,
            party_kind: r.party_kind,
            service_category: r.service_category,
            invoice_date: r.invoice_date,
        }
    }
}
