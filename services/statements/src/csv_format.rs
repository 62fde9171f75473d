//! repat's CSV statement: a header line naming the columns (in any order),
//! then one entry a line. Required: `booking_date`, `direction`, `amount`,
//! `currency`. Optional: `value_date`, `reference` (the bank's),
//! `end_to_end_id`, `uetr`, `remittance`, `counterparty`, `charges`,
//! `instructed_amount`, `instructed_currency`, `fx_rate` (one unit of the
//! instructed currency in the booked currency). Dates are `YYYY-MM-DD`;
//! amounts plain decimals with a '.'; `direction` is `CREDIT`, `DEBIT`,
//! `CREDIT_REVERSAL` or `DEBIT_REVERSAL`.

use std::collections::HashMap;

use chrono::NaiveDate;
use repat_core::Named;
use repat_core::journey::FxRate;
use repat_core::reconcile::{Entry, EntryKind, StatementFormat};

use crate::{Statement, StatementError, amount, rate};

const COLUMNS: [&str; 14] = [
    "booking_date",
    "value_date",
    "direction",
    "amount",
    "currency",
    "reference",
    "end_to_end_id",
    "uetr",
    "remittance",
    "counterparty",
    "charges",
    "instructed_amount",
    "instructed_currency",
    "fx_rate",
];
const REQUIRED: [&str; 4] = ["booking_date", "direction", "amount", "currency"];

pub fn parse(text: &str) -> Result<Statement, StatementError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| StatementError::file(format!("has no readable header line: {e}")))?
        .clone();
    let mut column: HashMap<&str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let known = COLUMNS.iter().find(|c| **c == h).ok_or_else(|| {
            StatementError::file(format!(
                "line 1: unknown column {h:?}; the columns are {}",
                COLUMNS.join(", ")
            ))
        })?;
        column.insert(known, i);
    }
    if let Some(missing) = REQUIRED.iter().find(|c| !column.contains_key(*c)) {
        return Err(StatementError::file(format!(
            "line 1: column {missing} is required"
        )));
    }
    let mut entries = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let index = n as u32;
        // The line of the record, or of where reading it failed.
        let line = match &record {
            Ok(r) => r.position(),
            Err(e) => e.position(),
        }
        .map(|p| p.line() as u32);
        let record =
            record.map_err(|e| StatementError::at(index, line, "", format!("unreadable: {e}")))?;
        let get = |c: &str| {
            column
                .get(c)
                .and_then(|&i| record.get(i))
                .unwrap_or_default()
        };
        let err =
            |c: &str, reason: String| StatementError::at(index, line, c, format!("{c}: {reason}"));
        let day = |c: &str| -> Result<Option<NaiveDate>, StatementError> {
            match get(c) {
                "" => Ok(None),
                d => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| err(c, format!("{d:?} is not a date (YYYY-MM-DD)"))),
            }
        };
        let booking_date =
            day("booking_date")?.ok_or_else(|| err("booking_date", "is required".into()))?;
        let kind = EntryKind::from_name(&get("direction").to_uppercase()).ok_or_else(|| {
            err(
                "direction",
                format!(
                    "must be CREDIT, DEBIT, CREDIT_REVERSAL or DEBIT_REVERSAL, got {:?}",
                    get("direction")
                ),
            )
        })?;
        let booked = amount(get("amount"), get("currency")).map_err(|e| err("amount", e))?;
        let mut entry = Entry::credit(index, booked, booking_date);
        entry.kind = kind;
        entry.value_date = day("value_date")?.or(Some(booking_date));
        entry.servicer_reference = Some(get("reference"))
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        entry.end_to_end_id = Some(get("end_to_end_id"))
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        entry.uetr = match get("uetr") {
            "" => None,
            u => Some(
                uuid::Uuid::try_parse(u)
                    .map_err(|_| err("uetr", format!("{u:?} is not a UUID")))?,
            ),
        };
        entry.remittance = get("remittance").to_string();
        entry.counterparty = get("counterparty").to_string();
        if !get("charges").is_empty() {
            entry.charges =
                Some(amount(get("charges"), get("currency")).map_err(|e| err("charges", e))?);
        }
        if !get("instructed_amount").is_empty() {
            let instructed = amount(get("instructed_amount"), get("instructed_currency"))
                .map_err(|e| err("instructed_amount", e))?;
            if !get("fx_rate").is_empty() {
                let r = rate(get("fx_rate")).map_err(|e| err("fx_rate", e))?;
                entry.fx_rate = Some(FxRate {
                    source: instructed.currency(),
                    target: booked.currency(),
                    rate: r,
                });
            }
            entry.instructed = Some(instructed);
        }
        entries.push(entry);
    }
    Ok(Statement {
        format: StatementFormat::Csv,
        message_id: String::new(),
        account: String::new(),
        entries,
    })
}
