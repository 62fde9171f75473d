//! EarningService: what was invoiced abroad.

use futures::StreamExt;
use repat_core::earning::NewEarning;
use repat_proto::v1 as pb;
use repat_proto::v1::earning_service_server::EarningService;
use repat_store::{EarningFilter, PageRequest};
use repat_usecases::amend_earning::Amendment;
use repat_usecases::{amend_earning, create_earning, earnings, void_earning};
use tonic::{Request, Response, Status, Streaming};

use crate::auth::{Caller, caller};
use crate::batch::async_stream;
use crate::error::{ApiError, ApiResult};
use crate::validate::{Violations, id_field, request_id};
use crate::{AppState, batch, convert, fingerprint, paging};

pub struct EarningApi {
    state: AppState,
}

impl EarningApi {
    pub fn new(state: AppState) -> Self {
        EarningApi { state }
    }

    /// The one path of a new earning, single or in a batch.
    async fn create(
        &self,
        caller: &Caller,
        mut req: pb::CreateEarningRequest,
    ) -> ApiResult<pb::Earning> {
        let mut v = Violations::default();
        let id = request_id(&mut v, &req.request_id);
        let earning = decode_earning(&mut v, req.earning.as_ref());
        let (id, earning) = v.finish(|| id.zip(earning))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, CREATE, id, &req);
        let stored =
            create_earning::create_earning(&self.state.app, caller, &idem, &earning).await?;
        Ok(convert::earning(&stored))
    }
}

const CREATE: &str = "repat.v1.EarningService/CreateEarning";
const AMEND: &str = "repat.v1.EarningService/AmendEarning";
const VOID: &str = "repat.v1.EarningService/VoidEarning";

fn decode_earning(v: &mut Violations, e: Option<&pb::Earning>) -> Option<NewEarning> {
    let Some(e) = e else {
        v.add("earning", "is required");
        return None;
    };
    let party_id = v.required_uuid("earning.party_id", &e.party_id);
    let client_name = v.required_text("earning.client_name", &e.client_name);
    let client_country = v.country("earning.client_country", &e.client_country);
    let category = convert::service_category_from(e.service_category);
    if category.is_none() {
        v.add(
            "earning.service_category",
            "must be SOFTWARE, ITES or HARDWARE",
        );
    }
    let amount = v.positive_money("earning.amount", e.amount.as_ref());
    let invoice_date = v.date("earning.invoice_date", e.invoice_date.as_ref());
    let due_date = v.optional_date("earning.due_date", e.due_date.as_ref());
    if let (Some(i), Some(Some(d))) = (invoice_date, due_date)
        && d < i
    {
        v.add(
            "earning.due_date",
            format!("{d} is before the invoice date {i}"),
        );
    }
    let invoice_reference = v.required_text("earning.invoice_reference", &e.invoice_reference);
    let marketplace = v.text("earning.marketplace", &e.marketplace);
    Some(NewEarning {
        party_id: party_id?,
        client_name: client_name?,
        client_country: client_country?,
        service_category: category?,
        amount: amount?,
        invoice_date: invoice_date?,
        due_date: due_date?,
        invoice_reference: invoice_reference?,
        marketplace: marketplace?,
    })
}

#[tonic::async_trait]
impl EarningService for EarningApi {
    async fn create_earning(
        &self,
        request: Request<pb::CreateEarningRequest>,
    ) -> Result<Response<pb::Earning>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.create(&caller, request.into_inner()).await?,
        ))
    }

    type BatchCreateEarningsStream = batch::ResultStream;

    async fn batch_create_earnings(
        &self,
        request: Request<Streaming<pb::CreateEarningRequest>>,
    ) -> Result<Response<Self::BatchCreateEarningsStream>, Status> {
        let caller = caller(&request)?;
        let slot = self.state.streams.open(&caller.subject)?;
        let closed = self.state.changes.closed();
        let api = EarningApi {
            state: self.state.clone(),
        };
        let mut input = request.into_inner().enumerate();
        let output = async_stream(move |tx| async move {
            let _slot = slot;
            tokio::pin!(closed);
            loop {
                // A stopping server ends the stream between items; the client
                // re-sends the rest elsewhere (request ids make that safe).
                let next = tokio::select! {
                    biased;
                    _ = &mut closed => {
                        let _ = tx.send(Err(crate::watch::closing_status())).await;
                        return;
                    }
                    next = input.next() => next,
                };
                let Some((index, item)) = next else { return };
                let item = match item {
                    Ok(item) => item,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                let request_id = item.request_id.clone();
                let outcome = api.create(&caller, item).await.map(|e| e.id);
                // Store outages end the stream: nothing after them is safe to report.
                if let Err(ApiError::Store(repat_store::StoreError::Unavailable(_))) = &outcome {
                    let _ = tx.send(Err(Status::from(outcome.unwrap_err()))).await;
                    return;
                }
                if tx
                    .send(Ok(batch::result(index, request_id, outcome)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        Ok(Response::new(output))
    }

    async fn get_earning(
        &self,
        request: Request<pb::GetEarningRequest>,
    ) -> Result<Response<pb::Earning>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("id", &req.id)?;
            let earning = earnings::get_earning(&self.state.app, &caller, id).await?;
            ApiResult::Ok(convert::earning(&earning))
        };
        Ok(Response::new(run.await?))
    }

    async fn amend_earning(
        &self,
        request: Request<pb::AmendEarningRequest>,
    ) -> Result<Response<pb::Earning>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let rid = request_id(&mut v, &req.request_id);
            let id = v.optional_uuid("id", &req.id);
            let earning = decode_earning(&mut v, req.earning.as_ref());
            let why = v.required_text("reason", &req.reason);
            let expected = v.expected_revision("expected_revision", req.expected_revision);
            let (rid, (id, (earning, (why, expected)))) =
                v.finish(|| rid.zip(id.zip(earning.zip(why.zip(expected)))))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, AMEND, rid, &req);
            let amendment = Amendment {
                id,
                earning,
                reason: why,
                expected_revision: expected,
            };
            let stored =
                amend_earning::amend_earning(&self.state.app, &caller, &idem, &amendment).await?;
            ApiResult::Ok(convert::earning(&stored))
        };
        Ok(Response::new(run.await?))
    }

    async fn void_earning(
        &self,
        request: Request<pb::VoidEarningRequest>,
    ) -> Result<Response<pb::Earning>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let rid = request_id(&mut v, &req.request_id);
            let id = v.required_uuid("id", &req.id);
            let why = v.required_text("reason", &req.reason);
            let expected = v.expected_revision("expected_revision", req.expected_revision);
            let (rid, (id, (why, expected))) = v.finish(|| rid.zip(id.zip(why.zip(expected))))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, VOID, rid, &req);
            let stored =
                void_earning::void_earning(&self.state.app, &caller, &idem, id, &why, expected)
                    .await?;
            ApiResult::Ok(convert::earning(&stored))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_earning_revisions(
        &self,
        request: Request<pb::ListEarningRevisionsRequest>,
    ) -> Result<Response<pb::ListEarningRevisionsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("id", &req.id)?;
            let revisions = earnings::list_earning_revisions(&self.state.app, &caller, id).await?;
            ApiResult::Ok(pb::ListEarningRevisionsResponse {
                revisions: revisions.iter().map(convert::revision).collect(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn list_earnings(
        &self,
        request: Request<pb::ListEarningsRequest>,
    ) -> Result<Response<pb::ListEarningsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let from = v.optional_date("invoice_date_from", req.invoice_date_from.as_ref());
            let to = v.optional_date("invoice_date_to", req.invoice_date_to.as_ref());
            let filters = format!("party={};from={:?};to={:?}", req.party_id, from, to);
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, (from, (to, after)))) =
                v.finish(|| size.zip(party_id.zip(from.zip(to.zip(after)))))?;
            let filter = EarningFilter {
                party_id,
                invoice_date_from: from,
                invoice_date_to: to,
            };
            let page = earnings::list_earnings(
                &self.state.app,
                &caller,
                filter,
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListEarningsResponse {
                earnings: page.items.iter().map(convert::earning).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }
}
