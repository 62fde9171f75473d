//! Bank statements and reconciliation: import a statement (camt.053/054,
//! MT940, CSV), run the matching, list what matched nothing and why.

use std::path::Path;

use anyhow::Context;
use repat_proto::v1 as pb;
use serde_json::json;
use uuid::Uuid;

use crate::cli::StatementFormatArg;
use crate::client::{Repat, with_retry};
use crate::names::{Names, optional_party, party_id};
use crate::output::{Cell, Report, text, v};
use crate::wire::{date, money};

/// Namespace of statement-import request ids (UUIDv5 of party and bytes).
const STATEMENTS: Uuid = Uuid::from_u128(0x6c0e_51a2_7d4b_4f0e_9b13_5a8e_c2d7_4f61);

/// The format named, else the one the file shows (extension, then content).
fn format_of(
    path: &Path,
    content: &[u8],
    named: Option<StatementFormatArg>,
) -> anyhow::Result<pb::StatementFormat> {
    if let Some(f) = named {
        return Ok(f.wire());
    }
    let head = String::from_utf8_lossy(&content[..content.len().min(4096)]);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    Ok(match ext.as_str() {
        "csv" => pb::StatementFormat::Csv,
        _ if head.contains("camt.052") => pb::StatementFormat::Camt052,
        _ if head.contains("camt.053") => pb::StatementFormat::Camt053,
        _ if head.contains("camt.054") => pb::StatementFormat::Camt054,
        // MT940 or MT942: the server tells which from the fields.
        _ if head.contains(":20:") => pb::StatementFormat::Unspecified,
        _ => anyhow::bail!(
            "cannot tell the format of {}; say --format camt052, camt053, camt054, mt940, mt942 or csv",
            path.display()
        ),
    })
}

/// Imports a statement. The request id follows the party and the file's
/// bytes, so importing the same file again adds nothing.
pub async fn import(
    repat: &Repat,
    file: &Path,
    party: String,
    format: Option<StatementFormatArg>,
    charset: String,
) -> anyhow::Result<Report> {
    let party = party_id(repat, &party).await?;
    let content = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let format = format_of(file, &content, format)?;
    let mut name = party.as_bytes().to_vec();
    name.push(0x1f);
    name.extend_from_slice(&content);
    let request = pb::ImportStatementRequest {
        request_id: Uuid::new_v5(&STATEMENTS, &name).to_string(),
        party_id: party,
        format: format as i32,
        content,
        charset,
    };
    let s = with_retry(|| {
        let mut c = repat.reconciliation();
        let req = request.clone();
        async move { c.import_statement(req).await.map(|r| r.into_inner()) }
    })
    .await?;
    let rows = s
        .entries
        .iter()
        .map(|e| {
            vec![
                v(json!(e.index)),
                text(
                    pb::EntryKind::try_from(e.kind)
                        .map(|k| {
                            k.as_str_name()
                                .trim_start_matches("ENTRY_KIND_")
                                .to_string()
                        })
                        .unwrap_or_default(),
                ),
                Cell::money(&e.amount),
                text(date(&e.booking_date)),
                text(date(&e.value_date)),
                text(e.servicer_reference.clone()),
                text(e.counterparty.clone()),
                text(e.end_to_end_id.clone()),
                text(e.remittance.clone()),
                text(e.id.clone()),
            ]
        })
        .collect();
    let mut names = Names::default();
    names.load_parties(repat, [s.party_id.as_str()]).await?;
    Ok(Report::default()
        .fields(
            "statement",
            vec![
                ("id", text(s.id.clone())),
                ("party", text(names.party(&s.party_id))),
                ("party_id", text(s.party_id.clone())),
                (
                    "format",
                    text(
                        pb::StatementFormat::try_from(s.format)
                            .unwrap_or(format)
                            .as_str_name()
                            .trim_start_matches("STATEMENT_FORMAT_")
                            .to_string(),
                    ),
                ),
                ("message", text(s.message_id.clone())),
                ("account", text(s.account.clone())),
                ("entries", v(json!(s.entries.len()))),
                ("sha256", text(s.sha256.clone())),
            ],
        )
        .table(
            "entries",
            &[
                "index",
                "kind",
                "amount",
                "booked",
                "value",
                "bank_reference",
                "counterparty",
                "end_to_end",
                "remittance",
                "id",
            ],
            rows,
        )
        .main())
}

fn method(m: i32) -> String {
    pb::MatchMethod::try_from(m)
        .map(|k| {
            k.as_str_name()
                .trim_start_matches("MATCH_METHOD_")
                .to_string()
        })
        .unwrap_or_default()
}

const MATCH_COLUMNS: &[&str] = &[
    "party",
    "invoice",
    "method",
    "reference",
    "covered",
    "fee_gap",
    "fx_gap",
    "fx",
    "days",
    "journey_note",
    "credit",
    "earning",
    "repatriation",
];

fn match_row(m: &pb::Match, names: &Names) -> Vec<Cell> {
    vec![
        text(names.party(&m.party_id)),
        text(names.invoice(&m.earning_id)),
        text(method(m.method)),
        text(m.reference.clone()),
        Cell::money(&m.covered),
        Cell::money(&m.fee_gap),
        Cell::money(&m.fx_gap),
        Cell::fx(&m.fx_rate),
        v(json!(m.days)),
        text(m.journey_note.clone()),
        text(m.credit_id.clone()),
        text(m.earning_id.clone()),
        text(m.repatriation_id.clone()),
    ]
}

async fn match_names(repat: &Repat, matches: &[pb::Match]) -> anyhow::Result<Names> {
    let mut names = Names::default();
    names
        .load_parties(repat, matches.iter().map(|m| m.party_id.as_str()))
        .await?;
    names
        .load_earnings(repat, matches.iter().map(|m| m.earning_id.as_str()))
        .await?;
    Ok(names)
}

/// Runs the matching for a party (re-running changes nothing settled).
pub async fn run(repat: &Repat, party: String) -> anyhow::Result<Report> {
    let party = party_id(repat, &party).await?;
    let request = pb::RunMatchingRequest {
        request_id: Uuid::new_v4().to_string(),
        party_id: party,
    };
    let r = with_retry(|| {
        let mut c = repat.reconciliation();
        let req = request.clone();
        async move { c.run_matching(req).await.map(|r| r.into_inner()) }
    })
    .await?;
    let names = match_names(repat, &r.matches).await?;
    let mut parties = Names::default();
    parties.load_parties(repat, [r.party_id.as_str()]).await?;
    Ok(Report::default()
        .fields(
            "run",
            vec![
                ("party", text(parties.party(&r.party_id))),
                ("party_id", text(r.party_id.clone())),
                ("matches", v(json!(r.matches.len()))),
                ("exceptions", v(json!(r.exception_count))),
            ],
        )
        .table(
            "matches",
            MATCH_COLUMNS,
            r.matches.iter().map(|m| match_row(m, &names)).collect(),
        )
        .main())
}

/// Every match, oldest first.
pub async fn matches(repat: &Repat, party: Option<String>) -> anyhow::Result<Report> {
    let party = optional_party(repat, &party).await?;
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let request = pb::ListMatchesRequest {
            page_size: 1000,
            page_token: token.clone(),
            party_id: party.clone(),
            ..Default::default()
        };
        let page = with_retry(|| {
            let mut c = repat.reconciliation();
            let req = request.clone();
            async move { c.list_matches(req).await.map(|r| r.into_inner()) }
        })
        .await?;
        all.extend(page.matches);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let names = match_names(repat, &all).await?;
    Ok(Report::default().table(
        "matches",
        MATCH_COLUMNS,
        all.iter().map(|m| match_row(m, &names)).collect(),
    ))
}

/// Each earning and how much of it came home.
pub async fn realizations(repat: &Repat, party: Option<String>) -> anyhow::Result<Report> {
    let party = optional_party(repat, &party).await?;
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let request = pb::ListRealizationsRequest {
            page_size: 1000,
            page_token: token.clone(),
            party_id: party.clone(),
        };
        let page = with_retry(|| {
            let mut c = repat.reconciliation();
            let req = request.clone();
            async move { c.list_realizations(req).await.map(|r| r.into_inner()) }
        })
        .await?;
        all.extend(page.realizations);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let rows = all
        .iter()
        .map(|r| {
            vec![
                text(r.invoice_reference.clone()),
                text(
                    pb::RealizationStatus::try_from(r.status)
                        .map(|s| {
                            s.as_str_name()
                                .trim_start_matches("REALIZATION_STATUS_")
                                .to_string()
                        })
                        .unwrap_or_default(),
                ),
                Cell::money(&r.amount),
                Cell::money(&r.realized),
                Cell::money(&r.outstanding),
                text(r.earning_id.clone()),
            ]
        })
        .collect();
    Ok(Report::default().table(
        "realizations",
        &[
            "invoice",
            "status",
            "invoiced",
            "realized",
            "outstanding",
            "earning",
        ],
        rows,
    ))
}

/// Every credit and invoice that matched nothing, with the reason and the
/// nearest candidates.
pub async fn exceptions(repat: &Repat, party: Option<String>) -> anyhow::Result<Report> {
    let party = optional_party(repat, &party).await?;
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let request = pb::ListExceptionsRequest {
            page_size: 1000,
            page_token: token.clone(),
            party_id: party.clone(),
        };
        let page = with_retry(|| {
            let mut c = repat.reconciliation();
            let req = request.clone();
            async move { c.list_exceptions(req).await.map(|r| r.into_inner()) }
        })
        .await?;
        all.extend(page.exceptions);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut names = Names::default();
    names
        .load_parties(repat, all.iter().map(|e| e.party_id.as_str()))
        .await?;
    // A credit's candidates are earnings: they read as invoice references.
    let earnings = all.iter().flat_map(|e| {
        std::iter::once(e.earning_id.as_str()).chain(
            e.candidates
                .iter()
                .filter(|_| !e.credit_id.is_empty())
                .map(|c| c.id.as_str()),
        )
    });
    names
        .load_earnings(repat, earnings.collect::<Vec<_>>())
        .await?;
    let rows = all
        .iter()
        .map(|e| {
            let nearest = e
                .candidates
                .iter()
                .map(|c| {
                    let days = if c.has_days {
                        format!(", {} days", c.days)
                    } else {
                        String::new()
                    };
                    let who = match names.invoice(&c.id) {
                        known if !known.is_empty() => known,
                        _ => c.id.clone(),
                    };
                    format!("{who} ({} off{days})", money(&c.amount_difference))
                })
                .collect::<Vec<_>>()
                .join("; ");
            vec![
                text(e.code.clone()),
                text(names.party(&e.party_id)),
                text(names.invoice(&e.earning_id)),
                // The credit as its bank wrote it: the reference a person
                // finds it by on the statement.
                text(
                    e.credit
                        .as_ref()
                        .map(|c| c.servicer_reference.clone())
                        .unwrap_or_default(),
                ),
                Cell::money(&e.credit.as_ref().and_then(|c| c.amount.clone())),
                text(e.message.clone()),
                text(nearest),
                text(e.credit_id.clone()),
                text(e.earning_id.clone()),
            ]
        })
        .collect();
    Ok(Report::default()
        .table(
            "exceptions",
            &[
                "reason",
                "party",
                "invoice",
                "bank_reference",
                "credit_amount",
                "why",
                "nearest",
                "credit",
                "earning",
            ],
            rows,
        )
        .main())
}

/// Voids a statement: its matches undone, the steps they recorded voided.
pub async fn void_statement(
    repat: &Repat,
    statement: String,
    reason: String,
) -> anyhow::Result<Report> {
    let request = pb::VoidStatementRequest {
        request_id: Uuid::new_v4().to_string(),
        statement_id: statement,
        reason,
    };
    let done = with_retry(|| {
        let mut c = repat.reconciliation();
        let r = request.clone();
        async move { c.void_statement(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    let s = done.statement.unwrap_or_default();
    Ok(Report::default().fields(
        "statement",
        vec![
            ("id", text(s.id.clone())),
            ("account", text(s.account.clone())),
            ("void_reason", text(s.void_reason.clone())),
            ("void_time", text(crate::wire::timestamp(&s.void_time))),
            ("matches_removed", v(json!(done.removed.len()))),
            ("steps_voided", text(done.voided_step_ids.join(" "))),
        ],
    ))
}
