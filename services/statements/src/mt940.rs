//! SWIFT MT940 customer statements: fields are `:TAG:` at the start of a
//! line, continued by the lines after; `:61:` is an entry and the `:86:`
//! after it its free text. The SWIFT envelope (`{1:...}{4:` ... `-}`) is
//! allowed, and so are several statements in one file.

use chrono::{Datelike, NaiveDate};
use repat_core::reconcile::{Entry, EntryKind, StatementFormat};

use crate::{Statement, StatementError, amount};

struct Field<'a> {
    tag: &'a str,
    value: String,
    line: u32,
}

fn fields(text: &str) -> Vec<Field<'_>> {
    let mut out: Vec<Field> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        // Envelope blocks and the end-of-text marker carry no fields.
        let line = match line.find("{4:") {
            Some(i) => &line[i + 3..],
            None if line.starts_with('{') || line.trim() == "-}" || line.trim() == "-" => continue,
            None => line,
        };
        if let Some(rest) = line.strip_prefix(':')
            && let Some(end) = rest.find(':')
            && (2..=3).contains(&end)
            && rest[..2].bytes().all(|b| b.is_ascii_digit())
        {
            out.push(Field {
                tag: &rest[..end],
                value: rest[end + 1..].to_string(),
                line: n as u32 + 1,
            });
        } else if let Some(last) = out.last_mut() {
            last.value.push('\n');
            last.value.push_str(line);
        }
    }
    out
}

/// `YYMMDD`, years 2000 to 2099 (statements older than that are not
/// reconciled).
fn yymmdd(s: &str) -> Option<NaiveDate> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::from_ymd_opt(
        2000 + s[..2].parse::<i32>().ok()?,
        s[2..4].parse().ok()?,
        s[4..].parse().ok()?,
    )
}

/// An MT940 amount ("1234,56", "1234,") as a decimal string.
fn decimal(s: &str) -> String {
    let s = s.replace(',', ".");
    s.strip_suffix('.').map(str::to_string).unwrap_or(s)
}

pub fn parse(text: &str) -> Result<Statement, StatementError> {
    let fields = fields(text);
    if !fields.iter().any(|f| f.tag == "20") {
        return Err(StatementError::file(
            "is not an MT940 statement (no :20: field)",
        ));
    }
    let mut message_id = String::new();
    let mut account = String::new();
    let mut currency = String::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut last_was_entry = false;
    for f in &fields {
        let line = Some(f.line);
        match f.tag {
            "20" if message_id.is_empty() => message_id = f.value.trim().to_string(),
            "25" if account.is_empty() => account = f.value.trim().to_string(),
            "60F" | "60M" => {
                // C240301USD1000,00: mark, date, currency, amount.
                let v = f.value.trim();
                currency = v.get(7..10).unwrap_or_default().to_string();
            }
            "61" => {
                let index = entries.len() as u32;
                if currency.is_empty() {
                    return Err(StatementError::at(
                        index,
                        line,
                        ":61:",
                        "comes before an opening balance (:60F:) naming the currency",
                    ));
                }
                entries.push(statement_line(index, f.line, &f.value, &currency)?);
                last_was_entry = true;
                continue;
            }
            "86" if last_was_entry => {
                if let Some(e) = entries.last_mut() {
                    let info = f.value.split_whitespace().collect::<Vec<_>>().join(" ");
                    e.remittance = if e.remittance.is_empty() {
                        info
                    } else {
                        format!("{} {info}", e.remittance)
                    };
                }
            }
            _ => {}
        }
        last_was_entry = false;
    }
    Ok(Statement {
        format: StatementFormat::Mt940,
        message_id,
        account,
        entries,
    })
}

/// `:61:` value date, optional entry date, mark (C, D, RC, RD), optional
/// funds code, amount, transaction type, customer reference, `//` bank
/// reference, and on a second line supplementary details.
fn statement_line(
    index: u32,
    line: u32,
    value: &str,
    currency: &str,
) -> Result<Entry, StatementError> {
    let err = |field: &str, reason: String| StatementError::at(index, Some(line), field, reason);
    let (first, details) = value.split_once('\n').unwrap_or((value, ""));
    let s = first.trim();
    let value_date = s.get(..6).and_then(yymmdd).ok_or_else(|| {
        err(
            "value date",
            format!(":61: must start with a value date YYMMDD, got {s:?}"),
        )
    })?;
    let mut rest = &s[6..];
    let mut booking_date = None;
    if rest.len() >= 4 && rest[..4].bytes().all(|b| b.is_ascii_digit()) {
        let (m, d) = (
            rest[..2].parse().unwrap_or(0),
            rest[2..4].parse().unwrap_or(0),
        );
        // The entry date may fall in the year before or after the value date.
        let near = [
            value_date.year(),
            value_date.year() - 1,
            value_date.year() + 1,
        ]
        .into_iter()
        .filter_map(|y| NaiveDate::from_ymd_opt(y, m, d))
        .min_by_key(|d| (*d - value_date).num_days().abs());
        booking_date = Some(near.ok_or_else(|| {
            err(
                "entry date",
                format!("entry date {:?} is not a date", &rest[..4]),
            )
        })?);
        rest = &rest[4..];
    }
    // RD: a reversal of a debit (money in); RC: of a credit (money out).
    let (kind, after) = if let Some(r) = rest.strip_prefix("RC") {
        (EntryKind::CreditReversal, r)
    } else if let Some(r) = rest.strip_prefix("RD") {
        (EntryKind::DebitReversal, r)
    } else if let Some(r) = rest.strip_prefix('C') {
        (EntryKind::Credit, r)
    } else if let Some(r) = rest.strip_prefix('D') {
        (EntryKind::Debit, r)
    } else {
        return Err(err(
            "mark",
            format!(
                "debit/credit mark must be C, D, RC or RD, got {:?}",
                rest.get(..2).unwrap_or(rest)
            ),
        ));
    };
    // An optional funds code (the third letter of the currency code).
    let after = match after.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => &after[1..],
        _ => after,
    };
    // The amount runs up to the transaction type, which starts with N, S or F.
    let end = after.find(['N', 'S', 'F']).unwrap_or(after.len());
    let written = &after[..end];
    let money = amount(&decimal(written), currency)
        .map_err(|e| err("amount", format!("{e} (written {written:?})")))?;
    let rest = &after[end..];
    let kind_code = rest.get(..4).unwrap_or_default();
    if !(kind_code.starts_with(['N', 'S', 'F']) && kind_code.len() == 4) {
        return Err(err(
            "transaction type",
            format!("transaction type must be N, S or F and three characters, got {kind_code:?}"),
        ));
    }
    let refs = &rest[4..];
    let (customer, bank) = refs
        .split_once("//")
        .map_or((refs, None), |(c, b)| (c, Some(b.trim())));
    let customer = customer.trim();
    let mut remittance = Vec::new();
    if !customer.is_empty() && customer != "NONREF" {
        remittance.push(customer.to_string());
    }
    if !details.trim().is_empty() {
        remittance.push(details.trim().to_string());
    }
    let mut entry = Entry::credit(index, money, value_date);
    entry.kind = kind;
    entry.booking_date = booking_date.or(Some(value_date));
    entry.servicer_reference = bank.filter(|b| !b.is_empty()).map(str::to_string);
    entry.remittance = remittance.join(" ");
    Ok(entry)
}
