//! A repatriation: one payment home for one or more earnings, and where it
//! stands.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Money;
use crate::earning::Earning;
use crate::journey::{Step, StepKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channel {
    Bank,
    Platform,
    MobileFinancialService,
}

/// Where a repatriation stands, derived from its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RepatriationStatus {
    AwaitingPayment,
    InTransit,
    FundsAvailable,
    Realized,
    IncentiveClaimed,
    IncentiveDisbursed,
    Returned,
    Rejected,
}

impl RepatriationStatus {
    /// No step can follow.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RepatriationStatus::Returned | RepatriationStatus::Rejected
        )
    }

    /// The status after a journey containing `kinds`.
    pub fn of_steps(kinds: impl IntoIterator<Item = StepKind>) -> RepatriationStatus {
        let mut furthest: Option<StepKind> = None;
        for k in kinds {
            if k.is_terminal() {
                return if k == StepKind::Returned {
                    RepatriationStatus::Returned
                } else {
                    RepatriationStatus::Rejected
                };
            }
            furthest = furthest.max(Some(k));
        }
        match furthest {
            None | Some(StepKind::InvoiceIssued) => RepatriationStatus::AwaitingPayment,
            Some(StepKind::BeneficiaryCredited) => RepatriationStatus::FundsAvailable,
            Some(StepKind::ConvertedToBdt | StepKind::PrcIssued) => RepatriationStatus::Realized,
            Some(StepKind::IncentiveClaimFiled | StepKind::IncentiveAudited) => {
                RepatriationStatus::IncentiveClaimed
            }
            Some(StepKind::IncentiveDisbursed) => RepatriationStatus::IncentiveDisbursed,
            Some(_) => RepatriationStatus::InTransit,
        }
    }

    /// The status after a journey of `steps`.
    pub fn of(steps: &[Step]) -> RepatriationStatus {
        Self::of_steps(steps.iter().map(Step::kind))
    }
}

crate::names::named!(RepatriationStatus {
    AwaitingPayment => "AWAITING_PAYMENT",
    InTransit => "IN_TRANSIT",
    FundsAvailable => "FUNDS_AVAILABLE",
    Realized => "REALIZED",
    IncentiveClaimed => "INCENTIVE_CLAIMED",
    IncentiveDisbursed => "INCENTIVE_DISBURSED",
    Returned => "RETURNED",
    Rejected => "REJECTED",
});

/// The share of an earning a repatriation pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub earning_id: Uuid,
    pub amount: Money,
}

/// An allocation as requested: the amount defaults to what is unallocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedAllocation {
    pub earning_id: Uuid,
    pub amount: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRepatriation {
    pub party_id: Uuid,
    pub allocations: Vec<Allocation>,
    pub channel: Channel,
    pub payer_country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repatriation {
    pub id: Uuid,
    #[serde(flatten)]
    pub details: NewRepatriation,
    pub expected_amount: Money,
    pub status: RepatriationStatus,
    pub step_count: i32,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// Why a repatriation cannot cover the requested earnings. `index` is the
/// position of the allocation in the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    #[error("at least one earning is required")]
    Empty,
    #[error("earning {earning} is listed twice")]
    Duplicate { index: usize, earning: Uuid },
    #[error("earning {earning} belongs to another party")]
    OtherParty { index: usize, earning: Uuid },
    #[error("is in {got} but earning {earning} is in {want}")]
    CurrencyMismatch {
        index: usize,
        earning: Uuid,
        got: String,
        want: String,
    },
    #[error(
        "earning {earning} is in {got} but the first earning is in {want}; one payment carries one currency"
    )]
    MixedCurrencies {
        index: usize,
        earning: Uuid,
        got: String,
        want: String,
    },
    #[error("{requested} exceeds what is not yet allocated of earning {earning} ({unallocated})")]
    OverAllocated {
        index: usize,
        earning: Uuid,
        requested: Money,
        unallocated: Money,
    },
    #[error("earning {earning} is fully allocated to other repatriations")]
    NothingLeft { index: usize, earning: Uuid },
}

/// Resolves the requested allocations against the earnings (in request
/// order) into the amounts this repatriation pays.
pub fn allocate(
    party_id: Uuid,
    requested: &[RequestedAllocation],
    earnings: &[Earning],
) -> Result<Vec<Allocation>, AllocationError> {
    if requested.is_empty() {
        return Err(AllocationError::Empty);
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(requested.len());
    for (index, (req, earning)) in requested.iter().zip(earnings).enumerate() {
        let id = req.earning_id;
        if !seen.insert(id) {
            return Err(AllocationError::Duplicate { index, earning: id });
        }
        if earning.details.party_id != party_id {
            return Err(AllocationError::OtherParty { index, earning: id });
        }
        let unallocated = earning.unallocated();
        let amount = match req.amount {
            Some(a) if a.currency() != unallocated.currency() => {
                return Err(AllocationError::CurrencyMismatch {
                    index,
                    earning: id,
                    got: a.currency().to_string(),
                    want: unallocated.currency().to_string(),
                });
            }
            Some(a) if a.amount() > unallocated.amount() => {
                return Err(AllocationError::OverAllocated {
                    index,
                    earning: id,
                    requested: a,
                    unallocated,
                });
            }
            Some(a) => a,
            None if unallocated.amount().is_zero() => {
                return Err(AllocationError::NothingLeft { index, earning: id });
            }
            None => unallocated,
        };
        if let Some(first) = out.first().map(|a: &Allocation| a.amount.currency())
            && first != amount.currency()
        {
            return Err(AllocationError::MixedCurrencies {
                index,
                earning: id,
                got: amount.currency().to_string(),
                want: first.to_string(),
            });
        }
        out.push(Allocation {
            earning_id: id,
            amount,
        });
    }
    Ok(out)
}

/// The sum of the allocations (all in one currency, as [`allocate`] ensures).
pub fn expected_amount(allocations: &[Allocation]) -> Option<Money> {
    let mut it = allocations.iter();
    let first = it.next()?.amount;
    it.try_fold(first, |acc, a| acc.checked_add(a.amount))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_furthest_step() {
        use StepKind::*;
        assert_eq!(
            RepatriationStatus::of_steps([]),
            RepatriationStatus::AwaitingPayment
        );
        assert_eq!(
            RepatriationStatus::of_steps([PaymentInitiated, IntermediaryProcessed]),
            RepatriationStatus::InTransit
        );
        assert_eq!(
            RepatriationStatus::of_steps([BeneficiaryCredited, PaymentInitiated]),
            RepatriationStatus::FundsAvailable
        );
        assert_eq!(
            RepatriationStatus::of_steps([PrcIssued]),
            RepatriationStatus::Realized
        );
        assert_eq!(
            RepatriationStatus::of_steps([PaymentInitiated, Returned]),
            RepatriationStatus::Returned
        );
    }
}
