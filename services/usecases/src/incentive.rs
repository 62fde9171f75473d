//! The incentive's reads: assessments, claims, rule sets, what-ifs and
//! totals.

use chrono::NaiveDate;
use repat_core::incentive::claim::Claim;
use repat_core::incentive::totals::{Total, sum_by_month};
use repat_core::incentive::{Assessment, Case, RuleSet, assess};
use repat_store::{
    AssessmentFilter, ClaimFilter, Page, PageRequest, StoredAssessment, StoredRuleSet,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::App;
use crate::assess::overflow;
use crate::auth::{Action, Caller, authorize, list_scope};
use crate::error::Result;
use crate::rules::ActiveRules;

pub async fn get_assessment(app: &App, caller: &Caller, id: Uuid) -> Result<StoredAssessment> {
    app.read_as(
        caller,
        ("assessment", id),
        |s| s.get_assessment(id),
        |a| Action::Read(a.party_id),
    )
    .await
}

/// Assessments of the party asked for, or of one repatriation (whose party
/// the caller must see).
pub async fn list_assessments(
    app: &App,
    caller: &Caller,
    filter: AssessmentFilter,
    page: PageRequest,
) -> Result<Page<StoredAssessment>> {
    let (party_id, permit) = match (filter.party_id, filter.repatriation_id) {
        // A repatriation names its party: authorize on that.
        (None, Some(rid)) => {
            let (party, permit) = app.repatriation_party(caller, rid, Action::Read).await?;
            (Some(party), permit)
        }
        (p, _) => list_scope(caller, p)?,
    };
    let filter = AssessmentFilter { party_id, ..filter };
    Ok(app.store(&permit).list_assessments(&filter, page).await?)
}

/// The rules a what-if is assessed under.
pub enum RulesAsked {
    /// A stored version (the one in force when empty).
    Version(String),
    /// Rules sent with the request.
    Inline(RuleSet),
}

/// An assessment of a case given whole: it reads and stores nothing but
/// the rules, so every caller may ask.
pub async fn simulate_assessment(
    app: &App,
    active: &ActiveRules,
    caller: &Caller,
    case: &Case,
    rules: RulesAsked,
) -> Result<Assessment> {
    let permit = authorize(caller, Action::ReadRules)?;
    let rules = match rules {
        RulesAsked::Inline(rules) => rules,
        RulesAsked::Version(v) => active.version(app.store(&permit), &v).await?.1,
    };
    assess(&rules, case).map_err(|e| overflow("inputs.net_credited", e))
}

/// Every stored rule set, newest first, each with whether it is in force.
pub async fn list_rule_sets(
    app: &App,
    active: &ActiveRules,
    caller: &Caller,
) -> Result<Vec<(StoredRuleSet, bool)>> {
    let permit = authorize(caller, Action::ReadRules)?;
    let sets = app.store(&permit).list_rule_sets().await?;
    Ok(sets
        .into_iter()
        .map(|s| {
            let in_force = s.version == active.stored.version;
            (s, in_force)
        })
        .collect())
}

/// A rule set (the one in force when `version` is empty), parsed, and
/// whether it is in force.
pub async fn get_rule_set(
    app: &App,
    active: &ActiveRules,
    caller: &Caller,
    version: &str,
) -> Result<(StoredRuleSet, RuleSet, bool)> {
    let permit = authorize(caller, Action::ReadRules)?;
    let (stored, rules) = active.version(app.store(&permit), version).await?;
    let in_force = stored.version == active.stored.version;
    Ok((stored, rules, in_force))
}

pub async fn get_claim(app: &App, caller: &Caller, id: Uuid) -> Result<Claim> {
    app.read_as(
        caller,
        ("claim", id),
        |s| s.get_claim(id),
        |c| Action::Read(c.party_id),
    )
    .await
}

pub async fn list_claims(
    app: &App,
    caller: &Caller,
    filter: ClaimFilter,
    page: PageRequest,
) -> Result<Page<Claim>> {
    let (party_id, permit) = list_scope(caller, filter.party_id)?;
    let filter = ClaimFilter { party_id, ..filter };
    Ok(app.store(&permit).list_claims(&filter, page).await?)
}

/// Incentive assessed, claimed and disbursed, in all and by month,
/// programme and party, summed exactly.
pub struct Totals {
    pub assessed: Decimal,
    pub claimed: Decimal,
    pub disbursed: Decimal,
    pub by_month: Vec<Total>,
}

/// The totals of the months from `start` to `end`, of the party asked for
/// (`None`: as the caller's scope allows).
pub async fn incentive_totals(
    app: &App,
    caller: &Caller,
    party_id: Option<Uuid>,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> Result<Totals> {
    let (party_id, permit) = list_scope(caller, party_id)?;
    let ledger = app.store(&permit).incentive_ledger(party_id).await?;
    let by_month = sum_by_month(&ledger, start, end);
    let sum = |f: fn(&Total) -> Decimal| by_month.iter().map(f).sum();
    Ok(Totals {
        assessed: sum(|t| t.assessed),
        claimed: sum(|t| t.claimed),
        disbursed: sum(|t| t.disbursed),
        by_month,
    })
}
