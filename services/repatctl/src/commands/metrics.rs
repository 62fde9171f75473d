//! Delay statistics (and their plot), the G20 scorecard, deadline breaches
//! and the audit trail.

use futures::StreamExt;
use repat_proto::v1 as pb;
use serde_json::json;

use crate::cli::{BreachKindArg, DelaysArgs, GroupBy, MonthRange};
use crate::client::{Repat, in_flag_terms, with_retry};
use crate::names::{Names, optional_party};
use crate::output::{Cell, Report, text, v};
use crate::wire::{date, human_duration, parse_date, parse_timestamp, seconds, timestamp};

/// The API's names of the filters, as the flags the user typed.
const FILTER_FLAGS: &[(&str, &str)] = &[
    ("start_month", "--from"),
    ("end_month", "--to"),
    ("party_id", "--party"),
    ("measure", "--measure"),
    ("as_of", "--as-of"),
];

/// A dimension's name in the output, its wire value, and the field of a
/// group (or an observation) it fills.
pub fn dimension(g: GroupBy) -> Option<(&'static str, pb::Dimension)> {
    match g {
        GroupBy::Step => None,
        GroupBy::Corridor => Some(("corridor", pb::Dimension::Corridor)),
        GroupBy::Channel => Some(("channel", pb::Dimension::Channel)),
        GroupBy::Institution => Some(("institution", pb::Dimension::Institution)),
        GroupBy::PartyKind => Some(("party_kind", pb::Dimension::PartyKind)),
        GroupBy::Month => Some(("month", pb::Dimension::Month)),
    }
}

/// The dimensions asked for, each once, in order; `step` is always part of
/// the key and needs no saying.
pub fn dimensions(group_by: &[GroupBy]) -> Vec<(&'static str, pb::Dimension)> {
    let mut dims = Vec::new();
    for d in group_by.iter().filter_map(|g| dimension(*g)) {
        if !dims.contains(&d) {
            dims.push(d);
        }
    }
    dims
}

fn dimension_value(g: &pb::DelayStatistics, d: pb::Dimension) -> String {
    match d {
        pb::Dimension::Corridor => g.corridor.clone(),
        pb::Dimension::Channel => g.channel.clone(),
        pb::Dimension::Institution => g.institution.clone(),
        pb::Dimension::PartyKind => g.party_kind.clone(),
        pb::Dimension::Month => g.month.clone(),
        pb::Dimension::Unspecified => String::new(),
    }
}

/// An observation's value of a dimension, for the plot's panels.
pub fn record_value(r: &pb::DurationRecord, d: pb::Dimension) -> String {
    match d {
        pb::Dimension::Corridor => r.corridor.clone(),
        pb::Dimension::Channel => r.channel.clone(),
        pb::Dimension::Institution => r.institution.clone(),
        pb::Dimension::PartyKind => r.party_kind.clone(),
        pb::Dimension::Month => r.month.clone(),
        pb::Dimension::Unspecified => String::new(),
    }
}

pub async fn delays(repat: &Repat, args: &DelaysArgs, party: &str) -> anyhow::Result<Report> {
    let dims = dimensions(&args.group_by);
    let request = pb::GetDelayStatisticsRequest {
        group_by: dims.iter().map(|(_, d)| *d as i32).collect(),
        start_month: args.range.from.clone().unwrap_or_default(),
        end_month: args.range.to.clone().unwrap_or_default(),
        party_id: party.to_string(),
        measure: args
            .measure
            .clone()
            .unwrap_or_default()
            .to_ascii_uppercase(),
    };
    let r = with_retry(|| {
        let mut c = repat.metrics();
        let req = request.clone();
        async move { c.get_delay_statistics(req).await.map(|r| r.into_inner()) }
    })
    .await
    .map_err(|s| in_flag_terms(s, FILTER_FLAGS))?;
    let mut columns = vec!["step"];
    columns.extend(dims.iter().map(|(n, _)| *n));
    columns.extend([
        "count",
        "min",
        "p50",
        "p90",
        "p95",
        "p99",
        "max",
        "mean",
        "min_secs",
        "p50_secs",
        "p90_secs",
        "p95_secs",
        "p99_secs",
        "max_secs",
        "mean_secs",
    ]);
    let rows = r
        .groups
        .iter()
        .map(|g| {
            let mut row = vec![text(g.measure.clone())];
            row.extend(dims.iter().map(|(_, d)| text(dimension_value(g, *d))));
            row.push(v(json!(g.count)));
            for d in [&g.min, &g.p50, &g.p90, &g.p95, &g.p99, &g.max, &g.mean] {
                row.push(text(human_duration(d)));
            }
            for d in [&g.min, &g.p50, &g.p90, &g.p95, &g.p99, &g.max, &g.mean] {
                row.push(v(seconds(d)));
            }
            row
        })
        .collect();
    let mut report = Report::default().table("delays", &columns, rows);
    if !r.exact {
        report = report.note(format!("min, max and percentiles read off log buckets: within {} of the exact values (count and mean exact)", crate::output::percent(&r.relative_error)));
    }
    Ok(report)
}

/// Every raw observation of the measures asked for, for the plot.
pub async fn export(
    repat: &Repat,
    range: &MonthRange,
    party: &str,
    measure: &Option<String>,
) -> anyhow::Result<Vec<pb::DurationRecord>> {
    let request = pb::ExportDurationsRequest {
        start_month: range.from.clone().unwrap_or_default(),
        end_month: range.to.clone().unwrap_or_default(),
        party_id: party.to_string(),
        measure: measure.clone().unwrap_or_default().to_ascii_uppercase(),
    };
    let mut stream = repat
        .metrics()
        .export_durations(request)
        .await
        .map_err(|s| in_flag_terms(s, FILTER_FLAGS))?
        .into_inner();
    let mut records = Vec::new();
    while let Some(r) = stream.next().await {
        records.push(r.map_err(|s| in_flag_terms(s, FILTER_FLAGS))?);
    }
    Ok(records)
}

pub async fn scorecard(
    repat: &Repat,
    range: &MonthRange,
    party: Option<String>,
) -> anyhow::Result<Report> {
    let request = pb::GetScorecardRequest {
        start_month: range.from.clone().unwrap_or_default(),
        end_month: range.to.clone().unwrap_or_default(),
        party_id: optional_party(repat, &party).await?,
    };
    let r = with_retry(|| {
        let mut c = repat.metrics();
        let req = request.clone();
        async move { c.get_scorecard(req).await.map(|r| r.into_inner()) }
    })
    .await
    .map_err(|s| in_flag_terms(s, FILTER_FLAGS))?;
    let yes = |b: bool| text(if b { "yes" } else { "no" });
    let rows = r
        .entries
        .iter()
        .map(|e| {
            vec![
                text(e.corridor.clone()),
                text(e.month.clone()),
                v(json!(e.completed)),
                v(json!(e.within_one_hour)),
                v(json!(e.within_one_business_day)),
                Cell::share(&e.share_within_one_hour),
                Cell::share(&e.share_within_one_business_day),
                Cell::share(&e.average_cost),
                yes(e.meets_speed_target),
                yes(e.meets_cost_target),
                yes(e.within_corridor_cost_cap),
            ]
        })
        .collect();
    Ok(Report::default()
        .table(
            "scorecard",
            &[
                "corridor",
                "month",
                "completed",
                "within_1h",
                "within_1_business_day",
                "share_1h",
                "share_1_business_day",
                "average_cost",
                "speed_target",
                "cost_target",
                "cost_cap",
            ],
            rows,
        )
        .note(r.targets))
}

pub async fn breaches(
    repat: &Repat,
    kind: BreachKindArg,
    party: Option<String>,
    as_of: Option<String>,
    threshold_hours: Option<u32>,
) -> anyhow::Result<Report> {
    let as_of = as_of
        .map(|d| parse_date(&d).map_err(|e| anyhow::anyhow!("--as-of: {e}")))
        .transpose()?;
    let party = optional_party(repat, &party).await?;
    let kind = match kind {
        BreachKindArg::RepatriationLate => pb::BreachKind::RepatriationLate,
        BreachKindArg::ClaimWindowExpired => pb::BreachKind::ClaimWindowExpired,
        BreachKindArg::InFlight => pb::BreachKind::InFlight,
    };
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListDeadlineBreachesRequest {
            kind: kind as i32,
            party_id: party.clone(),
            as_of,
            in_flight_threshold: threshold_hours.map(|h| prost_types::Duration {
                seconds: i64::from(h) * 3600,
                nanos: 0,
            }),
            page_size: 1000,
            page_token: page_token.clone(),
        };
        let page = with_retry(|| {
            let mut c = repat.metrics();
            let req = request.clone();
            async move { c.list_deadline_breaches(req).await.map(|r| r.into_inner()) }
        })
        .await
        .map_err(|s| in_flag_terms(s, FILTER_FLAGS))?;
        all.extend(page.breaches);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut names = Names::default();
    names
        .load_parties(repat, all.iter().map(|b| b.party_id.as_str()))
        .await?;
    names
        .load_repatriations(repat, all.iter().map(|b| b.repatriation_id.as_str()))
        .await?;
    let rows = all
        .iter()
        .map(|b| {
            vec![
                text(names.party(&b.party_id)),
                text(names.invoices_of(&b.repatriation_id)),
                text(b.corridor.clone()),
                text(date(&b.invoice_date)),
                text(date(&b.deadline)),
                v(json!(b.days_late)),
                text(timestamp(&b.initiate_time)),
                text(timestamp(&b.funds_available_time)),
                text(timestamp(&b.claim_file_time)),
                text(b.repatriation_id.clone()),
                text(b.party_id.clone()),
            ]
        })
        .collect();
    Ok(Report::default().table(
        "breaches",
        &[
            "party",
            "invoices",
            "corridor",
            "invoice_date",
            "deadline",
            "days_late",
            "initiated",
            "funds_available",
            "claim_filed",
            "repatriation",
            "party_id",
        ],
        rows,
    ))
}

/// The checkpoints of a file the server appended them to, one JSON
/// object a line (blank lines skipped).
fn read_checkpoints(path: &std::path::Path) -> anyhow::Result<Vec<pb::AuditCheckpoint>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = || format!("{} line {}", path.display(), n + 1);
        let c: serde_json::Value =
            serde_json::from_str(line).map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
        let field = |name: &str| {
            c[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow::anyhow!("{}: {name} is missing", at()))
        };
        out.push(pb::AuditCheckpoint {
            sequence: c["sequence"]
                .as_i64()
                .ok_or_else(|| anyhow::anyhow!("{}: sequence is missing", at()))?,
            head_hash: field("head_hash")?,
            sign_time: Some(
                parse_timestamp(&field("sign_time")?)
                    .map_err(|e| anyhow::anyhow!("{}: sign_time {e}", at()))?,
            ),
            key_id: field("key_id")?,
            signature: field("signature")?,
        });
    }
    Ok(out)
}

/// The chain's verdict (checked against the checkpoints kept in
/// `checkpoints`, if given), and whether it is intact.
pub async fn verify_audit(
    repat: &Repat,
    checkpoints: Option<&std::path::Path>,
) -> anyhow::Result<(Report, bool)> {
    let kept = checkpoints.map(read_checkpoints).transpose()?;
    let r = with_retry(|| {
        let mut c = repat.audit();
        let checkpoints = kept.clone().unwrap_or_default();
        async move {
            c.verify_audit_chain(pb::VerifyAuditChainRequest { checkpoints })
                .await
                .map(|r| r.into_inner())
        }
    })
    .await?;
    let mut fields = vec![
        ("intact", v(json!(r.intact))),
        ("entries_checked", v(json!(r.entries_checked))),
        ("head_hash", text(r.head_hash.clone())),
    ];
    if kept.is_some() {
        fields.push(("checkpoints_checked", v(json!(r.checkpoints_checked))));
    }
    if !r.intact {
        fields.push(("first_broken_sequence", v(json!(r.first_broken_sequence))));
        fields.push(("reason", text(r.reason.clone())));
    }
    if !r.checkpoint_problems.is_empty() {
        let problems: Vec<String> = r
            .checkpoint_problems
            .iter()
            .map(|p| format!("checkpoint {}: {}", p.sequence, p.reason))
            .collect();
        fields.push(("checkpoint_problems", text(problems.join("; "))));
    }
    Ok((Report::default().fields("audit", fields), r.intact))
}

/// The audit trail, oldest first.
pub async fn list_audit(
    repat: &Repat,
    subject: Option<String>,
    method: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: usize,
) -> anyhow::Result<Report> {
    let instant = |flag: &str, t: &Option<String>| {
        t.as_deref()
            .map(|t| parse_timestamp(t).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
            .transpose()
    };
    let (start_time, end_time) = (instant("--since", &since)?, instant("--until", &until)?);
    let mut rows = Vec::new();
    let mut token = String::new();
    while rows.len() < limit {
        let request = pb::ListAuditEntriesRequest {
            page_size: 1000,
            page_token: token.clone(),
            subject: subject.clone().unwrap_or_default(),
            method: method.clone().unwrap_or_default(),
            start_time,
            end_time,
        };
        let page = with_retry(|| {
            let mut c = repat.audit();
            let r = request.clone();
            async move { c.list_audit_entries(r).await.map(|r| r.into_inner()) }
        })
        .await?;
        rows.extend(page.entries.iter().map(|e| {
            vec![
                v(json!(e.sequence)),
                text(timestamp(&e.time)),
                text(e.subject.clone()),
                text(e.role.clone()),
                text(e.method.clone()),
                text(e.resource.clone()),
                text(e.request_id.clone()),
                text(e.request_hash.clone()),
                text(e.previous_hash.clone()),
                text(e.hash.clone()),
            ]
        }));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    rows.truncate(limit);
    Ok(Report::default().table(
        "audit",
        &[
            "sequence",
            "time",
            "subject",
            "role",
            "method",
            "resource",
            "request_id",
            "request_hash",
            "previous_hash",
            "hash",
        ],
        rows,
    ))
}
