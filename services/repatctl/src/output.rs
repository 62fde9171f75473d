//! What a command prints, in one shape, and the three ways to print it: a
//! table for people, JSON or CSV for scripts.
//!
//! A report is a list of named sections, each one record (fields) or a
//! table. JSON keeps every section (a report of one section is just that
//! section: an object for one record, an array for a table); CSV holds one
//! table, so it prints the report's main section (one record as a header
//! and one row). Columns named `*_secs` (exact seconds) and `*_id` (the
//! ids of what a row names beside its name) are for scripts and left out of
//! the tables.
//!
//! Cells know what they hold, so each format writes it its own way: money
//! is `{"amount": "65952.26", "currency": "USD"}` in JSON, two columns
//! (`X`, `X_currency`) in CSV and `65,952.26 USD` in a table; a share is the
//! exact fraction for scripts and a percentage for people.

use std::io::{IsTerminal, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use repat_proto::v1 as pb;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::cli::OutputFormat;

/// One value of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    /// Text, a number or a flag, as it is.
    Json(Value),
    Money(pb::Money),
    /// Sums in several currencies.
    Monies(Vec<pb::Money>),
    /// A fraction as an exact decimal string ("0.0025"): a percentage in
    /// tables.
    Share(String),
    /// Fees with who charged them.
    Fees(Vec<pb::Fee>),
    Fx(pb::FxRate),
}

impl From<Value> for Cell {
    fn from(v: Value) -> Cell {
        if v.is_null() {
            Cell::Null
        } else {
            Cell::Json(v)
        }
    }
}

impl Cell {
    /// Text, `Null` when empty.
    pub fn text(s: impl Into<String>) -> Cell {
        let s = s.into();
        if s.is_empty() {
            Cell::Null
        } else {
            Cell::Json(Value::String(s))
        }
    }

    pub fn money(m: &Option<pb::Money>) -> Cell {
        match m {
            Some(m) if !m.amount.is_empty() => Cell::Money(m.clone()),
            _ => Cell::Null,
        }
    }

    pub fn share(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Null
        } else {
            Cell::Share(s.to_string())
        }
    }

    pub fn fx(f: &Option<pb::FxRate>) -> Cell {
        match f {
            Some(f) if !f.rate.is_empty() => Cell::Fx(f.clone()),
            _ => Cell::Null,
        }
    }

    /// For people: grouped digits, percentages, currency pairs.
    pub fn for_table(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Json(v) => plain(v),
            Cell::Money(m) => format!("{} {}", group_digits(&m.amount), m.currency),
            Cell::Monies(ms) => ms
                .iter()
                .map(|m| format!("{} {}", group_digits(&m.amount), m.currency))
                .collect::<Vec<_>>()
                .join(", "),
            Cell::Share(s) => percent(s),
            Cell::Fees(fees) => fees.iter().map(fee_text).collect::<Vec<_>>().join("; "),
            Cell::Fx(f) => format!("{}/{} {}", f.source_currency, f.target_currency, f.rate),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Json(v) => v.clone(),
            Cell::Money(m) => money_json(m),
            Cell::Monies(ms) => Value::Array(ms.iter().map(money_json).collect()),
            Cell::Share(s) => Value::String(s.clone()),
            Cell::Fees(fees) => Value::Array(
                fees.iter()
                    .map(|f| {
                        let m = f.amount.clone().unwrap_or_default();
                        json!({"amount": m.amount, "currency": m.currency, "charged_by": f.charged_by, "kind": f.kind})
                    })
                    .collect(),
            ),
            Cell::Fx(f) => json!({"source_currency": f.source_currency, "target_currency": f.target_currency, "rate": f.rate}),
        }
    }
}

fn money_json(m: &pb::Money) -> Value {
    json!({"amount": m.amount, "currency": m.currency})
}

fn fee_text(f: &pb::Fee) -> String {
    let m = f.amount.clone().unwrap_or_default();
    let mut s = format!("{} {}", group_digits(&m.amount), m.currency);
    if !f.charged_by.is_empty() {
        s.push_str(&format!(" by {}", f.charged_by));
    }
    if !f.kind.is_empty() {
        s.push_str(&format!(" ({})", f.kind));
    }
    s
}

/// "1097250.00" as "1,097,250.00"; anything not a plain decimal as it is.
pub fn group_digits(amount: &str) -> String {
    let (sign, rest) = amount.strip_prefix('-').map_or(("", amount), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return amount.to_string();
    }
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A fraction as a percentage, exactly: "0.0025" reads "0.25%", "0.75"
/// reads "75%".
pub fn percent(fraction: &str) -> String {
    match fraction.parse::<Decimal>() {
        Ok(d) => format!("{}%", (d * Decimal::ONE_HUNDRED).normalize()),
        Err(_) => fraction.to_string(),
    }
}

pub enum Block {
    Fields(Vec<(String, Cell)>),
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<Cell>>,
    },
}

pub struct Section {
    pub name: String,
    pub block: Block,
}

#[derive(Default)]
pub struct Report {
    pub sections: Vec<Section>,
    /// Printed under the tables only (to stderr in the other formats).
    pub notes: Vec<String>,
    /// The section CSV prints; the first table when unset.
    pub main: Option<usize>,
}

impl Report {
    pub fn fields(mut self, name: &str, fields: Vec<(&str, Cell)>) -> Self {
        self.sections.push(Section {
            name: name.into(),
            block: Block::Fields(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ),
        });
        self
    }

    pub fn table(mut self, name: &str, columns: &[&str], rows: Vec<Vec<Cell>>) -> Self {
        self.sections.push(Section {
            name: name.into(),
            block: Block::Table {
                columns: columns.iter().map(|c| c.to_string()).collect(),
                rows,
            },
        });
        self
    }

    /// Makes the section just added the one CSV prints.
    pub fn main(mut self) -> Self {
        self.main = Some(self.sections.len() - 1);
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Prints the report to stdout. A reader that stops reading (`| head`)
    /// is not a failure: what it did not read is dropped.
    pub fn print(&self, format: OutputFormat) -> anyhow::Result<()> {
        // A command that printed as it went (watch) has nothing left to say.
        if self.sections.is_empty() && self.notes.is_empty() {
            return Ok(());
        }
        let mut out = Vec::new();
        match format {
            OutputFormat::Table => self.write_table(&mut out, table_width())?,
            OutputFormat::Json => {
                serde_json::to_writer_pretty(&mut out, &self.to_json())?;
                writeln!(out)?;
            }
            OutputFormat::Csv => self.write_csv(&mut out)?,
        }
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(&out).and_then(|()| stdout.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
        if format != OutputFormat::Table {
            let mut stderr = std::io::stderr().lock();
            for n in &self.notes {
                let _ = writeln!(stderr, "{n}");
            }
        }
        Ok(())
    }

    fn write_table(&self, out: &mut impl Write, width: Option<u16>) -> anyhow::Result<()> {
        let many = self.sections.len() > 1;
        for (i, section) in self.sections.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            match &section.block {
                Block::Fields(fields) => {
                    // Keys are snake_case for scripts, words for people.
                    let shown: Vec<_> = fields
                        .iter()
                        .filter(|(k, v)| !for_scripts(k) && *v != Cell::Null)
                        .collect();
                    let key_width = shown
                        .iter()
                        .map(|(k, _)| k.chars().count())
                        .max()
                        .unwrap_or(0);
                    for (k, v) in shown {
                        writeln!(
                            out,
                            "{:<key_width$}  {}",
                            k.replace('_', " "),
                            v.for_table()
                        )?;
                    }
                }
                Block::Table { columns, rows } => {
                    if many {
                        writeln!(out, "{}:", section.name)?;
                    }
                    if rows.is_empty() {
                        writeln!(out, "(none)")?;
                        continue;
                    }
                    // Exact seconds are for scripts, people read the human
                    // durations beside them; the ids of what a row names
                    // (`party_id`) are for scripts, people read the names.
                    let shown: Vec<usize> = (0..columns.len())
                        .filter(|&i| !for_scripts(&columns[i]))
                        .collect();
                    let mut table = Table::new();
                    table
                        .load_style(UTF8_FULL_CONDENSED)
                        .set_content_arrangement(ContentArrangement::Dynamic);
                    if let Some(w) = width {
                        table.set_width(w);
                    }
                    table.set_header(shown.iter().map(|&i| columns[i].replace('_', " ")));
                    for row in rows {
                        table.add_row(shown.iter().map(|&i| {
                            let text = row.get(i).map(Cell::for_table).unwrap_or_default();
                            // A hash is told apart by its first digits.
                            if columns[i].ends_with("hash") && text.len() > 12 {
                                format!("{}…", &text[..12])
                            } else {
                                text
                            }
                        }));
                    }
                    writeln!(out, "{table}")?;
                }
            }
        }
        for n in &self.notes {
            writeln!(out, "{n}")?;
        }
        Ok(())
    }

    fn to_json(&self) -> Value {
        let section = |s: &Section| match &s.block {
            Block::Fields(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Block::Table { columns, rows } => Value::Array(
                rows.iter()
                    .map(|row| {
                        Value::Object(
                            columns
                                .iter()
                                .cloned()
                                .zip(row.iter().map(Cell::to_json))
                                .collect::<Map<_, _>>(),
                        )
                    })
                    .collect(),
            ),
        };
        match self.sections.as_slice() {
            [one] => section(one),
            all => Value::Object(all.iter().map(|s| (s.name.clone(), section(s))).collect()),
        }
    }

    fn write_csv(&self, out: &mut impl Write) -> anyhow::Result<()> {
        let index = self
            .main
            .or_else(|| {
                self.sections
                    .iter()
                    .position(|s| matches!(s.block, Block::Table { .. }))
            })
            .unwrap_or(0);
        let (columns, rows): (Vec<String>, Vec<Vec<Cell>>) =
            match self.sections.get(index).map(|s| &s.block) {
                Some(Block::Table { columns, rows }) => (columns.clone(), rows.clone()),
                Some(Block::Fields(fields)) => (
                    fields.iter().map(|(k, _)| k.clone()).collect(),
                    vec![fields.iter().map(|(_, v)| v.clone()).collect()],
                ),
                None => return Ok(()),
            };
        // Money splits into an amount and a currency column, a rate into
        // the rate and its pair, whatever the row.
        let kinds: Vec<CsvKind> = (0..columns.len())
            .map(|i| CsvKind::of(rows.iter().filter_map(|r| r.get(i))))
            .collect();
        let mut w = csv::Writer::from_writer(out);
        let header: Vec<String> = columns
            .iter()
            .zip(&kinds)
            .flat_map(|(c, k)| k.header(c))
            .collect();
        w.write_record(&header)?;
        for row in &rows {
            let record: Vec<String> = kinds
                .iter()
                .enumerate()
                .flat_map(|(i, k)| k.values(row.get(i).unwrap_or(&Cell::Null)))
                .collect();
            w.write_record(&record)?;
        }
        w.flush()?;
        Ok(())
    }
}

/// Columns only scripts need: exact seconds beside human durations, ids
/// beside names.
fn for_scripts(column: &str) -> bool {
    column.ends_with("_secs") || column.ends_with("_id") || column.ends_with("_ids")
}

/// How a column is written to CSV.
#[derive(Clone, Copy)]
enum CsvKind {
    Plain,
    Money,
    Fx,
}

impl CsvKind {
    fn of<'a>(mut cells: impl Iterator<Item = &'a Cell>) -> CsvKind {
        match cells.find(|c| **c != Cell::Null) {
            Some(Cell::Money(_)) => CsvKind::Money,
            Some(Cell::Fx(_)) => CsvKind::Fx,
            _ => CsvKind::Plain,
        }
    }

    fn header(self, name: &str) -> Vec<String> {
        match self {
            CsvKind::Plain => vec![name.to_string()],
            CsvKind::Money => vec![name.to_string(), format!("{name}_currency")],
            CsvKind::Fx => vec![name.to_string(), format!("{name}_pair")],
        }
    }

    fn values(self, cell: &Cell) -> Vec<String> {
        match (self, cell) {
            (CsvKind::Money, Cell::Money(m)) => vec![m.amount.clone(), m.currency.clone()],
            (CsvKind::Fx, Cell::Fx(f)) => vec![
                f.rate.clone(),
                format!("{}/{}", f.source_currency, f.target_currency),
            ],
            (CsvKind::Money | CsvKind::Fx, _) => vec![String::new(), String::new()],
            (CsvKind::Plain, Cell::Json(v)) => vec![plain(v)],
            // Exact for scripts: fractions as they are, fees as text.
            (CsvKind::Plain, Cell::Share(s)) => vec![s.clone()],
            (CsvKind::Plain, Cell::Monies(ms)) => vec![
                ms.iter()
                    .map(|m| format!("{} {}", m.amount, m.currency))
                    .collect::<Vec<_>>()
                    .join("; "),
            ],
            (CsvKind::Plain, Cell::Fees(fees)) => vec![
                fees.iter()
                    .map(|f| {
                        let m = f.amount.clone().unwrap_or_default();
                        format!("{} {} {} {}", m.amount, m.currency, f.charged_by, f.kind)
                            .trim()
                            .to_string()
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ],
            (CsvKind::Plain, _) => vec![String::new()],
        }
    }
}

/// Writes one line to stdout at once (a command that follows something as
/// it happens); `false` when the reader has gone (`| head`).
pub fn emit_line(line: &str) -> std::io::Result<bool> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

/// The width tables are fitted to: the terminal's (comfy-table asks it),
/// else `COLUMNS` when set, else none (a pipe or file takes whole lines).
fn table_width() -> Option<u16> {
    if std::io::stdout().is_terminal() {
        return None;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|w| *w >= 20)
}

/// A value as text: strings without quotes, null as nothing.
pub fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A string value, null when empty.
pub fn text(s: impl Into<String>) -> Cell {
    Cell::text(s)
}

/// Any JSON value as a cell.
pub fn v(value: Value) -> Cell {
    Cell::from(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(a: &str) -> Cell {
        Cell::Money(pb::Money {
            amount: a.into(),
            currency: "USD".into(),
        })
    }

    #[test]
    fn money_is_an_object_for_scripts_two_columns_in_csv_grouped_for_people() {
        assert_eq!(
            usd("65952.26").to_json(),
            json!({"amount": "65952.26", "currency": "USD"})
        );
        assert_eq!(usd("1097250.00").for_table(), "1,097,250.00 USD");
        assert_eq!(group_digits("-999.5"), "-999.5");
        assert_eq!(group_digits("1000"), "1,000");
        let report = Report::default().table(
            "t",
            &["id", "expected"],
            vec![vec![text("a"), usd("10.00")], vec![text("b"), Cell::Null]],
        );
        let mut out = Vec::new();
        report.write_csv(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,expected,expected_currency\na,10.00,USD\nb,,\n"
        );
    }

    #[test]
    fn shares_read_as_percentages_and_stay_exact() {
        assert_eq!(percent("0.0025"), "0.25%");
        assert_eq!(percent("0.7500"), "75%");
        assert_eq!(percent("0.333333"), "33.3333%");
        assert_eq!(Cell::share("0.0025").to_json(), json!("0.0025"));
    }

    #[test]
    fn one_record_is_one_object_and_one_csv_row() {
        let report = Report::default().fields(
            "party",
            vec![("id", text("p-1")), ("name", text("Dhaka Soft Ltd"))],
        );
        assert_eq!(
            report.to_json(),
            json!({"id": "p-1", "name": "Dhaka Soft Ltd"})
        );
        let mut out = Vec::new();
        report.write_csv(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,name\np-1,Dhaka Soft Ltd\n"
        );
    }

    #[test]
    fn tables_fit_the_width_asked() {
        let long = "a rather long sentence that will not fit on one narrow line of a terminal";
        let report =
            Report::default().table("t", &["id", "why"], vec![vec![text("x"), text(long)]; 3]);
        let mut out = Vec::new();
        report.write_table(&mut out, Some(40)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
    }
}
