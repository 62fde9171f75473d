//! Documents: record one, list them with the record each belongs to.

use repat_proto::v1 as pb;
use sha2::{Digest, Sha256};

use crate::cli::{DocumentArgs, DocumentKindArg};
use crate::client::{Repat, in_flag_terms, with_retry};
use crate::names::{Names, optional_party, party_id};
use crate::output::{Cell, Report, text};

use crate::wire::{date, enum_name, parse_date};

pub fn document_kind(k: DocumentKindArg) -> pb::DocumentKind {
    match k {
        DocumentKindArg::ContractOrWorkOrder => pb::DocumentKind::ContractOrWorkOrder,
        DocumentKindArg::Invoice => pb::DocumentKind::Invoice,
        DocumentKindArg::ProceedsRealizationCertificate => {
            pb::DocumentKind::ProceedsRealizationCertificate
        }
        DocumentKindArg::AssociationCertificate => pb::DocumentKind::AssociationCertificate,
        DocumentKindArg::MarketplaceEarningsStatement => {
            pb::DocumentKind::MarketplaceEarningsStatement
        }
    }
}

pub fn document_kind_name(kind: i32) -> String {
    pb::DocumentKind::try_from(kind)
        .map(|k| enum_name(k.as_str_name(), "DOCUMENT_KIND_"))
        .unwrap_or_else(|_| kind.to_string())
}

/// The API's fields as the flags of `documents add`.
const FLAGS: &[(&str, &str)] = &[
    ("document.party_id", "--party"),
    ("document.earning_id", "--earning"),
    ("document.repatriation_id", "--repatriation"),
    ("document.content_sha256", "--sha256"),
    ("document.", "--"),
];

pub async fn add(repat: &Repat, args: DocumentArgs) -> anyhow::Result<Report> {
    let party = match &args.party {
        Some(p) => party_id(repat, p).await?,
        None => String::new(),
    };
    let content_sha256 = match (&args.sha256, &args.file) {
        (Some(h), _) => h.clone(),
        (None, Some(path)) => {
            let bytes = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("--file: reading {}: {e}", path.display()))?;
            format!("{:x}", Sha256::digest(&bytes))
        }
        (None, None) => String::new(),
    };
    let day = |flag: &str, v: &Option<String>| -> anyhow::Result<_> {
        v.as_deref()
            .map(parse_date)
            .transpose()
            .map_err(|e| anyhow::anyhow!("{flag}: {e}"))
    };
    let request = pb::CreateDocumentRequest {
        request_id: args
            .request_id
            .unwrap_or_else(uuid::Uuid::new_v4)
            .to_string(),
        document: Some(pb::Document {
            party_id: party,
            earning_id: args.earning.clone().unwrap_or_default(),
            repatriation_id: args.repatriation.clone().unwrap_or_default(),
            kind: document_kind(args.kind) as i32,
            reference: args.reference.clone(),
            issue_date: Some(parse_date(&args.issue_date).map_err(anyhow::Error::msg)?),
            issuer: args.issuer.clone(),
            valid_from: day("--valid-from", &args.valid_from)?,
            valid_until: day("--valid-until", &args.valid_until)?,
            content_sha256,
            ..Default::default()
        }),
    };
    let d = with_retry(|| {
        let mut c = repat.documents();
        let r = request.clone();
        async move { c.create_document(r).await.map(|r| r.into_inner()) }
    })
    .await
    .map_err(|s| in_flag_terms(s, FLAGS))?;
    let mut names = Names::default();
    names.load_parties(repat, [d.party_id.as_str()]).await?;
    names.load_earnings(repat, [d.earning_id.as_str()]).await?;
    let row = document_row(&d, &names);
    Ok(Report::default().fields("document", COLUMNS.iter().copied().zip(row).collect()))
}

const COLUMNS: &[&str] = &[
    "kind",
    "reference",
    "party",
    "invoice",
    "repatriation_id",
    "issue_date",
    "issuer",
    "valid_from",
    "valid_until",
    "sha256",
    "recorded_by",
    "id",
    "party_id",
    "earning_id",
];

fn document_row(d: &pb::Document, names: &Names) -> Vec<Cell> {
    let optional = |s: &str| text(s);
    vec![
        text(document_kind_name(d.kind)),
        text(d.reference.clone()),
        text(names.party(&d.party_id)),
        text(names.invoice(&d.earning_id)),
        optional(&d.repatriation_id),
        text(date(&d.issue_date)),
        text(d.issuer.clone()),
        optional(&date(&d.valid_from)),
        optional(&date(&d.valid_until)),
        optional(&d.content_sha256),
        text(d.recorded_by.clone()),
        text(d.id.clone()),
        text(d.party_id.clone()),
        optional(&d.earning_id),
    ]
}

pub async fn list(
    repat: &Repat,
    party: Option<String>,
    earning: Option<String>,
    repatriation: Option<String>,
    kind: Option<DocumentKindArg>,
) -> anyhow::Result<Report> {
    let party = optional_party(repat, &party).await?;
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListDocumentsRequest {
            page_size: 1000,
            page_token: page_token.clone(),
            party_id: party.clone(),
            earning_id: earning.clone().unwrap_or_default(),
            repatriation_id: repatriation.clone().unwrap_or_default(),
            kind: kind.map_or(0, |k| document_kind(k) as i32),
        };
        let page = with_retry(|| {
            let mut c = repat.documents();
            let r = request.clone();
            async move { c.list_documents(r).await.map(|r| r.into_inner()) }
        })
        .await
        .map_err(|s| {
            in_flag_terms(
                s,
                &[
                    ("party_id", "--party"),
                    ("earning_id", "--earning"),
                    ("repatriation_id", "--repatriation"),
                ],
            )
        })?;
        all.extend(page.documents);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut names = Names::default();
    names
        .load_parties(repat, all.iter().map(|d| d.party_id.as_str()))
        .await?;
    names
        .load_earnings(
            repat,
            all.iter()
                .map(|d| d.earning_id.as_str())
                .filter(|e| !e.is_empty()),
        )
        .await?;
    let rows = all.iter().map(|d| document_row(d, &names)).collect();
    Ok(Report::default().table("documents", COLUMNS, rows))
}
