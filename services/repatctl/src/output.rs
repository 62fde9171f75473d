//! What a command prints, in one shape, and the three ways to print it: a
//! table for people, JSON or CSV for scripts.
//!
//! A report is a list of named sections, each a list of fields or a table.
//! JSON keeps every section (a report of one section is just that section);
//! CSV holds one table, so it prints the report's main table. Columns named
//! `*_secs` (exact seconds, for scripts) are left out of the tables.

use std::io::Write;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::{Map, Value};

use crate::cli::OutputFormat;

pub enum Block {
    Fields(Vec<(String, Value)>),
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<Value>>,
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
    pub fn fields(mut self, name: &str, fields: Vec<(&str, Value)>) -> Self {
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

    pub fn table(mut self, name: &str, columns: &[&str], rows: Vec<Vec<Value>>) -> Self {
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

    pub fn print(&self, format: OutputFormat) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        match format {
            OutputFormat::Table => self.write_table(&mut out)?,
            OutputFormat::Json => {
                serde_json::to_writer_pretty(&mut out, &self.to_json())?;
                writeln!(out)?;
            }
            OutputFormat::Csv => self.write_csv(&mut out)?,
        }
        if format != OutputFormat::Table {
            for n in &self.notes {
                eprintln!("{n}");
            }
        }
        Ok(())
    }

    fn write_table(&self, out: &mut impl Write) -> anyhow::Result<()> {
        let many = self.sections.len() > 1;
        for (i, section) in self.sections.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            match &section.block {
                Block::Fields(fields) => {
                    // Keys are snake_case for scripts, words for people.
                    let width = fields
                        .iter()
                        .map(|(k, _)| k.chars().count())
                        .max()
                        .unwrap_or(0);
                    for (k, v) in fields.iter().filter(|(k, _)| !k.ends_with("_secs")) {
                        writeln!(out, "{:<width$}  {}", k.replace('_', " "), plain(v))?;
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
                    // Exact seconds are for scripts; people read the human
                    // durations beside them.
                    let shown: Vec<usize> = (0..columns.len())
                        .filter(|&i| !columns[i].ends_with("_secs"))
                        .collect();
                    let mut table = Table::new();
                    table
                        .load_style(UTF8_FULL_CONDENSED)
                        .set_content_arrangement(ContentArrangement::Dynamic)
                        .set_header(shown.iter().map(|&i| &columns[i]));
                    for row in rows {
                        table.add_row(
                            shown
                                .iter()
                                .map(|&i| row.get(i).map(plain).unwrap_or_default()),
                        );
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
            Block::Fields(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            Block::Table { columns, rows } => Value::Array(
                rows.iter()
                    .map(|row| {
                        Value::Object(
                            columns
                                .iter()
                                .cloned()
                                .zip(row.iter().cloned())
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
        let mut w = csv::Writer::from_writer(out);
        match self.sections.get(index).map(|s| &s.block) {
            Some(Block::Table { columns, rows }) => {
                w.write_record(columns)?;
                for row in rows {
                    w.write_record(row.iter().map(plain))?;
                }
            }
            Some(Block::Fields(fields)) => {
                w.write_record(["field", "value"])?;
                for (k, v) in fields {
                    w.write_record([k.clone(), plain(v)])?;
                }
            }
            None => {}
        }
        w.flush()?;
        Ok(())
    }
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
pub fn text(s: impl Into<String>) -> Value {
    let s = s.into();
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s)
    }
}
