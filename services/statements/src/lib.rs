//! Bank statements read into the entries reconciliation matches: ISO 20022
//! `camt.053` and `camt.054` (versions `.001.02` to `.001.08`), SWIFT
//! `MT940`, and repat's CSV.
//!
//! Reading is all-or-nothing: the first entry that cannot be read fails the
//! whole statement, naming the entry (its position from 0), the line where
//! the format has lines, and the reason. Amounts are exact decimals checked
//! against their currency's minor units (a five-decimal USD amount is
//! refused, never rounded).
//!
//! XML is read with `roxmltree` (a small, dependency-free, read-only tree:
//! every camt version is read by element names, ignoring namespaces);
//! CSV with the `csv` crate. MT940 is read here: the `mt940` crate is
//! strict about bank variants, reports no entry position on a bad line,
//! and pulls a command-line stack into a library.

mod camt;
mod csv_format;
mod mt940;

use repat_core::money::{MoneyError, parse_currency};
use repat_core::reconcile::{Entry, StatementFormat};
use repat_core::{Currency, Money};

/// A statement as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub format: StatementFormat,
    /// The message's or statement's own id (camt `GrpHdr/MsgId`, MT940
    /// `:20:`), empty for CSV.
    pub message_id: String,
    /// The account it is for (IBAN or other id), when the format says.
    pub account: String,
    pub entries: Vec<Entry>,
}

/// Why a statement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{reason}", entry.map(|e| format!("entry {e}")).unwrap_or_default(), position(*entry, *line))]
pub struct StatementError {
    /// The entry's position in the statement, from 0.
    pub entry: Option<u32>,
    /// The line (from 1), for MT940 and CSV.
    pub line: Option<u32>,
    /// The element, tag or column at fault.
    pub field: Option<String>,
    pub reason: String,
}

fn position(entry: Option<u32>, line: Option<u32>) -> String {
    match (entry, line) {
        (Some(_), Some(l)) => format!(" (line {l}): "),
        (Some(_), None) => ": ".into(),
        (None, Some(l)) => format!("line {l}: "),
        (None, None) => String::new(),
    }
}

impl StatementError {
    fn file(reason: impl Into<String>) -> Self {
        StatementError {
            entry: None,
            line: None,
            field: None,
            reason: reason.into(),
        }
    }

    fn at(entry: u32, line: Option<u32>, field: &str, reason: impl Into<String>) -> Self {
        StatementError {
            entry: Some(entry),
            line,
            field: Some(field.to_string()),
            reason: reason.into(),
        }
    }
}

/// Most entries one statement may hold.
pub const MAX_ENTRIES: usize = 100_000;

/// Reads `content` as a statement of `format`.
pub fn parse(format: StatementFormat, content: &[u8]) -> Result<Statement, StatementError> {
    let text = std::str::from_utf8(content)
        .map_err(|e| StatementError::file(format!("is not UTF-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let statement = match format {
        StatementFormat::Camt053 | StatementFormat::Camt054 => camt::parse(format, text)?,
        StatementFormat::Mt940 => mt940::parse(text)?,
        StatementFormat::Csv => csv_format::parse(text)?,
    };
    if statement.entries.len() > MAX_ENTRIES {
        return Err(StatementError::file(format!(
            "has {} entries; at most {MAX_ENTRIES} in one statement",
            statement.entries.len()
        )));
    }
    Ok(statement)
}

/// An amount as written in a statement, checked against its currency.
fn amount(text: &str, currency: &str) -> Result<Money, String> {
    let currency: Currency =
        parse_currency(currency.trim()).map_err(|e| format!("currency {e}"))?;
    Money::parse_positive(text.trim(), currency.code()).map_err(|(_, e)| match e {
        MoneyError::Missing => "amount is missing".to_string(),
        e => format!("amount {:?} {e}", text.trim()),
    })
}

/// A rate as written: positive, at most ten decimal places.
fn rate(text: &str) -> Result<rust_decimal::Decimal, String> {
    repat_core::money::parse_rate(text.trim())
        .map_err(|e| format!("exchange rate {:?} {e}", text.trim()))
}
