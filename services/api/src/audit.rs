//! AuditService: the trail of every change, and the check of its chain.

use repat_core::audit::AuditEntry;
use repat_proto::v1 as pb;
use repat_proto::v1::audit_service_server::AuditService;
use repat_store::{AuditFilter, PageRequest};
use repat_usecases::audit;
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::error::ApiResult;
use crate::validate::Violations;
use crate::{AppState, convert, paging};

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
            audit::permit(&caller)?;
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
            let page = audit::list_audit_entries(
                &self.state.app,
                &caller,
                &filter,
                PageRequest { after, size },
            )
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
            let check = audit::verify_audit_chain(&self.state.app, &caller).await?;
            let intact = check.broken.is_none();
            let (first_broken_sequence, reason) = check.broken.unwrap_or_default();
            ApiResult::Ok(pb::VerifyAuditChainResponse {
                intact,
                entries_checked: check.entries_checked,
                first_broken_sequence,
                reason,
                head_hash: check.head_hash,
            })
        };
        Ok(Response::new(run.await?))
    }
}
