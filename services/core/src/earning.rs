//! Invoiced foreign earnings.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Money;

/// What was exported; it selects the incentive programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceCategory {
    Software,
    Ites,
    Hardware,
}

/// An earning as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEarning {
    pub party_id: Uuid,
    pub client_name: String,
    pub client_country: String,
    pub service_category: ServiceCategory,
    pub amount: Money,
    pub invoice_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub invoice_reference: String,
    pub marketplace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earning {
    pub id: Uuid,
    #[serde(flatten)]
    pub details: NewEarning,
    /// Sum of the amounts allocated to repatriations.
    pub allocated: Money,
    pub create_time: DateTime<Utc>,
}

impl Earning {
    /// What no repatriation covers yet.
    pub fn unallocated(&self) -> Money {
        self.details
            .amount
            .checked_sub(self.allocated)
            .unwrap_or(self.details.amount)
    }
}
