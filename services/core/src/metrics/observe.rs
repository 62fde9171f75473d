//! What one journey contributes to the delay metrics: an observation per
//! wait between consecutive steps (named for the step waited for) and per
//! end-to-end span, and a summary for the scorecard and deadline checks.
//! Both are recomputed from the whole journey whenever a step arrives, so a
//! late step in the middle corrects the waits around it.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::Named;
use crate::durations::{fees, spans, waits};
use crate::journey::{Step, StepKind};

pub const INITIATION_TO_FUNDS_AVAILABLE: &str = "INITIATION_TO_FUNDS_AVAILABLE";
pub const INVOICE_TO_REALIZATION: &str = "INVOICE_TO_REALIZATION";
pub const REALIZATION_TO_CLAIM_FILED: &str = "REALIZATION_TO_CLAIM_FILED";
pub const CLAIM_FILED_TO_DISBURSED: &str = "CLAIM_FILED_TO_DISBURSED";
pub const SPANS: [&str; 4] = [
    INITIATION_TO_FUNDS_AVAILABLE,
    INVOICE_TO_REALIZATION,
    REALIZATION_TO_CLAIM_FILED,
    CLAIM_FILED_TO_DISBURSED,
];

/// Whether `measure` names a wait (a step kind) or a span.
pub fn is_measure(measure: &str) -> bool {
    SPANS.contains(&measure) || StepKind::from_name(measure).is_some()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The step kind waited for, or one of [`SPANS`].
    pub measure: &'static str,
    /// When the wait or span ended.
    pub end_at: DateTime<Utc>,
    pub micros: i64,
    /// The institution of the step waited for (waits only).
    pub institution: Option<String>,
}

fn micros(d: chrono::Duration) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

fn first(steps: &[Step], kind: StepKind) -> Option<DateTime<Utc>> {
    steps
        .iter()
        .filter(|s| s.kind() == kind)
        .map(Step::occurred_at)
        .min()
}

pub fn observations(steps: &[Step], invoice_dates: &[NaiveDate]) -> Vec<Observation> {
    let mut out: Vec<Observation> = waits(steps)
        .into_iter()
        .filter_map(|e| {
            e.wait_before.map(|w| Observation {
                measure: e.step.kind().name(),
                end_at: e.step.occurred_at(),
                micros: micros(w),
                institution: e.step.details.institution_bic.clone(),
            })
        })
        .collect();
    let credited = first(steps, StepKind::BeneficiaryCredited);
    let filed = first(steps, StepKind::IncentiveClaimFiled);
    let disbursed = first(steps, StepKind::IncentiveDisbursed);
    let s = spans(steps, invoice_dates);
    let span = |measure, d: Option<chrono::Duration>, end: Option<DateTime<Utc>>| {
        d.zip(end).map(|(d, end_at)| Observation {
            measure,
            end_at,
            micros: micros(d),
            institution: None,
        })
    };
    out.extend(
        [
            span(
                INITIATION_TO_FUNDS_AVAILABLE,
                s.initiation_to_funds_available,
                credited,
            ),
            span(INVOICE_TO_REALIZATION, s.invoice_to_realization, credited),
            span(
                REALIZATION_TO_CLAIM_FILED,
                credited.zip(filed).map(|(c, f)| f - c),
                filed,
            ),
            span(
                CLAIM_FILED_TO_DISBURSED,
                filed.zip(disbursed).map(|(f, d)| d - f),
                disbursed,
            ),
        ]
        .into_iter()
        .flatten(),
    );
    out
}

/// The instants and cost of a journey that the scorecard and the deadline
/// checks need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JourneySummary {
    pub initiated_at: Option<DateTime<Utc>>,
    /// BENEFICIARY_CREDITED: funds available to the exporter.
    pub funds_at: Option<DateTime<Utc>>,
    pub claim_filed_at: Option<DateTime<Utc>>,
    pub disbursed_at: Option<DateTime<Utc>>,
    /// RETURNED or REJECTED.
    pub ended_at: Option<DateTime<Utc>>,
    /// Fees over the initiated amount (see [`crate::durations::fees`]).
    pub fee_share: Option<Decimal>,
}

pub fn summary(steps: &[Step]) -> JourneySummary {
    let terminal = steps
        .iter()
        .filter(|s| s.kind().is_terminal())
        .map(Step::occurred_at)
        .min();
    JourneySummary {
        initiated_at: first(steps, StepKind::PaymentInitiated),
        funds_at: first(steps, StepKind::BeneficiaryCredited),
        claim_filed_at: first(steps, StepKind::IncentiveClaimFiled),
        disbursed_at: first(steps, StepKind::IncentiveDisbursed),
        ended_at: terminal,
        fee_share: fees(steps).fee_share_of_initiated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journey::NewStep;
    use uuid::Uuid;

    fn step(kind: StepKind, at: &str) -> Step {
        let at: DateTime<Utc> = at.parse().unwrap();
        Step {
            id: Uuid::new_v4(),
            details: NewStep::new(Uuid::nil(), kind, at),
            recorded_at: at,
        }
    }

    #[test]
    fn a_missing_hop_makes_one_longer_wait_and_spans_need_both_ends() {
        let steps = vec![
            step(StepKind::PaymentInitiated, "2024-03-04T09:00:00Z"),
            // No intermediary, no nostro: the credit waits for the initiation.
            step(StepKind::BeneficiaryCredited, "2024-03-05T09:30:00Z"),
            step(StepKind::ConvertedToBdt, "2024-03-05T10:00:00Z"),
        ];
        let obs = observations(&steps, &[NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()]);
        let got: Vec<(&str, i64)> = obs
            .iter()
            .map(|o| (o.measure, o.micros / 1_000_000))
            .collect();
        assert_eq!(
            got,
            [
                ("BENEFICIARY_CREDITED", 88_200),
                ("CONVERTED_TO_BDT", 1_800),
                (INITIATION_TO_FUNDS_AVAILABLE, 88_200),
                (INVOICE_TO_REALIZATION, 4 * 86_400 + 9 * 3_600 + 1_800),
            ]
        );
    }
}
