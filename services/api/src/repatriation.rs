//! RepatriationService: the journey of a payment home.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use repat_core::Named;
use repat_core::journey::{Fee, FxRate, NewStep};
use repat_core::repatriation::RequestedAllocation;
use repat_proto::v1 as pb;
use repat_proto::v1::repatriation_service_server::RepatriationService;
use repat_store::{PageRequest, RepatriationFilter};
use repat_usecases::create_repatriation::{self, RepatriationRequest};
use repat_usecases::record_steps::{self, Authorized, StepRecorded};
use repat_usecases::repatriations;
use repat_usecases::rules::ActiveRules;
use repat_usecases::void_step::{self, StepCorrection};
use tonic::{Request, Response, Status, Streaming};

use crate::auth::{Caller, caller};
use crate::batch::{ResultStream, async_stream};
use crate::error::{ApiError, ApiResult};
use crate::validate::{MAX_ALLOCATIONS, MAX_FEES_PER_STEP, Violations, id_field, request_id};
use crate::{AppState, batch, convert, fingerprint, paging};

/// Most steps committed in one transaction of a batch.
const BATCH_CHUNK: usize = 1000;
/// Steps a stream's reader takes off the wire ahead of the chunk being
/// filled: enough to keep the client from waiting on flow control, few
/// enough that sixteen busy streams hold little.
const READ_AHEAD: usize = BATCH_CHUNK / 4;
/// Longest a partly filled chunk waits for more steps.
const CHUNK_WAIT: std::time::Duration = std::time::Duration::from_millis(20);
/// Longest end-to-end id ISO 20022 allows.
const MAX_END_TO_END_ID: usize = 35;

const CREATE: &str = "repat.v1.RepatriationService/CreateRepatriation";
const RECORD_STEP: &str = "repat.v1.RepatriationService/RecordStep";
const VOID_STEP: &str = "repat.v1.RepatriationService/VoidStep";

pub struct RepatriationApi {
    state: AppState,
    /// The rules a repatriation's deadline is counted under.
    rules: Arc<ActiveRules>,
}

impl RepatriationApi {
    pub fn new(state: AppState, rules: Arc<ActiveRules>) -> Self {
        RepatriationApi { state, rules }
    }

    /// Validates, keys and authorizes one RecordStep request.
    async fn prepare_step(
        &self,
        caller: &Caller,
        mut req: pb::RecordStepRequest,
    ) -> ApiResult<Authorized> {
        let mut v = Violations::default();
        let id = request_id(&mut v, &req.request_id);
        let step = decode_step(&mut v, req.step.as_ref(), chrono::Utc::now());
        let (id, step) = v.finish(|| id.zip(step))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, RECORD_STEP, id, &req);
        Ok(record_steps::authorize_step(&self.state.app, caller, idem, step).await?)
    }

    /// Records prepared steps in one transaction.
    async fn record(&self, items: &[Authorized]) -> ApiResult<Vec<ApiResult<StepRecorded>>> {
        let results = record_steps::record_steps(&self.state.app, items).await?;
        Ok(results
            .into_iter()
            .map(|r| r.map_err(ApiError::from))
            .collect())
    }
}

fn step_response(r: &StepRecorded) -> pb::RecordStepResponse {
    pb::RecordStepResponse {
        step: Some(convert::step(&r.step, None)),
        status: convert::status(r.status) as i32,
    }
}

fn decode_step(
    v: &mut Violations,
    s: Option<&pb::Step>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<NewStep> {
    let Some(s) = s else {
        v.add("step", "is required");
        return None;
    };
    let repatriation_id = v.required_uuid("step.repatriation_id", &s.repatriation_id);
    let kind = convert::step_kind_from(s.kind);
    match kind {
        None => v.add("step.kind", format!("must be one of the canonical steps, got {}", s.kind)),
        Some(k) if k.belongs_to_claims() => v.add(
            "step.kind",
            format!("{} is recorded through IncentiveService (FileClaim, RecordClaimStep), so the claim and the journey agree", k.name()),
        ),
        Some(_) => {}
    }
    let occurred_at = v.event_time("step.occurred_at", s.occurred_at.as_ref(), now);
    let institution_bic = v.optional_bic("step.institution_bic", &s.institution_bic);
    let amount = v.optional_money("step.amount", s.amount.as_ref());
    let mut fees = Vec::new();
    let listed = if v.at_most("step.fees", s.fees.len(), MAX_FEES_PER_STEP) {
        s.fees.as_slice()
    } else {
        &[]
    };
    for (i, f) in listed.iter().enumerate() {
        let amount = v.positive_money(&format!("step.fees[{i}].amount"), f.amount.as_ref());
        let charged_by = v.required_text(&format!("step.fees[{i}].charged_by"), &f.charged_by);
        let kind = v.text(&format!("step.fees[{i}].kind"), &f.kind);
        if let (Some(amount), Some(charged_by), Some(kind)) = (amount, charged_by, kind) {
            fees.push(Fee {
                amount,
                charged_by,
                kind,
            });
        }
    }
    let fx_rate = match &s.fx_rate {
        None => Some(None),
        Some(fx) => {
            let source = v.currency("step.fx_rate.source_currency", &fx.source_currency);
            let target = v.currency("step.fx_rate.target_currency", &fx.target_currency);
            let rate = v.rate("step.fx_rate.rate", &fx.rate);
            if source.is_some() && source == target {
                v.add(
                    "step.fx_rate.target_currency",
                    "must differ from the source currency",
                );
            }
            match (source, target, rate) {
                (Some(source), Some(target), Some(rate)) => Some(Some(FxRate {
                    source,
                    target,
                    rate,
                })),
                _ => None,
            }
        }
    };
    let end_to_end_id = match s.end_to_end_id.len() {
        0 => Some(None),
        n if n > MAX_END_TO_END_ID => {
            v.add(
                "step.end_to_end_id",
                format!("is {n} characters long; ISO 20022 allows at most {MAX_END_TO_END_ID}"),
            );
            None
        }
        _ => Some(Some(s.end_to_end_id.clone())),
    };
    let uetr = v.optional_uuid("step.uetr", &s.uetr);
    let gpi_status = match s.gpi_status {
        0 => Some(None),
        g => {
            let status = convert::gpi_status_from(g);
            if status.is_none() {
                v.add("step.gpi_status", format!("unknown gpi status {g}"));
            }
            status.map(Some)
        }
    };
    let reason_code = if s.reason_code.is_empty() {
        Some(None)
    } else if s.reason_code.len() <= 4
        && s.reason_code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Some(Some(s.reason_code.clone()))
    } else {
        v.add("step.reason_code", format!("must be a code of up to 4 upper-case letters or digits such as \"AC01\" or \"G002\", got {:?}", s.reason_code));
        None
    };
    let note = v.text("step.note", &s.note);
    Some(NewStep {
        repatriation_id: repatriation_id?,
        kind: kind?,
        occurred_at: occurred_at?,
        institution_bic: institution_bic?,
        amount: amount?,
        fees,
        fx_rate: fx_rate?,
        end_to_end_id: end_to_end_id?,
        uetr: uetr?,
        gpi_status: gpi_status?,
        reason_code: reason_code?,
        note: note?,
    })
}

fn decode_repatriation(
    v: &mut Violations,
    r: &pb::CreateRepatriationRequest,
) -> Option<RepatriationRequest> {
    let party_id = v.required_uuid("party_id", &r.party_id);
    if r.allocations.is_empty() {
        v.add("allocations", "at least one earning is required");
    }
    let mut allocations = Vec::new();
    let listed = if v.at_most("allocations", r.allocations.len(), MAX_ALLOCATIONS) {
        r.allocations.as_slice()
    } else {
        &[]
    };
    for (i, a) in listed.iter().enumerate() {
        let earning_id = v.required_uuid(&format!("allocations[{i}].earning_id"), &a.earning_id);
        let amount = v.optional_money(&format!("allocations[{i}].amount"), a.amount.as_ref());
        if let (Some(earning_id), Some(amount)) = (earning_id, amount) {
            allocations.push(RequestedAllocation { earning_id, amount });
        }
    }
    let channel = convert::channel_from(r.channel);
    if channel.is_none() {
        v.add(
            "channel",
            "must be CHANNEL_BANK, CHANNEL_PLATFORM or CHANNEL_MOBILE_FINANCIAL_SERVICE",
        );
    }
    let payer_country = if r.payer_country.is_empty() {
        Some(None)
    } else {
        v.country("payer_country", &r.payer_country).map(Some)
    };
    Some(RepatriationRequest {
        party_id: party_id?,
        allocations,
        channel: channel?,
        payer_country: payer_country?,
    })
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::RepatriationEvent, Status>> + Send>>;

#[tonic::async_trait]
impl RepatriationService for RepatriationApi {
    async fn create_repatriation(
        &self,
        request: Request<pb::CreateRepatriationRequest>,
    ) -> Result<Response<pb::Repatriation>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let id = request_id(&mut v, &req.request_id);
            let rep = decode_repatriation(&mut v, &req);
            let (id, rep) = v.finish(|| id.zip(rep))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, CREATE, id, &req);
            let stored = create_repatriation::create_repatriation(
                &self.state.app,
                &self.rules,
                &caller,
                &idem,
                &rep,
            )
            .await?;
            ApiResult::Ok(convert::repatriation(&stored))
        };
        Ok(Response::new(run.await?))
    }

    async fn get_repatriation(
        &self,
        request: Request<pb::GetRepatriationRequest>,
    ) -> Result<Response<pb::Repatriation>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("id", &req.id)?;
            let journey = repatriations::get_repatriation(&self.state.app, &caller, id).await?;
            ApiResult::Ok(convert::journey(&journey))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_repatriations(
        &self,
        request: Request<pb::ListRepatriationsRequest>,
    ) -> Result<Response<pb::ListRepatriationsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let earning_id = v.optional_uuid("earning_id", &req.earning_id);
            let status = match req.status {
                0 => Some(None),
                s => {
                    let status = convert::status_from(s);
                    if status.is_none() {
                        v.add("status", format!("unknown status {s}"));
                    }
                    status.map(Some)
                }
            };
            let filters = format!(
                "party={};earning={};status={}",
                req.party_id, req.earning_id, req.status
            );
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, (earning_id, (status, after)))) =
                v.finish(|| size.zip(party_id.zip(earning_id.zip(status.zip(after)))))?;
            let filter = RepatriationFilter {
                party_id,
                status,
                earning_id,
            };
            let page = repatriations::list_repatriations(
                &self.state.app,
                &caller,
                filter,
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListRepatriationsResponse {
                repatriations: page.items.iter().map(convert::repatriation).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn search_repatriations(
        &self,
        request: Request<pb::SearchRepatriationsRequest>,
    ) -> Result<Response<pb::SearchRepatriationsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            crate::search::search_repatriations(&self.state, &caller, request.into_inner()).await?,
        ))
    }

    async fn record_step(
        &self,
        request: Request<pb::RecordStepRequest>,
    ) -> Result<Response<pb::RecordStepResponse>, Status> {
        let caller = caller(&request)?;
        let run = async {
            let item = self.prepare_step(&caller, request.into_inner()).await?;
            let mut results = self.record(std::slice::from_ref(&item)).await?;
            let recorded = results.pop().ok_or_else(|| {
                ApiError::from(repat_store::StoreError::Internal("no result".into()))
            })??;
            ApiResult::Ok(step_response(&recorded))
        };
        Ok(Response::new(run.await?))
    }

    type BatchRecordStepsStream = ResultStream;

    async fn batch_record_steps(
        &self,
        request: Request<Streaming<pb::RecordStepRequest>>,
    ) -> Result<Response<Self::BatchRecordStepsStream>, Status> {
        let caller = caller(&request)?;
        let slot = self.state.streams.open(&caller.subject)?;
        let closed = self.state.changes.closed();
        let commits = self.state.batch_commits.clone();
        let api = RepatriationApi {
            state: self.state.clone(),
            rules: self.rules.clone(),
        };
        // A reader keeps taking requests off the wire while a chunk commits,
        // so the client is not held back by flow control between chunks;
        // a quarter of a chunk ahead is enough, and keeps what a stream
        // holds small.
        let (item_tx, item_rx) = tokio::sync::mpsc::channel(READ_AHEAD);
        let mut wire = request.into_inner().enumerate();
        tokio::spawn(async move {
            while let Some(item) = wire.next().await {
                if item_tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        // Commit up to a chunk in one transaction, waiting briefly for a
        // chunk to fill so a fast stream is not cut into tiny transactions.
        let items = tokio_stream::wrappers::ReceiverStream::new(item_rx);
        let mut input = Box::pin(tokio_stream::StreamExt::chunks_timeout(
            items,
            BATCH_CHUNK,
            CHUNK_WAIT,
        ));
        let output = async_stream(move |tx| async move {
            let _slot = slot;
            tokio::pin!(closed);
            loop {
                // A stopping server ends the stream between chunks: what was
                // acknowledged is committed, the client re-sends the rest
                // to another replica (request ids make that safe).
                let chunk = tokio::select! {
                    biased;
                    _ = &mut closed => {
                        let _ = tx.send(Err(crate::watch::closing_status())).await;
                        return;
                    }
                    chunk = input.next() => chunk,
                };
                let Some(chunk) = chunk else { return };
                // Its turn among every stream's chunks: a stream waiting
                // here holds only the chunk it read.
                let permit = tokio::select! {
                    biased;
                    _ = &mut closed => {
                        let _ = tx.send(Err(crate::watch::closing_status())).await;
                        return;
                    }
                    permit = commits.clone().acquire_owned() => permit,
                };
                let mut outcomes: Vec<(usize, String, Option<ApiResult<String>>)> =
                    Vec::with_capacity(chunk.len());
                let mut prepared: Vec<Authorized> = Vec::new();
                let mut slots: Vec<usize> = Vec::new();
                for (index, item) in chunk {
                    let item = match item {
                        Ok(item) => item,
                        Err(status) => {
                            let _ = tx.send(Err(status)).await;
                            return;
                        }
                    };
                    let request_id = item.request_id.clone();
                    match api.prepare_step(&caller, item).await {
                        Ok(p) => {
                            slots.push(outcomes.len());
                            prepared.push(p);
                            outcomes.push((index, request_id, None));
                        }
                        Err(e) => outcomes.push((index, request_id, Some(Err(e)))),
                    }
                }
                let recorded = api.record(&prepared).await;
                drop((permit, prepared));
                match recorded {
                    Ok(results) => {
                        for (slot, r) in slots.into_iter().zip(results) {
                            outcomes[slot].2 = Some(r.map(|s| s.step.id.to_string()));
                        }
                    }
                    // The whole chunk failed and nothing of it was stored.
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                }
                for (index, request_id, outcome) in outcomes {
                    let outcome = outcome.unwrap_or_else(|| {
                        Err(ApiError::from(repat_store::StoreError::Internal(
                            "no result".into(),
                        )))
                    });
                    if tx
                        .send(Ok(batch::result(index, request_id, outcome)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(output))
    }

    type WatchRepatriationStream = EventStream;

    async fn void_step(
        &self,
        request: Request<pb::VoidStepRequest>,
    ) -> Result<Response<pb::VoidStepResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let rid = request_id(&mut v, &req.request_id);
            let repatriation_id = v.required_uuid("repatriation_id", &req.repatriation_id);
            let step_id = v.required_uuid("step_id", &req.step_id);
            let reason = v.required_text("reason", &req.reason);
            let replacement = match &req.replacement {
                None => Some(None),
                Some(s) => {
                    // Decoded as RecordStep's `step`, its fields named as here.
                    let mut found = Violations::default();
                    let step = decode_step(&mut found, Some(s), chrono::Utc::now());
                    for f in found.0 {
                        let field = f.field.replacen("step", "replacement", 1);
                        v.add(field, f.description);
                    }
                    step.map(Some)
                }
            };
            let (rid, (repatriation_id, (step_id, (reason, replacement)))) =
                v.finish(|| rid.zip(repatriation_id.zip(step_id.zip(reason.zip(replacement)))))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, VOID_STEP, rid, &req);
            let correction = StepCorrection {
                repatriation_id,
                step_id,
                reason,
                replacement,
            };
            let done = void_step::void_step(&self.state.app, &caller, &idem, &correction).await?;
            ApiResult::Ok(pb::VoidStepResponse {
                voided: Some(convert::step(&done.voided, None)),
                replacement: done.replacement.as_ref().map(|s| convert::step(s, None)),
                status: convert::status(done.status) as i32,
                revision: i64::from(done.revision),
                superseded_assessment_ids: done
                    .superseded_assessments
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn list_repatriation_revisions(
        &self,
        request: Request<pb::ListRepatriationRevisionsRequest>,
    ) -> Result<Response<pb::ListRepatriationRevisionsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("id", &req.id)?;
            let revisions =
                repatriations::list_repatriation_revisions(&self.state.app, &caller, id).await?;
            ApiResult::Ok(pb::ListRepatriationRevisionsResponse {
                revisions: revisions.iter().map(convert::revision).collect(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn watch_repatriation(
        &self,
        request: Request<pb::WatchRepatriationRequest>,
    ) -> Result<Response<Self::WatchRepatriationStream>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let id = id_field("id", &req.id).map_err(ApiError::from)?;
        let (first, mut watch) = repatriations::watch_repatriation(&self.state.app, &caller, id)
            .await
            .map_err(ApiError::from)?;
        let slot = self.state.streams.open(&caller.subject)?;
        let closed = self.state.changes.closed();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        crate::incident::spawn_stream_task(tx.clone(), async move {
            let _slot = slot;
            tokio::pin!(closed);
            if tx
                .send(Ok(pb::RepatriationEvent {
                    repatriation: Some(convert::journey(&first)),
                }))
                .await
                .is_err()
            {
                return;
            }
            loop {
                let next = tokio::select! {
                    _ = &mut closed => {
                        let _ = tx.send(Err(crate::watch::closing_status())).await;
                        return;
                    }
                    _ = tx.closed() => return,
                    next = watch.next() => next,
                };
                let event = match next {
                    None => return,
                    Some(Ok(j)) => Ok(pb::RepatriationEvent {
                        repatriation: Some(convert::journey(&j)),
                    }),
                    Some(Err(e)) => Err(Status::from(ApiError::from(e))),
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}
