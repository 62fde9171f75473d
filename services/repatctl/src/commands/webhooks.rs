//! Webhooks: register, list and delete endpoints; read deliveries (the
//! dead-letter list among them) and replay one.

use repat_proto::v1 as pb;

use crate::client::{Repat, in_flag_terms, with_retry};
use crate::names::{optional_party, party_id};
use crate::output::{Cell, Report, text};
use crate::wire::{enum_name, timestamp};

/// The API's fields as the flags of `webhooks`.
const FLAGS: &[(&str, &str)] = &[
    ("party_id", "--party"),
    ("endpoint_id", "--endpoint"),
    ("types", "--type"),
];

fn request_id(given: Option<uuid::Uuid>) -> String {
    given.unwrap_or_else(uuid::Uuid::new_v4).to_string()
}

const ENDPOINT_COLUMNS: &[&str] = &[
    "id",
    "party_id",
    "url",
    "types",
    "description",
    "create_time",
    "delete_time",
];

fn endpoint_row(e: &pb::WebhookEndpoint) -> Vec<Cell> {
    vec![
        text(e.id.clone()),
        text(e.party_id.clone()),
        text(e.url.clone()),
        text(e.types.join(" ")),
        text(e.description.clone()),
        text(timestamp(&e.create_time)),
        text(timestamp(&e.delete_time)),
    ]
}

pub struct NewEndpoint {
    pub party: String,
    pub url: String,
    pub types: Vec<String>,
    pub description: String,
    pub request_id: Option<uuid::Uuid>,
}

pub async fn add(repat: &Repat, new: NewEndpoint) -> anyhow::Result<Report> {
    let request = pb::CreateWebhookEndpointRequest {
        request_id: request_id(new.request_id),
        party_id: party_id(repat, &new.party).await?,
        url: new.url,
        types: new.types,
        description: new.description,
    };
    let e = with_retry(|| {
        let mut c = repat.webhooks();
        let r = request.clone();
        async move { c.create_webhook_endpoint(r).await.map(|r| r.into_inner()) }
    })
    .await
    .map_err(|s| in_flag_terms(s, FLAGS))?;
    let mut fields: Vec<(&str, Cell)> = ENDPOINT_COLUMNS
        .iter()
        .copied()
        .zip(endpoint_row(&e))
        .collect();
    fields.push(("secret", text(e.secret.clone())));
    Ok(Report::default()
        .fields("endpoint", fields)
        .note("Keep the secret: it signs every delivery and is not shown again."))
}

pub async fn list(repat: &Repat, party: Option<String>) -> anyhow::Result<Report> {
    let party_id = optional_party(repat, &party).await?;
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListWebhookEndpointsRequest {
            party_id: party_id.clone(),
            page_size: 1000,
            page_token: page_token.clone(),
        };
        let page = with_retry(|| {
            let mut c = repat.webhooks();
            let r = request.clone();
            async move { c.list_webhook_endpoints(r).await.map(|r| r.into_inner()) }
        })
        .await
        .map_err(|s| in_flag_terms(s, FLAGS))?;
        all.extend(page.endpoints);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let rows = all.iter().map(endpoint_row).collect();
    Ok(Report::default().table("endpoints", ENDPOINT_COLUMNS, rows))
}

pub async fn delete(
    repat: &Repat,
    id: String,
    request_id_given: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let request = pb::DeleteWebhookEndpointRequest {
        request_id: request_id(request_id_given),
        id,
    };
    let e = with_retry(|| {
        let mut c = repat.webhooks();
        let r = request.clone();
        async move { c.delete_webhook_endpoint(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    Ok(Report::default().fields(
        "endpoint",
        ENDPOINT_COLUMNS
            .iter()
            .copied()
            .zip(endpoint_row(&e))
            .collect(),
    ))
}

const DELIVERY_COLUMNS: &[&str] = &[
    "id",
    "endpoint_id",
    "event_sequence",
    "event_type",
    "status",
    "attempts",
    "last_error",
    "next_attempt_time",
    "update_time",
    "event_id",
];

fn delivery_row(d: &pb::WebhookDelivery) -> Vec<Cell> {
    let status = pb::WebhookDeliveryStatus::try_from(d.status)
        .map(|s| enum_name(s.as_str_name(), "WEBHOOK_DELIVERY_STATUS_"))
        .unwrap_or_else(|_| d.status.to_string());
    let last_error = d
        .history
        .last()
        .map(|a| match (a.status_code, a.error.as_str()) {
            (0, e) => e.to_string(),
            (code, "") => format!("HTTP {code}"),
            (code, e) => format!("HTTP {code}: {e}"),
        })
        .unwrap_or_default();
    vec![
        text(d.id.clone()),
        text(d.endpoint_id.clone()),
        Cell::from(serde_json::json!(d.event_sequence)),
        text(d.event_type.clone()),
        text(status),
        Cell::from(serde_json::json!(d.attempts)),
        text(last_error),
        text(timestamp(&d.next_attempt_time)),
        text(timestamp(&d.update_time)),
        text(d.event_id.clone()),
    ]
}

pub async fn deliveries(
    repat: &Repat,
    endpoint: Option<String>,
    party: Option<String>,
    dead: bool,
) -> anyhow::Result<Report> {
    let party_id = optional_party(repat, &party).await?;
    let status = if dead {
        pb::WebhookDeliveryStatus::Dead as i32
    } else {
        0
    };
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListWebhookDeliveriesRequest {
            party_id: party_id.clone(),
            endpoint_id: endpoint.clone().unwrap_or_default(),
            status,
            page_size: 1000,
            page_token: page_token.clone(),
        };
        let page = with_retry(|| {
            let mut c = repat.webhooks();
            let r = request.clone();
            async move { c.list_webhook_deliveries(r).await.map(|r| r.into_inner()) }
        })
        .await
        .map_err(|s| in_flag_terms(s, FLAGS))?;
        all.extend(page.deliveries);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let rows = all.iter().map(delivery_row).collect();
    Ok(Report::default().table("deliveries", DELIVERY_COLUMNS, rows))
}

pub async fn replay(
    repat: &Repat,
    id: String,
    request_id_given: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let request = pb::ReplayWebhookDeliveryRequest {
        request_id: request_id(request_id_given),
        id,
    };
    let d = with_retry(|| {
        let mut c = repat.webhooks();
        let r = request.clone();
        async move { c.replay_webhook_delivery(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    Ok(Report::default().fields(
        "delivery",
        DELIVERY_COLUMNS
            .iter()
            .copied()
            .zip(delivery_row(&d))
            .collect(),
    ))
}
