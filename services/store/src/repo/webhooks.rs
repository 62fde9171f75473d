//! Webhook endpoints, and the deliveries of events to them with every
//! attempt.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use repat_core::Named;
use uuid::Uuid;

use super::events::{cursor, holds, move_cursor};
use super::{SqlRepository, append_audit, audit_draft, claim, page, page_limit, save_response};
use crate::codec::{self, derive_id, now};
use crate::db::Conn;
use crate::event_rows::{AttemptRow, DeliveryRow, EndpointRow, EventRow};
use crate::events::{
    Attempt, Delivery, DeliveryFilter, DeliveryStatus, DueDelivery, Endpoint, NewEndpoint,
    StoredEvent, WebhookRepository,
};
use crate::types::DbTime;
use crate::{Idempotency, Page, PageRequest, StoreError};

/// The fan-out's cursor and lease.
pub const FAN_OUT: &str = "webhooks";

async fn fetch_endpoint(c: &mut Conn<'_>, id: Uuid) -> Result<Endpoint, StoreError> {
    let row: EndpointRow = c
        .query("SELECT * FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .fetch_optional()
        .await?
        .ok_or_else(|| StoreError::NotFound {
            kind: "webhook endpoint",
            id: id.to_string(),
        })?;
    row.try_into()
}

async fn fetch_delivery(c: &mut Conn<'_>, id: Uuid) -> Result<Delivery, StoreError> {
    let row: DeliveryRow = c
        .query(
            "SELECT d.*, e.id AS event_id, e.type AS event_type FROM webhook_deliveries d
             JOIN events e ON e.sequence = d.event_sequence WHERE d.id = $1",
        )
        .bind(id)
        .fetch_optional()
        .await?
        .ok_or_else(|| StoreError::NotFound {
            kind: "webhook delivery",
            id: id.to_string(),
        })?;
    let history = attempts(c, &[id]).await?.remove(&id).unwrap_or_default();
    row.into_delivery(history)
}

/// The attempts of each delivery, oldest first.
async fn attempts(
    c: &mut Conn<'_>,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Attempt>>, StoreError> {
    let mut out: HashMap<Uuid, Vec<Attempt>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut q = c.sql("SELECT * FROM webhook_attempts WHERE delivery_id IN (");
    for (i, id) in ids.iter().enumerate() {
        q.push(if i == 0 { "" } else { ", " }).bind(*id);
    }
    q.push(") ORDER BY delivery_id, number");
    let rows: Vec<AttemptRow> = q.fetch_all().await?;
    for r in rows {
        out.entry(r.delivery_id).or_default().push(r.into());
    }
    Ok(out)
}

#[async_trait]
impl WebhookRepository for SqlRepository {
    async fn create_endpoint(
        &self,
        idem: &Idempotency,
        new: &NewEndpoint,
    ) -> Result<Endpoint, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let mut c = tx.conn();
        let party: Option<(Uuid,)> = c
            .query("SELECT id FROM parties WHERE id = $1")
            .bind(new.party_id)
            .fetch_optional()
            .await?;
        if party.is_none() {
            return Err(StoreError::NotFound {
                kind: "party",
                id: new.party_id.to_string(),
            });
        }
        let (head,): (Option<i64>,) = c
            .query("SELECT MAX(sequence) FROM events")
            .fetch_one()
            .await?;
        let endpoint = Endpoint {
            id: derive_id(idem),
            party_id: new.party_id,
            url: new.url.clone(),
            types: new.types.iter().map(|t| t.name().to_string()).collect(),
            description: new.description.clone(),
            secret: new.secret.clone(),
            start_sequence: head.unwrap_or(0),
            create_time: at,
            delete_time: None,
        };
        c.query(
            "INSERT INTO webhook_endpoints (id, party_id, url, secret, types, description, start_sequence, create_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(endpoint.id)
        .bind(endpoint.party_id)
        .bind(&endpoint.url)
        .bind(&endpoint.secret)
        .bind(codec::to_json(&endpoint.types)?)
        .bind(&endpoint.description)
        .bind(endpoint.start_sequence)
        .bind(DbTime(at))
        .execute()
        .await?;
        append_audit(
            &mut tx,
            vec![audit_draft(idem, format!("webhooks/{}", endpoint.id), at)],
        )
        .await?;
        save_response(&mut tx, idem, &endpoint).await?;
        tx.commit().await?;
        Ok(endpoint)
    }

    async fn get_endpoint(&self, id: Uuid) -> Result<Endpoint, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        fetch_endpoint(&mut pooled.conn(), id).await
    }

    async fn list_endpoints(
        &self,
        party_id: Option<Uuid>,
        p: PageRequest,
    ) -> Result<Page<Endpoint>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT * FROM webhook_endpoints WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", party_id)
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<EndpointRow> = q.fetch_all().await?;
        page(rows, p.size, |r| r.seq, Endpoint::try_from)
    }

    async fn delete_endpoint(&self, idem: &Idempotency, id: Uuid) -> Result<Endpoint, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let mut c = tx.conn();
        let mut endpoint = fetch_endpoint(&mut c, id).await?;
        if endpoint.delete_time.is_none() {
            c.query("UPDATE webhook_endpoints SET delete_time = $2 WHERE id = $1")
                .bind(id)
                .bind(DbTime(at))
                .execute()
                .await?;
            // What was waiting for it will not be sent.
            c.query(
                "UPDATE webhook_deliveries SET status = 'DEAD', next_attempt_at = NULL, update_time = $2
                 WHERE endpoint_id = $1 AND status = 'PENDING'",
            )
            .bind(id)
            .bind(DbTime(at))
            .execute()
            .await?;
            endpoint.delete_time = Some(at);
        }
        append_audit(
            &mut tx,
            vec![audit_draft(idem, format!("webhooks/{id}"), at)],
        )
        .await?;
        save_response(&mut tx, idem, &endpoint).await?;
        tx.commit().await?;
        Ok(endpoint)
    }

    async fn fan_out(&self, holder: &str, limit: u32) -> Result<(usize, i64), StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        let mut c = tx.conn();
        let after = cursor(&mut c, FAN_OUT).await?;
        if !holds(&mut c, FAN_OUT, holder, at).await? {
            return Ok((0, after));
        }
        let rows: Vec<EndpointRow> = c
            .query("SELECT * FROM webhook_endpoints WHERE delete_time IS NULL ORDER BY seq")
            .fetch_all()
            .await?;
        let endpoints = rows
            .into_iter()
            .map(Endpoint::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = endpoints.iter().map(|e| e.start_sequence).min() else {
            // Nobody to send to: the history need not be read.
            let (head,): (Option<i64>,) = c
                .query("SELECT MAX(sequence) FROM events")
                .fetch_one()
                .await?;
            let head = head.unwrap_or(0).max(after);
            move_cursor(&mut c, FAN_OUT, head, at).await?;
            tx.commit().await?;
            return Ok((0, head));
        };
        // Events before every endpoint's registration go to none of them.
        let after = after.max(first);
        let rows: Vec<EventRow> = c
            .query("SELECT * FROM events WHERE sequence > $1 ORDER BY sequence LIMIT $2")
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all()
            .await?;
        let events = rows
            .into_iter()
            .map(StoredEvent::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        for event in &events {
            for endpoint in endpoints.iter().filter(|e| e.wants(event)) {
                let id = Uuid::new_v5(&endpoint.id, event.id.as_bytes());
                c.query(
                    "INSERT INTO webhook_deliveries (id, endpoint_id, party_id, event_sequence, status, attempts, next_attempt_at, create_time, update_time)
                     VALUES ($1, $2, $3, $4, 'PENDING', 0, $5, $5, $5)
                     ON CONFLICT (endpoint_id, event_sequence) DO NOTHING",
                )
                .bind(id)
                .bind(endpoint.id)
                .bind(endpoint.party_id)
                .bind(event.sequence)
                .bind(DbTime(at))
                .execute()
                .await?;
            }
        }
        let head = events.last().map_or(after, |e| e.sequence);
        move_cursor(&mut c, FAN_OUT, head, at).await?;
        tx.commit().await?;
        Ok((events.len(), head))
    }

    async fn due_deliveries(
        &self,
        at: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let rows: Vec<DeliveryRow> = c
            .query(
                "SELECT d.*, e.id AS event_id, e.type AS event_type FROM webhook_deliveries d
                 JOIN events e ON e.sequence = d.event_sequence
                 WHERE d.status = 'PENDING' AND d.next_attempt_at <= $1
                 ORDER BY d.next_attempt_at, d.seq LIMIT $2",
            )
            .bind(DbTime(at))
            .bind(i64::from(limit))
            .fetch_all()
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut history = attempts(&mut c, &ids).await?;
        let mut endpoints: HashMap<Uuid, Endpoint> = HashMap::new();
        let mut due = Vec::with_capacity(rows.len());
        for row in rows {
            if !endpoints.contains_key(&row.endpoint_id) {
                let e = fetch_endpoint(&mut c, row.endpoint_id).await?;
                endpoints.insert(e.id, e);
            }
            let event: EventRow = c
                .query("SELECT * FROM events WHERE sequence = $1")
                .bind(row.event_sequence)
                .fetch_one()
                .await?;
            let endpoint = endpoints[&row.endpoint_id].clone();
            let id = row.id;
            due.push(DueDelivery {
                delivery: row.into_delivery(history.remove(&id).unwrap_or_default())?,
                endpoint,
                event: event.try_into()?,
            });
        }
        Ok(due)
    }

    async fn record_attempt(
        &self,
        id: Uuid,
        attempt: &Attempt,
        delivered: bool,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        let mut c = tx.conn();
        let (last,): (Option<i32>,) = c
            .query("SELECT MAX(number) FROM webhook_attempts WHERE delivery_id = $1")
            .bind(id)
            .fetch_one()
            .await?;
        c.query(
            "INSERT INTO webhook_attempts (delivery_id, number, time, status_code, error, micros)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(last.unwrap_or(0) + 1)
        .bind(DbTime(attempt.time))
        .bind(attempt.status_code)
        .bind(attempt.error.clone())
        .bind(attempt.micros)
        .execute()
        .await?;
        let status = match (delivered, retry_at) {
            (true, _) => DeliveryStatus::Delivered,
            (false, Some(_)) => DeliveryStatus::Pending,
            (false, None) => DeliveryStatus::Dead,
        };
        // A delivery replayed or given up meanwhile keeps its new state.
        c.query(
            "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, next_attempt_at = $3, update_time = $4
             WHERE id = $1 AND status = 'PENDING'",
        )
        .bind(id)
        .bind(status.name())
        .bind(retry_at.filter(|_| !delivered).map(DbTime))
        .bind(DbTime(at))
        .execute()
        .await?;
        tx.commit().await
    }

    async fn get_delivery(&self, id: Uuid) -> Result<Delivery, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        fetch_delivery(&mut pooled.conn(), id).await
    }

    async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        p: PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql(
            "SELECT d.*, e.id AS event_id, e.type AS event_type FROM webhook_deliveries d
             JOIN events e ON e.sequence = d.event_sequence WHERE d.seq > ",
        );
        q.bind(p.after)
            .and_eq("d.party_id", filter.party_id)
            .and_eq("d.endpoint_id", filter.endpoint_id)
            .and_eq("d.status", filter.status.map(|s| s.name()))
            .push(" ORDER BY d.seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<DeliveryRow> = q.fetch_all().await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut history = attempts(&mut c, &ids).await?;
        page(
            rows,
            p.size,
            |r| r.seq,
            |r| {
                let id = r.id;
                r.into_delivery(history.remove(&id).unwrap_or_default())
            },
        )
    }

    async fn replay_delivery(&self, idem: &Idempotency, id: Uuid) -> Result<Delivery, StoreError> {
        let mut tx = self.writer.begin().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            // The claim ended the transaction: the delivery, committed, is
            // read like any other.
            let id: Uuid = codec::from_json(&json)?;
            return fetch_delivery(&mut self.pool.acquire().await?.conn(), id).await;
        }
        let mut c = tx.conn();
        let delivery = fetch_delivery(&mut c, id).await?;
        let endpoint = fetch_endpoint(&mut c, delivery.endpoint_id).await?;
        if endpoint.delete_time.is_some() {
            return Err(StoreError::Precondition(format!(
                "webhook endpoint {} was deleted; register it again to receive events",
                endpoint.id
            )));
        }
        c.query(
            "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = $2, update_time = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(DbTime(at))
        .execute()
        .await?;
        append_audit(
            &mut tx,
            vec![audit_draft(idem, format!("webhooks/deliveries/{id}"), at)],
        )
        .await?;
        save_response(&mut tx, idem, &id).await?;
        let replayed = fetch_delivery(&mut tx.conn(), id).await?;
        tx.commit().await?;
        Ok(replayed)
    }
}
