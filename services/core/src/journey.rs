//! The journey of one payment home: its canonical steps and the rules on
//! their order.
//!
//! Invariants, checked by [`admit`] before a step is stored:
//! - a step may not occur before a recorded step of an earlier kind, nor
//!   after a recorded step of a later kind (steps may arrive late and out of
//!   order; what counts is when they occurred);
//! - each kind occurs at most once, except `INTERMEDIARY_PROCESSED`;
//! - `RETURNED` and `REJECTED` end the journey: at most one of them, and
//!   nothing occurs after it.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Currency, Money, Named};

/// The canonical steps, in the order a payment travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StepKind {
    InvoiceIssued,
    PaymentInitiated,
    PlatformReceived,
    PlatformWithdrawn,
    IntermediaryProcessed,
    NostroCredited,
    BeneficiaryCredited,
    ConvertedToBdt,
    PrcIssued,
    IncentiveClaimFiled,
    IncentiveAudited,
    IncentiveDisbursed,
    Returned,
    Rejected,
}

impl StepKind {
    pub const ALL: [StepKind; 14] = [
        StepKind::InvoiceIssued,
        StepKind::PaymentInitiated,
        StepKind::PlatformReceived,
        StepKind::PlatformWithdrawn,
        StepKind::IntermediaryProcessed,
        StepKind::NostroCredited,
        StepKind::BeneficiaryCredited,
        StepKind::ConvertedToBdt,
        StepKind::PrcIssued,
        StepKind::IncentiveClaimFiled,
        StepKind::IncentiveAudited,
        StepKind::IncentiveDisbursed,
        StepKind::Returned,
        StepKind::Rejected,
    ];

    /// Terminal failures end the journey.
    pub fn is_terminal(self) -> bool {
        matches!(self, StepKind::Returned | StepKind::Rejected)
    }

    /// The incentive claim's steps: recorded by filing and settling claims,
    /// so that a claim and its journey never disagree.
    pub fn belongs_to_claims(self) -> bool {
        matches!(
            self,
            StepKind::IncentiveClaimFiled
                | StepKind::IncentiveAudited
                | StepKind::IncentiveDisbursed
        )
    }

    /// Only a correspondent hop may happen several times.
    pub fn may_repeat(self) -> bool {
        self == StepKind::IntermediaryProcessed
    }

    /// Position in the canonical order; terminal steps come after all others.
    pub fn rank(self) -> u8 {
        if self.is_terminal() {
            u8::MAX
        } else {
            self as u8
        }
    }
}

crate::names::named!(StepKind {
    InvoiceIssued => "INVOICE_ISSUED",
    PaymentInitiated => "PAYMENT_INITIATED",
    PlatformReceived => "PLATFORM_RECEIVED",
    PlatformWithdrawn => "PLATFORM_WITHDRAWN",
    IntermediaryProcessed => "INTERMEDIARY_PROCESSED",
    NostroCredited => "NOSTRO_CREDITED",
    BeneficiaryCredited => "BENEFICIARY_CREDITED",
    ConvertedToBdt => "CONVERTED_TO_BDT",
    PrcIssued => "PRC_ISSUED",
    IncentiveClaimFiled => "INCENTIVE_CLAIM_FILED",
    IncentiveAudited => "INCENTIVE_AUDITED",
    IncentiveDisbursed => "INCENTIVE_DISBURSED",
    Returned => "RETURNED",
    Rejected => "REJECTED",
});

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// SWIFT gpi transaction status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GpiStatus {
    /// Settlement in progress.
    Acsp,
    /// Credited.
    Accc,
    /// Rejected.
    Rjct,
}

/// A fee deducted at a hop, and who took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    pub amount: Money,
    pub charged_by: String,
    pub kind: String,
}

/// One unit of `source` buys `rate` units of `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxRate {
    pub source: Currency,
    pub target: Currency,
    pub rate: Decimal,
}

/// A step as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStep {
    pub repatriation_id: Uuid,
    pub kind: StepKind,
    pub occurred_at: DateTime<Utc>,
    pub institution_bic: Option<String>,
    pub amount: Option<Money>,
    pub fees: Vec<Fee>,
    pub fx_rate: Option<FxRate>,
    pub end_to_end_id: Option<String>,
    pub uetr: Option<Uuid>,
    pub gpi_status: Option<GpiStatus>,
    pub reason_code: Option<String>,
    pub note: String,
}

impl NewStep {
    /// A step with nothing but its journey, kind and time.
    pub fn new(repatriation_id: Uuid, kind: StepKind, occurred_at: DateTime<Utc>) -> NewStep {
        NewStep {
            repatriation_id,
            kind,
            occurred_at,
            institution_bic: None,
            amount: None,
            fees: Vec::new(),
            fx_rate: None,
            end_to_end_id: None,
            uetr: None,
            gpi_status: None,
            reason_code: None,
            note: String::new(),
        }
    }
}

/// A recorded step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub id: Uuid,
    #[serde(flatten)]
    pub details: NewStep,
    pub recorded_at: DateTime<Utc>,
}

impl Step {
    pub fn kind(&self) -> StepKind {
        self.details.kind
    }
    pub fn occurred_at(&self) -> DateTime<Utc> {
        self.details.occurred_at
    }
}

/// Why a step cannot join the journey. Each names both steps involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JourneyViolation {
    #[error("{kind} is already recorded (step {existing} at {at}); only INTERMEDIARY_PROCESSED may repeat", at = fmt_at(*at))]
    Repeated {
        kind: StepKind,
        existing: Uuid,
        at: DateTime<Utc>,
    },
    #[error(
        "{new} at {new_at} would occur before {earlier} at {earlier_at} (step {existing}), which must precede it",
        new_at = fmt_at(*new_at), earlier_at = fmt_at(*earlier_at)
    )]
    BeforePrecedingStep {
        new: StepKind,
        new_at: DateTime<Utc>,
        earlier: StepKind,
        earlier_at: DateTime<Utc>,
        existing: Uuid,
    },
    #[error(
        "{new} at {new_at} would occur after {later} at {later_at} (step {existing}), which must follow it",
        new_at = fmt_at(*new_at), later_at = fmt_at(*later_at)
    )]
    AfterFollowingStep {
        new: StepKind,
        new_at: DateTime<Utc>,
        later: StepKind,
        later_at: DateTime<Utc>,
        existing: Uuid,
    },
    #[error("the journey already ended with {terminal} (step {existing}); {new} cannot be added")]
    AlreadyEnded {
        new: StepKind,
        terminal: StepKind,
        existing: Uuid,
    },
}

fn fmt_at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Checks that `new` fits the recorded journey `steps` (in any order).
pub fn admit(steps: &[Step], new: &NewStep) -> Result<(), JourneyViolation> {
    let (kind, at) = (new.kind, new.occurred_at);
    for s in steps {
        let (sk, sat) = (s.kind(), s.occurred_at());
        if sk.is_terminal() {
            // A late report of an earlier hop is fine; nothing may follow the end.
            if kind.is_terminal() || at > sat {
                return Err(JourneyViolation::AlreadyEnded {
                    new: kind,
                    terminal: sk,
                    existing: s.id,
                });
            }
            continue;
        }
        if sk == kind && !kind.may_repeat() {
            return Err(JourneyViolation::Repeated {
                kind,
                existing: s.id,
                at: sat,
            });
        }
        if sk.rank() < kind.rank() && at < sat {
            return Err(JourneyViolation::BeforePrecedingStep {
                new: kind,
                new_at: at,
                earlier: sk,
                earlier_at: sat,
                existing: s.id,
            });
        }
        if sk.rank() > kind.rank() && at > sat {
            return Err(JourneyViolation::AfterFollowingStep {
                new: kind,
                new_at: at,
                later: sk,
                later_at: sat,
                existing: s.id,
            });
        }
    }
    Ok(())
}

/// The steps in the order they occurred: by time, then canonical order, then
/// the order they were recorded in (and the id, so ties never depend on
/// storage order).
pub fn timeline(steps: &[Step]) -> Vec<&Step> {
    let mut ordered: Vec<&Step> = steps.iter().collect();
    ordered.sort_by_key(|s| (s.occurred_at(), s.kind().rank(), s.recorded_at, s.id));
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn step(kind: StepKind, day: u32, hour: u32) -> Step {
        Step {
            id: Uuid::new_v4(),
            details: NewStep {
                repatriation_id: Uuid::nil(),
                kind,
                occurred_at: Utc.with_ymd_and_hms(2024, 3, day, hour, 0, 0).unwrap(),
                institution_bic: None,
                amount: None,
                fees: vec![],
                fx_rate: None,
                end_to_end_id: None,
                uetr: None,
                gpi_status: None,
                reason_code: None,
                note: String::new(),
            },
            recorded_at: Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn late_steps_in_their_place_are_admitted() {
        let recorded = vec![
            step(StepKind::PaymentInitiated, 1, 9),
            step(StepKind::BeneficiaryCredited, 4, 9),
        ];
        let late = step(StepKind::NostroCredited, 3, 12);
        assert_eq!(admit(&recorded, &late.details), Ok(()));
    }

    #[test]
    fn a_step_before_its_predecessor_names_both() {
        let recorded = vec![step(StepKind::PaymentInitiated, 2, 9)];
        let early = step(StepKind::NostroCredited, 1, 9);
        let err = admit(&recorded, &early.details).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("NOSTRO_CREDITED") && msg.contains("PAYMENT_INITIATED"),
            "{msg}"
        );
        assert!(matches!(err, JourneyViolation::BeforePrecedingStep { .. }));
    }

    #[test]
    fn a_late_predecessor_may_not_follow_its_successor() {
        let recorded = vec![step(StepKind::BeneficiaryCredited, 2, 9)];
        let late = step(StepKind::PaymentInitiated, 3, 9);
        assert!(matches!(
            admit(&recorded, &late.details),
            Err(JourneyViolation::AfterFollowingStep { .. })
        ));
    }

    #[test]
    fn only_intermediaries_repeat() {
        let recorded = vec![step(StepKind::IntermediaryProcessed, 2, 9)];
        assert_eq!(
            admit(
                &recorded,
                &step(StepKind::IntermediaryProcessed, 2, 10).details
            ),
            Ok(())
        );
        let recorded = vec![step(StepKind::NostroCredited, 2, 9)];
        assert!(matches!(
            admit(&recorded, &step(StepKind::NostroCredited, 2, 10).details),
            Err(JourneyViolation::Repeated { .. })
        ));
    }

    #[test]
    fn terminal_steps_end_the_journey() {
        let recorded = vec![
            step(StepKind::PaymentInitiated, 1, 9),
            step(StepKind::Returned, 5, 9),
        ];
        // A hop reported late, that occurred before the return, is fine.
        assert_eq!(
            admit(
                &recorded,
                &step(StepKind::IntermediaryProcessed, 2, 9).details
            ),
            Ok(())
        );
        assert!(matches!(
            admit(&recorded, &step(StepKind::NostroCredited, 6, 9).details),
            Err(JourneyViolation::AlreadyEnded { .. })
        ));
        assert!(matches!(
            admit(&recorded, &step(StepKind::Rejected, 6, 9).details),
            Err(JourneyViolation::AlreadyEnded { .. })
        ));
        // A return must come after everything recorded.
        let recorded = vec![step(StepKind::NostroCredited, 4, 9)];
        assert!(matches!(
            admit(&recorded, &step(StepKind::Returned, 3, 9).details),
            Err(JourneyViolation::BeforePrecedingStep { .. })
        ));
    }

    #[test]
    fn timeline_orders_by_occurrence_then_canonical_order() {
        let steps = vec![
            step(StepKind::BeneficiaryCredited, 3, 9),
            step(StepKind::NostroCredited, 3, 9),
            step(StepKind::PaymentInitiated, 1, 9),
        ];
        let kinds: Vec<_> = timeline(&steps).iter().map(|s| s.kind()).collect();
        assert_eq!(
            kinds,
            [
                StepKind::PaymentInitiated,
                StepKind::NostroCredited,
                StepKind::BeneficiaryCredited
            ]
        );
    }
}
