//! What integrators are told: an event for every change, and the deadline
//! alerts. Each kind has a stable name (`step.recorded`), which is stored,
//! filtered on, and put in NATS subjects and CloudEvents types.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::journey::StepKind;
use crate::repatriation::RepatriationStatus;

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    PartyCreated,
    /// A party's legal name or country corrected.
    PartyCorrected,
    EarningCreated,
    /// An earning corrected: amended (a revision) or voided.
    EarningAmended,
    EarningVoided,
    RepatriationCreated,
    StepRecorded,
    /// A step voided, or superseded by a corrected one (its journey's
    /// status recomputed without it).
    StepVoided,
    StepCorrected,
    JourneyStatusChanged,
    /// BENEFICIARY_CREDITED: the proceeds are realized; its Dhaka date is
    /// the day deadlines count from.
    JourneyRealized,
    JourneyReturned,
    JourneyRejected,
    AssessmentMade,
    AssessmentSuperseded,
    ClaimFiled,
    ClaimAudited,
    ClaimDisbursed,
    ClaimRejected,
    StatementImported,
    /// A statement voided: its matches removed, the steps they recorded
    /// voided.
    StatementVoided,
    CreditMatched,
    CreditUnmatched,
    ExceptionRaised,
    /// An unrealized earning's repatriation deadline is near.
    RepatriationDeadlineAlert,
    /// A realized repatriation's claim window is closing.
    ClaimWindowAlert,
    /// A payment initiated longer ago than the threshold is still in flight.
    InFlightAlert,
}

crate::names::named!(EventType {
    PartyCreated => "party.created",
    PartyCorrected => "party.corrected",
    EarningCreated => "earning.created",
    EarningAmended => "earning.amended",
    EarningVoided => "earning.voided",
    RepatriationCreated => "repatriation.created",
    StepRecorded => "step.recorded",
    StepVoided => "step.voided",
    StepCorrected => "step.corrected",
    JourneyStatusChanged => "journey.status_changed",
    JourneyRealized => "journey.realized",
    JourneyReturned => "journey.returned",
    JourneyRejected => "journey.rejected",
    AssessmentMade => "assessment.made",
    AssessmentSuperseded => "assessment.superseded",
    ClaimFiled => "claim.filed",
    ClaimAudited => "claim.audited",
    ClaimDisbursed => "claim.disbursed",
    ClaimRejected => "claim.rejected",
    StatementImported => "statement.imported",
    StatementVoided => "statement.voided",
    CreditMatched => "credit.matched",
    CreditUnmatched => "credit.unmatched",
    ExceptionRaised => "exception.raised",
    RepatriationDeadlineAlert => "alert.repatriation_deadline",
    ClaimWindowAlert => "alert.claim_window",
    InFlightAlert => "alert.in_flight",
});

/// The namespace event ids are derived in (UUIDv5 of an event's key).
pub const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_2a8e_35c4_4b70_9e51_0c7a_d2e4_8b13);

/// The stable id of the event `key` names: the same change (or alert)
/// always has the same id, so a consumer deduplicates by it.
pub fn event_id(key: &str) -> Uuid {
    Uuid::new_v5(&EVENT_ID_NAMESPACE, key.as_bytes())
}

/// The events a step emits about its journey beside `step.recorded`,
/// given the journey's status before and after it.
pub fn journey_events(
    kind: StepKind,
    before: RepatriationStatus,
    after: RepatriationStatus,
) -> Vec<EventType> {
    let mut out = Vec::new();
    if before != after {
        out.push(EventType::JourneyStatusChanged);
    }
    match kind {
        StepKind::BeneficiaryCredited => out.push(EventType::JourneyRealized),
        StepKind::Returned => out.push(EventType::JourneyReturned),
        StepKind::Rejected => out.push(EventType::JourneyRejected),
        _ => {}
    }
    out
}

/// Days before a deadline at which an alert fires.
pub const DEADLINE_THRESHOLDS: [i64; 3] = [30, 7, 1];

/// The tightest threshold a deadline has come within, seen on `today`:
/// `None` while it is further away than every threshold, and once it has
/// passed (that is a breach, not an alert). A deadline first seen already
/// within 7 days alerts at 7 only: the looser threshold is stale news.
pub fn threshold_reached(deadline: NaiveDate, today: NaiveDate) -> Option<i64> {
    let left = (deadline - today).num_days();
    if left < 0 {
        return None;
    }
    DEADLINE_THRESHOLDS
        .iter()
        .copied()
        .filter(|t| left <= *t)
        .min()
}

/// An alert that a deadline is near.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineAlert {
    pub party_id: Uuid,
    /// The earning whose money must come home (repatriation deadline).
    pub earning_id: Option<Uuid>,
    /// The repatriation whose incentive must be claimed (claim window).
    pub repatriation_id: Option<Uuid>,
    /// The day the deadline counts from: the invoice date, or the Dhaka
    /// date of realization.
    pub counted_from: NaiveDate,
    /// The last allowed day.
    pub deadline: NaiveDate,
    pub days_left: i64,
    /// The threshold reached (30, 7 or 1 days).
    pub threshold_days: i64,
    /// The programme whose deadline it is.
    pub programme: String,
    /// The rule: how it counts, and its source.
    pub rule: String,
}

/// An alert that a payment has been in flight longer than the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlightAlert {
    pub party_id: Uuid,
    pub repatriation_id: Uuid,
    pub initiated_at: DateTime<Utc>,
    pub threshold_secs: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Named;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn thresholds_fire_at_30_7_and_1_days() {
        let deadline = d("2024-03-31");
        assert_eq!(
            threshold_reached(deadline, d("2024-02-29")),
            None,
            "31 days"
        );
        assert_eq!(threshold_reached(deadline, d("2024-03-01")), Some(30));
        assert_eq!(
            threshold_reached(deadline, d("2024-03-23")),
            Some(30),
            "8 days"
        );
        assert_eq!(threshold_reached(deadline, d("2024-03-24")), Some(7));
        assert_eq!(threshold_reached(deadline, d("2024-03-30")), Some(1));
        assert_eq!(
            threshold_reached(deadline, d("2024-03-31")),
            Some(1),
            "the last day"
        );
        assert_eq!(threshold_reached(deadline, d("2024-04-01")), None, "missed");
    }

    #[test]
    fn names_are_two_words_and_unique() {
        let names: std::collections::BTreeSet<&str> =
            EventType::NAMES.iter().map(|(_, n)| *n).collect();
        assert_eq!(names.len(), EventType::NAMES.len());
        for n in names {
            assert_eq!(
                n.split('.').count(),
                2,
                "{n}: subjects hold type as two tokens"
            );
        }
    }

    #[test]
    fn a_credit_realizes_and_a_return_ends() {
        use RepatriationStatus as S;
        assert_eq!(
            journey_events(
                StepKind::BeneficiaryCredited,
                S::InTransit,
                S::FundsAvailable
            ),
            vec![EventType::JourneyStatusChanged, EventType::JourneyRealized]
        );
        assert_eq!(
            journey_events(StepKind::IntermediaryProcessed, S::InTransit, S::InTransit),
            vec![]
        );
        assert_eq!(
            journey_events(StepKind::Returned, S::InTransit, S::Returned),
            vec![EventType::JourneyStatusChanged, EventType::JourneyReturned]
        );
    }

    #[test]
    fn ids_are_stable() {
        assert_eq!(event_id("a"), event_id("a"));
        assert_ne!(event_id("a"), event_id("b"));
    }
}
