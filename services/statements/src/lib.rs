//! Bank statements read into the entries reconciliation matches: ISO 20022
//! `camt.052` (intraday report), `camt.053` (statement) and `camt.054`
//! (notification), every published version of the `.001` shape (`.001.02`
//! to `.001.13`); SWIFT `MT940` (statement) and `MT942` (interim report);
//! and repat's CSV.
//!
//! One file may hold several statements (several accounts, or several
//! periods of one account): it is read as one [`Statement`] per camt
//! `Stmt`/`Rpt`/`Ntfctn` or MT940/MT942 `:20:` block, each entry under
//! its own account.
//!
//! Reading is all-or-nothing: the first entry that cannot be read fails the
//! whole file, naming the entry (its position in the file, from 0), the
//! line where the format has lines, and the reason. Amounts are exact
//! decimals checked against their currency's minor units: `8.850 EUR` is
//! 8.85, a five-decimal USD amount is refused, never rounded. Zero amounts
//! are read (fee-free notices, corrections); they never pay an invoice.
//!
//! Times: an ISO 20022 date-time written without an offset is the account
//! servicer's local time, read in the account's offset ([`ReadOptions`],
//! UTC+06:00 by default); the booking date of an entry is the bank's own
//! calendar date.
//!
//! Text: XML in UTF-8, UTF-16 (by its byte-order mark) or the encoding its
//! declaration names; MT940, MT942 and CSV in UTF-8, else the charset
//! given, else ISO-8859-2 or Windows-1252 (a superset of ISO-8859-1),
//! whichever reads more of the bytes as letters (`encoding_rs` decodes).
//!
//! XML is read with `roxmltree` (a small, dependency-free, read-only tree:
//! every camt version is read by element names, ignoring namespaces);
//! CSV with the `csv` crate. MT940 is read here: the `mt940` crate is
//! strict about bank variants, reports no entry position on a bad line,
//! and pulls a command-line stack into a library.

mod accounts;
mod camt;
mod csv_format;
mod detect;
mod mt940;
mod text;

use chrono::FixedOffset;
use repat_core::money::{parse_currency, parse_decimal};
use repat_core::reconcile::{Entry, StatementFormat};
use repat_core::{Currency, Money};

pub use accounts::same_account;
pub use detect::detect;
pub use encoding_rs::Encoding;
pub use text::charset;

/// One account's statement for one period, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub format: StatementFormat,
    /// The message's or statement's own id (camt `GrpHdr/MsgId`, MT940
    /// `:20:`), empty for CSV.
    pub message_id: String,
    /// The account it is for (IBAN or other id), when the format says.
    pub account: String,
    /// Its entries, each `index` counting from 0 within this statement.
    pub entries: Vec<Entry>,
}

/// How to read a file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The text's charset, when the caller knows better than detection.
    pub charset: Option<&'static Encoding>,
    /// The local time of each account's servicer: (account as
    /// registered, its offset), matched with [`same_account`].
    pub accounts: Vec<(String, FixedOffset)>,
    /// The local time of an account not listed.
    pub default_offset: FixedOffset,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            charset: None,
            accounts: vec![],
            default_offset: repat_core::time::DHAKA,
        }
    }
}

impl ReadOptions {
    /// The offset of the servicer of `account`, as a statement names it.
    fn offset_for(&self, account: &str) -> FixedOffset {
        self.accounts
            .iter()
            .find(|(a, _)| same_account(account, a))
            .map_or(self.default_offset, |(_, o)| *o)
    }
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{reason}", entry.map(|e| format!("entry {e}")).unwrap_or_default(), position(*entry, *line))]
pub struct StatementError {
    /// The entry's position in the file, from 0.
    pub entry: Option<u32>,
    /// The line (from 1), for MT940, MT942 and CSV.
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

/// Most entries one file may hold.
pub const MAX_ENTRIES: usize = 100_000;

/// Reads `content` as a file of `format`, with the default options.
pub fn parse(format: StatementFormat, content: &[u8]) -> Result<Vec<Statement>, StatementError> {
    read(format, content, &ReadOptions::default())
}

/// Reads `content` as a file of `format`: one statement per account and
/// period, at least one.
pub fn read(
    format: StatementFormat,
    content: &[u8],
    options: &ReadOptions,
) -> Result<Vec<Statement>, StatementError> {
    let statements = match format {
        StatementFormat::Camt052 | StatementFormat::Camt053 | StatementFormat::Camt054 => {
            camt::parse(format, &text::xml(content, options.charset)?, options)?
        }
        StatementFormat::Mt940 | StatementFormat::Mt942 => {
            mt940::parse(format, &text::plain(content, options.charset)?)?
        }
        StatementFormat::Csv => vec![csv_format::parse(&text::plain(content, options.charset)?)?],
    };
    let count: usize = statements.iter().map(|s| s.entries.len()).sum();
    if count > MAX_ENTRIES {
        return Err(StatementError::file(format!(
            "has {count} entries; at most {MAX_ENTRIES} in one file"
        )));
    }
    Ok(statements)
}

/// An amount as written in a statement, checked against its currency: zero
/// or more, exactly representable in the currency's minor units (trailing
/// zeros beyond them change nothing).
fn amount(text: &str, currency: &str) -> Result<Money, String> {
    let currency: Currency =
        parse_currency(currency.trim()).map_err(|e| format!("currency {e}"))?;
    let t = text.trim();
    if t.is_empty() {
        return Err("amount is missing".to_string());
    }
    let value = parse_decimal(t).map_err(|e| format!("amount {t:?} {e}"))?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(format!(
            "amount {t:?} is negative; the credit/debit indicator gives the direction"
        ));
    }
    Money::new(value.abs(), currency).map_err(|e| format!("amount {t:?} {e}"))
}

/// A rate as written: positive, at most ten decimal places.
fn rate(text: &str) -> Result<rust_decimal::Decimal, String> {
    repat_core::money::parse_rate(text.trim())
        .map_err(|e| format!("exchange rate {:?} {e}", text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_exact_zero_and_trailing_zeros() {
        assert_eq!(amount("8.850", "EUR").unwrap().to_string(), "8.85 EUR");
        assert_eq!(amount("0", "EUR").unwrap().to_string(), "0.00 EUR");
        assert_eq!(amount("100.000", "JPY").unwrap().to_string(), "100 JPY");
        assert!(
            amount("8.855", "EUR")
                .unwrap_err()
                .contains("has 3 decimal places but EUR has 2")
        );
        assert!(amount("-1", "EUR").unwrap_err().contains("negative"));
        assert!(amount("", "EUR").unwrap_err().contains("missing"));
        assert!(amount("1", "XYZ").unwrap_err().contains("currency"));
    }
}
