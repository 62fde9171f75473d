//! IncentiveService: assess realized repatriations under the rule set in
//! force (stored with its version), simulate what-ifs, show the rule sets,
//! follow claims, and sum the totals exactly.

pub(crate) mod wire;

use std::sync::Arc;

use repat_core::incentive::claim::ClaimStepKind;
use repat_core::incentive::totals::sum_by_month;
use repat_core::incentive::{JourneyFacts, RuleSet, Supplied, assess, case_of};
use repat_core::time::dhaka_date;
use repat_proto::v1 as pb;
use repat_proto::v1::incentive_service_server::IncentiveService;
use repat_store::{
    AssessmentFilter, ClaimFilter, ClaimRequest, ClaimStepRequest, PageRequest, Repository,
    StoredAssessment, StoredRuleSet,
};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::auth::{Action, authorize, authorize_record, caller, list_scope};
use crate::error::{ApiError, ApiResult};
use crate::validate::{Violations, id_field, request_id};
use crate::{AppState, fingerprint, paging};

const ASSESS: &str = "repat.v1.IncentiveService/AssessRepatriation";
const FILE_CLAIM: &str = "repat.v1.IncentiveService/FileClaim";
const RECORD_CLAIM_STEP: &str = "repat.v1.IncentiveService/RecordClaimStep";
/// Most repatriations in one claim.
const MAX_CLAIM_ITEMS: usize = 1000;

/// The rule set the service ships with (rules/bangladesh.toml).
pub const SHIPPED_RULES: &str = repat_core::incentive::rules::BANGLADESH;

/// The rule set new assessments are made under, as loaded and stored.
#[derive(Debug, Clone)]
pub struct ActiveRules {
    pub rules: RuleSet,
    pub stored: StoredRuleSet,
}

impl ActiveRules {
    /// Parses `source` without storing it (for `--check-config`).
    pub fn check(source: &str) -> Result<(), String> {
        RuleSet::from_toml(source)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Parses `source` and stores it under its version (refused if that
    /// version is already stored with other content).
    pub async fn load(repo: &dyn Repository, source: &str) -> Result<ActiveRules, String> {
        let rules = RuleSet::from_toml(source).map_err(|e| e.to_string())?;
        let stored = StoredRuleSet {
            version: rules.version.clone(),
            name: rules.name.clone(),
            sha256: hex::encode(Sha256::digest(source.as_bytes())),
            source_toml: source.to_string(),
            load_time: chrono::Utc::now(),
        };
        let stored = repo
            .register_rule_set(&stored)
            .await
            .map_err(|e| e.to_string())?;
        Ok(ActiveRules { rules, stored })
    }
}

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

    /// A stored rule set, parsed.
    async fn rule_set(&self, version: &str) -> ApiResult<(StoredRuleSet, RuleSet)> {
        if version.is_empty() || version == self.active.stored.version {
            return Ok((self.active.stored.clone(), self.active.rules.clone()));
        }
        let stored = self.state.repo.get_rule_set(version).await?;
        let rules = RuleSet::from_toml(&stored.source_toml).map_err(|e| {
            ApiError::Store(repat_store::StoreError::Internal(format!(
                "stored rule set {version} no longer parses: {e}"
            )))
        })?;
        Ok((stored, rules))
    }

    async fn assess_repatriation(
        &self,
        caller: &crate::auth::Caller,
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
        let supplied = wire::documents(&mut v, "documents", &req.documents);
        let fx_rate = if req.fx_rate.is_empty() {
            Some(None)
        } else {
            v.rate("fx_rate", &req.fx_rate).map(Some)
        };
        let (id, (rid, (as_of, (supplied, fx_rate)))) =
            v.finish(|| id.zip(repatriation_id.zip(as_of.zip(supplied.zip(fx_rate)))))?;
        self.state
            .authorize_repatriation(
                caller,
                rid,
                if looking { Action::Read } else { Action::Write },
            )
            .await?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, ASSESS, id, &req);

        let journey = self.state.repo.get_journey(rid).await?;
        let party_id = journey.repatriation.details.party_id;
        let history = self.state.repo.party_history(party_id).await?;
        let documents = self.state.repo.party_documents(party_id).await?;
        let party = history.party;
        let mut earnings = Vec::with_capacity(journey.repatriation.details.allocations.len());
        for a in &journey.repatriation.details.allocations {
            earnings.push(self.state.repo.get_earning(a.earning_id).await?);
        }
        let rules = &self.active.rules;
        let facts = JourneyFacts {
            repatriation_id: rid,
            party: &party,
            party_facts: &history.facts,
            earnings: &earnings,
            steps: &journey.steps,
            documents: &documents,
        };
        let case = case_of(
            rules,
            &facts,
            &Supplied {
                documents: supplied,
                fx_rate,
            },
            as_of.unwrap_or_else(Self::today),
        )
        .ok_or_else(|| {
            ApiError::Store(repat_store::StoreError::Internal(format!(
                "repatriation {rid} pays no earning"
            )))
        })?;
        let field = if case.fx_rate.is_some() && req.fx_rate.is_empty() {
            "repatriation_id"
        } else {
            "fx_rate"
        };
        let assessment = assess(rules, &case).map_err(|e| overflow(field, e))?;
        if looking {
            let mut looked = wire::assessment(&assessment, &case);
            looked.repatriation_id = rid.to_string();
            looked.party_id = party.id.to_string();
            return Ok(looked);
        }
        let draft = StoredAssessment {
            id: Uuid::nil(),
            repatriation_id: rid,
            party_id: party.id,
            case,
            assessment,
            assess_time: chrono::Utc::now(),
        };
        let stored = self.state.repo.save_assessment(&idem, &draft).await?;
        Ok(wire::stored_assessment(&stored))
    }

    async fn file(
        &self,
        caller: &crate::auth::Caller,
        mut req: pb::FileClaimRequest,
    ) -> ApiResult<pb::Claim> {
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
        authorize(caller, Action::Write(party_id))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, FILE_CLAIM, id, &req);
        let claim = self
            .state
            .repo
            .file_claim(
                &idem,
                &ClaimRequest {
                    party_id,
                    repatriation_ids: ids.clone(),
                    filed_at,
                },
            )
            .await?;
        self.state.announce(ids).await;
        Ok(wire::claim(&claim))
    }

    async fn record_step(
        &self,
        caller: &crate::auth::Caller,
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
        let current = self.state.repo.get_claim(claim_id).await?;
        authorize_record(caller, Action::Read(current.party_id), "claim", claim_id)?;
        authorize(caller, Action::Settle(current.party_id))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, RECORD_CLAIM_STEP, id, &req);
        let request = ClaimStepRequest {
            claim_id,
            kind,
            occurred_at,
            reason: (!reason.is_empty()).then_some(reason),
            amount,
        };
        let claim = self.state.repo.record_claim_step(&idem, &request).await?;
        self.state
            .announce(claim.items.iter().map(|i| i.repatriation_id).collect())
            .await;
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
            let a = self.state.repo.get_assessment(id).await?;
            authorize_record(&caller, Action::Read(a.party_id), "assessment", id)?;
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
            let party_id = match (party_id, repatriation_id) {
                // A repatriation names its party: authorize on that.
                (None, Some(rid)) => Some(
                    self.state
                        .authorize_repatriation(&caller, rid, Action::Read)
                        .await?,
                ),
                (p, _) => list_scope(&caller, p)?,
            };
            let filter = AssessmentFilter {
                party_id,
                repatriation_id,
            };
            let page = self
                .state
                .repo
                .list_assessments(&filter, PageRequest { after, size })
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
        // Any authenticated caller may ask a what-if: it reads and stores nothing.
        let _caller = caller(&request)?;
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
                Some(rules) => rules,
                None => self.rule_set(&req.rule_set_version).await?.1,
            };
            let assessment =
                assess(&rules, &case).map_err(|e| overflow("inputs.net_credited", e))?;
            ApiResult::Ok(wire::assessment(&assessment, &case))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_rule_sets(
        &self,
        request: Request<pb::ListRuleSetsRequest>,
    ) -> Result<Response<pb::ListRuleSetsResponse>, Status> {
        let _caller = caller(&request)?;
        let run = async {
            let sets = self.state.repo.list_rule_sets().await?;
            let active = &self.active.stored.version;
            ApiResult::Ok(pb::ListRuleSetsResponse {
                rule_sets: sets
                    .iter()
                    .map(|s| wire::rule_set(s, &s.version == active, None))
                    .collect(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn get_rule_set(
        &self,
        request: Request<pb::GetRuleSetRequest>,
    ) -> Result<Response<pb::RuleSet>, Status> {
        let _caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let (stored, rules) = self.rule_set(&req.version).await?;
            ApiResult::Ok(wire::rule_set(
                &stored,
                stored.version == self.active.stored.version,
                Some(&rules),
            ))
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
            let claim = self.state.repo.get_claim(id).await?;
            authorize_record(&caller, Action::Read(claim.party_id), "claim", id)?;
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
            let party_id = list_scope(&caller, party_id)?;
            let page = self
                .state
                .repo
                .list_claims(
                    &ClaimFilter { party_id, status },
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
    caller: &crate::auth::Caller,
    req: &pb::GetIncentiveTotalsRequest,
) -> ApiResult<pb::GetIncentiveTotalsResponse> {
    let mut v = Violations::default();
    let start = v.optional_date("start_month", req.start_month.as_ref());
    let end = v.optional_date("end_month", req.end_month.as_ref());
    let party_id = v.optional_uuid("party_id", &req.party_id);
    let (start, (end, party_id)) = v.finish(|| start.zip(end.zip(party_id)))?;
    let party_id = list_scope(caller, party_id)?;
    let ledger = state.repo.incentive_ledger(party_id).await?;
    let totals = sum_by_month(&ledger, start, end);
    let sum = |f: fn(&repat_core::incentive::totals::Total) -> Decimal| {
        wire::bdt(totals.iter().map(f).sum())
    };
    Ok(pb::GetIncentiveTotalsResponse {
        assessed: Some(sum(|t| t.assessed)),
        claimed: Some(sum(|t| t.claimed)),
        disbursed: Some(sum(|t| t.disbursed)),
        totals: totals.iter().map(wire::total).collect(),
    })
}

/// An assessment whose figures cannot be computed exactly is refused on
/// the input that made them so large.
fn overflow(field: &str, e: repat_core::incentive::Overflow) -> ApiError {
    ApiError::Invalid(vec![tonic_types::FieldViolation::new(field, e.to_string())])
}
