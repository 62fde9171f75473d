//! Exact money: decimal amounts checked against their currency.
//!
//! Amounts travel as plain decimal strings and are held as
//! `rust_decimal::Decimal`; nothing here ever touches binary floating point.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::Currency;

/// Most digits allowed before the decimal point: a quadrillion of any
/// currency is already far beyond any real payment.
pub const MAX_INTEGER_DIGITS: usize = 15;
/// Most digits allowed after the decimal point of a rate.
pub const MAX_RATE_SCALE: u32 = 10;

/// Why an amount, currency or rate was refused. Each message names the
/// reason in words a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("is required")]
    Missing,
    #[error(
        "must be a plain decimal such as \"1250.00\" (digits, an optional '-' and '.'; no exponent, spaces or separators), got {0:?}"
    )]
    Malformed(String),
    #[error("has {0} digits before the decimal point; at most {MAX_INTEGER_DIGITS} are allowed")]
    TooManyDigits(usize),
    #[error("has {scale} decimal places but {currency} has {minor}")]
    ScaleTooLarge {
        scale: u32,
        currency: Currency,
        minor: u32,
    },
    #[error("has {0} decimal places; at most {MAX_RATE_SCALE} are allowed for a rate")]
    RateScaleTooLarge(u32),
    #[error("must be greater than zero, got {0}")]
    NotPositive(Decimal),
    #[error("must be zero or more, got {0}")]
    Negative(Decimal),
    #[error("is not an ISO 4217 currency code with minor units: {0:?}")]
    UnknownCurrency(String),
}

/// Parses a decimal string strictly: optional '-', digits, optional '.' and
/// digits. Refuses exponents, NaN, infinity, '+', spaces and separators.
pub fn parse_decimal(s: &str) -> Result<Decimal, MoneyError> {
    if s.is_empty() {
        return Err(MoneyError::Missing);
    }
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(MoneyError::Malformed(s.to_string()));
    }
    let significant = int.trim_start_matches('0').len();
    if significant > MAX_INTEGER_DIGITS {
        return Err(MoneyError::TooManyDigits(significant));
    }
    if frac.is_some_and(|f| f.len() > 28 - MAX_INTEGER_DIGITS) {
        return Err(MoneyError::Malformed(s.to_string()));
    }
    Decimal::from_str_exact(s).map_err(|_| MoneyError::Malformed(s.to_string()))
}

/// Parses an ISO 4217 code.
pub fn parse_currency(code: &str) -> Result<Currency, MoneyError> {
    if code.is_empty() {
        return Err(MoneyError::Missing);
    }
    Currency::from_code(code).ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))
}

/// Parses a rate (FX or incentive): positive, at most [`MAX_RATE_SCALE`]
/// decimal places.
pub fn parse_rate(s: &str) -> Result<Decimal, MoneyError> {
    let r = parse_decimal(s)?;
    if r.scale() > MAX_RATE_SCALE {
        return Err(MoneyError::RateScaleTooLarge(r.scale()));
    }
    if r <= Decimal::ZERO {
        return Err(MoneyError::NotPositive(r));
    }
    Ok(r.normalize())
}

/// An exact amount in one currency, held at the currency's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Builds money from an already-parsed amount, checking the scale.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        let minor = currency.minor_units();
        let amount = amount.normalize();
        if amount.scale() > minor {
            return Err(MoneyError::ScaleTooLarge {
                scale: amount.scale(),
                currency,
                minor,
            });
        }
        let mut amount = amount;
        amount.rescale(minor);
        Ok(Money { amount, currency })
    }

    /// Parses `amount` and `currency` as they come over the wire.
    pub fn parse(amount: &str, currency: &str) -> Result<Money, (MoneyField, MoneyError)> {
        let currency = parse_currency(currency).map_err(|e| (MoneyField::Currency, e))?;
        let value = parse_decimal(amount).map_err(|e| (MoneyField::Amount, e))?;
        // Trailing zeros beyond the minor units are still too many places:
        // "12.340" is not a USD amount a bank would write.
        let written_scale = value.scale();
        let minor = currency.minor_units();
        if written_scale > minor {
            return Err((
                MoneyField::Amount,
                MoneyError::ScaleTooLarge {
                    scale: written_scale,
                    currency,
                    minor,
                },
            ));
        }
        Money::new(value, currency).map_err(|e| (MoneyField::Amount, e))
    }

    /// Like [`Money::parse`], and the amount must be greater than zero.
    pub fn parse_positive(amount: &str, currency: &str) -> Result<Money, (MoneyField, MoneyError)> {
        let m = Money::parse(amount, currency)?;
        if m.amount <= Decimal::ZERO {
            return Err((MoneyField::Amount, MoneyError::NotPositive(m.amount)));
        }
        Ok(m)
    }

    /// Zero of a currency.
    pub fn zero(currency: Currency) -> Money {
        let mut amount = Decimal::ZERO;
        amount.rescale(currency.minor_units());
        Money { amount, currency }
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Adds money of the same currency; `None` on a currency mismatch or
    /// overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        let amount = self.amount.checked_add(other.amount)?;
        Some(Money {
            amount,
            currency: self.currency,
        })
    }

    /// Subtracts money of the same currency; `None` on a mismatch.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        let amount = self.amount.checked_sub(other.amount)?;
        Some(Money {
            amount,
            currency: self.currency,
        })
    }

    /// The amount as the canonical decimal string at the currency's minor
    /// units ("12.50"), the form stored and returned.
    pub fn amount_string(&self) -> String {
        self.amount.to_string()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// Which part of a money value was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyField {
    Amount,
    Currency,
}

impl MoneyField {
    pub fn name(self) -> &'static str {
        match self {
            MoneyField::Amount => "amount",
            MoneyField::Currency => "currency",
        }
    }
}

/// Divides and rounds half away from zero ("half-up" as banks say) to
/// exactly `scale` places. The one rounding rule for shares and ratios.
pub fn ratio_half_up(numerator: Decimal, denominator: Decimal, scale: u32) -> Option<Decimal> {
    let q = numerator.checked_div(denominator)?;
    let mut r = q.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(scale);
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(amount: &str, currency: &str) -> MoneyError {
        Money::parse_positive(amount, currency).unwrap_err().1
    }

    #[test]
    fn canonical_scale_is_the_currency_minor_units() {
        assert_eq!(
            Money::parse("12.5", "USD").unwrap().amount_string(),
            "12.50"
        );
        assert_eq!(Money::parse("12", "USD").unwrap().amount_string(), "12.00");
        assert_eq!(Money::parse("1000", "JPY").unwrap().amount_string(), "1000");
        assert_eq!(
            Money::parse("1.234", "KWD").unwrap().amount_string(),
            "1.234"
        );
    }

    #[test]
    fn bad_amounts_are_refused_with_a_reason() {
        assert!(matches!(
            err("12.345", "USD"),
            MoneyError::ScaleTooLarge {
                scale: 3,
                minor: 2,
                ..
            }
        ));
        assert!(matches!(
            err("12.340", "USD"),
            MoneyError::ScaleTooLarge { .. }
        ));
        assert!(matches!(
            err("1.5", "JPY"),
            MoneyError::ScaleTooLarge { .. }
        ));
        assert!(matches!(err("1e3", "USD"), MoneyError::Malformed(_)));
        assert!(matches!(err("NaN", "USD"), MoneyError::Malformed(_)));
        assert!(matches!(err("inf", "USD"), MoneyError::Malformed(_)));
        assert!(matches!(err("+5", "USD"), MoneyError::Malformed(_)));
        assert!(matches!(err("1,000.00", "USD"), MoneyError::Malformed(_)));
        assert!(matches!(err(" 5", "USD"), MoneyError::Malformed(_)));
        assert!(matches!(err(".5", "USD"), MoneyError::Malformed(_)));
        assert!(matches!(err("5.", "USD"), MoneyError::Malformed(_)));
        assert!(matches!(err("", "USD"), MoneyError::Missing));
        assert!(matches!(err("0", "USD"), MoneyError::NotPositive(_)));
        assert!(matches!(err("-1.00", "USD"), MoneyError::NotPositive(_)));
        assert!(matches!(
            err(&"9".repeat(40), "USD"),
            MoneyError::TooManyDigits(40)
        ));
        assert!(matches!(err("5", "ABC"), MoneyError::UnknownCurrency(_)));
    }

    #[test]
    fn sums_are_exact() {
        let a = Money::parse("0.10", "USD").unwrap();
        let b = Money::parse("0.20", "USD").unwrap();
        assert_eq!(a.checked_add(b).unwrap().amount_string(), "0.30");
        let eur = Money::parse("1", "EUR").unwrap();
        assert!(a.checked_add(eur).is_none());
    }

    #[test]
    fn ratio_rounds_half_up() {
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        assert_eq!(ratio_half_up(d("1"), d("8"), 2).unwrap(), d("0.13"));
        assert_eq!(ratio_half_up(d("1"), d("3"), 6).unwrap(), d("0.333333"));
        assert_eq!(ratio_half_up(d("1"), d("0"), 6), None);
    }

    #[test]
    fn rates_are_positive_and_bounded() {
        assert_eq!(parse_rate("110.00").unwrap().to_string(), "110");
        assert!(matches!(parse_rate("0"), Err(MoneyError::NotPositive(_))));
        assert!(matches!(
            parse_rate("1.12345678901"),
            Err(MoneyError::RateScaleTooLarge(11))
        ));
    }
}
