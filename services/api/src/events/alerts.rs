//! The deadline alerts due on a day: an unrealized earning's repatriation
//! deadline 30, 7 and 1 days ahead, a realized repatriation's claim window
//! as near, and payments in flight longer than a threshold. Deadlines are
//! the rule set's, per programme (`Deadline::from`), counted in Dhaka
//! dates. Each alert's id is derived from what it is about and the
//! threshold, so however many replicas raise it, it is appended once.

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use repat_core::events::{DeadlineAlert, EventType, InFlightAlert, threshold_reached};
use repat_core::incentive::rules::{Deadline, RuleSet};
use repat_core::time::dhaka_date;
use repat_store::{Breach, BreachFilter, BreachKind, NewEvent, Repository};
use uuid::Uuid;

use crate::error::ApiResult;

/// The widest threshold: how far ahead deadlines are looked for.
const HORIZON_DAYS: u64 = 30;
/// Breaches read per query.
const PAGE: u32 = 1000;

/// The most days a deadline can allow (a month has at most 31).
fn most_days(d: &Deadline) -> u64 {
    match (d.days, d.months) {
        (Some(days), None) => u64::from(days),
        (None, Some(m)) => u64::from(m) * 31,
        _ => 0,
    }
}

fn rule(d: &Deadline) -> String {
    format!("{} ({})", d.describe(), d.source)
}

/// Raises the alerts due at `now` (appending those not raised before);
/// returns how many were new.
pub async fn raise_due(
    repo: &dyn Repository,
    rules: &RuleSet,
    now: DateTime<Utc>,
    in_flight: Duration,
) -> ApiResult<usize> {
    // Breaches read the journeys' summaries: bring them up to date first.
    crate::settle_metrics(repo).await?;
    let today = dhaka_date(now);
    let mut alerts = repatriation_deadlines(repo, rules, today).await?;
    alerts.extend(claim_windows(repo, rules, today).await?);
    alerts.extend(in_flight_payments(repo, now, in_flight).await?);
    Ok(repo.raise_alerts(&alerts).await?.len())
}

async fn repatriation_deadlines(
    repo: &dyn Repository,
    rules: &RuleSet,
    today: NaiveDate,
) -> ApiResult<Vec<NewEvent>> {
    let (shortest, _) = rules.shortest_deadlines();
    let longest = rules
        .programmes
        .iter()
        .map(|p| most_days(&p.repatriation_deadline))
        .max()
        .unwrap_or(0);
    // Invoices whose deadline can fall between today and the horizon.
    let from = today.checked_sub_days(Days::new(longest)).unwrap_or(today);
    let to = (today + Days::new(HORIZON_DAYS))
        .checked_sub_days(Days::new(u64::from(shortest)))
        .unwrap_or(today);
    let mut out = Vec::new();
    for e in repo.unrealized_earnings(from, to).await? {
        let Some(programme) = rules.programme_for(&e.party_kind, &e.service_category) else {
            continue;
        };
        let d = &programme.repatriation_deadline;
        let Some(deadline) = d.from(e.invoice_date) else {
            continue;
        };
        let Some(threshold) = threshold_reached(deadline, today) else {
            continue;
        };
        let alert = DeadlineAlert {
            party_id: e.party_id,
            earning_id: Some(e.earning_id),
            repatriation_id: None,
            counted_from: e.invoice_date,
            deadline,
            days_left: (deadline - today).num_days(),
            threshold_days: threshold,
            programme: programme.id.clone(),
            rule: rule(d),
        };
        out.push(NewEvent::new(
            EventType::RepatriationDeadlineAlert,
            e.party_id,
            format!("earnings/{}", e.earning_id),
            &threshold.to_string(),
            &alert,
        )?);
    }
    Ok(out)
}

/// Every breach candidate of `filter`, page by page.
async fn all_breaches(repo: &dyn Repository, filter: &BreachFilter) -> ApiResult<Vec<Breach>> {
    let mut out: Vec<Breach> = Vec::new();
    let mut after: Option<Uuid> = None;
    loop {
        let page = repo.breaches(filter, after, PAGE).await?;
        let done = page.len() < PAGE as usize;
        after = page.last().map(|b| b.repatriation_id);
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

fn breach_filter(kind: BreachKind) -> BreachFilter {
    BreachFilter {
        kind,
        party_id: None,
        // The late-realization and late-claim branches never match.
        today: NaiveDate::MIN,
        claim_days: i32::MAX,
        realization_cutoff: NaiveDate::MIN,
        initiated_before: DateTime::<Utc>::MIN_UTC,
    }
}

async fn claim_windows(
    repo: &dyn Repository,
    rules: &RuleSet,
    today: NaiveDate,
) -> ApiResult<Vec<NewEvent>> {
    let (_, shortest) = rules.shortest_deadlines();
    // Realized, unclaimed journeys whose window can close by the horizon.
    let cutoff = (today + Days::new(HORIZON_DAYS + 1))
        .checked_sub_days(Days::new(u64::from(shortest)))
        .unwrap_or(today);
    let filter = BreachFilter {
        realization_cutoff: cutoff,
        ..breach_filter(BreachKind::ClaimWindowExpired)
    };
    let mut out = Vec::new();
    for b in all_breaches(repo, &filter).await? {
        let (Some(realized), None) = (b.realized_on, b.claim_filed_at) else {
            continue;
        };
        let Some(programme) = rules.programme_for(&b.party_kind, &b.service_category) else {
            continue;
        };
        let d = &programme.claim_window;
        let Some(deadline) = d.from(realized) else {
            continue;
        };
        let Some(threshold) = threshold_reached(deadline, today) else {
            continue;
        };
        let alert = DeadlineAlert {
            party_id: b.party_id,
            earning_id: None,
            repatriation_id: Some(b.repatriation_id),
            counted_from: realized,
            deadline,
            days_left: (deadline - today).num_days(),
            threshold_days: threshold,
            programme: programme.id.clone(),
            rule: rule(d),
        };
        out.push(NewEvent::new(
            EventType::ClaimWindowAlert,
            b.party_id,
            format!("repatriations/{}", b.repatriation_id),
            &threshold.to_string(),
            &alert,
        )?);
    }
    Ok(out)
}

async fn in_flight_payments(
    repo: &dyn Repository,
    now: DateTime<Utc>,
    threshold: Duration,
) -> ApiResult<Vec<NewEvent>> {
    let filter = BreachFilter {
        initiated_before: now - threshold,
        ..breach_filter(BreachKind::InFlight)
    };
    let mut out = Vec::new();
    for b in all_breaches(repo, &filter).await? {
        let Some(initiated_at) = b.initiated_at else {
            continue;
        };
        let alert = InFlightAlert {
            party_id: b.party_id,
            repatriation_id: b.repatriation_id,
            initiated_at,
            threshold_secs: threshold.num_seconds(),
        };
        out.push(NewEvent::new(
            EventType::InFlightAlert,
            b.party_id,
            format!("repatriations/{}", b.repatriation_id),
            &threshold.num_seconds().to_string(),
            &alert,
        )?);
    }
    Ok(out)
}
