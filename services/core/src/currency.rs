//! ISO 4217 currencies and their minor units.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency that has minor units (precious metals and funds
/// codes without a defined exponent are not money here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Looks up an upper-case alphabetic code such as `"USD"`.
    pub fn from_code(code: &str) -> Option<Currency> {
        let c = iso_currency::Currency::from_code(code)?;
        c.exponent()?;
        Some(Currency(c))
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point (USD 2, JPY 0, KWD 3).
    pub fn minor_units(self) -> u32 {
        // `from_code` only admits currencies with an exponent.
        u32::from(self.0.exponent().unwrap_or(0))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Currency::from_code(&s).ok_or_else(|| format!("unknown currency {s:?}"))
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(Currency::from_code("USD").unwrap().minor_units(), 2);
        assert_eq!(Currency::from_code("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::from_code("KWD").unwrap().minor_units(), 3);
        assert_eq!(Currency::from_code("BDT").unwrap().minor_units(), 2);
    }

    #[test]
    fn unknown_and_unit_less_codes_are_refused() {
        assert!(Currency::from_code("XXX").is_none());
        assert!(Currency::from_code("XAU").is_none());
        assert!(Currency::from_code("usd").is_none());
        assert!(Currency::from_code("ZZZ").is_none());
    }
}
