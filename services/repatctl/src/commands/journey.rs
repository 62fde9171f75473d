//! Parties, earnings, repatriations and steps: create, list, record, and a
//! journey shown as a timeline or followed as it moves.

use futures::StreamExt;
use repat_proto::v1 as pb;
use serde_json::json;

use crate::cli::{ChannelArg, EarningArgs, PartyKindArg, StepArgs, ZoneArg};
use crate::client::{Repat, with_retry};
use crate::import::request_id;
use crate::names::{Names, optional_party, party_id};
use crate::output::{Cell, Report, text, v};
use crate::wire::{
    canonical_instant, channel_name, date, human_duration, parse_date, parse_enum, parse_timestamp,
    party_kind_name, reason, seconds, status_name, step_kind_name, timestamp, zone_name,
};

pub fn party_kind_arg(k: PartyKindArg) -> pb::PartyKind {
    match k {
        PartyKindArg::Firm => pb::PartyKind::Firm,
        PartyKindArg::Freelancer => pb::PartyKind::Freelancer,
    }
}

pub fn zone(z: ZoneArg) -> pb::Zone {
    match z {
        ZoneArg::None => pb::Zone::None,
        ZoneArg::Epz => pb::Zone::Epz,
        ZoneArg::EconomicZone => pb::Zone::EconomicZone,
        ZoneArg::HiTechPark => pb::Zone::HiTechPark,
    }
}

fn channel(c: ChannelArg) -> pb::Channel {
    match c {
        ChannelArg::Bank => pb::Channel::Bank,
        ChannelArg::Platform => pb::Channel::Platform,
        ChannelArg::MobileFinancialService => pb::Channel::MobileFinancialService,
    }
}

pub fn party_fields(p: &pb::Party) -> Vec<(&'static str, Cell)> {
    vec![
        ("legal_name", text(p.legal_name.clone())),
        ("kind", text(party_kind_name(p.kind))),
        ("country", text(p.country.clone())),
        ("zone", text(zone_name(p.zone))),
        (
            "memberships",
            text(
                p.memberships
                    .iter()
                    .map(|m| format!("{} {}", m.association, m.membership_number))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ),
        (
            "bank_accounts",
            text(
                p.bank_accounts
                    .iter()
                    .map(|a| format!("{} {} {}", a.bank_bic, a.account_number, a.currency))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ),
        ("id", text(p.id.clone())),
    ]
}

const PARTY_COLUMNS: &[&str] = &[
    "legal_name",
    "kind",
    "country",
    "zone",
    "memberships",
    "bank_accounts",
    "id",
];

#[allow(clippy::too_many_arguments)]
pub async fn create_party(
    repat: &Repat,
    kind: PartyKindArg,
    legal_name: String,
    country: String,
    zone_arg: ZoneArg,
    membership: Option<String>,
    bank_account: Option<String>,
    request_id: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let memberships = match membership {
        Some(m) => {
            let (a, n) = m.split_once(':').ok_or_else(|| {
                anyhow::anyhow!("--membership is ASSOCIATION:NUMBER, e.g. BASIS:G-1024")
            })?;
            vec![pb::AssociationMembership {
                association: a.to_ascii_uppercase(),
                membership_number: n.into(),
            }]
        }
        None => vec![],
    };
    let bank_accounts = match bank_account {
        Some(b) => {
            let parts: Vec<&str> = b.split(':').collect();
            let [bic, number, currency] = parts[..] else {
                anyhow::bail!(
                    "--bank-account is BIC:ACCOUNT:CURRENCY, e.g. BRAKBDDH:1501202900001:USD"
                )
            };
            vec![pb::BankAccount {
                bank_bic: bic.to_ascii_uppercase(),
                account_number: number.into(),
                currency: currency.to_ascii_uppercase(),
                ..Default::default()
            }]
        }
        None => vec![],
    };
    let request = pb::CreatePartyRequest {
        request_id: request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        party: Some(pb::Party {
            kind: party_kind_arg(kind) as i32,
            legal_name,
            country: country.to_ascii_uppercase(),
            zone: zone(zone_arg) as i32,
            memberships,
            bank_accounts,
            ..Default::default()
        }),
    };
    let p = with_retry(|| {
        let mut c = repat.parties();
        let r = request.clone();
        async move { c.create_party(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    Ok(Report::default().fields("party", party_fields(&p)))
}

pub async fn list_parties(repat: &Repat, kind: Option<PartyKindArg>) -> anyhow::Result<Report> {
    let mut rows = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListPartiesRequest {
            page_size: 1000,
            page_token: page_token.clone(),
            kind: kind.map_or(0, |k| party_kind_arg(k) as i32),
        };
        let page = with_retry(|| {
            let mut c = repat.parties();
            let r = request.clone();
            async move { c.list_parties(r).await.map(|r| r.into_inner()) }
        })
        .await?;
        rows.extend(
            page.parties
                .iter()
                .map(|p| party_fields(p).into_iter().map(|(_, c)| c).collect()),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(Report::default().table("parties", PARTY_COLUMNS, rows))
}

const EARNING_COLUMNS: &[&str] = &[
    "invoice_reference",
    "party",
    "client",
    "client_country",
    "invoice_date",
    "amount",
    "allocated",
    "id",
    "party_id",
];

fn earning_row(e: &pb::Earning, names: &Names) -> Vec<Cell> {
    vec![
        text(e.invoice_reference.clone()),
        text(names.party(&e.party_id)),
        text(e.client_name.clone()),
        text(e.client_country.clone()),
        text(date(&e.invoice_date)),
        Cell::money(&e.amount),
        Cell::money(&e.allocated),
        text(e.id.clone()),
        text(e.party_id.clone()),
    ]
}

pub async fn list_earnings(repat: &Repat, party: Option<String>) -> anyhow::Result<Report> {
    let party = optional_party(repat, &party).await?;
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListEarningsRequest {
            page_size: 1000,
            page_token: page_token.clone(),
            party_id: party.clone(),
            ..Default::default()
        };
        let page = with_retry(|| {
            let mut c = repat.earnings();
            let r = request.clone();
            async move { c.list_earnings(r).await.map(|r| r.into_inner()) }
        })
        .await?;
        all.extend(page.earnings);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut names = Names::default();
    names
        .load_parties(repat, all.iter().map(|e| e.party_id.as_str()))
        .await?;
    Ok(Report::default().table(
        "earnings",
        EARNING_COLUMNS,
        all.iter().map(|e| earning_row(e, &names)).collect(),
    ))
}

pub async fn create_earning(repat: &Repat, args: EarningArgs) -> anyhow::Result<Report> {
    let party = party_id(repat, &args.party).await?;
    let category = crate::commands::incentive::category(args.service_category);
    let earning = pb::Earning {
        party_id: party.clone(),
        client_name: args.client_name,
        client_country: args.client_country.to_ascii_uppercase(),
        service_category: category as i32,
        amount: Some(pb::Money {
            amount: args.amount,
            currency: args.currency.to_ascii_uppercase(),
        }),
        invoice_date: Some(parse_date(&args.invoice_date).map_err(anyhow::Error::msg)?),
        due_date: args
            .due_date
            .as_deref()
            .map(parse_date)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        invoice_reference: args.invoice_reference.clone(),
        marketplace: args.marketplace.unwrap_or_default(),
        ..Default::default()
    };
    // The same id as an import of the same invoice: either way, once.
    let id = args
        .request_id
        .unwrap_or_else(|| request_id("earning", &[&party, &args.invoice_reference]));
    let request = pb::CreateEarningRequest {
        request_id: id.to_string(),
        earning: Some(earning),
    };
    let e = with_retry(|| {
        let mut c = repat.earnings();
        let r = request.clone();
        async move { c.create_earning(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    let mut names = Names::default();
    names.load_parties(repat, [e.party_id.as_str()]).await?;
    let row = earning_row(&e, &names);
    Ok(Report::default().fields(
        "earning",
        EARNING_COLUMNS.iter().copied().zip(row).collect(),
    ))
}

pub async fn void_earning(
    repat: &Repat,
    id: String,
    reason: String,
    expected_revision: Option<u32>,
    request_id: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let request = pb::VoidEarningRequest {
        request_id: request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        id,
        reason,
        expected_revision: expected_revision.map(i64::from).unwrap_or_default(),
    };
    let e = with_retry(|| {
        let mut c = repat.earnings();
        let r = request.clone();
        async move { c.void_earning(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    let mut names = Names::default();
    names.load_parties(repat, [e.party_id.as_str()]).await?;
    let mut fields: Vec<(&str, Cell)> = EARNING_COLUMNS
        .iter()
        .copied()
        .zip(earning_row(&e, &names))
        .collect();
    fields.push(("revision", v(json!(e.revision))));
    fields.push(("void_time", text(timestamp(&e.void_time))));
    fields.push(("void_reason", text(e.void_reason.clone())));
    Ok(Report::default().fields("earning", fields))
}

pub async fn earning_history(repat: &Repat, id: String) -> anyhow::Result<Report> {
    let revisions = repat
        .earnings()
        .list_earning_revisions(pb::ListEarningRevisionsRequest { id })
        .await?
        .into_inner()
        .revisions;
    let rows = revisions
        .iter()
        .map(|r| {
            vec![
                v(json!(r.revision)),
                text(r.action.clone()),
                text(timestamp(&r.time)),
                text(r.subject.clone()),
                text(r.reason.clone()),
                text(r.changed_fields.join(",")),
                text(r.request_id.clone()),
            ]
        })
        .collect();
    Ok(Report::default().table(
        "revisions",
        &[
            "revision",
            "action",
            "time",
            "subject",
            "reason",
            "changed",
            "request_id",
        ],
        rows,
    ))
}

pub async fn open(
    repat: &Repat,
    party: String,
    earnings: Vec<String>,
    channel_arg: ChannelArg,
    payer_country: Option<String>,
    request_id: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let party = party_id(repat, &party).await?;
    let mut allocations = Vec::new();
    for e in earnings {
        let (id, amount) = match e.split_once(':') {
            Some((id, a)) => (id.to_string(), Some(a.to_string())),
            None => (e, None),
        };
        // The currency of part of an earning is the earning's own.
        let amount = match amount {
            Some(a) => {
                let earning = repat
                    .earnings()
                    .get_earning(pb::GetEarningRequest { id: id.clone() })
                    .await?
                    .into_inner();
                Some(pb::Money {
                    amount: a,
                    currency: earning.amount.map(|m| m.currency).unwrap_or_default(),
                })
            }
            None => None,
        };
        allocations.push(pb::Allocation {
            earning_id: id,
            amount,
        });
    }
    let request = pb::CreateRepatriationRequest {
        request_id: request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        party_id: party,
        allocations,
        channel: channel(channel_arg) as i32,
        payer_country: payer_country.unwrap_or_default().to_ascii_uppercase(),
    };
    let r = with_retry(|| {
        let mut c = repat.repatriations();
        let req = request.clone();
        async move { c.create_repatriation(req).await.map(|r| r.into_inner()) }
    })
    .await?;
    let names = names_of(repat, std::slice::from_ref(&r)).await?;
    Ok(Report::default().fields(
        "repatriation",
        REPATRIATION_COLUMNS
            .iter()
            .copied()
            .zip(repatriation_row(&r, &names))
            .collect(),
    ))
}

const REPATRIATION_COLUMNS: &[&str] = &[
    "party", "invoices", "status", "channel", "corridor", "expected", "steps", "opened", "id",
    "party_id",
];

fn repatriation_row(r: &pb::Repatriation, names: &Names) -> Vec<Cell> {
    vec![
        text(names.party(&r.party_id)),
        text(
            r.allocations
                .iter()
                .map(|a| names.invoice(&a.earning_id))
                .filter(|i| !i.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        text(status_name(r.status)),
        text(channel_name(r.channel)),
        text(r.payer_country.clone()),
        Cell::money(&r.expected_amount),
        v(json!(r.step_count)),
        text(timestamp(&r.create_time)),
        text(r.id.clone()),
        text(r.party_id.clone()),
    ]
}

/// The party names and invoice references of `repatriations`.
async fn names_of(repat: &Repat, repatriations: &[pb::Repatriation]) -> anyhow::Result<Names> {
    let mut names = Names::default();
    names
        .load_parties(repat, repatriations.iter().map(|r| r.party_id.as_str()))
        .await?;
    names
        .load_earnings(
            repat,
            repatriations
                .iter()
                .flat_map(|r| r.allocations.iter().map(|a| a.earning_id.as_str())),
        )
        .await?;
    Ok(names)
}

pub async fn list_repatriations(repat: &Repat, party: Option<String>) -> anyhow::Result<Report> {
    let party = optional_party(repat, &party).await?;
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListRepatriationsRequest {
            page_size: 1000,
            page_token: page_token.clone(),
            party_id: party.clone(),
            ..Default::default()
        };
        let page = with_retry(|| {
            let mut c = repat.repatriations();
            let r = request.clone();
            async move { c.list_repatriations(r).await.map(|r| r.into_inner()) }
        })
        .await?;
        all.extend(page.repatriations);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let names = names_of(repat, &all).await?;
    Ok(Report::default().table(
        "repatriations",
        REPATRIATION_COLUMNS,
        all.iter().map(|r| repatriation_row(r, &names)).collect(),
    ))
}

/// A step's reason code (with its meaning) and note, in one line.
fn step_note(s: &pb::Step) -> String {
    let gpi = pb::GpiStatus::try_from(s.gpi_status)
        .ok()
        .filter(|g| *g != pb::GpiStatus::Unspecified)
        .map(|g| {
            g.as_str_name()
                .trim_start_matches("GPI_STATUS_")
                .to_string()
        });
    [
        gpi,
        Some(s.reason_code.clone())
            .filter(|c| !c.is_empty())
            .map(|c| reason(&c)),
        Some(s.note.clone()).filter(|n| !n.is_empty()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
}

/// The journey: what it is, then each step with when it occurred and how
/// long the money waited for it.
pub async fn show(repat: &Repat, id: String) -> anyhow::Result<Report> {
    let r = with_retry(|| {
        let mut c = repat.repatriations();
        let id = id.clone();
        async move {
            c.get_repatriation(pb::GetRepatriationRequest { id })
                .await
                .map(|r| r.into_inner())
        }
    })
    .await?;
    let names = names_of(repat, std::slice::from_ref(&r)).await?;
    Ok(journey_report(&r, &names))
}

fn journey_report(r: &pb::Repatriation, names: &Names) -> Report {
    let d = r.durations.unwrap_or_default();
    let fees = r.fees.clone().unwrap_or_default();
    let summary = vec![
        ("id", text(r.id.clone())),
        ("party", text(names.party(&r.party_id))),
        ("party_id", text(r.party_id.clone())),
        ("status", text(status_name(r.status))),
        ("channel", text(channel_name(r.channel))),
        ("corridor", text(r.payer_country.clone())),
        ("expected", Cell::money(&r.expected_amount)),
        (
            "invoices",
            text(
                r.allocations
                    .iter()
                    .map(|a| names.invoice(&a.earning_id))
                    .filter(|i| !i.is_empty())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        (
            "earning_ids",
            text(
                r.allocations
                    .iter()
                    .map(|a| a.earning_id.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        (
            "initiation_to_funds_available",
            text(human_duration(&d.initiation_to_funds_available)),
        ),
        (
            "invoice_to_realization",
            text(human_duration(&d.invoice_to_realization)),
        ),
        (
            "invoice_to_realization_days",
            if d.invoice_to_realization.is_some() {
                v(json!(d.invoice_to_realization_days))
            } else {
                Cell::Null
            },
        ),
        ("total", text(human_duration(&d.total))),
        (
            "initiation_to_funds_available_secs",
            v(seconds(&d.initiation_to_funds_available)),
        ),
        (
            "invoice_to_realization_secs",
            v(seconds(&d.invoice_to_realization)),
        ),
        ("total_secs", v(seconds(&d.total))),
        (
            "fees",
            if fees.total_fees.is_empty() {
                Cell::Null
            } else {
                Cell::Monies(fees.total_fees.clone())
            },
        ),
        (
            "fee_share_of_initiated",
            Cell::share(&fees.fee_share_of_initiated),
        ),
        (
            "initiated_minus_credited",
            Cell::money(&fees.initiated_minus_credited),
        ),
    ];
    let rows = r
        .timeline
        .iter()
        .map(|s| {
            vec![
                text(step_kind_name(s.kind)),
                text(timestamp(&s.occurred_at)),
                text(human_duration(&s.wait_before)),
                v(seconds(&s.wait_before)),
                text(s.institution_bic.clone()),
                Cell::money(&s.amount),
                if s.fees.is_empty() {
                    Cell::Null
                } else {
                    Cell::Fees(s.fees.clone())
                },
                Cell::fx(&s.fx_rate),
                text(step_note(s)),
            ]
        })
        .collect();
    Report::default()
        .fields("repatriation", summary)
        .table(
            "timeline",
            &[
                "step",
                "occurred_at",
                "wait",
                "wait_secs",
                "institution",
                "amount",
                "fees",
                "fx",
                "note",
            ],
            rows,
        )
        .main()
}

/// Follows a journey: prints its state, then each change, until it ends.
/// Each change is printed as it comes (a line, a CSV row or a JSON object),
/// so the output can be piped while it runs.
pub async fn watch(
    repat: &Repat,
    id: String,
    format: crate::cli::OutputFormat,
) -> anyhow::Result<Report> {
    let mut stream = repat
        .repatriations()
        .watch_repatriation(pb::WatchRepatriationRequest { id })
        .await?
        .into_inner();
    let mut names = Names::default();
    let mut seen = 0usize;
    let mut changes = 0usize;
    while let Some(event) = stream.next().await {
        let Some(r) = event?.repatriation else {
            continue;
        };
        if names.party(&r.party_id).is_empty() {
            names = names_of(repat, std::slice::from_ref(&r)).await?;
        }
        let new: Vec<&pb::Step> = r.timeline.iter().skip(seen).collect();
        seen = r.timeline.len();
        let line = json!({
            "repatriation": r.id,
            "party": names.party(&r.party_id),
            "status": status_name(r.status),
            "steps": r.step_count,
            "latest": new.last().map(|s| step_kind_name(s.kind)),
            "latest_at": new.last().map(|s| timestamp(&s.occurred_at)),
            "update_time": timestamp(&r.update_time),
        });
        let text = match format {
            crate::cli::OutputFormat::Json => serde_json::to_string(&line)?,
            crate::cli::OutputFormat::Csv if changes == 0 => format!(
                "repatriation,party,status,steps,latest,latest_at\n{}",
                csv_line(&line)
            ),
            crate::cli::OutputFormat::Csv => csv_line(&line),
            crate::cli::OutputFormat::Table => format!(
                "{}  {}  {} ({} steps){}",
                timestamp(&r.update_time),
                names.party(&r.party_id),
                status_name(r.status),
                r.step_count,
                new.last()
                    .map(|s| format!(
                        ", latest {} at {}",
                        step_kind_name(s.kind),
                        timestamp(&s.occurred_at)
                    ))
                    .unwrap_or_default()
            ),
        };
        if !crate::output::emit_line(&text)? {
            break;
        }
        changes += 1;
    }
    Ok(Report::default())
}

fn csv_line(line: &serde_json::Value) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let field = |k: &str| crate::output::plain(&line[k]);
    let _ = w.write_record(
        [
            "repatriation",
            "party",
            "status",
            "steps",
            "latest",
            "latest_at",
        ]
        .map(field),
    );
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

/// Records one step; the same id as an import of the same step.
/// The step `steps record` (or `steps correct`) describes.
pub fn step_of(args: &StepArgs) -> anyhow::Result<pb::Step> {
    let kind = pb::StepKind::from_str_name(&args.kind)
        .ok_or_else(|| anyhow::anyhow!("--kind: {}", args.kind))?;
    let occurred_at = parse_timestamp(&args.at).map_err(|e| anyhow::anyhow!("--at: {e}"))?;
    let institution = args
        .institution
        .clone()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let currency = args
        .currency
        .clone()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let gpi_status = args
        .gpi_status
        .as_deref()
        .map(|g| {
            parse_enum(
                g,
                "GPI_STATUS_",
                "gpi status",
                pb::GpiStatus::from_str_name,
                &["ACSP", "ACCC", "RJCT"],
            )
        })
        .transpose()
        .map_err(|e| anyhow::anyhow!("--gpi-status: {e}"))?;
    Ok(pb::Step {
        repatriation_id: args.repatriation.clone(),
        kind: kind as i32,
        occurred_at: Some(occurred_at),
        institution_bic: institution.clone(),
        amount: args.amount.clone().map(|amount| pb::Money {
            amount,
            currency: currency.clone(),
        }),
        fees: args
            .fee
            .clone()
            .map(|fee| pb::Fee {
                amount: Some(pb::Money {
                    amount: fee,
                    currency: currency.clone(),
                }),
                charged_by: args
                    .fee_charged_by
                    .clone()
                    .unwrap_or_else(|| institution.clone()),
                kind: args.fee_kind.clone().unwrap_or_default(),
            })
            .into_iter()
            .collect(),
        fx_rate: args.fx_rate.clone().map(|rate| pb::FxRate {
            source_currency: currency.clone(),
            target_currency: args.fx_to.to_ascii_uppercase(),
            rate,
        }),
        end_to_end_id: args.end_to_end_id.clone().unwrap_or_default(),
        uetr: args.uetr.clone().unwrap_or_default(),
        gpi_status: gpi_status.map_or(0, |g| g as i32),
        reason_code: args
            .reason_code
            .clone()
            .unwrap_or_default()
            .to_ascii_uppercase(),
        note: args.note.clone().unwrap_or_default(),
        ..Default::default()
    })
}

pub async fn record_step(repat: &Repat, args: StepArgs) -> anyhow::Result<Report> {
    let step = step_of(&args)?;
    let kind = pb::StepKind::try_from(step.kind).unwrap_or_default();
    let occurred_at = step.occurred_at.unwrap_or_default();
    let institution = step.institution_bic.clone();
    let id = args.request_id.unwrap_or_else(|| {
        request_id(
            "step",
            &[
                &args.repatriation,
                kind.as_str_name(),
                &canonical_instant(&occurred_at),
                &institution,
            ],
        )
    });
    let request = pb::RecordStepRequest {
        request_id: id.to_string(),
        step: Some(step),
    };
    let recorded = with_retry(|| {
        let mut c = repat.repatriations();
        let r = request.clone();
        async move { c.record_step(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    let s = recorded.step.unwrap_or_default();
    Ok(Report::default().fields(
        "step",
        vec![
            ("repatriation", text(s.repatriation_id.clone())),
            ("step", text(step_kind_name(s.kind))),
            ("occurred_at", text(timestamp(&s.occurred_at))),
            ("wait", text(human_duration(&s.wait_before))),
            ("wait_secs", v(seconds(&s.wait_before))),
            ("status", text(status_name(recorded.status))),
            ("note", text(step_note(&s))),
            ("id", text(s.id.clone())),
        ],
    ))
}

/// Voids a step of `repatriation`, or supersedes it with `replacement`.
pub async fn void_step(
    repat: &Repat,
    repatriation: String,
    step: String,
    reason: String,
    replacement: Option<pb::Step>,
) -> anyhow::Result<Report> {
    let request = pb::VoidStepRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        repatriation_id: repatriation,
        step_id: step,
        reason,
        replacement,
    };
    let done = with_retry(|| {
        let mut c = repat.repatriations();
        let r = request.clone();
        async move { c.void_step(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    let voided = done.voided.unwrap_or_default();
    let mut fields = vec![
        ("repatriation", text(voided.repatriation_id.clone())),
        ("voided", text(voided.id.clone())),
        ("voided_step", text(step_kind_name(voided.kind))),
        ("voided_at", text(timestamp(&voided.occurred_at))),
    ];
    if let Some(r) = &done.replacement {
        fields.push(("replacement", text(r.id.clone())));
        fields.push(("replacement_step", text(step_kind_name(r.kind))));
        fields.push(("replacement_at", text(timestamp(&r.occurred_at))));
    }
    fields.push(("status", text(status_name(done.status))));
    fields.push(("revision", v(json!(done.revision))));
    fields.push((
        "superseded_assessments",
        text(done.superseded_assessment_ids.join(" ")),
    ));
    Ok(Report::default().fields("correction", fields))
}
