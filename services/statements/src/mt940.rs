//! SWIFT MT940 customer statements and MT942 interim transaction reports:
//! fields are `:TAG:` at the start of a line, continued by the lines after;
//! `:61:` is an entry and the `:86:` after it its free text. The SWIFT
//! envelope (`{1:...}{2:...}{4:` ... `-}`) is allowed, and so are several
//! statements in one file, each starting at its `:20:`.
//!
//! A statement must name its account (`:25:`); an MT940 statement must
//! carry its opening (`:60F:`/`:60M:`) and closing (`:62F:`/`:62M:`)
//! balances, an MT942 report its floor limit (`:34F:`, which gives the
//! currency). Every entry of an MT942 is provisional.
//!
//! Text is handled by characters, never sliced by byte position, so no
//! line can make the reader panic.

use chrono::{Datelike, NaiveDate};
use repat_core::reconcile::{BookingStatus, Entry, EntryKind, StatementFormat};

use crate::{Statement, StatementError, amount};

struct Field<'a> {
    tag: &'a str,
    value: String,
    line: u32,
}

/// The tag of a field line: `:NN:` or `:NNa:` at its start.
fn tag(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(':')?;
    let end = rest.find(':')?;
    let tag = &rest[..end];
    let b = tag.as_bytes();
    let shaped = matches!(b.len(), 2 | 3)
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b.get(2).is_none_or(|c| c.is_ascii_alphabetic());
    shaped.then(|| (tag, &rest[end + 1..]))
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
        if let Some((tag, value)) = tag(line) {
            out.push(Field {
                tag,
                value: value.to_string(),
                line: n as u32 + 1,
            });
        } else if let Some(last) = out.last_mut() {
            last.value.push('\n');
            last.value.push_str(line);
        }
    }
    out
}

/// Whether the text is an MT942 rather than an MT940: its envelope says
/// so, or it has MT942's own fields and no balances.
pub fn is_mt942(text: &str) -> bool {
    if text.contains("{2:I942") || text.contains("{2:O942") {
        return true;
    }
    if text.contains("{2:I940") || text.contains("{2:O940") {
        return false;
    }
    let fields = fields(text);
    let has = |t: &[&str]| fields.iter().any(|f| t.contains(&f.tag));
    has(&["34F", "13D", "90D", "90C"]) && !has(&["60F", "60M", "62F", "62M"])
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

/// A statement being read: its fields so far.
struct Block<'a> {
    reference: String,
    line: u32,
    account: Option<String>,
    currency: Option<String>,
    opening: bool,
    closing: bool,
    entries: Vec<Entry>,
    fields: Vec<&'a Field<'a>>,
}

pub fn parse(format: StatementFormat, text: &str) -> Result<Vec<Statement>, StatementError> {
    let interim = is_mt942(text);
    match (format, interim) {
        (StatementFormat::Mt940, true) => {
            return Err(StatementError::file(
                "is an MT942 interim report (provisional intraday entries), not an MT940 statement; import it as MT942",
            ));
        }
        (StatementFormat::Mt942, false) => {
            return Err(StatementError::file(
                "is an MT940 statement, not an MT942 interim report; import it as MT940",
            ));
        }
        _ => {}
    }
    let name = if interim { "MT942" } else { "MT940" };
    let fields = fields(text);
    if !fields.iter().any(|f| f.tag == "20") {
        return Err(StatementError::file(format!(
            "is not an {name} file (no :20: field)"
        )));
    }
    // Group the fields into statements, each starting at its :20:.
    let mut blocks: Vec<Block> = Vec::new();
    for f in &fields {
        if f.tag == "20" {
            blocks.push(Block {
                reference: f.value.trim().to_string(),
                line: f.line,
                account: None,
                currency: None,
                opening: false,
                closing: false,
                entries: vec![],
                fields: vec![],
            });
        } else if let Some(b) = blocks.last_mut() {
            b.fields.push(f);
        }
    }
    let status = if interim {
        BookingStatus::Pending
    } else {
        BookingStatus::Booked
    };
    let mut position = 0u32;
    let mut statements = Vec::with_capacity(blocks.len());
    for mut b in blocks {
        let what = format!("line {}: the {name} statement {:?}", b.line, b.reference);
        let mut last_was_entry = false;
        for f in std::mem::take(&mut b.fields) {
            let line = Some(f.line);
            match f.tag {
                "25" => b.account = Some(f.value.trim().to_string()).filter(|a| !a.is_empty()),
                "60F" | "60M" | "62F" | "62M" if !interim => {
                    // C240301USD1000,00: mark, date, currency, amount.
                    let v = f.value.trim();
                    let currency = v.get(7..10).unwrap_or_default().to_string();
                    if f.tag.starts_with("60") {
                        b.opening = true;
                        b.currency.get_or_insert(currency);
                    } else {
                        b.closing = true;
                    }
                }
                // EUR0,00 or EURD0,00: the floor limit, in the account's currency.
                "34F" if interim => {
                    b.currency
                        .get_or_insert_with(|| f.value.trim().chars().take(3).collect());
                }
                "61" => {
                    let currency = b.currency.clone().ok_or_else(|| {
                        let before = if interim {
                            "a floor limit (:34F:)"
                        } else {
                            "an opening balance (:60F:)"
                        };
                        StatementError::at(
                            position,
                            line,
                            ":61:",
                            format!("comes before {before} naming the currency"),
                        )
                    })?;
                    let mut entry = statement_line(
                        position,
                        b.entries.len() as u32,
                        f.line,
                        &f.value,
                        &currency,
                    )?;
                    entry.status = status;
                    b.entries.push(entry);
                    position += 1;
                    last_was_entry = true;
                    continue;
                }
                "86" if last_was_entry => {
                    if let Some(e) = b.entries.last_mut() {
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
        let account = b.account.ok_or_else(|| {
            StatementError::file(format!("{what} has no account (:25:, mandatory)"))
        })?;
        if !interim && !b.opening {
            return Err(StatementError::file(format!(
                "{what} has no opening balance (:60F: or :60M:, mandatory)"
            )));
        }
        if !interim && !b.closing {
            return Err(StatementError::file(format!(
                "{what} has no closing balance (:62F: or :62M:, mandatory)"
            )));
        }
        if interim && b.currency.is_none() {
            return Err(StatementError::file(format!(
                "{what} has no floor limit (:34F:, mandatory) naming the currency"
            )));
        }
        statements.push(Statement {
            format,
            message_id: b.reference,
            account,
            entries: b.entries,
        });
    }
    Ok(statements)
}

/// `:61:` value date, optional entry date, mark (C, D, RC, RD), optional
/// funds code, amount, transaction type, customer reference, `//` bank
/// reference, and on a second line supplementary details. The value date,
/// mark, amount and transaction type are mandatory.
fn statement_line(
    pos: u32,
    index: u32,
    line: u32,
    value: &str,
    currency: &str,
) -> Result<Entry, StatementError> {
    let err = |field: &str, reason: String| StatementError::at(pos, Some(line), field, reason);
    let (first, details) = value.split_once('\n').unwrap_or((value, ""));
    let s = first.trim();
    let missing = |subfield: &str, shape: &str, rest: &str| {
        let got = if rest.is_empty() {
            "the line ends there".to_string()
        } else {
            format!("found {:?}", rest.chars().take(12).collect::<String>())
        };
        err(
            subfield,
            format!(":61: the mandatory {subfield} ({shape}) is missing: {got}"),
        )
    };
    let value_date = match s.get(..6) {
        Some(d) if d.bytes().all(|b| b.is_ascii_digit()) => yymmdd(d).ok_or_else(|| {
            err(
                "value date",
                format!(":61: value date {d:?} is not a date (YYMMDD)"),
            )
        })?,
        _ => return Err(missing("value date", "YYMMDD", s)),
    };
    let mut rest = &s[6..];
    let mut booking_date = None;
    if let Some(md) = rest
        .get(..4)
        .filter(|md| md.bytes().all(|b| b.is_ascii_digit()))
    {
        let (m, d) = (md[..2].parse().unwrap_or(0), md[2..].parse().unwrap_or(0));
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
                format!(":61: entry date {md:?} is not a date (MMDD)"),
            )
        })?);
        rest = &rest[4..];
    } else if let Some(blank) = rest.strip_prefix("    ") {
        // Some banks write the absent entry date as four spaces.
        rest = blank;
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
        return Err(missing("debit/credit mark", "C, D, RC or RD", rest));
    };
    // An optional funds code: a letter (the third of the currency code)
    // before the amount's digits.
    let mut chars = after.chars();
    let after = match (chars.next(), chars.next()) {
        (Some(c), Some(d)) if c.is_ascii_alphabetic() && (d.is_ascii_digit() || d == ',') => {
            &after[1..]
        }
        _ => after,
    };
    // The amount: digits and a decimal comma (some banks write a point),
    // up to the transaction type (N, S or F). A complete amount followed by
    // something else is a bad transaction type; an amount broken by a
    // letter ("1O0,00") is a bad amount.
    let digits = after
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(after.len());
    let written = match after[digits..].chars().next() {
        None | Some('N' | 'S' | 'F' | '/') => &after[..digits],
        Some(_) if after[..digits].contains([',', '.']) => &after[..digits],
        Some(_) => &after[..after.find(['N', 'S', 'F']).unwrap_or(after.len())],
    };
    if written.is_empty() {
        return Err(missing("amount", "digits with a decimal comma", after));
    }
    let money = amount(&decimal(written), currency)
        .map_err(|e| err("amount", format!(":61: {e} (written {written:?})")))?;
    // Some banks put a space before the transaction type.
    let rest = after[written.len()..].trim_start_matches(' ');
    // N, S or F and three characters (banks pad short codes with spaces).
    let kind_code = rest.get(..4).filter(|k| {
        k.starts_with(['N', 'S', 'F']) && k.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
    });
    let Some(kind_code) = kind_code else {
        return Err(missing(
            "transaction type",
            "N, S or F and three characters",
            rest,
        ));
    };
    let refs = &rest[kind_code.len()..];
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(v: &str) -> Result<Entry, StatementError> {
        statement_line(0, 0, 1, v, "EUR")
    }

    #[test]
    fn statement_lines() {
        let e = line("2403010301C1234,5NTRFINV-1//BANK-1").unwrap();
        assert_eq!(
            (e.amount.to_string().as_str(), e.kind),
            ("1234.50 EUR", EntryKind::Credit)
        );
        assert_eq!(e.booking_date.unwrap().to_string(), "2024-03-01");
        assert_eq!(e.servicer_reference.as_deref(), Some("BANK-1"));
        // Funds code R, a zero amount, an entry date across the year end.
        let e = line("2401011231DR0,NMSCNONREF").unwrap();
        assert_eq!(
            (
                e.amount.to_string().as_str(),
                e.booking_date.unwrap().to_string().as_str()
            ),
            ("0.00 EUR", "2023-12-31")
        );
        assert!(
            line("240301")
                .unwrap_err()
                .reason
                .contains("mandatory debit/credit mark")
        );
        assert!(
            line("240301CNTRF")
                .unwrap_err()
                .reason
                .contains("mandatory amount")
        );
        assert!(
            line("240301C10,00")
                .unwrap_err()
                .reason
                .contains("mandatory transaction type")
        );
        assert!(
            line("240301C10,00//REF")
                .unwrap_err()
                .reason
                .contains("mandatory transaction type")
        );
        assert!(
            line("240301C10,00MCI0NONREF")
                .unwrap_err()
                .reason
                .contains("mandatory transaction type")
        );
        // Bank variants: a point for the comma, no decimals, a padded type, no entry date.
        assert_eq!(
            line("240301C000000000300.00NMSC1")
                .unwrap()
                .amount
                .to_string(),
            "300.00 EUR"
        );
        assert_eq!(
            line("240301C500NTRFX").unwrap().amount.to_string(),
            "500.00 EUR"
        );
        assert_eq!(line("240301DF2402,00S   X").unwrap().kind, EntryKind::Debit);
        assert_eq!(
            line("240301    D65,00NOV NONREF")
                .unwrap()
                .amount
                .to_string(),
            "65.00 EUR"
        );
        assert_eq!(
            line("2006080608D12,35 NRTIKREF+//2016")
                .unwrap()
                .servicer_reference
                .as_deref(),
            Some("2016")
        );
        assert!(
            line("24030")
                .unwrap_err()
                .reason
                .contains("mandatory value date")
        );
        assert!(
            line("240230C1,NTRF")
                .unwrap_err()
                .reason
                .contains("not a date")
        );
        assert!(
            line("240301C1O0,00NTRF")
                .unwrap_err()
                .reason
                .contains("\"1O0,00\"")
        );
        assert!(line("2403é1C1,NTRF").is_err());
        assert!(line("240301Cé").is_err());
    }

    #[test]
    fn tags_are_read_by_character() {
        assert!(tag(":aé:").is_none());
        assert!(tag(":é:").is_none());
        assert_eq!(tag(":60F:C").map(|t| t.0), Some("60F"));
        assert_eq!(tag(":61:x").map(|t| t.0), Some("61"));
    }
}
