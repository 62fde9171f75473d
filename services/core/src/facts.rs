//! Facts about a party that change over time: its zone, its association
//! memberships and its bank accounts. The party as registered holds their
//! first values; each change is recorded with the first day it applies
//! (a Dhaka calendar date) and never rewritten. The party on a day is the
//! registration overlaid, fact by fact, with the last change in force that
//! day; of two changes from the same day, the one recorded later wins (it
//! corrects the other), so the history stays linear.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::party::{BankAccount, Membership, NewParty, Party, Zone};

/// Which fact a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FactKind {
    Zone,
    Memberships,
    BankAccounts,
}

crate::names::named!(FactKind {
    Zone => "ZONE",
    Memberships => "MEMBERSHIPS",
    BankAccounts => "BANK_ACCOUNTS",
});

/// A fact's value from a day on: the zone, or the whole set of
/// memberships or accounts in force (an empty set: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FactValue {
    Zone(Zone),
    Memberships(Vec<Membership>),
    BankAccounts(Vec<BankAccount>),
}

impl FactValue {
    pub fn kind(&self) -> FactKind {
        match self {
            FactValue::Zone(_) => FactKind::Zone,
            FactValue::Memberships(_) => FactKind::Memberships,
            FactValue::BankAccounts(_) => FactKind::BankAccounts,
        }
    }

    /// The value of `kind` in `details`.
    pub fn of(details: &NewParty, kind: FactKind) -> FactValue {
        match kind {
            FactKind::Zone => FactValue::Zone(details.zone),
            FactKind::Memberships => FactValue::Memberships(details.memberships.clone()),
            FactKind::BankAccounts => FactValue::BankAccounts(details.bank_accounts.clone()),
        }
    }

    fn apply(&self, details: &mut NewParty) {
        match self {
            FactValue::Zone(z) => details.zone = *z,
            FactValue::Memberships(m) => details.memberships = m.clone(),
            FactValue::BankAccounts(a) => details.bank_accounts = a.clone(),
        }
    }
}

/// A change of one fact, as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPartyFact {
    pub party_id: Uuid,
    /// The first (Dhaka) day the value applies.
    pub effective_from: NaiveDate,
    pub value: FactValue,
    /// Why the fact changed, in the recorder's words.
    pub reason: String,
}

/// A change as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyFact {
    pub id: Uuid,
    #[serde(flatten)]
    pub details: NewPartyFact,
    /// What the history gave for `effective_from` before this change.
    pub previous: FactValue,
    /// Who recorded it.
    pub recorded_by: String,
    pub record_time: DateTime<Utc>,
}

/// The value of `kind` on `date`: the registration's, unless a change in
/// force that day says otherwise. `changes` are in the order recorded.
pub fn value_on(
    party: &NewParty,
    changes: &[PartyFact],
    kind: FactKind,
    date: NaiveDate,
) -> FactValue {
    changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.details.value.kind() == kind && c.details.effective_from <= date)
        .max_by_key(|(order, c)| (c.details.effective_from, *order))
        .map_or_else(
            || FactValue::of(party, kind),
            |(_, c)| c.details.value.clone(),
        )
}

/// The party as it was on `date`: its registration with every fact as it
/// stood that day. `changes` are the party's, in the order recorded.
pub fn party_on(party: &Party, changes: &[PartyFact], date: NaiveDate) -> Party {
    let mut on = party.clone();
    for kind in [
        FactKind::Zone,
        FactKind::Memberships,
        FactKind::BankAccounts,
    ] {
        value_on(&party.details, changes, kind, date).apply(&mut on.details);
    }
    on
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::party::PartyKind;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn registered() -> Party {
        Party {
            id: Uuid::nil(),
            details: NewParty {
                kind: PartyKind::Firm,
                legal_name: "Padma Code Works".into(),
                country: "BD".into(),
                memberships: vec![],
                zone: Zone::None,
                bank_accounts: vec![],
            },
            create_time: DateTime::UNIX_EPOCH,
        }
    }

    fn change(from: &str, value: FactValue) -> PartyFact {
        PartyFact {
            id: Uuid::new_v4(),
            details: NewPartyFact {
                party_id: Uuid::nil(),
                effective_from: d(from),
                value,
                reason: "moved".into(),
            },
            previous: FactValue::Zone(Zone::None),
            recorded_by: "test".into(),
            record_time: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_change_applies_from_its_first_day() {
        let p = registered();
        let changes = [change("2024-03-01", FactValue::Zone(Zone::HiTechPark))];
        assert_eq!(
            party_on(&p, &changes, d("2024-02-29")).details.zone,
            Zone::None
        );
        assert_eq!(
            party_on(&p, &changes, d("2024-03-01")).details.zone,
            Zone::HiTechPark
        );
    }

    #[test]
    fn changes_apply_by_date_not_by_the_order_recorded() {
        let p = registered();
        // Recorded late: the move back out, then the move in.
        let changes = [
            change("2024-09-01", FactValue::Zone(Zone::None)),
            change("2024-03-01", FactValue::Zone(Zone::Epz)),
        ];
        assert_eq!(
            party_on(&p, &changes, d("2024-05-01")).details.zone,
            Zone::Epz
        );
        assert_eq!(
            party_on(&p, &changes, d("2024-09-01")).details.zone,
            Zone::None
        );
    }

    #[test]
    fn of_two_changes_from_one_day_the_later_recorded_wins() {
        let p = registered();
        let changes = [
            change("2024-03-01", FactValue::Zone(Zone::Epz)),
            change("2024-03-01", FactValue::Zone(Zone::HiTechPark)),
        ];
        assert_eq!(
            party_on(&p, &changes, d("2024-03-01")).details.zone,
            Zone::HiTechPark
        );
    }

    #[test]
    fn facts_of_other_kinds_are_left_alone() {
        let p = registered();
        let basis = Membership {
            association: "BASIS".into(),
            membership_number: "G-1".into(),
        };
        let changes = [
            change("2021-01-01", FactValue::Memberships(vec![basis.clone()])),
            change("2022-01-01", FactValue::Zone(Zone::Epz)),
        ];
        let on = party_on(&p, &changes, d("2021-06-01"));
        assert_eq!(
            (on.details.zone, on.details.memberships),
            (Zone::None, vec![basis])
        );
    }
}
