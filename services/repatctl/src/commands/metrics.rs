//! Delay statistics (and their plot), the G20 scorecard, deadline breaches
//! and the audit chain.

use futures::StreamExt;
use repat_proto::v1 as pb;
use serde_json::{Value, json};

use crate::cli::{BreachKindArg, DelaysArgs, MonthRange};
use crate::client::{Repat, with_retry};
use crate::output::{Report, text};
use crate::wire::{date, human_duration, parse_date, seconds, timestamp};

/// A dimension's name on the command line, its wire value, and the field
/// of a group it fills.
const DIMENSIONS: &[(&str, pb::Dimension)] = &[
    ("corridor", pb::Dimension::Corridor),
    ("channel", pb::Dimension::Channel),
    ("institution", pb::Dimension::Institution),
    ("party-kind", pb::Dimension::PartyKind),
    ("month", pb::Dimension::Month),
];

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

/// The dimensions asked for; `step` (or `measure`) is always part of the
/// key and needs no saying.
pub fn parse_group_by(names: &[String]) -> anyhow::Result<Vec<(&'static str, pb::Dimension)>> {
    let mut dims = Vec::new();
    for name in names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase().replace('_', "-"))
        .filter(|n| !n.is_empty())
    {
        if name == "step" || name == "measure" {
            continue;
        }
        let Some(d) = DIMENSIONS.iter().find(|(n, _)| *n == name) else {
            anyhow::bail!(
                "--group-by: {name:?} is not a dimension (step, {})",
                DIMENSIONS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        if !dims.contains(d) {
            dims.push(*d);
        }
    }
    Ok(dims)
}

pub async fn delays(repat: &Repat, args: &DelaysArgs) -> anyhow::Result<Report> {
    let dims = parse_group_by(&args.group_by)?;
    let request = pb::GetDelayStatisticsRequest {
        group_by: dims.iter().map(|(_, d)| *d as i32).collect(),
        start_month: args.range.from.clone().unwrap_or_default(),
        end_month: args.range.to.clone().unwrap_or_default(),
        party_id: args.party.clone().unwrap_or_default(),
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
    .await?;
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
            let mut row = vec![json!(g.measure)];
            row.extend(dims.iter().map(|(_, d)| text(dimension_value(g, *d))));
            row.push(json!(g.count));
            for d in [&g.min, &g.p50, &g.p90, &g.p95, &g.p99, &g.max, &g.mean] {
                row.push(json!(human_duration(d)));
            }
            for d in [&g.min, &g.p50, &g.p90, &g.p95, &g.p99, &g.max, &g.mean] {
                row.push(seconds(d));
            }
            row
        })
        .collect();
    let mut report = Report::default().table("delays", &columns, rows);
    if !r.exact {
        report = report.note(format!("min, max and percentiles read off log buckets: within {} of the exact values (count and mean exact)", r.relative_error));
    }
    Ok(report)
}

/// Every raw observation of the measures asked for, for the plot.
pub async fn export(
    repat: &Repat,
    range: &MonthRange,
    party: &Option<String>,
    measure: &Option<String>,
) -> anyhow::Result<Vec<pb::DurationRecord>> {
    let request = pb::ExportDurationsRequest {
        start_month: range.from.clone().unwrap_or_default(),
        end_month: range.to.clone().unwrap_or_default(),
        party_id: party.clone().unwrap_or_default(),
        measure: measure.clone().unwrap_or_default().to_ascii_uppercase(),
    };
    let mut stream = repat
        .metrics()
        .export_durations(request)
        .await?
        .into_inner();
    let mut records = Vec::new();
    while let Some(r) = stream.next().await {
        records.push(r?);
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
        party_id: party.unwrap_or_default(),
    };
    let r = with_retry(|| {
        let mut c = repat.metrics();
        let req = request.clone();
        async move { c.get_scorecard(req).await.map(|r| r.into_inner()) }
    })
    .await?;
    let yes = |b: bool| json!(if b { "yes" } else { "no" });
    let rows = r
        .entries
        .iter()
        .map(|e| {
            vec![
                json!(e.corridor),
                json!(e.month),
                json!(e.completed),
                json!(e.within_one_hour),
                json!(e.within_one_business_day),
                json!(e.share_within_one_hour),
                json!(e.share_within_one_business_day),
                text(e.average_cost.clone()),
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
    let kind = match kind {
        BreachKindArg::RepatriationLate => pb::BreachKind::RepatriationLate,
        BreachKindArg::ClaimWindowExpired => pb::BreachKind::ClaimWindowExpired,
        BreachKindArg::InFlight => pb::BreachKind::InFlight,
    };
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListDeadlineBreachesRequest {
            kind: kind as i32,
            party_id: party.clone().unwrap_or_default(),
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
        .await?;
        for b in &page.breaches {
            rows.push(vec![
                json!(b.repatriation_id),
                json!(b.party_id),
                json!(b.corridor),
                text(date(&b.invoice_date)),
                text(date(&b.deadline)),
                text(timestamp(&b.initiate_time)),
                text(timestamp(&b.funds_available_time)),
                text(timestamp(&b.claim_file_time)),
                json!(b.days_late),
            ]);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(Report::default().table(
        "breaches",
        &[
            "repatriation",
            "party",
            "corridor",
            "invoice_date",
            "deadline",
            "initiated",
            "funds_available",
            "claim_filed",
            "days_late",
        ],
        rows,
    ))
}

/// The chain's verdict, and whether it is intact.
pub async fn verify_audit(repat: &Repat) -> anyhow::Result<(Report, bool)> {
    let r = with_retry(|| {
        let mut c = repat.audit();
        async move {
            c.verify_audit_chain(pb::VerifyAuditChainRequest {})
                .await
                .map(|r| r.into_inner())
        }
    })
    .await?;
    let mut fields = vec![
        ("intact", json!(r.intact)),
        ("entries_checked", json!(r.entries_checked)),
        ("head_hash", text(r.head_hash.clone())),
    ];
    if !r.intact {
        fields.push(("first_broken_sequence", json!(r.first_broken_sequence)));
        fields.push(("reason", json!(r.reason)));
    }
    Ok((Report::default().fields("audit", fields), r.intact))
}
