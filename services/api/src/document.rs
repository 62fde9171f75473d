//! DocumentService: the documents firms hold, recorded against a party,
//! an earning or a repatriation, for the incentive rules to read.

use repat_core::document::{Attachment, NewDocument, is_sha256_hex};
use repat_proto::v1 as pb;
use repat_proto::v1::document_service_server::DocumentService;
use repat_store::{DocumentFilter, PageRequest};
use repat_usecases::{create_document, documents};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::auth::caller;
use crate::error::ApiResult;
use crate::validate::{Violations, id_field, request_id};
use crate::{AppState, convert, fingerprint, paging};

const CREATE: &str = "repat.v1.DocumentService/CreateDocument";

pub struct DocumentApi {
    state: AppState,
}

impl DocumentApi {
    pub fn new(state: AppState) -> Self {
        DocumentApi { state }
    }
}

/// The record a document names: an earning, a repatriation, or else its
/// party, which must then be given.
fn decode_attachment(
    v: &mut Violations,
    field: &str,
    party_id: &str,
    earning_id: &str,
    repatriation_id: &str,
) -> Option<(Option<Uuid>, Attachment)> {
    let party = v.optional_uuid(&format!("{field}party_id"), party_id);
    let earning = v.optional_uuid(&format!("{field}earning_id"), earning_id);
    let repatriation = v.optional_uuid(&format!("{field}repatriation_id"), repatriation_id);
    let (party, (earning, repatriation)) = party.zip(earning.zip(repatriation))?;
    match (party, earning, repatriation) {
        (_, Some(_), Some(_)) => {
            v.add(
                format!("{field}repatriation_id"),
                "give an earning or a repatriation, not both",
            );
            None
        }
        (_, Some(e), None) => Some((party, Attachment::Earning(e))),
        (_, None, Some(r)) => Some((party, Attachment::Repatriation(r))),
        (Some(_), None, None) => Some((party, Attachment::Party)),
        (None, None, None) => {
            v.add(
                format!("{field}party_id"),
                "is required when neither earning_id nor repatriation_id is given",
            );
            None
        }
    }
}

fn decode_document(v: &mut Violations, d: Option<&pb::Document>) -> Option<NewDocument> {
    let Some(d) = d else {
        v.add("document", "is required");
        return None;
    };
    let attachment = decode_attachment(
        v,
        "document.",
        &d.party_id,
        &d.earning_id,
        &d.repatriation_id,
    );
    let kind = convert::document_kind_from(d.kind);
    if kind.is_none() {
        v.add(
            "document.kind",
            "must be a DocumentKind such as DOCUMENT_KIND_CONTRACT_OR_WORK_ORDER",
        );
    }
    let reference = v.required_text("document.reference", &d.reference);
    let issue_date = v.date("document.issue_date", d.issue_date.as_ref());
    let issuer = v.required_text("document.issuer", &d.issuer);
    let valid_from = v.optional_date("document.valid_from", d.valid_from.as_ref());
    let valid_until = v.optional_date("document.valid_until", d.valid_until.as_ref());
    if let (Some(Some(from)), Some(Some(until))) = (valid_from, valid_until)
        && until < from
    {
        v.add(
            "document.valid_until",
            format!("{until} is before valid_from {from}"),
        );
    }
    let sha = d.content_sha256.to_ascii_lowercase();
    let content_sha256 = match sha.as_str() {
        "" => Some(None),
        s if is_sha256_hex(s) => Some(Some(sha.clone())),
        _ => {
            v.add(
                "document.content_sha256",
                "must be a SHA-256 as 64 hexadecimal digits",
            );
            None
        }
    };
    let (party_id, attached_to) = attachment?;
    Some(NewDocument {
        // Resolved from the record once the caller is authorized.
        party_id: party_id.unwrap_or_default(),
        attached_to,
        kind: kind?,
        reference: reference?,
        issue_date: issue_date?,
        issuer: issuer?,
        valid_from: valid_from?,
        valid_until: valid_until?,
        content_sha256: content_sha256?,
    })
}

#[tonic::async_trait]
impl DocumentService for DocumentApi {
    async fn create_document(
        &self,
        request: Request<pb::CreateDocumentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let id = request_id(&mut v, &req.request_id);
            let document = decode_document(&mut v, req.document.as_ref());
            let (id, document) = v.finish(|| id.zip(document))?;
            let named = (!document.party_id.is_nil()).then_some(document.party_id);
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, CREATE, id, &req);
            let stored =
                create_document::create_document(&self.state.app, &caller, &idem, &document, named)
                    .await?;
            ApiResult::Ok(convert::document(&stored))
        };
        Ok(Response::new(run.await?))
    }

    async fn get_document(
        &self,
        request: Request<pb::GetDocumentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = id_field("id", &req.id)?;
            let document = documents::get_document(&self.state.app, &caller, id).await?;
            ApiResult::Ok(convert::document(&document))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_documents(
        &self,
        request: Request<pb::ListDocumentsRequest>,
    ) -> Result<Response<pb::ListDocumentsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let earning_id = v.optional_uuid("earning_id", &req.earning_id);
            let repatriation_id = v.optional_uuid("repatriation_id", &req.repatriation_id);
            let kind = match req.kind {
                0 => Some(None),
                k => {
                    let kind = convert::document_kind_from(k);
                    if kind.is_none() {
                        v.add("kind", format!("unknown document kind {k}"));
                    }
                    kind.map(Some)
                }
            };
            let filters = format!(
                "party={};earning={};repatriation={};kind={}",
                req.party_id, req.earning_id, req.repatriation_id, req.kind
            );
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, (earning_id, (repatriation_id, (kind, after))))) =
                v.finish(|| {
                    size.zip(party_id.zip(earning_id.zip(repatriation_id.zip(kind.zip(after)))))
                })?;
            let filter = DocumentFilter {
                party_id,
                earning_id,
                repatriation_id,
                kind,
            };
            let page = documents::list_documents(
                &self.state.app,
                &caller,
                filter,
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListDocumentsResponse {
                documents: page.items.iter().map(convert::document).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }
}
