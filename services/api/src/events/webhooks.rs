//! WebhookService: endpoints registered per party, their deliveries and
//! attempts, the dead-letter list and replays; and the signature every
//! delivery carries.
//!
//! A delivery is a POST of the event as CloudEvents JSON, with
//! `Repat-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
//! HMAC-SHA256, keyed by the endpoint's secret, of `<t>.<body>`.

use hmac::{Hmac, Mac};
use rand::RngCore;
use repat_proto::v1 as pb;
use repat_proto::v1::webhook_service_server::WebhookService;
use repat_store::{
    Attempt, Delivery, DeliveryFilter, DeliveryStatus, Endpoint, NewEndpoint, PageRequest,
};
use repat_usecases::webhooks;
use sha2::Sha256;
use tonic::codegen::http::Uri;
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::error::ApiResult;
use crate::validate::{Violations, id_field, request_id};
use crate::{AppState, convert, fingerprint, paging};

const CREATE: &str = "repat.v1.WebhookService/CreateWebhookEndpoint";
const DELETE: &str = "repat.v1.WebhookService/DeleteWebhookEndpoint";
const REPLAY: &str = "repat.v1.WebhookService/ReplayWebhookDelivery";

/// Longest endpoint URL.
const MAX_URL: usize = 2048;
/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "repat-signature";

/// The `Repat-Signature` value of `body` sent at `timestamp` (Unix
/// seconds): `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Checks a `Repat-Signature` value as a receiver should: the MAC of the
/// timestamp and body under `secret` (compared in constant time), and the
/// timestamp within `tolerance_secs` of `now` (so a captured request cannot
/// be replayed later).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    signatures.iter().any(|s| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(s).is_ok()
    })
}

/// A new signing secret: 32 random bytes.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// An endpoint URL: http or https, a host, no credentials in it.
fn url(v: &mut Violations, s: &str) -> Option<String> {
    if s.len() > MAX_URL {
        v.add(
            "url",
            format!("is {} bytes long; at most {MAX_URL} are allowed", s.len()),
        );
        return None;
    }
    let uri: Uri = match s.parse() {
        Ok(u) => u,
        Err(e) => {
            v.add("url", format!("is not a URL: {e}"));
            return None;
        }
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        v.add("url", "must be an http:// or https:// URL");
        return None;
    }
    match uri.authority() {
        None => {
            v.add("url", "names no host");
            None
        }
        Some(a) if a.as_str().contains('@') => {
            v.add(
                "url",
                "may not hold credentials; the signature authenticates the sender",
            );
            None
        }
        Some(_) => Some(s.to_string()),
    }
}

/// An endpoint as shown: its secret only when just created.
fn endpoint(e: &Endpoint, with_secret: bool) -> pb::WebhookEndpoint {
    pb::WebhookEndpoint {
        id: e.id.to_string(),
        party_id: e.party_id.to_string(),
        url: e.url.clone(),
        types: e.types.clone(),
        description: e.description.clone(),
        secret: if with_secret {
            e.secret.clone()
        } else {
            String::new()
        },
        create_time: Some(convert::timestamp(e.create_time)),
        delete_time: e.delete_time.map(convert::timestamp),
    }
}

fn status(s: DeliveryStatus) -> pb::WebhookDeliveryStatus {
    match s {
        DeliveryStatus::Pending => pb::WebhookDeliveryStatus::Pending,
        DeliveryStatus::Delivered => pb::WebhookDeliveryStatus::Delivered,
        DeliveryStatus::Dead => pb::WebhookDeliveryStatus::Dead,
    }
}

fn attempt(a: &Attempt) -> pb::WebhookAttempt {
    pb::WebhookAttempt {
        number: a.number,
        attempt_time: Some(convert::timestamp(a.time)),
        status_code: a.status_code.unwrap_or(0),
        error: a.error.clone().unwrap_or_default(),
        duration: Some(prost_types::Duration {
            seconds: a.micros / 1_000_000,
            nanos: (a.micros % 1_000_000) as i32 * 1000,
        }),
    }
}

fn delivery(d: &Delivery) -> pb::WebhookDelivery {
    pb::WebhookDelivery {
        id: d.id.to_string(),
        endpoint_id: d.endpoint_id.to_string(),
        party_id: d.party_id.to_string(),
        event_sequence: d.event_sequence,
        event_id: d.event_id.to_string(),
        event_type: super::wire::cloud_type(d.event_type),
        status: status(d.status) as i32,
        attempts: d.attempts,
        next_attempt_time: d.next_attempt_at.map(convert::timestamp),
        create_time: Some(convert::timestamp(d.create_time)),
        update_time: Some(convert::timestamp(d.update_time)),
        history: d.history.iter().map(attempt).collect(),
    }
}

pub struct WebhookApi {
    state: AppState,
}

impl WebhookApi {
    pub fn new(state: AppState) -> Self {
        WebhookApi { state }
    }
}

#[tonic::async_trait]
impl WebhookService for WebhookApi {
    async fn create_webhook_endpoint(
        &self,
        request: Request<pb::CreateWebhookEndpointRequest>,
    ) -> Result<Response<pb::WebhookEndpoint>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let id = request_id(&mut v, &req.request_id);
            let party_id = v.required_uuid("party_id", &req.party_id);
            let url = url(&mut v, &req.url);
            let types = super::decode_types(&mut v, "types", &req.types);
            let description = v.text("description", &req.description);
            let (id, (party_id, (url, (types, description)))) =
                v.finish(|| id.zip(party_id.zip(url.zip(types.zip(description)))))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, CREATE, id, &req);
            let new = NewEndpoint {
                party_id,
                url,
                types,
                description,
                secret: new_secret(),
            };
            let stored =
                webhooks::create_webhook_endpoint(&self.state.app, &caller, &idem, &new).await?;
            ApiResult::Ok(endpoint(&stored, true))
        };
        Ok(Response::new(run.await?))
    }

    async fn get_webhook_endpoint(
        &self,
        request: Request<pb::GetWebhookEndpointRequest>,
    ) -> Result<Response<pb::WebhookEndpoint>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("id", &req.id)?;
            let e = webhooks::get_webhook_endpoint(&self.state.app, &caller, id).await?;
            ApiResult::Ok(endpoint(&e, false))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_webhook_endpoints(
        &self,
        request: Request<pb::ListWebhookEndpointsRequest>,
    ) -> Result<Response<pb::ListWebhookEndpointsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let filters = format!("party={}", req.party_id);
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, after)) = v.finish(|| size.zip(party_id.zip(after)))?;
            let page = webhooks::list_webhook_endpoints(
                &self.state.app,
                &caller,
                party_id,
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListWebhookEndpointsResponse {
                endpoints: page.items.iter().map(|e| endpoint(e, false)).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn delete_webhook_endpoint(
        &self,
        request: Request<pb::DeleteWebhookEndpointRequest>,
    ) -> Result<Response<pb::WebhookEndpoint>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let rid = request_id(&mut v, &req.request_id);
            let id = v.required_uuid("id", &req.id);
            let (rid, id) = v.finish(|| rid.zip(id))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, DELETE, rid, &req);
            let deleted =
                webhooks::delete_webhook_endpoint(&self.state.app, &caller, &idem, id).await?;
            ApiResult::Ok(endpoint(&deleted, false))
        };
        Ok(Response::new(run.await?))
    }

    async fn get_webhook_delivery(
        &self,
        request: Request<pb::GetWebhookDeliveryRequest>,
    ) -> Result<Response<pb::WebhookDelivery>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("id", &req.id)?;
            let d = webhooks::get_webhook_delivery(&self.state.app, &caller, id).await?;
            ApiResult::Ok(delivery(&d))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_webhook_deliveries(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let endpoint_id = v.optional_uuid("endpoint_id", &req.endpoint_id);
            let status = match pb::WebhookDeliveryStatus::try_from(req.status) {
                Ok(pb::WebhookDeliveryStatus::Unspecified) => Some(None),
                Ok(pb::WebhookDeliveryStatus::Pending) => Some(Some(DeliveryStatus::Pending)),
                Ok(pb::WebhookDeliveryStatus::Delivered) => Some(Some(DeliveryStatus::Delivered)),
                Ok(pb::WebhookDeliveryStatus::Dead) => Some(Some(DeliveryStatus::Dead)),
                Err(_) => {
                    v.add("status", format!("unknown status {}", req.status));
                    None
                }
            };
            let filters = format!(
                "party={};endpoint={};status={}",
                req.party_id, req.endpoint_id, req.status
            );
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, (endpoint_id, (status, after)))) =
                v.finish(|| size.zip(party_id.zip(endpoint_id.zip(status.zip(after)))))?;
            let filter = DeliveryFilter {
                party_id,
                endpoint_id,
                status,
            };
            let page = webhooks::list_webhook_deliveries(
                &self.state.app,
                &caller,
                filter,
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListWebhookDeliveriesResponse {
                deliveries: page.items.iter().map(delivery).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn replay_webhook_delivery(
        &self,
        request: Request<pb::ReplayWebhookDeliveryRequest>,
    ) -> Result<Response<pb::WebhookDelivery>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let rid = request_id(&mut v, &req.request_id);
            let id = v.required_uuid("id", &req.id);
            let (rid, id) = v.finish(|| rid.zip(id))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, REPLAY, rid, &req);
            let replayed =
                webhooks::replay_webhook_delivery(&self.state.app, &caller, &idem, id).await?;
            ApiResult::Ok(delivery(&replayed))
        };
        Ok(Response::new(run.await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_a_changed_body_does_not() {
        let secret = "whsec_test";
        let body = br#"{"id":"1"}"#;
        let header = signature(secret, 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify(secret, &header, body, 1_700_000_100, 300));
        assert!(!verify(
            secret,
            &header,
            br#"{"id":"2"}"#,
            1_700_000_100,
            300
        ));
        assert!(!verify("whsec_other", &header, body, 1_700_000_100, 300));
        assert!(
            !verify(secret, &header, body, 1_700_001_000, 300),
            "too old"
        );
    }

    #[test]
    fn urls_are_http_with_a_host_and_no_credentials() {
        let ok = |s: &str| url(&mut Violations::default(), s).is_some();
        assert!(ok("https://hooks.example.com/repat"));
        assert!(ok("http://127.0.0.1:8080/in"));
        assert!(!ok("ftp://example.com/"));
        assert!(!ok("/relative"));
        assert!(!ok("https://user:pw@example.com/"));
    }

    #[test]
    fn the_signature_is_what_openssl_computes() {
        // printf '%s' '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }
}
