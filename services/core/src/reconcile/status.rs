//! Where an invoice stands once its matches are counted.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RealizationStatus {
    /// Nothing has come.
    Unpaid,
    /// Some has come, not all.
    PartiallyRealized,
    /// Paid in full (fees deducted abroad within the tolerances count as
    /// paid).
    Realized,
    /// More came than was invoiced.
    Overpaid,
}

crate::names::named!(RealizationStatus {
    Unpaid => "UNPAID",
    PartiallyRealized => "PARTIALLY_REALIZED",
    Realized => "REALIZED",
    Overpaid => "OVERPAID",
});

/// An invoice's realized and outstanding amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Realization {
    pub status: RealizationStatus,
    /// The sum of what its matches cover.
    pub realized: Money,
    /// What is still to come; zero when paid or overpaid.
    pub outstanding: Money,
}

/// The realization of an invoice of `amount` whose matches cover `covered`
/// (summed exactly, in the invoice's currency).
pub fn realization(amount: Money, covered: impl IntoIterator<Item = Money>) -> Realization {
    let cur = amount.currency();
    let realized = covered
        .into_iter()
        .filter(|m| m.currency() == cur)
        .fold(Money::zero(cur), |acc, m| acc.checked_add(m).unwrap_or(acc));
    let (a, r) = (amount.amount(), realized.amount());
    let status = if r <= Decimal::ZERO {
        RealizationStatus::Unpaid
    } else if r < a {
        RealizationStatus::PartiallyRealized
    } else if r == a {
        RealizationStatus::Realized
    } else {
        RealizationStatus::Overpaid
    };
    let outstanding = amount
        .checked_sub(realized)
        .filter(|o| o.amount() > Decimal::ZERO)
        .unwrap_or(Money::zero(cur));
    Realization {
        status,
        realized,
        outstanding,
    }
}
