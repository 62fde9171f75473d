//! Claims: an exporter asks its bank for the incentive on assessed
//! repatriations; the claim is audited, then disbursed, or rejected. Which
//! step may follow which is decided here and nowhere else.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Money;
use crate::journey::StepKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClaimStatus {
    Filed,
    Audited,
    Disbursed,
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClaimStepKind {
    Filed,
    Audited,
    Disbursed,
    Rejected,
}

crate::names::named!(ClaimStatus { Filed => "FILED", Audited => "AUDITED", Disbursed => "DISBURSED", Rejected => "REJECTED" });
crate::names::named!(ClaimStepKind { Filed => "FILED", Audited => "AUDITED", Disbursed => "DISBURSED", Rejected => "REJECTED" });

impl ClaimStepKind {
    /// The journey step each claimed repatriation records (a rejection of
    /// the claim is not a rejection of the payment, so it records none).
    pub fn journey_step(self) -> Option<StepKind> {
        match self {
            ClaimStepKind::Filed => Some(StepKind::IncentiveClaimFiled),
            ClaimStepKind::Audited => Some(StepKind::IncentiveAudited),
            ClaimStepKind::Disbursed => Some(StepKind::IncentiveDisbursed),
            ClaimStepKind::Rejected => None,
        }
    }
}

/// One repatriation in a claim, and the assessment it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimItem {
    pub repatriation_id: Uuid,
    pub assessment_id: Uuid,
    /// BDT.
    pub incentive: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimStep {
    pub kind: ClaimStepKind,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub reason: Option<String>,
    /// BDT paid, for a disbursement.
    pub amount: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub id: Uuid,
    pub party_id: Uuid,
    /// A claim is for one programme (its items all assessed under it).
    pub programme: String,
    pub status: ClaimStatus,
    pub items: Vec<ClaimItem>,
    /// The sum of the items' incentives, BDT.
    pub claimed: Money,
    pub disbursed: Option<Money>,
    /// In the order they occurred.
    pub steps: Vec<ClaimStep>,
}

/// Why a claim step cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimViolation {
    #[error("a claim in status {from} cannot be {to}")]
    Transition {
        from: &'static str,
        to: &'static str,
    },
    #[error("the step occurred at {at}, before the claim's previous step at {previous}")]
    BeforePrevious {
        at: DateTime<Utc>,
        previous: DateTime<Utc>,
    },
}

/// The status after recording `kind` at `at` on a claim whose last step is
/// `last`: filed, then audited, then disbursed; rejected from filed or
/// audited; nothing after disbursed or rejected.
pub fn advance(
    status: ClaimStatus,
    last: &ClaimStep,
    kind: ClaimStepKind,
    at: DateTime<Utc>,
) -> Result<ClaimStatus, ClaimViolation> {
    use ClaimStatus as S;
    use ClaimStepKind as K;
    let next = match (status, kind) {
        (S::Filed, K::Audited) => S::Audited,
        (S::Filed | S::Audited, K::Rejected) => S::Rejected,
        (S::Audited, K::Disbursed) => S::Disbursed,
        _ => {
            use crate::Named;
            return Err(ClaimViolation::Transition {
                from: status.name(),
                to: kind.name(),
            });
        }
    };
    if at < last.occurred_at {
        return Err(ClaimViolation::BeforePrevious {
            at,
            previous: last.occurred_at,
        });
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: ClaimStepKind, at: &str) -> ClaimStep {
        let at: DateTime<Utc> = at.parse().unwrap();
        ClaimStep {
            kind,
            occurred_at: at,
            recorded_at: at,
            reason: None,
            amount: None,
        }
    }

    #[test]
    fn claims_move_forward_only() {
        let filed = step(ClaimStepKind::Filed, "2024-01-10T00:00:00Z");
        let later: DateTime<Utc> = "2024-02-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            advance(ClaimStatus::Filed, &filed, ClaimStepKind::Audited, later),
            Ok(ClaimStatus::Audited)
        );
        assert_eq!(
            advance(
                ClaimStatus::Audited,
                &filed,
                ClaimStepKind::Disbursed,
                later
            ),
            Ok(ClaimStatus::Disbursed)
        );
        assert_eq!(
            advance(ClaimStatus::Filed, &filed, ClaimStepKind::Rejected, later),
            Ok(ClaimStatus::Rejected)
        );
        assert!(matches!(
            advance(ClaimStatus::Filed, &filed, ClaimStepKind::Disbursed, later),
            Err(ClaimViolation::Transition { .. })
        ));
        assert!(matches!(
            advance(
                ClaimStatus::Disbursed,
                &filed,
                ClaimStepKind::Rejected,
                later
            ),
            Err(ClaimViolation::Transition { .. })
        ));
        assert!(matches!(
            advance(ClaimStatus::Rejected, &filed, ClaimStepKind::Audited, later),
            Err(ClaimViolation::Transition { .. })
        ));
        let earlier: DateTime<Utc> = "2024-01-09T00:00:00Z".parse().unwrap();
        assert!(matches!(
            advance(ClaimStatus::Filed, &filed, ClaimStepKind::Audited, earlier),
            Err(ClaimViolation::BeforePrevious { .. })
        ));
    }
}
