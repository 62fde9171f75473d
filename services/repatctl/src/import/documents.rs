//! `documents import FILE.csv`: one document a row, held by `party` and
//! attached to it, to one of its earnings (`earning`: the invoice
//! reference or the earning's id) or to one of its repatriations
//! (`repatriation`: a key of the repatriations' ids file, or an id). A
//! row is identified by its party, kind and reference.

use std::collections::HashMap;
use std::path::Path;

use futures::StreamExt;
use repat_proto::v1 as pb;
use tonic::Code;

use super::repatriations::{Invoices, earnings_of};
use super::{Prepared, Resolver, column_of, request_id};
use crate::client::{Repat, describe};
use crate::output::Report;
use crate::wire::{parse_date, parse_enum};

pub const REQUIRED: &[&str] = &["party", "kind", "reference", "issue_date", "issuer"];
pub const OPTIONAL: &[&str] = &[
    "earning",
    "repatriation",
    "valid_from",
    "valid_until",
    "sha256",
];

const COLUMNS: &[(&str, &str)] = &[
    ("document.party_id", "party"),
    ("document.earning_id", "earning"),
    ("document.repatriation_id", "repatriation"),
    ("document.content_sha256", "sha256"),
];

pub fn document_kind(s: &str) -> Result<pb::DocumentKind, String> {
    parse_enum(
        s,
        "DOCUMENT_KIND_",
        "document kind",
        pb::DocumentKind::from_str_name,
        &[
            "CONTRACT_OR_WORK_ORDER",
            "INVOICE",
            "PROCEEDS_REALIZATION_CERTIFICATE",
            "ASSOCIATION_CERTIFICATE",
            "MARKETPLACE_EARNINGS_STATEMENT",
        ],
    )
}

pub async fn run(
    repat: &Repat,
    path: &Path,
    party_ids: Option<&Path>,
    repatriation_ids: Option<&Path>,
    no_progress: bool,
) -> anyhow::Result<(Report, bool)> {
    let parties = Resolver::new("party", party_ids)?;
    let repatriations = Resolver::new("repatriation", repatriation_ids)?;
    // The earnings of the parties whose rows name one, by invoice reference.
    let mut named = Vec::new();
    super::read(path, REQUIRED, OPTIONAL, |row| {
        if row.get("earning").is_some()
            && let Some(Ok(id)) = row.get("party").map(|p| parties.resolve(p))
        {
            named.push(id);
        }
        None::<Prepared<()>>
    })?;
    named.sort();
    named.dedup();
    let listed: Vec<(String, Result<Invoices, tonic::Status>)> = futures::stream::iter(named)
        .map(|party| async move { (party.clone(), earnings_of(repat, &party).await) })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut invoices: HashMap<String, Invoices> = HashMap::new();
    for (party, listing) in listed {
        match listing {
            Ok(refs) => {
                invoices.insert(party, refs);
            }
            Err(status)
                if matches!(
                    status.code(),
                    Code::NotFound | Code::PermissionDenied | Code::InvalidArgument
                ) => {}
            Err(status) => anyhow::bail!(
                "listing the earnings of party {party}: {}",
                describe(&status)
            ),
        }
    }

    let prepared = super::read(path, REQUIRED, OPTIONAL, |row| {
        let party = row.required("party").to_string();
        let party_id = row.parse_required("party", |p| parties.resolve(p));
        let kind = row.parse_required("kind", document_kind);
        let reference = row.required("reference").to_string();
        let issue_date = row.parse_required("issue_date", parse_date);
        let issuer = row.required("issuer").to_string();
        let valid_from = row.parse("valid_from", parse_date);
        let valid_until = row.parse("valid_until", parse_date);
        let refs = party_id.as_ref().and_then(|p| invoices.get(p));
        let earning_id = row
            .parse("earning", |e| {
                refs.and_then(|r| r.get(e))
                    .map(|(id, _)| id.clone())
                    .ok_or_else(|| {
                        format!("no earning of this party has the invoice reference (or id) {e:?}")
                    })
            })
            .unwrap_or_default();
        let repatriation_id = row
            .parse("repatriation", |r| repatriations.resolve(r))
            .unwrap_or_default();
        if row.get("earning").is_some() && row.get("repatriation").is_some() {
            row.error(
                "repatriation",
                "give an earning or a repatriation, not both",
            );
        }
        let (party_id, kind, issue_date) = (party_id?, kind?, issue_date?);
        let id = request_id("document", &[&party_id, kind.as_str_name(), &reference]);
        let key = format!(
            "{party}/{}/{reference}",
            kind.as_str_name().trim_start_matches("DOCUMENT_KIND_")
        );
        Some(Prepared {
            line: row.line,
            key,
            request: pb::CreateDocumentRequest {
                request_id: id.to_string(),
                document: Some(pb::Document {
                    party_id,
                    earning_id,
                    repatriation_id,
                    kind: kind as i32,
                    reference,
                    issue_date: Some(issue_date),
                    issuer,
                    valid_from,
                    valid_until,
                    content_sha256: row.get("sha256").unwrap_or_default().to_string(),
                    ..Default::default()
                }),
            },
        })
    })?;
    let bar = super::progress(prepared.ready.len(), no_progress);
    let column = |path: &str, _: Code| column_of(path, COLUMNS);
    let client = repat.documents();
    let sent = super::send_each(prepared.ready, &bar, &column, |request| {
        let mut client = client.clone();
        async move {
            client
                .create_document(request)
                .await
                .map(|r| r.into_inner().id)
        }
    })
    .await;
    bar.finish_and_clear();
    super::finish(path, prepared.rows, prepared.errors, sent, true)
}
