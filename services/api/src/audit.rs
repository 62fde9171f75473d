//! AuditService: the trail of every change, and the check of its chain.

use repat_core::audit::{AuditEntry, ChainVerifier};
use repat_proto::v1 as pb;
use repat_proto::v1::audit_service_server::AuditService;
use repat_store::{AuditFilter, PageRequest};
use tonic::{Request, Response, Status};

use crate::auth::{Action, authorize, caller};
use crate::error::ApiResult;
use crate::validate::Violations;
use crate::{AppState, convert, paging};

/// Entries read per round trip while verifying.
const VERIFY_PAGE: u32 = 5000;

pub struct AuditApi {
    state: AppState,
}

impl AuditApi {
    pub fn new(state: AppState) -> Self {
        AuditApi { state }
    }
}

fn entry(e: &AuditEntry) -> pb::AuditEntry {
    let r = &e.record;
    pb::AuditEntry {
        sequence: r.sequence,
        time: Some(convert::timestamp(r.time)),
        subject: r.subject.clone(),
        role: r.role.clone(),
        method: r.method.clone(),
        resource: r.resource.clone(),
        request_hash: r.request_hash.clone(),
        request_id: r.request_id.to_string(),
        previous_hash: e.previous_hash.clone(),
        hash: e.hash.clone(),
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            authorize(&caller, Action::Audit)?;
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let far = chrono::Utc::now();
            let start = req
                .start_time
                .as_ref()
                .map(|t| v.event_time("start_time", Some(t), far));
            let end = req
                .end_time
                .as_ref()
                .map(|t| v.event_time("end_time", Some(t), far));
            let filters = format!(
                "subject={};method={};start={:?};end={:?}",
                req.subject, req.method, req.start_time, req.end_time
            );
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, after) = v.finish(|| size.zip(after))?;
            let filter = AuditFilter {
                subject: Some(req.subject.clone()).filter(|s| !s.is_empty()),
                method: Some(req.method.clone()).filter(|s| !s.is_empty()),
                start: start.flatten(),
                end: end.flatten(),
            };
            let page = self
                .state
                .repo
                .list_audit(&filter, PageRequest { after, size })
                .await?;
            ApiResult::Ok(pb::ListAuditEntriesResponse {
                entries: page.items.iter().map(entry).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::VerifyAuditChainResponse>, Status> {
        let caller = caller(&request)?;
        let run = async {
            authorize(&caller, Action::Audit)?;
            let mut verifier = ChainVerifier::default();
            let mut after = 0;
            loop {
                let page = self.state.repo.audit_chain(after, VERIFY_PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.record.sequence;
                for e in &page {
                    if let Err(broken) = verifier.check(e) {
                        return ApiResult::Ok(pb::VerifyAuditChainResponse {
                            intact: false,
                            entries_checked: verifier.checked(),
                            first_broken_sequence: broken.sequence,
                            reason: broken.reason,
                            head_hash: String::new(),
                        });
                    }
                }
            }
            ApiResult::Ok(pb::VerifyAuditChainResponse {
                intact: true,
                entries_checked: verifier.checked(),
                first_broken_sequence: 0,
                reason: String::new(),
                head_hash: verifier.head().to_string(),
            })
        };
        Ok(Response::new(run.await?))
    }
}
