//! The journey of one payment home: its canonical steps and the rules on
//! their order.
//!
//! Invariants, checked by [`admit`] before a step is stored:
//! - a step may not occur before a recorded step of an earlier kind, nor
//!   after a recorded step of a later kind (steps may arrive late and out of
//!   order; what counts is when they occurred);
//! - each kind occurs at most once, except `INTERMEDIARY_PROCESSED`;
//! - `RETURNED` and `REJECTED` end the journey: at most one of them, and
//!   nothing occurs after it;
//! - a journey holds at most [`MAX_STEPS`] steps.
//!
//! The rules need only a [`Summary`] of the journey (per kind, how many
//! steps and the earliest and latest), which is what the store keeps beside
//! each journey: admitting a step costs the same at the first step and at
//! the ten-thousandth.

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
    #[error("the journey already holds {limit} steps, the most one journey may hold")]
    TooManySteps { limit: u32 },
}

impl JourneyViolation {
    /// Whether the recorded step this names is step `id`.
    pub fn names(&self, id: Uuid) -> bool {
        match self {
            JourneyViolation::Repeated { existing, .. }
            | JourneyViolation::BeforePrecedingStep { existing, .. }
            | JourneyViolation::AfterFollowingStep { existing, .. }
            | JourneyViolation::AlreadyEnded { existing, .. } => *existing == id,
            JourneyViolation::TooManySteps { .. } => false,
        }
    }
}

fn fmt_at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Most steps one journey may hold: far beyond any real payment (a handful
/// of hops), and small enough that a journey is answered whole in one
/// response and its metrics are recomputed in a moment.
pub const MAX_STEPS: u32 = 10_000;

/// A recorded step as the ordering rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub id: Uuid,
    pub at: DateTime<Utc>,
}

/// The recorded steps of one kind: how many, the earliest and the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindSummary {
    pub kind: StepKind,
    pub count: u32,
    pub first: Mark,
    pub last: Mark,
}

/// What the ordering rules need of a recorded journey, whatever its length:
/// per kind, how many steps and the earliest and the latest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Steps recorded.
    pub count: u32,
    /// The kinds recorded, in canonical order.
    pub kinds: Vec<KindSummary>,
}

impl Summary {
    pub fn of(steps: &[Step]) -> Summary {
        let mut s = Summary::default();
        for step in steps {
            s.add(step);
        }
        s
    }

    /// Counts a recorded step in.
    pub fn add(&mut self, step: &Step) {
        let mark = Mark {
            id: step.id,
            at: step.occurred_at(),
        };
        self.count += 1;
        match self.kinds.binary_search_by_key(&step.kind(), |k| k.kind) {
            Ok(i) => {
                let k = &mut self.kinds[i];
                k.count += 1;
                if mark.at < k.first.at {
                    k.first = mark;
                }
                if mark.at >= k.last.at {
                    k.last = mark;
                }
            }
            Err(i) => self.kinds.insert(
                i,
                KindSummary {
                    kind: step.kind(),
                    count: 1,
                    first: mark,
                    last: mark,
                },
            ),
        }
    }

    /// The earliest recorded step of `kind`.
    pub fn first_of(&self, kind: StepKind) -> Option<Mark> {
        self.kinds.iter().find(|k| k.kind == kind).map(|k| k.first)
    }

    /// The kinds recorded, in canonical order.
    pub fn kinds(&self) -> impl Iterator<Item = StepKind> + '_ {
        self.kinds.iter().map(|k| k.kind)
    }

    /// Checks that `new` fits the journey. A step that breaks several
    /// rules is refused for the first of: the journey ended, the kind
    /// repeats, an earlier kind occurred later (the latest such step is
    /// named), a later kind occurred earlier (the earliest is named), the
    /// journey is full.
    pub fn admit(&self, new: &NewStep) -> Result<(), JourneyViolation> {
        let (kind, at) = (new.kind, new.occurred_at);
        // A late report of an earlier hop is fine; nothing may follow the end.
        if let Some(end) = self.kinds.iter().find(|k| k.kind.is_terminal())
            && (kind.is_terminal() || at > end.first.at)
        {
            return Err(JourneyViolation::AlreadyEnded {
                new: kind,
                terminal: end.kind,
                existing: end.first.id,
            });
        }
        let ordered = self.kinds.iter().filter(|k| !k.kind.is_terminal());
        if !kind.may_repeat()
            && let Some(same) = ordered.clone().find(|k| k.kind == kind)
        {
            return Err(JourneyViolation::Repeated {
                kind,
                existing: same.first.id,
                at: same.first.at,
            });
        }
        if let Some(earlier) = ordered
            .clone()
            .filter(|k| k.kind.rank() < kind.rank())
            .max_by_key(|k| k.last.at)
            && at < earlier.last.at
        {
            return Err(JourneyViolation::BeforePrecedingStep {
                new: kind,
                new_at: at,
                earlier: earlier.kind,
                earlier_at: earlier.last.at,
                existing: earlier.last.id,
            });
        }
        if let Some(later) = ordered
            .filter(|k| k.kind.rank() > kind.rank())
            .min_by_key(|k| k.first.at)
            && at > later.first.at
        {
            return Err(JourneyViolation::AfterFollowingStep {
                new: kind,
                new_at: at,
                later: later.kind,
                later_at: later.first.at,
                existing: later.first.id,
            });
        }
        if self.count >= MAX_STEPS {
            return Err(JourneyViolation::TooManySteps { limit: MAX_STEPS });
        }
        Ok(())
    }

    /// When the step before an admitted `new` on the timeline occurred:
    /// `None` for the first step, and for a hop reported late between two
    /// recorded hops (which step precedes it is not kept; the delay
    /// metrics, recomputed from the whole journey, count its wait).
    pub fn occurred_before(&self, new: &NewStep) -> Option<DateTime<Utc>> {
        // Every step of an earlier kind occurred no later than `new`, every
        // step of a later kind no earlier.
        let earlier = self
            .kinds
            .iter()
            .filter(|k| k.kind.rank() < new.kind.rank())
            .map(|k| k.last.at)
            .max();
        if !new.kind.may_repeat() {
            return earlier;
        }
        match self.kinds.iter().find(|k| k.kind == new.kind) {
            None => earlier,
            Some(hops) if hops.last.at <= new.occurred_at => earlier.max(Some(hops.last.at)),
            Some(hops) if hops.first.at > new.occurred_at => earlier,
            Some(_) => None,
        }
    }
}

/// Checks that `new` fits the recorded journey `steps` (in any order).
pub fn admit(steps: &[Step], new: &NewStep) -> Result<(), JourneyViolation> {
    Summary::of(steps).admit(new)
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
    fn a_full_journey_is_refused_naming_the_limit() {
        let mut summary = Summary::default();
        summary.add(&step(StepKind::PaymentInitiated, 1, 0));
        let hop = step(StepKind::IntermediaryProcessed, 2, 0);
        while summary.count < MAX_STEPS {
            summary.add(&hop);
        }
        let err = summary.admit(&hop.details).unwrap_err();
        assert_eq!(err, JourneyViolation::TooManySteps { limit: MAX_STEPS });
        assert!(err.to_string().contains("10000"), "{err}");
    }

    #[test]
    fn the_wait_before_a_step_comes_from_the_summary() {
        let steps = vec![
            step(StepKind::PaymentInitiated, 1, 0),
            step(StepKind::IntermediaryProcessed, 1, 5),
            step(StepKind::IntermediaryProcessed, 1, 9),
        ];
        let s = Summary::of(&steps);
        let at = |d, h| Utc.with_ymd_and_hms(2024, 3, d, h, 0, 0).unwrap();
        let credited = step(StepKind::NostroCredited, 2, 0);
        assert_eq!(s.occurred_before(&credited.details), Some(at(1, 9)));
        let next_hop = step(StepKind::IntermediaryProcessed, 1, 12);
        assert_eq!(s.occurred_before(&next_hop.details), Some(at(1, 9)));
        let first_hop = step(StepKind::IntermediaryProcessed, 1, 2);
        assert_eq!(s.occurred_before(&first_hop.details), Some(at(1, 0)));
        let between = step(StepKind::IntermediaryProcessed, 1, 7);
        assert_eq!(s.occurred_before(&between.details), None);
        assert_eq!(Summary::default().occurred_before(&credited.details), None);
    }

    /// The rules as first written: every recorded step checked against
    /// the new one. The summary must accept exactly what this accepts.
    fn admitted_by_every_step(steps: &[Step], new: &NewStep) -> bool {
        steps.iter().all(|s| {
            let (sk, sat) = (s.kind(), s.occurred_at());
            if sk.is_terminal() {
                return !(new.kind.is_terminal() || new.occurred_at > sat);
            }
            !(sk == new.kind && !new.kind.may_repeat())
                && !(sk.rank() < new.kind.rank() && new.occurred_at < sat)
                && !(sk.rank() > new.kind.rank() && new.occurred_at > sat)
        })
    }

    proptest::proptest! {
        #[test]
        fn the_summary_admits_what_the_whole_journey_admits(
            tries in proptest::collection::vec((0usize..14, 1u32..5, 0u32..24), 1..40)
        ) {
            let mut recorded: Vec<Step> = Vec::new();
            let mut summary = Summary::default();
            for (kind, day, hour) in tries {
                let new = step(StepKind::ALL[kind], day, hour);
                let expected = admitted_by_every_step(&recorded, &new.details);
                let got = summary.admit(&new.details);
                proptest::prop_assert_eq!(got.is_ok(), expected, "{:?}", got);
                if expected {
                    // Steps at the same instant are ordered by id: any of
                    // them may come first, at a wait of zero either way.
                    let tie = recorded.iter().any(|s| s.occurred_at() == new.occurred_at());
                    if let (false, Some(at)) = (tie, summary.occurred_before(&new.details)) {
                        proptest::prop_assert_eq!(Some(at), journey_wait_before(&recorded, &new));
                    }
                    summary.add(&new);
                    recorded.push(new);
                    proptest::prop_assert_eq!(&summary, &Summary::of(&recorded));
                }
            }
        }
    }

    /// When the step before `new` occurred, from the whole timeline.
    fn journey_wait_before(recorded: &[Step], new: &Step) -> Option<DateTime<Utc>> {
        let mut all = recorded.to_vec();
        all.push(new.clone());
        let t = timeline(&all);
        let i = t.iter().position(|s| s.id == new.id)?;
        Some(t.get(i.checked_sub(1)?)?.occurred_at())
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
