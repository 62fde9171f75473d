//! `claims import FILE.csv`: for each repatriation row, assess it as of the
//! day the claim was filed, file the claim, then record its audit and
//! disbursement (or rejection). Every call's request id is derived from the
//! row, so a re-run repeats nothing. The claims' ids go to FILE.ids.csv,
//! keyed by the `repatriation` column as written.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use futures::StreamExt;
use repat_proto::google::r#type::Date;
use repat_proto::v1 as pb;

use super::{Prepared, Resolver, RowError, Sent, request_id};
use crate::client::{Repat, describe, with_retry};
use crate::output::Report;
use crate::wire::{canonical_instant, parse_timestamp};

pub const REQUIRED: &[&str] = &["repatriation", "filed_at"];
pub const OPTIONAL: &[&str] = &[
    "documents",
    "fx_rate",
    "audited_at",
    "disbursed_at",
    "disbursed_amount",
    "rejected_at",
    "reason",
];

#[derive(Clone)]
pub struct ClaimRow {
    repatriation_id: String,
    filed_at: prost_types::Timestamp,
    documents: Vec<String>,
    fx_rate: String,
    audited_at: Option<prost_types::Timestamp>,
    disbursed_at: Option<prost_types::Timestamp>,
    disbursed_amount: Option<String>,
    rejected_at: Option<prost_types::Timestamp>,
    reason: String,
}

/// The day an instant falls on in Dhaka (UTC+06:00), as the rules count.
fn dhaka_date(t: &prost_types::Timestamp) -> Option<Date> {
    use chrono::Datelike;
    let dhaka = FixedOffset::east_opt(6 * 3600)?;
    let d = DateTime::from_timestamp(t.seconds, 0)?
        .with_timezone(&dhaka)
        .date_naive();
    Some(Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    })
}

pub async fn run(
    repat: &Repat,
    path: &Path,
    repatriation_ids: Option<&Path>,
    no_progress: bool,
) -> anyhow::Result<(Report, bool)> {
    let repatriations = Resolver::new("repatriation", repatriation_ids)?;
    let prepared = super::read(path, REQUIRED, OPTIONAL, |row| {
        let repatriation_id = row.parse_required("repatriation", |r| repatriations.resolve(r));
        let filed_at = row.parse_required("filed_at", parse_timestamp);
        let audited_at = row.parse("audited_at", parse_timestamp);
        let disbursed_at = row.parse("disbursed_at", parse_timestamp);
        let rejected_at = row.parse("rejected_at", parse_timestamp);
        let reason = row.get("reason").unwrap_or_default().to_string();
        if rejected_at.is_some() && reason.is_empty() {
            row.error("reason", "is required with rejected_at");
        }
        if rejected_at.is_some() && disbursed_at.is_some() {
            row.error("rejected_at", "a claim is either disbursed or rejected");
        }
        let documents = row
            .get("documents")
            .map(|d| {
                d.split(';')
                    .map(|s| s.trim().to_ascii_uppercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let claim = ClaimRow {
            repatriation_id: repatriation_id?,
            filed_at: filed_at?,
            documents,
            fx_rate: row.get("fx_rate").unwrap_or_default().into(),
            audited_at,
            disbursed_at,
            disbursed_amount: row.get("disbursed_amount").map(str::to_string),
            rejected_at,
            reason,
        };
        let key = row.get("repatriation").unwrap_or_default().to_string();
        Some(Prepared {
            line: row.line,
            key,
            request: claim,
        })
    })?;
    let bar = super::progress(prepared.ready.len(), no_progress);
    // A few rows at a time: each is a chain of calls that wait on each other.
    let outcomes: Vec<_> = futures::stream::iter(&prepared.ready)
        .map(|p| {
            let bar = &bar;
            async move {
                let outcome = claim(repat, &p.request).await.map(|id| (p.key.clone(), id));
                bar.inc(1);
                (p.line, outcome)
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut sent = Sent::default();
    for (line, outcome) in outcomes {
        match outcome {
            Ok((key, id)) => {
                sent.stored += 1;
                sent.ids.push((key, id));
            }
            Err((field, reason)) => sent.errors.push(RowError {
                line,
                field: field.into(),
                reason,
            }),
        }
    }
    bar.finish_and_clear();
    super::finish(path, prepared.rows, prepared.errors, sent, true)
}

/// Assesses, files and follows one claim; on failure, the column it is
/// about and why.
async fn claim(repat: &Repat, row: &ClaimRow) -> Result<String, (&'static str, String)> {
    let r = &row.repatriation_id;
    let as_of = dhaka_date(&row.filed_at);
    let assess = pb::AssessRepatriationRequest {
        request_id: request_id("assessment", &[r, &canonical_instant(&row.filed_at)]).to_string(),
        repatriation_id: r.clone(),
        as_of,
        documents: row.documents.clone(),
        fx_rate: row.fx_rate.clone(),
        // Stored: the claim rests on it.
        validate_only: false,
    };
    let assessment = with_retry(|| {
        let mut c = repat.incentives();
        let req = assess.clone();
        async move { c.assess_repatriation(req).await.map(|r| r.into_inner()) }
    })
    .await
    .map_err(|s| ("repatriation", format!("assessing: {}", describe(&s))))?;
    if !assessment.eligible {
        let why: Vec<String> = assessment
            .violations
            .iter()
            .map(|v| format!("{}: {}", v.code, v.message))
            .collect();
        return Err((
            "repatriation",
            format!("not eligible as of the filing day: {}", why.join("; ")),
        ));
    }
    let file = pb::FileClaimRequest {
        request_id: request_id("claim", &[r]).to_string(),
        party_id: assessment.party_id.clone(),
        repatriation_ids: vec![r.clone()],
        file_time: Some(row.filed_at),
    };
    let claim = with_retry(|| {
        let mut c = repat.incentives();
        let req = file.clone();
        async move { c.file_claim(req).await.map(|r| r.into_inner()) }
    })
    .await
    .map_err(|s| ("filed_at", format!("filing: {}", describe(&s))))?;
    let steps = [
        (row.audited_at, pb::ClaimStepKind::Audited, "audited_at"),
        (
            row.disbursed_at,
            pb::ClaimStepKind::Disbursed,
            "disbursed_at",
        ),
        (row.rejected_at, pb::ClaimStepKind::Rejected, "rejected_at"),
    ];
    for (at, kind, column) in steps {
        let Some(at) = at else { continue };
        let amount = match (kind, &row.disbursed_amount) {
            (pb::ClaimStepKind::Disbursed, Some(a)) => Some(pb::Money {
                amount: a.clone(),
                currency: "BDT".into(),
            }),
            _ => None,
        };
        let reason = if kind == pb::ClaimStepKind::Rejected {
            row.reason.clone()
        } else {
            String::new()
        };
        let step = pb::RecordClaimStepRequest {
            request_id: request_id(
                "claim-step",
                &[&claim.id, kind.as_str_name(), &canonical_instant(&at)],
            )
            .to_string(),
            claim_id: claim.id.clone(),
            kind: kind as i32,
            occur_time: Some(at),
            reason,
            amount,
        };
        with_retry(|| {
            let mut c = repat.incentives();
            let req = step.clone();
            async move { c.record_claim_step(req).await.map(|r| r.into_inner()) }
        })
        .await
        .map_err(|s| (column, describe(&s)))?;
    }
    Ok(claim.id)
}
