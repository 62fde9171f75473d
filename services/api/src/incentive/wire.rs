//! Incentive values to and from the wire.

use repat_core::document::DocumentKind;
use repat_core::incentive::claim::{Claim, ClaimStatus, ClaimStepKind};
use repat_core::incentive::rules::Programme;
use repat_core::incentive::totals::Total;
use repat_core::incentive::{Assessment, Case, Reason, RuleSet};
use repat_core::money::parse_currency;
use repat_core::{Money, Named};
use repat_proto::v1 as pb;
use repat_store::{StoredAssessment, StoredRuleSet};
use rust_decimal::Decimal;

use crate::convert::{self, date, enum_map, money, timestamp};
use crate::validate::Violations;

enum_map!(reason, reason_from, pb::IneligibilityReason, Reason, {
    NoProgramme <=> NoProgramme, ExcludedZone <=> ExcludedZone, InformalChannel <=> InformalChannel,
    NotRealized <=> NotRealized, RepatriationLate <=> RepatriationLate, ClaimWindowExpired <=> ClaimWindowExpired,
    NoRateInForce <=> NoRateInForce, MissingFxRate <=> MissingFxRate, MissingDocument <=> MissingDocument,
});
enum_map!(claim_status, claim_status_from, pb::ClaimStatus, ClaimStatus, {
    Filed <=> Filed, Audited <=> Audited, Disbursed <=> Disbursed, Rejected <=> Rejected,
});
enum_map!(claim_step_kind, claim_step_kind_from, pb::ClaimStepKind, ClaimStepKind, {
    Filed <=> Filed, Audited <=> Audited, Disbursed <=> Disbursed, Rejected <=> Rejected,
});

/// Taka, at two decimals.
pub fn bdt(amount: Decimal) -> pb::Money {
    let mut a = amount;
    a.rescale(2);
    pb::Money {
        amount: a.to_string(),
        currency: "BDT".into(),
    }
}

pub fn inputs(c: &Case) -> pb::AssessmentInputs {
    pb::AssessmentInputs {
        party_kind: convert::party_kind(c.party_kind) as i32,
        zone: convert::zone(c.zone) as i32,
        service_category: convert::service_category(c.category) as i32,
        formal_channel: c.formal_channel,
        invoice_date: Some(date(c.invoice_date)),
        realized_on: c.realized_on.map(date),
        net_credited: c.net_credited.map(money),
        fx_rate: c.fx_rate.map(|r| r.to_string()).unwrap_or_default(),
        claim_filed_on: c.claim_filed_on.map(date),
        as_of: Some(date(c.as_of)),
        documents: c.documents.clone(),
        recognised_marketplace: c.recognised_marketplace,
    }
}

pub fn assessment(a: &Assessment, c: &Case) -> pb::Assessment {
    pb::Assessment {
        id: String::new(),
        repatriation_id: String::new(),
        party_id: String::new(),
        rule_set_version: a.rule_set_version.clone(),
        eligible: a.eligible,
        programme: a.programme.clone().unwrap_or_default(),
        rate: a.rate.map(|r| r.to_string()).unwrap_or_default(),
        rate_source: a.rate_source.clone(),
        base: a.base_bdt.map(bdt),
        computed_incentive: a.computed_incentive_bdt.map(bdt),
        incentive: Some(bdt(a.incentive_bdt)),
        repatriation_deadline: a.repatriation_deadline.map(date),
        claim_deadline: a.claim_deadline.map(date),
        violations: a
            .violations
            .iter()
            .map(|v| pb::Violation {
                reason: reason(v.reason) as i32,
                code: v.reason.name().to_string(),
                message: v.message.clone(),
                source: v.source.clone(),
                document: v.document.clone().unwrap_or_default(),
            })
            .collect(),
        arithmetic: a
            .arithmetic
            .iter()
            .map(|l| pb::Calculation {
                description: l.description.clone(),
                expression: l.expression.clone(),
                result: l.result.to_string(),
            })
            .collect(),
        inputs: Some(inputs(c)),
        assess_time: None,
        superseded_by: String::new(),
    }
}

pub fn stored_assessment(s: &StoredAssessment) -> pb::Assessment {
    pb::Assessment {
        id: s.id.to_string(),
        repatriation_id: s.repatriation_id.to_string(),
        party_id: s.party_id.to_string(),
        assess_time: Some(timestamp(s.assess_time)),
        superseded_by: s.superseded_by.clone().unwrap_or_default(),
        ..assessment(&s.assessment, &s.case)
    }
}

/// Decodes the inputs of a simulation. Dates of a what-if may lie anywhere;
/// every field is checked; `as_of` defaults to `today`.
pub fn decode_inputs(
    v: &mut Violations,
    i: Option<&pb::AssessmentInputs>,
    today: chrono::NaiveDate,
) -> Option<Case> {
    let Some(i) = i else {
        v.add("inputs", "is required");
        return None;
    };
    let party_kind = convert::party_kind_from(i.party_kind);
    if party_kind.is_none() {
        v.add("inputs.party_kind", "must be FIRM or FREELANCER");
    }
    let zone = if i.zone == 0 {
        Some(repat_core::party::Zone::None)
    } else {
        convert::zone_from(i.zone)
    };
    if zone.is_none() {
        v.add("inputs.zone", format!("unknown zone {}", i.zone));
    }
    let category = convert::service_category_from(i.service_category);
    if category.is_none() {
        v.add(
            "inputs.service_category",
            "must be SOFTWARE, ITES or HARDWARE",
        );
    }
    let invoice_date = v.date("inputs.invoice_date", i.invoice_date.as_ref());
    let realized_on = v.optional_date("inputs.realized_on", i.realized_on.as_ref());
    let net_credited = v.optional_money("inputs.net_credited", i.net_credited.as_ref());
    let fx_rate = if i.fx_rate.is_empty() {
        Some(None)
    } else {
        v.rate("inputs.fx_rate", &i.fx_rate).map(Some)
    };
    let claim_filed_on = v.optional_date("inputs.claim_filed_on", i.claim_filed_on.as_ref());
    let as_of = v.optional_date("inputs.as_of", i.as_of.as_ref());
    if let (Some(Some(n)), Some(Some(_))) = (net_credited, realized_on)
        && n.amount() <= Decimal::ZERO
    {
        v.add("inputs.net_credited.amount", "must be positive");
    }
    if let (Some(Some(_)), Some(None)) = (net_credited, realized_on) {
        v.add(
            "inputs.realized_on",
            "is required when net_credited is given",
        );
    }
    let documents = documents(v, "inputs.documents", &i.documents);
    Some(Case {
        party_kind: party_kind?,
        zone: zone?,
        category: category?,
        formal_channel: i.formal_channel,
        invoice_date: invoice_date?,
        realized_on: realized_on?,
        net_credited: net_credited?,
        fx_rate: fx_rate?,
        claim_filed_on: claim_filed_on?,
        as_of: as_of?.unwrap_or(today),
        documents: documents?,
        recognised_marketplace: i.recognised_marketplace,
    })
}

/// Document names, as the rule files name them: DocumentKind names
/// without their prefix.
pub fn documents(v: &mut Violations, field: &str, names: &[String]) -> Option<Vec<String>> {
    if !v.at_most(field, names.len(), crate::validate::MAX_DOCUMENTS) {
        return None;
    }
    let mut ok = true;
    for (n, d) in names.iter().enumerate() {
        if DocumentKind::from_name(d).is_none() {
            let known: Vec<&str> = DocumentKind::NAMES.iter().map(|(_, n)| *n).collect();
            v.add(
                format!("{field}[{n}]"),
                format!("{d:?} is not a document; documents are {known:?}"),
            );
            ok = false;
        }
    }
    ok.then(|| names.to_vec())
}

/// BDT only: incentives are paid in taka.
pub fn optional_bdt(
    v: &mut Violations,
    field: &str,
    m: Option<&pb::Money>,
) -> Option<Option<Money>> {
    let m = v.optional_money(field, m)?;
    if let Some(m) = m {
        if Ok(m.currency()) != parse_currency("BDT") {
            v.add(
                format!("{field}.currency"),
                format!("must be BDT, got {}", m.currency().code()),
            );
            return None;
        }
        if m.amount() <= Decimal::ZERO {
            v.add(format!("{field}.amount"), "must be positive");
            return None;
        }
    }
    Some(m)
}

fn programme(p: &Programme) -> pb::Programme {
    pb::Programme {
        id: p.id.clone(),
        name: p.name.clone(),
        party_kinds: p.party_kinds.clone(),
        service_categories: p.service_categories.clone(),
        rates: p
            .rates
            .iter()
            .map(|r| pb::ProgrammeRate {
                effective_from: Some(date(r.from)),
                rate: r.rate.to_string(),
                source: r.source.clone(),
            })
            .collect(),
        rate_date: format!("{:?}", p.rate_date).to_uppercase(),
        rounding: p.rounding.describe(),
        repatriation_deadline: p.repatriation_deadline.describe(),
        claim_window: p.claim_window.describe(),
        excluded_zones: p.excluded_zones.clone(),
        documents: p
            .documents
            .iter()
            .map(|d| pb::ProgrammeDocument {
                document: d.document.clone(),
                required_from: d.required_from.map(date),
                required_until: d.required_until.map(date),
                waived_by_simplified_route: d.waived_by_simplified_route,
                simplified_route_instead: d.simplified_route_instead.clone().unwrap_or_default(),
                source: d.source.clone(),
            })
            .collect(),
    }
}

/// A stored rule set; with `parsed`, its programmes and text too.
pub fn rule_set(s: &StoredRuleSet, active: bool, parsed: Option<&RuleSet>) -> pb::RuleSet {
    pb::RuleSet {
        version: s.version.clone(),
        name: s.name.clone(),
        active,
        sha256: s.sha256.clone(),
        load_time: Some(timestamp(s.load_time)),
        programmes: parsed
            .map(|r| r.programmes.iter().map(programme).collect())
            .unwrap_or_default(),
        source_toml: if parsed.is_some() {
            s.source_toml.clone()
        } else {
            String::new()
        },
    }
}

pub fn claim(c: &Claim) -> pb::Claim {
    pb::Claim {
        id: c.id.to_string(),
        party_id: c.party_id.to_string(),
        status: claim_status(c.status) as i32,
        items: c
            .items
            .iter()
            .map(|i| pb::ClaimItem {
                repatriation_id: i.repatriation_id.to_string(),
                assessment_id: i.assessment_id.to_string(),
                incentive: Some(money(i.incentive)),
            })
            .collect(),
        claimed: Some(money(c.claimed)),
        disbursed: c.disbursed.map(money),
        steps: c
            .steps
            .iter()
            .map(|s| pb::ClaimStep {
                kind: claim_step_kind(s.kind) as i32,
                occur_time: Some(timestamp(s.occurred_at)),
                record_time: Some(timestamp(s.recorded_at)),
                reason: s.reason.clone().unwrap_or_default(),
                amount: s.amount.map(money),
            })
            .collect(),
    }
}

pub fn total(t: &Total) -> pb::IncentiveTotal {
    pb::IncentiveTotal {
        month: t.month.clone(),
        programme: t.programme.clone(),
        party_id: t.party_id.to_string(),
        assessed: Some(bdt(t.assessed)),
        claimed: Some(bdt(t.claimed)),
        disbursed: Some(bdt(t.disbursed)),
        assessed_count: t.assessed_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_and_claim_value_crosses_the_wire_and_back() {
        for (r, _) in Reason::NAMES {
            assert_eq!(reason_from(reason(*r) as i32), Some(*r));
        }
        for (s, _) in ClaimStatus::NAMES {
            assert_eq!(claim_status_from(claim_status(*s) as i32), Some(*s));
        }
        for (k, _) in ClaimStepKind::NAMES {
            assert_eq!(claim_step_kind_from(claim_step_kind(*k) as i32), Some(*k));
        }
    }
}
