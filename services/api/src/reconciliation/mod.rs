//! ReconciliationService: import statements (all or nothing, once per
//! file), match credits to earnings, explain what is left open, and let a
//! person match and unmatch.
//!
//! A statement belongs to the account holder named by `party_id` in the
//! request: the caller must be allowed to write that party's records (the
//! firm itself, its bank's integrator, or an administrator).

pub(crate) mod wire;

use std::collections::HashMap;

use repat_core::money::parse_decimal;
use repat_core::party::parse_utc_offset;
use repat_core::reconcile::{Exception, Subject, Tolerances};
use repat_core::time::DHAKA;
use repat_proto::v1 as pb;
use repat_proto::v1::reconciliation_service_server::ReconciliationService;
use repat_statements::ReadOptions;
use repat_store::{
    EntryStatus, ManualMatchRequest, MatchFilter, PageRequest, StatementImport, StatementPart,
    StoredEntry,
};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use crate::auth::{Action, Caller, authorize, authorize_record, caller, list_scope};
use crate::error::ApiResult;
use crate::validate::{Violations, id_field, request_id};
use crate::{AppState, fingerprint, paging};

const IMPORT: &str = "repat.v1.ReconciliationService/ImportStatement";
const RUN: &str = "repat.v1.ReconciliationService/RunMatching";
const MANUAL_MATCH: &str = "repat.v1.ReconciliationService/ManualMatch";
const UNMATCH: &str = "repat.v1.ReconciliationService/Unmatch";
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
        authorize(caller, Action::Write(party_id))?;
        let party = self.state.repo.get_party(party_id).await?;
        let accounts = &party.details.bank_accounts;
        let options = ReadOptions {
            charset,
            accounts: accounts
                .iter()
                .map(|a| {
                    (
                        a.account_number.clone(),
                        a.utc_offset
                            .as_deref()
                            .and_then(parse_utc_offset)
                            .unwrap_or(DHAKA),
                    )
                })
                .collect(),
            default_offset: DHAKA,
        };
        // Read before storing anything: one bad entry, or one account the
        // party does not hold, refuses the file.
        let statements = repat_statements::read(format, &req.content, &options).map_err(|e| {
            let field = e.entry.map_or_else(
                || "content".to_string(),
                |i| format!("content.entries[{i}]"),
            );
            let mut v = Violations::default();
            v.add(field, e.to_string());
            v.0
        })?;
        let mut v = Violations::default();
        for (n, s) in statements.iter().enumerate() {
            if !s.account.is_empty()
                && !accounts
                    .iter()
                    .any(|a| repat_statements::same_account(&s.account, &a.account_number))
            {
                let held: Vec<&str> = accounts.iter().map(|a| a.account_number.as_str()).collect();
                v.add(
                    "content",
                    format!("statement {n} is for account {:?}, which is not among the party's registered bank accounts {held:?}", s.account),
                );
            }
        }
        v.finish(|| Some(()))?;
        let sha256 = hex::encode(Sha256::digest(&req.content));
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, IMPORT, id, &req);
        let import = StatementImport {
            party_id,
            format,
            sha256,
            statements: statements
                .into_iter()
                .map(|s| StatementPart {
                    message_id: s.message_id,
                    account: s.account,
                    entries: s.entries,
                })
                .collect(),
        };
        let mut stored = self
            .state
            .repo
            .import_statement(&idem, &import)
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
        authorize(caller, Action::Write(party_id))?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, RUN, id, &req);
        let run = self
            .state
            .repo
            .run_matching(&idem, party_id, &self.tolerances)
            .await?;
        self.notify(&run.matches).await;
        Ok(wire::run(&run))
    }

    /// Journeys a match extended have changed: their watchers hear of it.
    async fn notify(&self, matches: &[repat_store::StoredMatch]) {
        self.state
            .announce(matches.iter().filter_map(|m| m.repatriation_id).collect())
            .await;
    }

    /// Authorizes a write on the party of a statement entry.
    async fn authorize_entry(&self, caller: &Caller, credit: uuid::Uuid) -> ApiResult<uuid::Uuid> {
        let party = self.state.repo.entry_party(credit).await?;
        authorize_record(caller, Action::Read(party), "statement entry", credit)?;
        authorize(caller, Action::Write(party))?;
        Ok(party)
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
        let (id, (credit, _note)) = v.finish(|| id.zip(credit.zip(note)))?;
        self.authorize_entry(caller, credit).await?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, MANUAL_MATCH, id, &req);
        let request = ManualMatchRequest {
            credit_id: credit,
            allocations,
            tolerances: self.tolerances.clone(),
        };
        let matches = self.state.repo.manual_match(&idem, &request).await?;
        self.notify(&matches).await;
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
        let (id, (credit, _note)) = v.finish(|| id.zip(credit.zip(note)))?;
        self.authorize_entry(caller, credit).await?;
        req.request_id.clear();
        let idem = fingerprint::idempotency(caller, UNMATCH, id, &req);
        let removed = self.state.repo.unmatch(&idem, credit).await?;
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
            let s = self.state.repo.get_statement(id).await?;
            authorize_record(&caller, Action::Read(s.party_id), "statement", id)?;
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
            let party_id = match (party_id, earning_id) {
                // An earning names its party: authorize on that.
                (None, Some(e)) => {
                    let party = self.state.repo.get_earning(e).await?.details.party_id;
                    authorize_record(&caller, Action::Read(party), "earning", e)?;
                    Some(party)
                }
                (p, _) => list_scope(&caller, p)?,
            };
            let page = self
                .state
                .repo
                .list_matches(
                    &MatchFilter {
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
            let party_id = list_scope(&caller, party_id)?;
            let page = self
                .state
                .repo
                .list_exceptions(party_id, PageRequest { after, size })
                .await?;
            let credits = exception_credits(self.state.repo.as_ref(), &page.items).await?;
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
            let party_id = list_scope(&caller, party_id)?;
            let page = self
                .state
                .repo
                .list_realizations(party_id, PageRequest { after, size })
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
}

/// The credits the exceptions are about, as their statements show them.
async fn exception_credits(
    repo: &dyn repat_store::Repository,
    exceptions: &[Exception],
) -> ApiResult<HashMap<Subject, StoredEntry>> {
    let ids: Vec<uuid::Uuid> = exceptions
        .iter()
        .filter_map(|x| {
            if let Subject::Credit(c) = x.subject {
                Some(c)
            } else {
                None
            }
        })
        .collect();
    let entries = repo.statement_entries(&ids).await?;
    Ok(entries
        .into_iter()
        .map(|(id, entry)| {
            (
                Subject::Credit(id),
                StoredEntry {
                    id,
                    entry,
                    status: EntryStatus::Exception,
                },
            )
        })
        .collect())
}
