//! How long each step took and what the journey cost, computed exactly from
//! `occurred_at` (whole nanoseconds, no floating point).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::Money;
use crate::journey::{Step, StepKind, timeline};
use crate::money::ratio_half_up;

/// Decimal places of the fee share ("0.012500" is 1.25%).
pub const FEE_SHARE_SCALE: u32 = 6;

/// A step in its place in the timeline, with the wait before it.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry<'a> {
    pub step: &'a Step,
    /// Since the previous step by occurrence; `None` for the first.
    pub wait_before: Option<Duration>,
}

/// The spans users ask about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans {
    /// PAYMENT_INITIATED to BENEFICIARY_CREDITED.
    pub initiation_to_funds_available: Option<Duration>,
    /// Invoice (INVOICE_ISSUED, else the earliest invoice date at 00:00 UTC)
    /// to BENEFICIARY_CREDITED.
    pub invoice_to_realization: Option<Duration>,
    /// Calendar days from the earliest invoice date to the (UTC) date of
    /// BENEFICIARY_CREDITED.
    pub invoice_to_realization_days: Option<i64>,
    /// First step to last step.
    pub total: Option<Duration>,
}

/// What the journey cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeeSummary {
    /// Recorded fees summed per currency, ordered by currency code.
    pub total_fees: Vec<Money>,
    /// Fees in the initiated currency over the initiated amount, half-up to
    /// [`FEE_SHARE_SCALE`] places.
    pub fee_share_of_initiated: Option<Decimal>,
    /// Initiated minus credited amount, when both are known in one currency.
    pub initiated_minus_credited: Option<Money>,
}

/// The timeline with the wait before each step.
pub fn waits(steps: &[Step]) -> Vec<TimelineEntry<'_>> {
    let ordered = timeline(steps);
    let mut prev: Option<DateTime<Utc>> = None;
    ordered
        .into_iter()
        .map(|step| {
            let wait_before = prev.map(|p| step.occurred_at() - p);
            prev = Some(step.occurred_at());
            TimelineEntry { step, wait_before }
        })
        .collect()
}

fn first_of(steps: &[Step], kind: StepKind) -> Option<&Step> {
    steps
        .iter()
        .filter(|s| s.kind() == kind)
        .min_by_key(|s| s.occurred_at())
}

/// The spans of a journey; `invoice_dates` are the dates of the earnings it
/// pays.
pub fn spans(steps: &[Step], invoice_dates: &[NaiveDate]) -> Spans {
    let at = |k| first_of(steps, k).map(Step::occurred_at);
    let credited = at(StepKind::BeneficiaryCredited);
    let earliest_invoice = invoice_dates.iter().min().copied();
    let invoice_at = at(StepKind::InvoiceIssued)
        .or_else(|| earliest_invoice.map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc()));
    let first = steps.iter().map(Step::occurred_at).min();
    let last = steps.iter().map(Step::occurred_at).max();
    Spans {
        initiation_to_funds_available: at(StepKind::PaymentInitiated)
            .zip(credited)
            .map(|(i, c)| c - i),
        invoice_to_realization: invoice_at.zip(credited).map(|(i, c)| c - i),
        invoice_to_realization_days: earliest_invoice
            .zip(credited)
            .map(|(d, c)| (c.date_naive() - d).num_days()),
        total: first.zip(last).map(|(f, l)| l - f),
    }
}

/// Fees recorded along the journey and what the journey cost.
pub fn fees(steps: &[Step]) -> FeeSummary {
    let mut totals: BTreeMap<&'static str, Money> = BTreeMap::new();
    for fee in steps.iter().flat_map(|s| &s.details.fees) {
        let c = fee.amount.currency();
        let acc = totals.entry(c.code()).or_insert_with(|| Money::zero(c));
        // Fees are bounded to 15 integer digits each, far from overflow.
        *acc = acc.checked_add(fee.amount).unwrap_or(*acc);
    }
    let initiated = first_of(steps, StepKind::PaymentInitiated).and_then(|s| s.details.amount);
    let credited = first_of(steps, StepKind::BeneficiaryCredited).and_then(|s| s.details.amount);
    let fee_share_of_initiated = initiated.and_then(|i| {
        let fees = totals
            .get(i.currency().code())
            .map_or(Decimal::ZERO, Money::amount);
        ratio_half_up(fees, i.amount(), FEE_SHARE_SCALE)
    });
    FeeSummary {
        total_fees: totals.into_values().collect(),
        fee_share_of_initiated,
        initiated_minus_credited: initiated.zip(credited).and_then(|(i, c)| i.checked_sub(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journey::{Fee, NewStep};
    use chrono::TimeZone;
    use uuid::Uuid;

    fn usd(s: &str) -> Money {
        Money::parse(s, "USD").unwrap()
    }

    fn step(kind: StepKind, at: DateTime<Utc>, amount: Option<&str>, fees: &[&str]) -> Step {
        Step {
            id: Uuid::new_v4(),
            details: NewStep {
                repatriation_id: Uuid::nil(),
                kind,
                occurred_at: at,
                institution_bic: None,
                amount: amount.map(usd),
                fees: fees
                    .iter()
                    .map(|f| Fee {
                        amount: usd(f),
                        charged_by: "CHASUS33".into(),
                        kind: String::new(),
                    })
                    .collect(),
                fx_rate: None,
                end_to_end_id: None,
                uetr: None,
                gpi_status: None,
                reason_code: None,
                note: String::new(),
            },
            recorded_at: at,
        }
    }

    #[test]
    fn repeated_intermediaries_each_wait_and_charge() {
        let t = |d, h, m, s| Utc.with_ymd_and_hms(2024, 3, d, h, m, s).unwrap();
        let steps = vec![
            step(
                StepKind::BeneficiaryCredited,
                t(4, 10, 0, 0),
                Some("9955.00"),
                &[],
            ),
            step(
                StepKind::PaymentInitiated,
                t(1, 9, 0, 0),
                Some("10000.00"),
                &[],
            ),
            step(
                StepKind::IntermediaryProcessed,
                t(1, 15, 30, 0),
                Some("9985.00"),
                &["15.00"],
            ),
            step(
                StepKind::IntermediaryProcessed,
                t(2, 8, 0, 1),
                Some("9975.00"),
                &["10.00"],
            ),
            step(
                StepKind::NostroCredited,
                t(3, 9, 0, 0),
                Some("9955.00"),
                &["20.00"],
            ),
        ];
        let w: Vec<_> = waits(&steps)
            .iter()
            .map(|e| e.wait_before.map(|d| d.num_seconds()))
            .collect();
        assert_eq!(
            w,
            [
                None,
                Some(6 * 3600 + 1800),
                Some(16 * 3600 + 1800 + 1),
                Some(25 * 3600 - 1),
                Some(25 * 3600)
            ]
        );
        let sp = spans(&steps, &[NaiveDate::from_ymd_opt(2024, 1, 15).unwrap()]);
        assert_eq!(sp.initiation_to_funds_available, Some(Duration::hours(73)));
        assert_eq!(sp.invoice_to_realization_days, Some(49));
        let f = fees(&steps);
        assert_eq!(f.total_fees, vec![usd("45.00")]);
        assert_eq!(f.fee_share_of_initiated.unwrap().to_string(), "0.004500");
        assert_eq!(f.initiated_minus_credited, Some(usd("45.00")));
    }
}
