//! The cash incentive: an assessment (looked at, recorded or simulated)
//! shown with its verdict, every rule broken and every line of arithmetic;
//! incentive totals; and claims.

use anyhow::Context;
use repat_proto::v1 as pb;
use serde_json::json;

use crate::cli::{ClaimStatusArg, ClaimStepArg, MonthRange, ServiceCategoryArg, SimulateArgs};
use crate::client::{Repat, with_retry};
use crate::commands::journey::{party_kind_arg, zone};
use crate::names::{Names, optional_party, party_id};
use crate::output::{Cell, Report, text, v};
use crate::wire::{date, parse_date, parse_timestamp, timestamp};

/// An assessment as a report: the verdict, the violations, the arithmetic.
pub fn assessment_report(a: &pb::Assessment, names: &Names, stored: bool) -> Report {
    let mut fields = Vec::new();
    if !a.repatriation_id.is_empty() {
        fields.push(("repatriation", text(a.repatriation_id.clone())));
        fields.push(("party", text(names.party(&a.party_id))));
        fields.push(("invoices", text(names.invoices_of(&a.repatriation_id))));
    }
    fields.extend([
        ("eligible", v(json!(a.eligible))),
        ("incentive", Cell::money(&a.incentive)),
        ("computed_incentive", Cell::money(&a.computed_incentive)),
        ("base", Cell::money(&a.base)),
        ("programme", text(a.programme.clone())),
        ("rate", text(a.rate.clone())),
        (
            "rate_as_percent",
            if a.rate.is_empty() {
                Cell::Null
            } else {
                Cell::share(&a.rate)
            },
        ),
        ("rate_source", text(a.rate_source.clone())),
        (
            "repatriation_deadline",
            text(date(&a.repatriation_deadline)),
        ),
        ("claim_deadline", text(date(&a.claim_deadline))),
        ("rule_set", text(a.rule_set_version.clone())),
    ]);
    if let Some(i) = &a.inputs {
        fields.push(("as_of", text(date(&i.as_of))));
    }
    fields.push(("stored", v(json!(stored))));
    if stored {
        fields.push(("assessment", text(a.id.clone())));
    }
    let violations = a
        .violations
        .iter()
        .map(|v| {
            vec![
                text(v.code.clone()),
                text(v.message.clone()),
                text(v.source.clone()),
            ]
        })
        .collect();
    let arithmetic = a
        .arithmetic
        .iter()
        .map(|c| {
            vec![
                text(c.description.clone()),
                text(c.expression.clone()),
                text(c.result.clone()),
            ]
        })
        .collect();
    let mut report = Report::default()
        .fields("assessment", fields)
        .table("violations", &["code", "message", "source"], violations)
        .table("arithmetic", &["step", "expression", "result"], arithmetic)
        .main();
    if !a.repatriation_id.is_empty() && !stored {
        report = report.note(
            "A look: nothing was stored (--record stores it as the journey's current assessment).",
        );
    }
    report
}

#[allow(clippy::too_many_arguments)]
pub async fn assess(
    repat: &Repat,
    id: String,
    as_of: Option<String>,
    documents: Vec<String>,
    fx_rate: Option<String>,
    record: bool,
    request_id: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let as_of = as_of
        .map(|d| parse_date(&d).map_err(|e| anyhow::anyhow!("--as-of: {e}")))
        .transpose()?;
    let request = pb::AssessRepatriationRequest {
        request_id: if record {
            request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string()
        } else {
            String::new()
        },
        repatriation_id: id,
        as_of,
        documents: documents
            .into_iter()
            .map(|d| d.to_ascii_uppercase())
            .collect(),
        fx_rate: fx_rate.unwrap_or_default(),
        validate_only: !record,
    };
    let a = with_retry(|| {
        let mut c = repat.incentives();
        let r = request.clone();
        async move { c.assess_repatriation(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    let mut names = Names::default();
    names.load_parties(repat, [a.party_id.as_str()]).await?;
    names
        .load_repatriations(repat, [a.repatriation_id.as_str()])
        .await?;
    Ok(assessment_report(&a, &names, record))
}

pub fn category(c: ServiceCategoryArg) -> pb::ServiceCategory {
    match c {
        ServiceCategoryArg::Software => pb::ServiceCategory::Software,
        ServiceCategoryArg::Ites => pb::ServiceCategory::Ites,
        ServiceCategoryArg::Hardware => pb::ServiceCategory::Hardware,
    }
}

pub async fn simulate(repat: &Repat, args: SimulateArgs) -> anyhow::Result<Report> {
    let date_flag = |flag: &str,
                     v: &Option<String>|
     -> anyhow::Result<Option<repat_proto::google::r#type::Date>> {
        v.as_deref()
            .map(|d| parse_date(d).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
            .transpose()
    };
    let rule_set_toml = match &args.rules {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the rule set {}", path.display()))?,
        None => String::new(),
    };
    let inputs = pb::AssessmentInputs {
        party_kind: party_kind_arg(args.party_kind) as i32,
        zone: zone(args.zone) as i32,
        service_category: category(args.service_category) as i32,
        formal_channel: args.formal_channel,
        invoice_date: date_flag("invoice-date", &Some(args.invoice_date.clone()))?,
        realized_on: date_flag("realized-on", &args.realized_on)?,
        net_credited: args.net_credited.clone().map(|amount| pb::Money {
            amount,
            currency: args.currency.to_ascii_uppercase(),
        }),
        fx_rate: args.fx_rate.clone().unwrap_or_default(),
        claim_filed_on: date_flag("claim-filed-on", &args.claim_filed_on)?,
        as_of: date_flag("as-of", &args.as_of)?,
        documents: args
            .documents
            .iter()
            .map(|d| d.to_ascii_uppercase())
            .collect(),
        recognised_marketplace: args.recognised_marketplace,
    };
    let request = pb::SimulateAssessmentRequest {
        inputs: Some(inputs),
        rule_set_version: args.rule_set_version.clone().unwrap_or_default(),
        rule_set_toml,
    };
    let a = with_retry(|| {
        let mut c = repat.incentives();
        let r = request.clone();
        async move { c.simulate_assessment(r).await.map(|r| r.into_inner()) }
    })
    .await
    // The flags' names, not the API's, in what went wrong.
    .map_err(|s| {
        crate::client::in_flag_terms(
            s,
            &[
                ("inputs.net_credited", "--net-credited"),
                ("inputs.fx_rate", "--fx-rate"),
                ("inputs.", "--"),
                ("rule_set_toml", "--rules"),
            ],
        )
    })?;
    Ok(assessment_report(&a, &Names::default(), false))
}

/// A month flag as the API's first day of that month.
fn month_date(
    flag: &str,
    m: &Option<String>,
) -> anyhow::Result<Option<repat_proto::google::r#type::Date>> {
    m.as_deref()
        .map(|m| parse_date(&format!("{m}-01")).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
        .transpose()
}

pub async fn totals(
    repat: &Repat,
    range: &MonthRange,
    party: Option<String>,
) -> anyhow::Result<Report> {
    let request = pb::GetIncentiveTotalsRequest {
        start_month: month_date("--from", &range.from)?,
        end_month: month_date("--to", &range.to)?,
        party_id: optional_party(repat, &party).await?,
    };
    let r = with_retry(|| {
        let mut c = repat.incentives();
        let req = request.clone();
        async move { c.get_incentive_totals(req).await.map(|r| r.into_inner()) }
    })
    .await?;
    let mut names = Names::default();
    names
        .load_parties(repat, r.totals.iter().map(|t| t.party_id.as_str()))
        .await?;
    let rows = r
        .totals
        .iter()
        .map(|t| {
            vec![
                text(t.month.clone()),
                text(t.programme.clone()),
                text(names.party(&t.party_id)),
                Cell::money(&t.assessed),
                v(json!(t.assessed_count)),
                Cell::money(&t.claimed),
                Cell::money(&t.disbursed),
                text(t.party_id.clone()),
            ]
        })
        .collect();
    Ok(Report::default()
        .table(
            "totals",
            &[
                "month",
                "programme",
                "party",
                "assessed",
                "assessed_count",
                "claimed",
                "disbursed",
                "party_id",
            ],
            rows,
        )
        .main()
        .fields(
            "sum",
            vec![
                ("assessed", Cell::money(&r.assessed)),
                ("claimed", Cell::money(&r.claimed)),
                ("disbursed", Cell::money(&r.disbursed)),
            ],
        ))
}

fn claim_status(status: i32) -> String {
    pb::ClaimStatus::try_from(status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("CLAIM_STATUS_")
                .to_string()
        })
        .unwrap_or_default()
}

fn claim_report(c: &pb::Claim, names: &Names) -> Report {
    let steps = c
        .steps
        .iter()
        .map(|s| {
            let kind = pb::ClaimStepKind::try_from(s.kind)
                .map(|k| {
                    k.as_str_name()
                        .trim_start_matches("CLAIM_STEP_KIND_")
                        .to_string()
                })
                .unwrap_or_default();
            vec![
                text(kind),
                text(timestamp(&s.occur_time)),
                Cell::money(&s.amount),
                text(s.reason.clone()),
            ]
        })
        .collect();
    let items = c
        .items
        .iter()
        .map(|i| {
            vec![
                text(names.invoices_of(&i.repatriation_id)),
                Cell::money(&i.incentive),
                text(i.repatriation_id.clone()),
                text(i.assessment_id.clone()),
            ]
        })
        .collect();
    Report::default()
        .fields(
            "claim",
            vec![
                ("id", text(c.id.clone())),
                ("party", text(names.party(&c.party_id))),
                ("party_id", text(c.party_id.clone())),
                ("status", text(claim_status(c.status))),
                ("claimed", Cell::money(&c.claimed)),
                ("disbursed", Cell::money(&c.disbursed)),
            ],
        )
        .table(
            "items",
            &["invoices", "incentive", "repatriation", "assessment"],
            items,
        )
        .table("steps", &["step", "occurred_at", "amount", "reason"], steps)
        .main()
}

async fn claim_names(repat: &Repat, claims: &[pb::Claim]) -> anyhow::Result<Names> {
    let mut names = Names::default();
    names
        .load_parties(repat, claims.iter().map(|c| c.party_id.as_str()))
        .await?;
    names
        .load_repatriations(
            repat,
            claims
                .iter()
                .flat_map(|c| c.items.iter().map(|i| i.repatriation_id.as_str())),
        )
        .await?;
    Ok(names)
}

pub async fn file_claim(
    repat: &Repat,
    party: String,
    repatriations: Vec<String>,
    at: Option<String>,
    request_id: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let file_time = match at {
        Some(t) => parse_timestamp(&t).map_err(|e| anyhow::anyhow!("--at: {e}"))?,
        None => crate::wire::now(),
    };
    let party_id = party_id(repat, &party).await?;
    let request = pb::FileClaimRequest {
        request_id: request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        party_id,
        repatriation_ids: repatriations,
        file_time: Some(file_time),
    };
    let c = with_retry(|| {
        let mut c = repat.incentives();
        let r = request.clone();
        async move { c.file_claim(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    Ok(claim_report(
        &c,
        &claim_names(repat, std::slice::from_ref(&c)).await?,
    ))
}

pub async fn claim_step(
    repat: &Repat,
    id: String,
    kind: ClaimStepArg,
    at: Option<String>,
    reason: Option<String>,
    amount: Option<String>,
    request_id: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let occur_time = match at {
        Some(t) => parse_timestamp(&t).map_err(|e| anyhow::anyhow!("--at: {e}"))?,
        None => crate::wire::now(),
    };
    let kind = match kind {
        ClaimStepArg::Audited => pb::ClaimStepKind::Audited,
        ClaimStepArg::Disbursed => pb::ClaimStepKind::Disbursed,
        ClaimStepArg::Rejected => pb::ClaimStepKind::Rejected,
    };
    let request = pb::RecordClaimStepRequest {
        request_id: request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        claim_id: id,
        kind: kind as i32,
        occur_time: Some(occur_time),
        reason: reason.unwrap_or_default(),
        amount: amount.map(|amount| pb::Money {
            amount,
            currency: "BDT".into(),
        }),
    };
    let c = with_retry(|| {
        let mut c = repat.incentives();
        let r = request.clone();
        async move { c.record_claim_step(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    Ok(claim_report(
        &c,
        &claim_names(repat, std::slice::from_ref(&c)).await?,
    ))
}

pub async fn show_claim(repat: &Repat, id: String) -> anyhow::Result<Report> {
    let c = with_retry(|| {
        let mut c = repat.incentives();
        let id = id.clone();
        async move {
            c.get_claim(pb::GetClaimRequest { id })
                .await
                .map(|r| r.into_inner())
        }
    })
    .await?;
    Ok(claim_report(
        &c,
        &claim_names(repat, std::slice::from_ref(&c)).await?,
    ))
}

pub async fn list_claims(
    repat: &Repat,
    party: Option<String>,
    status: Option<ClaimStatusArg>,
) -> anyhow::Result<Report> {
    let party = optional_party(repat, &party).await?;
    let status = status.map_or(0, |s| {
        (match s {
            ClaimStatusArg::Filed => pb::ClaimStatus::Filed,
            ClaimStatusArg::Audited => pb::ClaimStatus::Audited,
            ClaimStatusArg::Disbursed => pb::ClaimStatus::Disbursed,
            ClaimStatusArg::Rejected => pb::ClaimStatus::Rejected,
        }) as i32
    });
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let request = pb::ListClaimsRequest {
            page_size: 1000,
            page_token: token.clone(),
            party_id: party.clone(),
            status,
        };
        let page = with_retry(|| {
            let mut c = repat.incentives();
            let r = request.clone();
            async move { c.list_claims(r).await.map(|r| r.into_inner()) }
        })
        .await?;
        all.extend(page.claims);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let names = claim_names(repat, &all).await?;
    let rows = all
        .iter()
        .map(|c| {
            let filed = c
                .steps
                .first()
                .map(|s| timestamp(&s.occur_time))
                .unwrap_or_default();
            vec![
                text(names.party(&c.party_id)),
                text(
                    c.items
                        .iter()
                        .map(|i| names.invoices_of(&i.repatriation_id))
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                text(claim_status(c.status)),
                text(filed),
                Cell::money(&c.claimed),
                Cell::money(&c.disbursed),
                text(c.id.clone()),
                text(c.party_id.clone()),
            ]
        })
        .collect();
    Ok(Report::default().table(
        "claims",
        &[
            "party",
            "invoices",
            "status",
            "filed_at",
            "claimed",
            "disbursed",
            "id",
            "party_id",
        ],
        rows,
    ))
}
