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
    /// 1 as recorded; each amendment or void adds one.
    #[serde(default = "first_revision")]
    pub revision: u32,
    /// When and why it was voided; a voided earning is kept, but no
    /// repatriation or match takes it any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub void: Option<Void>,
}

fn first_revision() -> u32 {
    1
}

/// When and why a record was voided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Void {
    pub time: DateTime<Utc>,
    pub reason: String,
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

/// What refers to an earning, and so limits how it may be corrected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// The repatriations that allocate part of it.
    pub repatriations: Vec<Uuid>,
    /// The reconciliation matches that settle credits against it.
    pub matches: Vec<Uuid>,
}

/// The fields an amendment changes, by their name in the API.
pub fn changed_fields(before: &NewEarning, after: &NewEarning) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |same: bool, name| {
        if !same {
            changed.push(name);
        }
    };
    check(before.client_name == after.client_name, "client_name");
    check(
        before.client_country == after.client_country,
        "client_country",
    );
    check(
        before.service_category == after.service_category,
        "service_category",
    );
    check(before.amount == after.amount, "amount");
    check(before.invoice_date == after.invoice_date, "invoice_date");
    check(before.due_date == after.due_date, "due_date");
    check(
        before.invoice_reference == after.invoice_reference,
        "invoice_reference",
    );
    check(before.marketplace == after.marketplace, "marketplace");
    changed
}

/// Why an earning may not be corrected as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorrectionError {
    #[error("earning {0} is voided; a voided earning is not corrected again")]
    Voided(Uuid),
    #[error("earning {id} is at revision {current}, not {expected}; read it again and retry")]
    Stale {
        id: Uuid,
        current: u32,
        expected: u32,
    },
    #[error("the earning belongs to party {0}; an earning does not move to another party")]
    OtherParty(Uuid),
    #[error("the amendment changes nothing")]
    Unchanged,
    #[error(
        "{field} may not change while repatriations {} allocate the earning (they were opened for it as it stands)",
        list(.repatriations)
    )]
    Allocated {
        field: &'static str,
        repatriations: Vec<Uuid>,
    },
    #[error(
        "amount {amount} is less than the {allocated} repatriations {} allocate",
        list(.repatriations)
    )]
    BelowAllocated {
        amount: Money,
        allocated: Money,
        repatriations: Vec<Uuid>,
    },
    #[error(
        "{field} may not change while reconciliation matches {} settle credits against the earning; unmatch them first",
        list(.matches)
    )]
    Matched {
        field: &'static str,
        matches: Vec<Uuid>,
    },
    #[error(
        "the earning may not be voided while repatriations {} allocate it",
        list(.repatriations)
    )]
    VoidAllocated { repatriations: Vec<Uuid> },
    #[error(
        "the earning may not be voided while reconciliation matches {} settle credits against it; unmatch them first",
        list(.matches)
    )]
    VoidMatched { matches: Vec<Uuid> },
}

fn list(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Earning {
    /// Checks that this earning, now at `expected` revision when that is
    /// given, may still be corrected.
    fn correctable(&self, expected: Option<u32>) -> Result<(), CorrectionError> {
        if self.void.is_some() {
            return Err(CorrectionError::Voided(self.id));
        }
        match expected {
            Some(expected) if expected != self.revision => Err(CorrectionError::Stale {
                id: self.id,
                current: self.revision,
                expected,
            }),
            _ => Ok(()),
        }
    }

    /// The earning amended to `to`, as revision + 1. Once a repatriation
    /// allocates it, its currency, invoice date and category (the journey's
    /// deadline and assessments count from them, under the category's
    /// programme) are fixed, and its amount may not fall below what is
    /// allocated; once a match settles a credit against it, its amount is
    /// fixed too. Client, country, due date, reference and marketplace may
    /// always change.
    pub fn amend(
        &self,
        to: &NewEarning,
        expected: Option<u32>,
        refs: &References,
    ) -> Result<(Earning, Vec<&'static str>), CorrectionError> {
        self.correctable(expected)?;
        if to.party_id != self.details.party_id {
            return Err(CorrectionError::OtherParty(self.details.party_id));
        }
        let changed = changed_fields(&self.details, to);
        if changed.is_empty() {
            return Err(CorrectionError::Unchanged);
        }
        let currency_changed = to.amount.currency() != self.details.amount.currency();
        if !refs.repatriations.is_empty() {
            let fixed = [
                (currency_changed, "amount.currency"),
                (to.invoice_date != self.details.invoice_date, "invoice_date"),
                (
                    to.service_category != self.details.service_category,
                    "service_category",
                ),
            ];
            if let Some((_, field)) = fixed.iter().find(|(changed, _)| *changed) {
                return Err(CorrectionError::Allocated {
                    field,
                    repatriations: refs.repatriations.clone(),
                });
            }
            if to.amount.amount() < self.allocated.amount() {
                return Err(CorrectionError::BelowAllocated {
                    amount: to.amount,
                    allocated: self.allocated,
                    repatriations: refs.repatriations.clone(),
                });
            }
        }
        if !refs.matches.is_empty() && changed.contains(&"amount") {
            return Err(CorrectionError::Matched {
                field: "amount",
                matches: refs.matches.clone(),
            });
        }
        let allocated = if currency_changed {
            Money::zero(to.amount.currency())
        } else {
            self.allocated
        };
        let amended = Earning {
            details: to.clone(),
            allocated,
            revision: self.revision + 1,
            ..self.clone()
        };
        Ok((amended, changed))
    }

    /// The earning voided at `time` for `reason`, as revision + 1: refused
    /// while a repatriation allocates it or a match settles against it.
    pub fn voided(
        &self,
        time: DateTime<Utc>,
        reason: &str,
        expected: Option<u32>,
        refs: &References,
    ) -> Result<Earning, CorrectionError> {
        self.correctable(expected)?;
        if !refs.repatriations.is_empty() {
            return Err(CorrectionError::VoidAllocated {
                repatriations: refs.repatriations.clone(),
            });
        }
        if !refs.matches.is_empty() {
            return Err(CorrectionError::VoidMatched {
                matches: refs.matches.clone(),
            });
        }
        Ok(Earning {
            revision: self.revision + 1,
            void: Some(Void {
                time,
                reason: reason.to_string(),
            }),
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(amount: &str) -> Money {
        Money::parse(amount, "USD").unwrap()
    }

    fn recorded(allocated: &str) -> Earning {
        Earning {
            id: Uuid::from_u128(1),
            details: NewEarning {
                party_id: Uuid::from_u128(2),
                client_name: "Client AB".into(),
                client_country: "SE".into(),
                service_category: ServiceCategory::Software,
                amount: usd("100"),
                invoice_date: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
                due_date: None,
                invoice_reference: "INV-1".into(),
                marketplace: String::new(),
            },
            allocated: usd(allocated),
            create_time: DateTime::UNIX_EPOCH,
            revision: 1,
            void: None,
        }
    }

    fn with(f: impl FnOnce(&mut NewEarning)) -> NewEarning {
        let mut d = recorded("0").details;
        f(&mut d);
        d
    }

    #[test]
    fn an_unreferenced_earning_may_change_anything_but_its_party() {
        let e = recorded("0");
        let to = with(|d| {
            d.amount = Money::parse("90", "EUR").unwrap();
            d.invoice_date = NaiveDate::from_ymd_opt(2024, 2, 1).unwrap();
        });
        let (after, changed) = e.amend(&to, Some(1), &References::default()).unwrap();
        assert_eq!(changed, ["amount", "invoice_date"]);
        assert_eq!(after.revision, 2);
        assert_eq!(after.allocated, Money::parse("0", "EUR").unwrap());
        let moved = with(|d| d.party_id = Uuid::from_u128(9));
        assert_eq!(
            e.amend(&moved, None, &References::default()),
            Err(CorrectionError::OtherParty(Uuid::from_u128(2)))
        );
        assert_eq!(
            e.amend(&e.details, None, &References::default()),
            Err(CorrectionError::Unchanged)
        );
        assert!(matches!(
            e.amend(&to, Some(3), &References::default()),
            Err(CorrectionError::Stale {
                current: 1,
                expected: 3,
                ..
            })
        ));
    }

    #[test]
    fn references_fix_what_they_count_from() {
        let e = recorded("60");
        let refs = References {
            repatriations: vec![Uuid::from_u128(7)],
            matches: vec![],
        };
        let later = with(|d| d.invoice_date = NaiveDate::from_ymd_opt(2024, 3, 2).unwrap());
        assert!(matches!(
            e.amend(&later, None, &refs),
            Err(CorrectionError::Allocated {
                field: "invoice_date",
                ..
            })
        ));
        let eur = with(|d| d.amount = Money::parse("100", "EUR").unwrap());
        assert!(matches!(
            e.amend(&eur, None, &refs),
            Err(CorrectionError::Allocated {
                field: "amount.currency",
                ..
            })
        ));
        let less = with(|d| d.amount = usd("59.99"));
        assert!(matches!(
            e.amend(&less, None, &refs),
            Err(CorrectionError::BelowAllocated { .. })
        ));
        let (after, _) = e
            .amend(&with(|d| d.amount = usd("60")), None, &refs)
            .unwrap();
        assert_eq!(after.allocated, usd("60"));
        let matched = References {
            repatriations: vec![],
            matches: vec![Uuid::from_u128(8)],
        };
        assert!(matches!(
            e.amend(&with(|d| d.amount = usd("120")), None, &matched),
            Err(CorrectionError::Matched {
                field: "amount",
                ..
            })
        ));
        assert!(
            e.amend(&with(|d| d.client_name = "C".into()), None, &matched)
                .is_ok()
        );
        assert!(matches!(
            e.voided(DateTime::UNIX_EPOCH, "x", None, &refs),
            Err(CorrectionError::VoidAllocated { .. })
        ));
        assert!(matches!(
            e.voided(DateTime::UNIX_EPOCH, "x", None, &matched),
            Err(CorrectionError::VoidMatched { .. })
        ));
    }

    #[test]
    fn a_voided_earning_is_final() {
        let e = recorded("0")
            .voided(
                DateTime::UNIX_EPOCH,
                "mistake",
                Some(1),
                &References::default(),
            )
            .unwrap();
        assert_eq!(e.revision, 2);
        assert_eq!(e.void.as_ref().unwrap().reason, "mistake");
        assert_eq!(
            e.amend(
                &with(|d| d.client_name = "C".into()),
                None,
                &References::default()
            ),
            Err(CorrectionError::Voided(e.id))
        );
    }
}
