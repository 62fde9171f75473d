//! `SearchRepatriations`: a repatriation found by a reference a person has
//! at hand (invoice reference, UETR, end-to-end id).

use repat_proto::v1 as pb;
use repat_store::{PageRequest, RepatriationSearch};
use repat_usecases::repatriations;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::validate::{Violations, uuid};
use crate::{AppState, convert, paging};

/// Longest reference accepted, in bytes (invoice references and
/// end-to-end ids are at most 35 characters in ISO 20022; room to spare).
const MAX_REFERENCE: usize = 140;

pub(crate) async fn search_repatriations(
    state: &AppState,
    caller: &Caller,
    req: pb::SearchRepatriationsRequest,
) -> ApiResult<pb::SearchRepatriationsResponse> {
    let mut v = Violations::default();
    let size = v.page_size(req.page_size);
    let party_id = v.optional_uuid("party_id", &req.party_id);
    let invoice_reference = reference(&mut v, "invoice_reference", &req.invoice_reference);
    let end_to_end_id = reference(&mut v, "end_to_end_id", &req.end_to_end_id);
    let uetr = match req.uetr.trim() {
        "" => Some(None),
        u => v.check("uetr", uuid(u)).map(Some),
    };
    if [&req.invoice_reference, &req.uetr, &req.end_to_end_id]
        .iter()
        .all(|r| r.trim().is_empty())
    {
        v.add(
            "invoice_reference",
            "give an invoice reference, a uetr or an end_to_end_id to search by",
        );
    }
    let filters = format!(
        "party={};invoice={};uetr={};e2e={}",
        req.party_id,
        req.invoice_reference.trim(),
        req.uetr.trim(),
        req.end_to_end_id.trim()
    );
    let after = paging::decode(&mut v, &req.page_token, &filters);
    let (size, (party_id, (invoice_reference, (end_to_end_id, (uetr, after))))) =
        v.finish(|| {
            size.zip(party_id.zip(invoice_reference.zip(end_to_end_id.zip(uetr.zip(after)))))
        })?;
    let search = RepatriationSearch {
        party_id,
        invoice_reference,
        uetr,
        end_to_end_id,
    };
    let page = repatriations::search_repatriations(
        &state.app,
        caller,
        search,
        PageRequest { after, size },
    )
    .await?;
    Ok(pb::SearchRepatriationsResponse {
        repatriations: page.items.iter().map(convert::repatriation).collect(),
        next_page_token: paging::next_token(page.next_after, &filters),
    })
}

/// An optional exact reference: surrounding spaces dropped, bounded.
fn reference(v: &mut Violations, field: &str, s: &str) -> Option<Option<String>> {
    match s.trim() {
        "" => Some(None),
        r if r.len() > MAX_REFERENCE => {
            v.add(
                field,
                format!("must be at most {MAX_REFERENCE} bytes, got {}", r.len()),
            );
            None
        }
        r => Some(Some(r.to_string())),
    }
}
