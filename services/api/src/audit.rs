//! AuditService: the trail of every change, the check of its chain, and
//! its signed checkpoints.

use repat_core::audit::AuditEntry;
use repat_core::audit::checkpoint::CheckpointKey;
use repat_proto::v1 as pb;
use repat_proto::v1::audit_service_server::AuditService;
use repat_store::{AuditFilter, PageRequest};
use repat_usecases::audit;
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::error::ApiResult;
use crate::validate::Violations;
use crate::{AppState, checkpoints, convert, paging};

pub struct AuditApi {
    state: AppState,
    /// Checks the checkpoints' signatures: the public half of the key the
    /// server signs them with.
    checkpoint_key: Option<CheckpointKey>,
}

impl AuditApi {
    pub fn new(state: AppState) -> Self {
        AuditApi {
            state,
            checkpoint_key: None,
        }
    }

    /// The same service, checking checkpoints with `key`.
    pub fn with_checkpoint_key(self, key: Option<CheckpointKey>) -> Self {
        AuditApi {
            checkpoint_key: key,
            ..self
        }
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
        let req = request.into_inner();
        let run = async {
            let trail = audit::trail(&self.state.app, &caller)?;
            checkpoints::verify(trail.as_ref(), self.checkpoint_key.as_ref(), &req).await
        };
        Ok(Response::new(run.await?))
    }

    async fn list_audit_checkpoints(
        &self,
        request: Request<pb::ListAuditCheckpointsRequest>,
    ) -> Result<Response<pb::ListAuditCheckpointsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            audit::permit(&caller)?;
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let after = paging::decode(&mut v, &req.page_token, "checkpoints");
            let (size, after) = v.finish(|| size.zip(after))?;
            let page = audit::list_audit_checkpoints(
                &self.state.app,
                &caller,
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListAuditCheckpointsResponse {
                checkpoints: page.items.iter().map(checkpoints::to_wire).collect(),
                next_page_token: paging::next_token(page.next_after, "checkpoints"),
                key_id: self
                    .checkpoint_key
                    .as_ref()
                    .map(|k| k.id().to_string())
                    .unwrap_or_default(),
            })
        };
        Ok(Response::new(run.await?))
    }
}
