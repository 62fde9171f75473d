//! Firms and freelancers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartyKind {
    Firm,
    Freelancer,
}

/// Special zones; units inside EPZs, Economic Zones and Hi-Tech Parks are
/// excluded from the cash incentive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Zone {
    None,
    Epz,
    EconomicZone,
    HiTechPark,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub association: String,
    pub membership_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankAccount {
    pub bank_bic: String,
    pub account_number: String,
    pub currency: crate::Currency,
    /// The bank's local time, when not Dhaka's ([`crate::time::DHAKA`]):
    /// statements' date-times without an offset are read in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
}

/// Parses a UTC offset as written, `+HH:MM` or `-HH:MM` (up to 14 hours).
pub fn parse_utc_offset(s: &str) -> Option<chrono::FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m > 59 {
        return None;
    }
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// A party as submitted, before the server gives it an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewParty {
    pub kind: PartyKind,
    pub legal_name: String,
    pub country: String,
    pub memberships: Vec<Membership>,
    pub zone: Zone,
    pub bank_accounts: Vec<BankAccount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub id: Uuid,
    #[serde(flatten)]
    pub details: NewParty,
    pub create_time: DateTime<Utc>,
}

/// A correction of what a party registered as: its legal name and country
/// (what changes over time, its zone, memberships and bank accounts, are
/// facts of their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyCorrection {
    pub legal_name: Option<String>,
    pub country: Option<String>,
}

impl Party {
    /// The party as corrected, with the fields the correction changes;
    /// `None` when it changes nothing.
    pub fn corrected(&self, c: &PartyCorrection) -> Option<(Party, Vec<&'static str>)> {
        let mut after = self.clone();
        let mut fields = Vec::new();
        if let Some(name) = c
            .legal_name
            .as_ref()
            .filter(|n| **n != self.details.legal_name)
        {
            after.details.legal_name = name.clone();
            fields.push("legal_name");
        }
        if let Some(country) = c.country.as_ref().filter(|n| **n != self.details.country) {
            after.details.country = country.clone();
            fields.push("country");
        }
        (!fields.is_empty()).then_some((after, fields))
    }
}

/// Associations whose certificates the incentive rules recognise.
pub const ASSOCIATIONS: [&str; 3] = ["BASIS", "BACCO", "BCS"];

/// A BIC (ISO 9362): 4 letters (bank), 2 letters (country), 2 letters or
/// digits (location), optionally 3 letters or digits (branch).
pub fn is_bic(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() == 8 || b.len() == 11)
        && b[..6].iter().all(u8::is_ascii_uppercase)
        && b[6..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// An ISO 3166-1 alpha-2 shape: two upper-case letters.
pub fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_offsets() {
        assert_eq!(
            parse_utc_offset("+06:00"),
            chrono::FixedOffset::east_opt(6 * 3600)
        );
        assert_eq!(
            parse_utc_offset("-03:30"),
            chrono::FixedOffset::east_opt(-(3 * 3600 + 1800))
        );
        for bad in ["", "06:00", "+6:00", "+15:00", "+06:60", "+é:00", "+06"] {
            assert_eq!(parse_utc_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn bic_shapes() {
        assert!(is_bic("CITIUS33"));
        assert!(is_bic("SCBLBDDXXXX"));
        assert!(!is_bic("citius33"));
        assert!(!is_bic("CITI"));
        assert!(!is_bic("CITIU533"));
    }
}
