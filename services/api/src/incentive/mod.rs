//! IncentiveService: assess realized repatriations under the rule set in
//! force (stored with its version), simulate what-ifs, show the rule sets,
//! follow claims, and sum the totals exactly.

pub(crate) mod wire;

use std::sync::Arc;

use repat_core::incentive::RuleSet;
use repat_core::incentive::claim::ClaimStepKind;
use repat_core::time::dhaka_date;
use repat_proto::v1 as pb;
use repat_proto::v1::incentive_service_server::IncentiveService;
use repat_store::{AssessmentFilter, ClaimFilter, PageRequest};
use repat_usecases::assess::{self, AssessRequest, Assessed};
use repat_usecases::file_claim::{self, ClaimRequest};
use repat_usecases::incentive::{self, RulesAsked};
use repat_usecases::record_claim_step::{self, ClaimStepRequest};
use repat_usecases::rules::ActiveRules;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::auth::{Caller, caller};
use crate::error::ApiResult;
use crate::validate::{Violations, id_field, request_id};
use crate::{AppState, fingerprint, paging};

const ASSESS: &str = "repat.v1.IncentiveService/AssessRepatriation";
const FILE_CLAIM: &str = "repat.v1.IncentiveService/FileClaim";
const RECORD_CLAIM_STEP: &str = "repat.v1.IncentiveService/RecordClaimStep";
/// Most repatriations in one claim.
const MAX_CLAIM_ITEMS: usize = 1000;

pub struct IncentiveApi {
    state: AppState,
    active: Arc<ActiveRules>,
}

impl IncentiveApi {
    pub fn new(state: AppState, active: Arc<ActiveRules>) -> Self {
        IncentiveApi { state, active }
    }

    fn today() -> chrono::NaiveDate {
        dhaka_date(chrono::Utc::now())
    }

    async fn assess_repatriation(
        &self,
        caller: &Caller,
        mut req: pb::AssessRepatriationRequest,
    ) -> ApiResult<pb::Assessment> {
        let mut v = Violations::default();
        // A look (validate_only) stores nothing, so needs no request id.
        let looking = req.validate_only;
        let id = if looking && req.request_id.is_empty() {
            Some(Uuid::nil())
        } else {
            request_id(&mut v, &req.request_id)
        };
        let repatriation_id = v.required_uuid("repatriation_id", &req.repatriation_id);
        let as_of = v.optional_date("as_of", req.as_of.as_ref());
        let documents = wire::documents(&mut v, "documents", &req.documents);
        let fx_rate = if req.fx_rate.is_empty() {
            Some(None)
        } else {
            v.rate("fx_rate", &req.fx_rate).map(Some)
        };
        let (id, (rid, (as_of, (documents, fx_rate)))) =
            v.finish(|| id.zip(repatriation_id.zip(as_of.zip(documents.zip(fx_rate)))))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, ASSESS, id, &req);
        let request = AssessRequest {
            repatriation_id: rid,
            as_of,
            documents,
            fx_rate,
            validate_only: looking,
        };
        let assessed =
            assess::assess_repatriation(&self.state.app, &self.active, caller, &idem, &request)
                .await?;
        Ok(match assessed {
            Assessed::Looked {
                repatriation_id,
                party_id,
                assessment,
                case,
            } => {
                let mut looked = wire::assessment(&assessment, &case);
                looked.repatriation_id = repatriation_id.to_string();
                looked.party_id = party_id.to_string();
                looked
            }
            Assessed::Stored(stored) => wire::stored_assessment(&stored),
        })
    }

    async fn file(&self, caller: &Caller, mut req: pb::FileClaimRequest) -> ApiResult<pb::Claim> {
        let mut v = Violations::default();
        let id = request_id(&mut v, &req.request_id);
        let party_id = v.required_uuid("party_id", &req.party_id);
        let filed_at = v.event_time("file_time", req.file_time.as_ref(), chrono::Utc::now());
        let mut ids = Vec::with_capacity(req.repatriation_ids.len());
        match req.repatriation_ids.len() {
            0 => v.add("repatriation_ids", "name at least one repatriation"),
            n if n > MAX_CLAIM_ITEMS => v.add(
                "repatriation_ids",
                format!("{n} repatriations; at most {MAX_CLAIM_ITEMS} in one claim"),
            ),
            _ => {}
        }
        for (n, r) in req.repatriation_ids.iter().enumerate() {
            let field = format!("repatriation_ids[{n}]");
            if let Some(rid) = v.required_uuid(&field, r) {
                if ids.contains(&rid) {
                    v.add(field, format!("repeats {rid}"));
                }
                ids.push(rid);
            }
        }
        let (id, (party_id, filed_at)) = v.finish(|| id.zip(party_id.zip(filed_at)))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, FILE_CLAIM, id, &req);
        let request = ClaimRequest {
            party_id,
            repatriation_ids: ids,
            filed_at,
        };
        let claim = file_claim::file_claim(&self.state.app, caller, &idem, &request).await?;
        Ok(wire::claim(&claim))
    }

    async fn record_step(
        &self,
        caller: &Caller,
        mut req: pb::RecordClaimStepRequest,
    ) -> ApiResult<pb::Claim> {
        let mut v = Violations::default();
        let id = request_id(&mut v, &req.request_id);
        let claim_id = v.required_uuid("claim_id", &req.claim_id);
        let kind = match wire::claim_step_kind_from(req.kind) {
            Some(ClaimStepKind::Filed) => {
                v.add(
                    "kind",
                    "a claim is filed with FileClaim; record AUDITED, DISBURSED or REJECTED here",
                );
                None
            }
            None => {
                v.add("kind", "must be AUDITED, DISBURSED or REJECTED");
                None
            }
            k => k,
        };
        let occurred_at = v.event_time("occur_time", req.occur_time.as_ref(), chrono::Utc::now());
        let reason = v.text("reason", &req.reason);
        if kind == Some(ClaimStepKind::Rejected) && req.reason.trim().is_empty() {
            v.add("reason", "is required for REJECTED");
        }
        let amount = wire::optional_bdt(&mut v, "amount", req.amount.as_ref());
        if req.amount.is_some() && kind.is_some_and(|k| k != ClaimStepKind::Disbursed) {
            v.add("amount", "is only for DISBURSED");
        }
        let (id, (claim_id, (kind, (occurred_at, (reason, amount))))) =
            v.finish(|| id.zip(claim_id.zip(kind.zip(occurred_at.zip(reason.zip(amount))))))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, RECORD_CLAIM_STEP, id, &req);
        let request = ClaimStepRequest {
            claim_id,
            kind,
            occurred_at,
            reason: (!reason.is_empty()).then_some(reason),
            amount,
        };
        let claim =
            record_claim_step::record_claim_step(&self.state.app, caller, &idem, &request).await?;
        Ok(wire::claim(&claim))
    }
}

#[tonic::async_trait]
impl IncentiveService for IncentiveApi {
    async fn assess_repatriation(
        &self,
        request: Request<pb::AssessRepatriationRequest>,
    ) -> Result<Response<pb::Assessment>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.assess_repatriation(&caller, request.into_inner())
                .await?,
        ))
    }

    async fn get_assessment(
        &self,
        request: Request<pb::GetAssessmentRequest>,
    ) -> Result<Response<pb::Assessment>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("id", &req.id)?;
            let a = incentive::get_assessment(&self.state.app, &caller, id).await?;
            ApiResult::Ok(wire::stored_assessment(&a))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_assessments(
        &self,
        request: Request<pb::ListAssessmentsRequest>,
    ) -> Result<Response<pb::ListAssessmentsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let repatriation_id = v.optional_uuid("repatriation_id", &req.repatriation_id);
            let filters = format!(
                "party={};repatriation={}",
                req.party_id, req.repatriation_id
            );
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, (repatriation_id, after))) =
                v.finish(|| size.zip(party_id.zip(repatriation_id.zip(after))))?;
            let filter = AssessmentFilter {
                party_id,
                repatriation_id,
            };
            let page = incentive::list_assessments(
                &self.state.app,
                &caller,
                filter,
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListAssessmentsResponse {
                assessments: page.items.iter().map(wire::stored_assessment).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn simulate_assessment(
        &self,
        request: Request<pb::SimulateAssessmentRequest>,
    ) -> Result<Response<pb::Assessment>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let case = wire::decode_inputs(&mut v, req.inputs.as_ref(), Self::today());
            let inline = if req.rule_set_toml.is_empty() {
                Some(None)
            } else if !req.rule_set_version.is_empty() {
                v.add(
                    "rule_set_toml",
                    "give either rule_set_version or rule_set_toml, not both",
                );
                None
            } else {
                v.check("rule_set_toml", RuleSet::from_toml(&req.rule_set_toml))
                    .map(Some)
            };
            let (case, inline) = v.finish(|| case.zip(inline))?;
            let rules = match inline {
                Some(rules) => RulesAsked::Inline(rules),
                None => RulesAsked::Version(req.rule_set_version.clone()),
            };
            let assessment = incentive::simulate_assessment(
                &self.state.app,
                &self.active,
                &caller,
                &case,
                rules,
            )
            .await?;
            ApiResult::Ok(wire::assessment(&assessment, &case))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_rule_sets(
        &self,
        request: Request<pb::ListRuleSetsRequest>,
    ) -> Result<Response<pb::ListRuleSetsResponse>, Status> {
        let caller = caller(&request)?;
        let run = async {
            let sets = incentive::list_rule_sets(&self.state.app, &self.active, &caller).await?;
            ApiResult::Ok(pb::ListRuleSetsResponse {
                rule_sets: sets
                    .iter()
                    .map(|(s, in_force)| wire::rule_set(s, *in_force, None))
                    .collect(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn get_rule_set(
        &self,
        request: Request<pb::GetRuleSetRequest>,
    ) -> Result<Response<pb::RuleSet>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let (stored, rules, in_force) =
                incentive::get_rule_set(&self.state.app, &self.active, &caller, &req.version)
                    .await?;
            ApiResult::Ok(wire::rule_set(&stored, in_force, Some(&rules)))
        };
        Ok(Response::new(run.await?))
    }

    async fn file_claim(
        &self,
        request: Request<pb::FileClaimRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.file(&caller, request.into_inner()).await?,
        ))
    }

    async fn record_claim_step(
        &self,
        request: Request<pb::RecordClaimStepRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.record_step(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_claim(
        &self,
        request: Request<pb::GetClaimRequest>,
    ) -> Result<Response<pb::Claim>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("id", &req.id)?;
            let claim = incentive::get_claim(&self.state.app, &caller, id).await?;
            ApiResult::Ok(wire::claim(&claim))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_claims(
        &self,
        request: Request<pb::ListClaimsRequest>,
    ) -> Result<Response<pb::ListClaimsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let status = match req.status {
                0 => Some(None),
                s => {
                    let status = wire::claim_status_from(s);
                    if status.is_none() {
                        v.add("status", format!("unknown claim status {s}"));
                    }
                    status.map(Some)
                }
            };
            let filters = format!("party={};status={}", req.party_id, req.status);
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, (status, after))) =
                v.finish(|| size.zip(party_id.zip(status.zip(after))))?;
            let page = incentive::list_claims(
                &self.state.app,
                &caller,
                ClaimFilter { party_id, status },
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListClaimsResponse {
                claims: page.items.iter().map(wire::claim).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn get_incentive_totals(
        &self,
        request: Request<pb::GetIncentiveTotalsRequest>,
    ) -> Result<Response<pb::GetIncentiveTotalsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            incentive_totals(&self.state, &caller, &request.into_inner()).await?,
        ))
    }
}

/// Incentive assessed, claimed and disbursed by month, programme and party,
/// summed exactly; the caller sees what its role allows. Shared by
/// IncentiveService and MetricsService.
pub(crate) async fn incentive_totals(
    state: &AppState,
    caller: &Caller,
    req: &pb::GetIncentiveTotalsRequest,
) -> ApiResult<pb::GetIncentiveTotalsResponse> {
    let mut v = Violations::default();
    let start = v.optional_date("start_month", req.start_month.as_ref());
    let end = v.optional_date("end_month", req.end_month.as_ref());
    let party_id = v.optional_uuid("party_id", &req.party_id);
    let (start, (end, party_id)) = v.finish(|| start.zip(end.zip(party_id)))?;
    let totals = incentive::incentive_totals(&state.app, caller, party_id, start, end).await?;
    Ok(pb::GetIncentiveTotalsResponse {
        assessed: Some(wire::bdt(totals.assessed)),
        claimed: Some(wire::bdt(totals.claimed)),
        disbursed: Some(wire::bdt(totals.disbursed)),
        totals: totals.by_month.iter().map(wire::total).collect(),
    })
}
