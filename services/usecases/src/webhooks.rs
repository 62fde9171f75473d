//! WebhookService: endpoints a party registers for its events, and the
//! deliveries to them. Registering and removing an endpoint, or replaying
//! a delivery, is the party's (or an administrator's) to do.

use repat_store::{
    Delivery, DeliveryFilter, Endpoint, Idempotency, NewEndpoint, Page, PageRequest,
};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize, list_scope};
use crate::error::Result;

pub async fn create_webhook_endpoint(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    new: &NewEndpoint,
) -> Result<Endpoint> {
    let permit = authorize(caller, Action::Write(new.party_id))?;
    Ok(app.store(&permit).create_endpoint(idem, new).await?)
}

pub async fn get_webhook_endpoint(app: &App, caller: &Caller, id: Uuid) -> Result<Endpoint> {
    let e = app
        .read_as(
            caller,
            ("webhook endpoint", id),
            |s| s.get_endpoint(id),
            |e| Action::Read(e.party_id),
        )
        .await?;
    Ok(e)
}

pub async fn list_webhook_endpoints(
    app: &App,
    caller: &Caller,
    party_id: Option<Uuid>,
    page: PageRequest,
) -> Result<Page<Endpoint>> {
    let (party_id, permit) = list_scope(caller, party_id)?;
    Ok(app.store(&permit).list_endpoints(party_id, page).await?)
}

/// Removes an endpoint: what was waiting for it is not sent.
pub async fn delete_webhook_endpoint(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    id: Uuid,
) -> Result<Endpoint> {
    let e = get_webhook_endpoint(app, caller, id).await?;
    let permit = authorize(caller, Action::Write(e.party_id))?;
    Ok(app.store(&permit).delete_endpoint(idem, id).await?)
}

pub async fn get_webhook_delivery(app: &App, caller: &Caller, id: Uuid) -> Result<Delivery> {
    app.read_as(
        caller,
        ("webhook delivery", id),
        |s| s.get_delivery(id),
        |d| Action::Read(d.party_id),
    )
    .await
}

/// Deliveries matching `filter`; an endpoint named scopes them by its
/// party, else the list is scoped as every list is.
pub async fn list_webhook_deliveries(
    app: &App,
    caller: &Caller,
    filter: DeliveryFilter,
    page: PageRequest,
) -> Result<Page<Delivery>> {
    let (party_id, permit) = match (filter.endpoint_id, filter.party_id) {
        (Some(e), None) => {
            let e = get_webhook_endpoint(app, caller, e).await?;
            (
                Some(e.party_id),
                authorize(caller, Action::Read(e.party_id))?,
            )
        }
        (_, p) => list_scope(caller, p)?,
    };
    let filter = DeliveryFilter { party_id, ..filter };
    Ok(app.store(&permit).list_deliveries(&filter, page).await?)
}

/// Sends a delivery again, from its first attempt.
pub async fn replay_webhook_delivery(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    id: Uuid,
) -> Result<Delivery> {
    let d = get_webhook_delivery(app, caller, id).await?;
    let permit = authorize(caller, Action::Write(d.party_id))?;
    Ok(app.store(&permit).replay_delivery(idem, id).await?)
}
