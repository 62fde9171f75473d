//! The cash incentive: an assessment (stored or simulated) shown with its
//! verdict, every rule broken and every line of arithmetic; and claims.

use anyhow::Context;
use repat_proto::v1 as pb;
use serde_json::{Value, json};

use crate::cli::{ClaimStepArg, ServiceCategoryArg, SimulateArgs};
use crate::client::{Repat, with_retry};
use crate::commands::journey::{party_kind_arg, zone};
use crate::output::{Report, text};
use crate::wire::{date, money, parse_date, parse_timestamp, timestamp};

/// An assessment as a report: the verdict, the violations, the arithmetic.
pub fn assessment_report(a: &pb::Assessment) -> Report {
    let mut fields = Vec::new();
    if !a.id.is_empty() {
        fields.push(("assessment", json!(a.id)));
        fields.push(("repatriation", json!(a.repatriation_id)));
    }
    fields.extend([
        ("eligible", json!(a.eligible)),
        ("incentive", json!(money(&a.incentive))),
        ("computed_incentive", text(money(&a.computed_incentive))),
        ("base", text(money(&a.base))),
        ("programme", text(a.programme.clone())),
        ("rate", text(a.rate.clone())),
        ("rate_source", text(a.rate_source.clone())),
        (
            "repatriation_deadline",
            text(date(&a.repatriation_deadline)),
        ),
        ("claim_deadline", text(date(&a.claim_deadline))),
        ("rule_set", json!(a.rule_set_version)),
    ]);
    if let Some(i) = &a.inputs {
        fields.push(("as_of", text(date(&i.as_of))));
    }
    let violations = a
        .violations
        .iter()
        .map(|v| vec![json!(v.code), json!(v.message), text(v.source.clone())])
        .collect();
    let arithmetic = a
        .arithmetic
        .iter()
        .map(|c| vec![json!(c.description), json!(c.expression), json!(c.result)])
        .collect();
    Report::default()
        .fields("assessment", fields)
        .table("violations", &["code", "message", "source"], violations)
        .table("arithmetic", &["step", "expression", "result"], arithmetic)
        .main()
}

pub async fn assess(
    repat: &Repat,
    id: String,
    as_of: Option<String>,
    documents: Vec<String>,
    fx_rate: Option<String>,
    request_id: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let as_of = as_of
        .map(|d| parse_date(&d).map_err(|e| anyhow::anyhow!("--as-of: {e}")))
        .transpose()?;
    let request = pb::AssessRepatriationRequest {
        request_id: request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        repatriation_id: id,
        as_of,
        documents: documents
            .into_iter()
            .map(|d| d.to_ascii_uppercase())
            .collect(),
        fx_rate: fx_rate.unwrap_or_default(),
    };
    let a = with_retry(|| {
        let mut c = repat.incentives();
        let r = request.clone();
        async move { c.assess_repatriation(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    Ok(assessment_report(&a))
}

fn category(c: ServiceCategoryArg) -> pb::ServiceCategory {
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
    .await?;
    Ok(assessment_report(&a))
}

fn claim_report(c: &pb::Claim) -> Report {
    let status = pb::ClaimStatus::try_from(c.status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("CLAIM_STATUS_")
                .to_string()
        })
        .unwrap_or_default();
    let steps: Vec<Vec<Value>> = c
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
                json!(kind),
                json!(timestamp(&s.occur_time)),
                text(money(&s.amount)),
                text(s.reason.clone()),
            ]
        })
        .collect();
    let items = c
        .items
        .iter()
        .map(|i| {
            vec![
                json!(i.repatriation_id),
                json!(i.assessment_id),
                json!(money(&i.incentive)),
            ]
        })
        .collect();
    Report::default()
        .fields(
            "claim",
            vec![
                ("id", json!(c.id)),
                ("party", json!(c.party_id)),
                ("status", json!(status)),
                ("claimed", json!(money(&c.claimed))),
                ("disbursed", text(money(&c.disbursed))),
            ],
        )
        .table("items", &["repatriation", "assessment", "incentive"], items)
        .table("steps", &["step", "occurred_at", "amount", "reason"], steps)
        .main()
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
    let request = pb::FileClaimRequest {
        request_id: request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        party_id: party,
        repatriation_ids: repatriations,
        file_time: Some(file_time),
    };
    let c = with_retry(|| {
        let mut c = repat.incentives();
        let r = request.clone();
        async move { c.file_claim(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    Ok(claim_report(&c))
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
    Ok(claim_report(&c))
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
    Ok(claim_report(&c))
}
