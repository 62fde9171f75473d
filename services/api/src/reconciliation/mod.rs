//! ReconciliationService: import statements (all or nothing, once per
//! file), match credits to earnings, explain what is left open, and let a
//! person match and unmatch.
//!
//! A statement belongs to the account holder named by `party_id` in the
//! request: the caller must be allowed to write that party's records (the
//! firm itself, its bank's integrator, or an administrator).

pub(crate) mod wire;

use repat_core::money::parse_decimal;
use repat_core::reconcile::Tolerances;
use repat_proto::v1 as pb;
use repat_proto::v1::reconciliation_service_server::ReconciliationService;
use repat_store::{MatchFilter, PageRequest};
use repat_usecases::import_statement::{self, StatementUpload};
use repat_usecases::manual_match::{self, ManualMatchRequest};
use repat_usecases::{reconciliation, run_matching, unmatch, void_statement};
use rust_decimal::Decimal;
use tonic::{Request, Response, Status};

use crate::auth::{Caller, caller};
use crate::error::ApiResult;
use crate::validate::{Violations, id_field, request_id};
use crate::{AppState, fingerprint, paging};

const IMPORT: &str = "repat.v1.ReconciliationService/ImportStatement";
const RUN: &str = "repat.v1.ReconciliationService/RunMatching";
const MANUAL_MATCH: &str = "repat.v1.ReconciliationService/ManualMatch";
const UNMATCH: &str = "repat.v1.ReconciliationService/Unmatch";
const VOID_STATEMENT: &str = "repat.v1.ReconciliationService/VoidStatement";
/// Most earnings one credit is matched to by hand.
const MAX_ALLOCATIONS: usize = 100;

/// Parses a tolerance setting: a plain decimal, zero or more.
pub fn tolerance_value(s: &str) -> Result<Decimal, String> {
    let d = parse_decimal(s).map_err(|e| format!("{s:?} {e}"))?;
    if d < Decimal::ZERO {
        return Err(format!("must be zero or more, got {s}"));
    }
    Ok(d)
}

pub struct ReconciliationApi {
    state: AppState,
    tolerances: Tolerances,
}

impl ReconciliationApi {
    pub fn new(state: AppState, tolerances: Tolerances) -> Self {
        ReconciliationApi { state, tolerances }
    }

    async fn import(
        &self,
        caller: &Caller,
        mut req: pb::ImportStatementRequest,
    ) -> ApiResult<pb::Statement> {
        let mut v = Violations::default();
        let id = request_id(&mut v, &req.request_id);
        let party_id = v.required_uuid("party_id", &req.party_id);
        // Unspecified: as the content shows.
        let format = match req.format {
            0 => Some(repat_statements::detect(&req.content)),
            f => wire::format_from(f).map(Some),
        };
        if format.is_none() {
            v.add("format", "must be CAMT_052, CAMT_053, CAMT_054, MT940, MT942 or CSV, or unspecified to tell it from the content");
        }
        if req.content.is_empty() {
            v.add("content", "is required: the statement file as received");
        } else if format == Some(None) {
            v.add("format", "is not given, and the content is not recognisably camt.052/053/054, MT940, MT942 or CSV; name the format");
        }
        let charset = match req.charset.as_str() {
            "" => Some(None),
            label => {
                let found = repat_statements::charset(label);
                if found.is_none() {
                    v.add("charset", format!("{label:?} is not a charset this server knows (e.g. UTF-8, ISO-8859-1, windows-1252, ISO-8859-2)"));
                }
                found.map(Some)
            }
        };
        let (id, (party_id, (format, charset))) =
            v.finish(|| id.zip(party_id.zip(format.flatten().zip(charset))))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, IMPORT, id, &req);
        let upload = StatementUpload {
            party_id,
            format,
            charset,
            content: &req.content,
        };
        let mut stored =
            import_statement::import_statement(&self.state.app, caller, &idem, &upload)
                .await?
                .into_iter();
        let first = stored.next().ok_or_else(|| {
            repat_store::StoreError::Internal("an import stored no statement".into())
        })?;
        let mut answer = wire::statement(&first);
        answer.other_statements = stored.map(|s| wire::statement(&s)).collect();
        Ok(answer)
    }

    async fn run(
        &self,
        caller: &Caller,
        mut req: pb::RunMatchingRequest,
    ) -> ApiResult<pb::MatchingRun> {
        let mut v = Violations::default();
        let id = request_id(&mut v, &req.request_id);
        let party_id = v.required_uuid("party_id", &req.party_id);
        let (id, party_id) = v.finish(|| id.zip(party_id))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, RUN, id, &req);
        let run =
            run_matching::run_matching(&self.state.app, caller, &idem, party_id, &self.tolerances)
                .await?;
        Ok(wire::run(&run))
    }

    async fn manual_match(
        &self,
        caller: &Caller,
        mut req: pb::ManualMatchRequest,
    ) -> ApiResult<pb::ManualMatchResponse> {
        let mut v = Violations::default();
        let id = request_id(&mut v, &req.request_id);
        let credit = v.required_uuid("credit_id", &req.credit_id);
        let note = v.text("note", &req.note);
        match req.allocations.len() {
            0 => v.add("allocations", "name at least one earning"),
            n if n > MAX_ALLOCATIONS => v.add(
                "allocations",
                format!("{n} earnings; at most {MAX_ALLOCATIONS}"),
            ),
            _ => {}
        }
        let several = req.allocations.len() > 1;
        let mut allocations = Vec::with_capacity(req.allocations.len());
        for (n, a) in req.allocations.iter().enumerate() {
            let earning = v.required_uuid(&format!("allocations[{n}].earning_id"), &a.earning_id);
            let amount = v.optional_money(&format!("allocations[{n}].amount"), a.amount.as_ref());
            if several && a.amount.is_none() {
                v.add(
                    format!("allocations[{n}].amount"),
                    "is required when the credit pays several earnings",
                );
            }
            if let (Some(e), Some(amount)) = (earning, amount) {
                if allocations.iter().any(|(x, _)| *x == e) {
                    v.add(
                        format!("allocations[{n}].earning_id"),
                        format!("repeats {e}"),
                    );
                }
                allocations.push((e, amount));
            }
        }
        let (id, (credit, note)) = v.finish(|| id.zip(credit.zip(note)))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, MANUAL_MATCH, id, &req);
        let request = ManualMatchRequest {
            credit_id: credit,
            allocations,
            note,
        };
        let matches =
            manual_match::manual_match(&self.state.app, caller, &idem, &request, &self.tolerances)
                .await?;
        Ok(pb::ManualMatchResponse {
            matches: matches.iter().map(wire::stored_match).collect(),
        })
    }

    async fn unmatch(
        &self,
        caller: &Caller,
        mut req: pb::UnmatchRequest,
    ) -> ApiResult<pb::UnmatchResponse> {
        let mut v = Violations::default();
        let id = request_id(&mut v, &req.request_id);
        let credit = v.required_uuid("credit_id", &req.credit_id);
        let note = v.text("note", &req.note);
        let (id, (credit, note)) = v.finish(|| id.zip(credit.zip(note)))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, UNMATCH, id, &req);
        let removed = unmatch::unmatch(&self.state.app, caller, &idem, credit, &note).await?;
        Ok(pb::UnmatchResponse {
            removed: removed.iter().map(wire::stored_match).collect(),
        })
    }
}

#[tonic::async_trait]
impl ReconciliationService for ReconciliationApi {
    async fn import_statement(
        &self,
        request: Request<pb::ImportStatementRequest>,
    ) -> Result<Response<pb::Statement>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.import(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_statement(
        &self,
        request: Request<pb::GetStatementRequest>,
    ) -> Result<Response<pb::Statement>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("id", &req.id)?;
            let s = reconciliation::get_statement(&self.state.app, &caller, id).await?;
            ApiResult::Ok(wire::statement(&s))
        };
        Ok(Response::new(run.await?))
    }

    async fn run_matching(
        &self,
        request: Request<pb::RunMatchingRequest>,
    ) -> Result<Response<pb::MatchingRun>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.run(&caller, request.into_inner()).await?,
        ))
    }

    async fn list_matches(
        &self,
        request: Request<pb::ListMatchesRequest>,
    ) -> Result<Response<pb::ListMatchesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let earning_id = v.optional_uuid("earning_id", &req.earning_id);
            let filters = format!("party={};earning={}", req.party_id, req.earning_id);
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, (earning_id, after))) =
                v.finish(|| size.zip(party_id.zip(earning_id.zip(after))))?;
            let page = reconciliation::list_matches(
                &self.state.app,
                &caller,
                MatchFilter {
                    party_id,
                    earning_id,
                },
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListMatchesResponse {
                matches: page.items.iter().map(wire::stored_match).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn list_exceptions(
        &self,
        request: Request<pb::ListExceptionsRequest>,
    ) -> Result<Response<pb::ListExceptionsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let filters = format!("party={}", req.party_id);
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, after)) = v.finish(|| size.zip(party_id.zip(after)))?;
            let (page, credits) = reconciliation::list_exceptions(
                &self.state.app,
                &caller,
                party_id,
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListExceptionsResponse {
                exceptions: page
                    .items
                    .iter()
                    .map(|x| pb::ReconciliationException {
                        credit: credits.get(&x.subject).map(wire::entry),
                        ..wire::exception(x)
                    })
                    .collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn list_realizations(
        &self,
        request: Request<pb::ListRealizationsRequest>,
    ) -> Result<Response<pb::ListRealizationsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let filters = format!("party={}", req.party_id);
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, after)) = v.finish(|| size.zip(party_id.zip(after)))?;
            let page = reconciliation::list_realizations(
                &self.state.app,
                &caller,
                party_id,
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListRealizationsResponse {
                realizations: page.items.iter().map(wire::realization).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn manual_match(
        &self,
        request: Request<pb::ManualMatchRequest>,
    ) -> Result<Response<pb::ManualMatchResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.manual_match(&caller, request.into_inner()).await?,
        ))
    }

    async fn unmatch(
        &self,
        request: Request<pb::UnmatchRequest>,
    ) -> Result<Response<pb::UnmatchResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.unmatch(&caller, request.into_inner()).await?,
        ))
    }

    async fn void_statement(
        &self,
        request: Request<pb::VoidStatementRequest>,
    ) -> Result<Response<pb::VoidStatementResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let rid = request_id(&mut v, &req.request_id);
            let id = v.required_uuid("statement_id", &req.statement_id);
            let reason = v.required_text("reason", &req.reason);
            let (rid, (id, reason)) = v.finish(|| rid.zip(id.zip(reason)))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, VOID_STATEMENT, rid, &req);
            let done = void_statement::void_statement(&self.state.app, &caller, &idem, id, &reason)
                .await?;
            ApiResult::Ok(pb::VoidStatementResponse {
                statement: Some(wire::statement(&done.statement)),
                removed: done.removed.iter().map(wire::stored_match).collect(),
                voided_step_ids: done.voided_steps.iter().map(ToString::to_string).collect(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn list_statement_revisions(
        &self,
        request: Request<pb::ListStatementRevisionsRequest>,
    ) -> Result<Response<pb::ListStatementRevisionsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("statement_id", &req.statement_id)?;
            let revisions =
                reconciliation::list_statement_revisions(&self.state.app, &caller, id).await?;
            ApiResult::Ok(pb::ListStatementRevisionsResponse {
                revisions: revisions.iter().map(crate::convert::revision).collect(),
            })
        };
        Ok(Response::new(run.await?))
    }
}
