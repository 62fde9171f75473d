//! CSV imports: read and check rows, derive each row's request id from what
//! the row *is* (not where it sits in the file), send them, and write the
//! rows the server refused to `FILE.errors.csv` (line, field, reason).
//!
//! Re-running an import is safe: the same row gets the same request id, and
//! the server answers a repeated request id with the original result and
//! stores nothing. A row changed since the first run is refused by the
//! server (ALREADY_EXISTS) and reported, not stored twice.
//!
//! Parties and repatriations are referred to by the other files through
//! keys: their imports write `FILE.ids.csv` (`key,id`), which the later
//! imports read with `--party-ids` / `--repatriation-ids`.

pub mod claims;
pub mod documents;
pub mod earnings;
pub mod parties;
pub mod repatriations;
pub mod steps;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use futures::{Stream, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use repat_proto::v1 as pb;
use serde_json::json;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::client::{describe, retryable};
use crate::output::{Cell, Report, text, v};

/// Namespace of the request ids repatctl derives from rows (UUIDv5).
const NAMESPACE: Uuid = Uuid::from_u128(0x22fa_db46_98b8_486a_a3d7_1d9e_2e64_c7ba);

/// The request id of a row, from the parts that identify it.
pub fn request_id(kind: &str, parts: &[&str]) -> Uuid {
    // A separator no CSV value holds, so ("a","bc") and ("ab","c") differ.
    let name = std::iter::once(kind)
        .chain(parts.iter().copied())
        .collect::<Vec<_>>()
        .join("\u{1f}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

/// What is wrong with one row.
#[derive(Debug, Clone)]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub reason: String,
}

/// One row of a CSV file, by column name.
pub struct Row<'a> {
    pub line: u64,
    record: &'a csv::StringRecord,
    columns: &'a HashMap<String, usize>,
    errors: Vec<RowError>,
}

impl<'a> Row<'a> {
    /// The value of a column, trimmed; `None` when absent or empty.
    pub fn get(&self, column: &str) -> Option<&'a str> {
        let i = *self.columns.get(column)?;
        self.record.get(i).map(str::trim).filter(|v| !v.is_empty())
    }

    /// The value of a required column; notes the error when it is missing.
    pub fn required(&mut self, column: &str) -> &'a str {
        match self.get(column) {
            Some(v) => v,
            None => {
                self.error(column, "is required");
                ""
            }
        }
    }

    pub fn error(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push(RowError {
            line: self.line,
            field: field.into(),
            reason: reason.into(),
        });
    }

    /// Parses an optional column with `parse`, noting the error.
    pub fn parse<T>(
        &mut self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.get(column)?.to_string();
        match parse(&value) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.error(column, reason);
                None
            }
        }
    }

    /// Parses a required column with `parse`, noting the error.
    pub fn parse_required<T>(
        &mut self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        if self.get(column).is_none() {
            self.error(column, "is required");
            return None;
        }
        self.parse(column, parse)
    }

    /// The row's errors, if any, or `value`.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Vec<RowError>> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ if self.errors.is_empty() => Err(vec![RowError {
                line: self.line,
                field: String::new(),
                reason: "cannot be read".into(),
            }]),
            _ => Err(self.errors),
        }
    }
}

/// A row ready to send.
#[derive(Clone)]
pub struct Prepared<R> {
    pub line: u64,
    /// The key other files use for what this row creates (empty if none).
    pub key: String,
    pub request: R,
}

/// The rows of a file, each prepared or with its errors.
pub struct Prepare<R> {
    pub ready: Vec<Prepared<R>>,
    pub errors: Vec<RowError>,
    pub rows: usize,
}

/// Reads `path`, checks its header against the known columns, and prepares
/// every row with `prepare`.
pub fn read<R>(
    path: &Path,
    required: &[&str],
    optional: &[&str],
    mut prepare: impl FnMut(&mut Row) -> Option<Prepared<R>>,
) -> anyhow::Result<Prepare<R>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("reading the header of {}", path.display()))?
        .clone();
    // Spreadsheets often start a UTF-8 file with a byte-order mark.
    let columns: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase(),
                i,
            )
        })
        .collect();
    if let Some(unknown) = columns
        .keys()
        .find(|c| !required.contains(&c.as_str()) && !optional.contains(&c.as_str()))
    {
        anyhow::bail!(
            "{}: unknown column {unknown:?} (columns: {}; optional: {})",
            path.display(),
            required.join(", "),
            optional.join(", ")
        );
    }
    if let Some(missing) = required.iter().find(|c| !columns.contains_key(**c)) {
        anyhow::bail!(
            "{}: the header has no {missing:?} column (required: {})",
            path.display(),
            required.join(", ")
        );
    }
    let mut out = Prepare {
        ready: Vec::new(),
        errors: Vec::new(),
        rows: 0,
    };
    for record in reader.records() {
        out.rows += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.errors.push(RowError {
                    line,
                    field: String::new(),
                    reason: format!("not readable as CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let mut row = Row {
            line,
            record: &record,
            columns: &columns,
            errors: Vec::new(),
        };
        let prepared = prepare(&mut row);
        match row.finish(prepared) {
            Ok(p) => out.ready.push(p),
            Err(errors) => out.errors.extend(errors),
        }
    }
    Ok(out)
}

/// A progress bar on stderr for files of more than a few hundred rows, and
/// never when stderr is not a terminal.
pub fn progress(len: usize, hide: bool) -> ProgressBar {
    if hide || len < 500 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{bar:40}] {pos}/{len} rows ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The outcome of the rows sent: the id stored for each key, and the
/// rows refused.
#[derive(Default)]
pub struct Sent {
    pub stored: usize,
    pub ids: Vec<(String, String)>,
    pub errors: Vec<RowError>,
}

/// The server's refusal of one row, with the API's field paths turned into
/// the file's columns by `column`.
pub fn refused(
    line: u64,
    code: i32,
    message: &str,
    fields: &[pb::FieldError],
    column: &dyn Fn(&str, Code) -> String,
) -> Vec<RowError> {
    let code = Code::from_i32(code);
    if fields.is_empty() {
        return vec![RowError {
            line,
            field: column("", code),
            reason: format!("{code:?}: {message}"),
        }];
    }
    fields
        .iter()
        .map(|f| RowError {
            line,
            field: column(&f.field, code),
            reason: f.description.clone(),
        })
        .collect()
}

/// Sends `items` over a bidirectional batch stream opened by `open`, one
/// result per item. If the stream breaks (server restart, database
/// outage), the items without a result are sent again on a new stream: their
/// request ids make that safe.
pub async fn send_batch<R, S, F, Fut>(
    items: Vec<Prepared<R>>,
    bar: &ProgressBar,
    column: &dyn Fn(&str, Code) -> String,
    mut open: F,
) -> anyhow::Result<Sent>
where
    R: Clone + Send + 'static,
    S: Stream<Item = Result<pb::BatchItemResult, Status>> + Unpin,
    F: FnMut(Vec<R>) -> Fut,
    Fut: std::future::Future<Output = Result<S, Status>>,
{
    let mut sent = Sent::default();
    let mut pending: Vec<usize> = (0..items.len()).collect();
    let mut attempts = 0;
    while !pending.is_empty() {
        attempts += 1;
        let batch: Vec<R> = pending.iter().map(|&i| items[i].request.clone()).collect();
        let mut answered = vec![false; pending.len()];
        let failure = match open(batch).await {
            Err(status) => Some(status),
            Ok(mut results) => {
                let mut failure = None;
                while let Some(result) = results.next().await {
                    match result {
                        Ok(r) => {
                            let Some(&item) =
                                usize::try_from(r.index).ok().and_then(|i| pending.get(i))
                            else {
                                continue;
                            };
                            answered[r.index as usize] = true;
                            bar.inc(1);
                            let p = &items[item];
                            if r.code == 0 {
                                sent.stored += 1;
                                if !p.key.is_empty() {
                                    sent.ids.push((p.key.clone(), r.id));
                                }
                            } else {
                                sent.errors.extend(refused(
                                    p.line,
                                    r.code,
                                    &r.message,
                                    &r.field_errors,
                                    column,
                                ));
                            }
                        }
                        Err(status) => {
                            failure = Some(status);
                            break;
                        }
                    }
                }
                failure
            }
        };
        let before = pending.len();
        pending = pending
            .into_iter()
            .zip(answered)
            .filter(|(_, a)| !a)
            .map(|(i, _)| i)
            .collect();
        if let Some(status) = failure {
            let progressed = pending.len() < before;
            if !(retryable(&status) || progressed) || attempts >= 5 {
                anyhow::bail!(
                    "the server ended the stream with {} after {} of {} rows",
                    describe(&status),
                    items.len() - pending.len(),
                    items.len()
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 * attempts)).await;
        } else if !pending.is_empty() {
            anyhow::bail!(
                "the server answered {} of {} rows and ended the stream",
                items.len() - pending.len(),
                items.len()
            );
        }
    }
    Ok(sent)
}

/// Sends `items` one call each, a few at a time (for the resources without
/// a batch call). `call` is retried on UNAVAILABLE and RESOURCE_EXHAUSTED.
pub async fn send_each<R, F, Fut>(
    items: Vec<Prepared<R>>,
    bar: &ProgressBar,
    column: &dyn Fn(&str, Code) -> String,
    call: F,
) -> Sent
where
    R: Clone,
    F: Fn(R) -> Fut,
    Fut: std::future::Future<Output = Result<String, Status>>,
{
    let call = &call;
    let outcomes: Vec<(usize, Result<String, Status>)> =
        futures::stream::iter(items.iter().enumerate())
            .map(|(i, p)| async move {
                (
                    i,
                    crate::client::with_retry(|| call(p.request.clone())).await,
                )
            })
            .buffer_unordered(8)
            .collect()
            .await;
    let mut sent = Sent::default();
    for (i, outcome) in outcomes {
        bar.inc(1);
        let p = &items[i];
        match outcome {
            Ok(id) => {
                sent.stored += 1;
                if !p.key.is_empty() {
                    sent.ids.push((p.key.clone(), id));
                }
            }
            Err(status) => {
                // The message of INVALID_ARGUMENT lists "field: reason; ...".
                let fields: Vec<pb::FieldError> = if status.code() == Code::InvalidArgument {
                    status
                        .message()
                        .split("; ")
                        .filter_map(|part| part.split_once(": "))
                        .map(|(f, d)| pb::FieldError {
                            field: f.to_string(),
                            description: d.to_string(),
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                sent.errors.extend(refused(
                    p.line,
                    status.code() as i32,
                    status.message(),
                    &fields,
                    column,
                ));
            }
        }
    }
    sent
}

/// `FILE.suffix` beside the input: `earnings.csv` -> `earnings.csv.errors.csv`.
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The end of an import: the errors file (or none: a stale one is
/// removed), the ids file when the rows create something others refer to,
/// and the summary.
pub fn finish(
    path: &Path,
    rows: usize,
    mut errors: Vec<RowError>,
    sent: Sent,
    write_ids: bool,
) -> anyhow::Result<(Report, bool)> {
    errors.extend(sent.errors);
    errors.sort_by_key(|e| e.line);
    let errors_path = beside(path, ".errors.csv");
    let failed_rows = {
        let mut lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        lines.dedup();
        lines.len()
    };
    if errors.is_empty() {
        match std::fs::remove_file(&errors_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("removing the stale {}", errors_path.display()));
            }
        }
    } else {
        let mut w = csv::Writer::from_path(&errors_path)
            .with_context(|| format!("writing {}", errors_path.display()))?;
        w.write_record(["line", "field", "reason"])?;
        for e in &errors {
            w.write_record([e.line.to_string(), e.field.clone(), e.reason.clone()])?;
        }
        w.flush()?;
    }
    let ids_path = beside(path, ".ids.csv");
    if write_ids {
        // Merged with the ids of earlier runs, so a run that skips failed
        // rows keeps what an earlier run learnt.
        let mut ids = load_ids(&ids_path).unwrap_or_default();
        for (key, id) in sent.ids {
            ids.insert(key, id);
        }
        let mut sorted: Vec<_> = ids.into_iter().collect();
        sorted.sort();
        let mut w = csv::Writer::from_path(&ids_path)
            .with_context(|| format!("writing {}", ids_path.display()))?;
        w.write_record(["key", "id"])?;
        for (key, id) in sorted {
            w.write_record([key, id])?;
        }
        w.flush()?;
    }
    let mut report = Report::default().fields(
        "import",
        vec![
            ("file", text(path.display().to_string())),
            ("rows", v(json!(rows))),
            ("stored", v(json!(sent.stored))),
            ("failed", v(json!(failed_rows))),
            (
                "errors_file",
                if errors.is_empty() {
                    Cell::Null
                } else {
                    text(errors_path.display().to_string())
                },
            ),
            (
                "ids_file",
                if write_ids {
                    text(ids_path.display().to_string())
                } else {
                    Cell::Null
                },
            ),
        ],
    );
    if !errors.is_empty() {
        report = report.note(format!(
            "{failed_rows} row(s) refused; the others were stored. Reasons in {}",
            errors_path.display()
        ));
    }
    Ok((report, errors.is_empty()))
}

/// A `key,id` file, as imports write them.
pub fn load_ids(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("reading the ids file {}", path.display()))?;
    let mut ids = HashMap::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {}", path.display()))?;
        if let (Some(k), Some(v)) = (record.get(0), record.get(1)) {
            ids.insert(k.to_string(), v.to_string());
        }
    }
    Ok(ids)
}

/// Turns a reference into an id: a UUID as it is, else a key of `book`.
pub struct Resolver {
    what: &'static str,
    book: HashMap<String, String>,
    source: Option<PathBuf>,
}

impl Resolver {
    pub fn new(what: &'static str, source: Option<&Path>) -> anyhow::Result<Self> {
        let book = match source {
            Some(p) => load_ids(p)?,
            None => HashMap::new(),
        };
        Ok(Resolver {
            what,
            book,
            source: source.map(Path::to_path_buf),
        })
    }

    pub fn resolve(&self, reference: &str) -> Result<String, String> {
        if let Ok(id) = Uuid::parse_str(reference) {
            return Ok(id.to_string());
        }
        match (self.book.get(reference), &self.source) {
            (Some(id), _) => Ok(id.clone()),
            (None, Some(p)) => Err(format!(
                "{} {reference:?} is neither a UUID nor a key in {}",
                self.what,
                p.display()
            )),
            (None, None) => Err(format!(
                "{} {reference:?} is not a UUID (give the ids file of the {0} import to use keys)",
                self.what
            )),
        }
    }
}

/// The column of an API field path, by the importer's table of
/// `(path, column)`; the path without its message prefix otherwise.
pub fn column_of(path: &str, table: &[(&str, &str)]) -> String {
    if let Some((_, c)) = table.iter().find(|(p, _)| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    }) {
        return c.to_string();
    }
    path.split_once('.')
        .map_or(path, |(_, rest)| rest)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_follow_the_row_not_the_file() {
        assert_eq!(
            request_id("earning", &["p", "INV-1"]),
            request_id("earning", &["p", "INV-1"])
        );
        assert_ne!(
            request_id("earning", &["p", "INV-1"]),
            request_id("earning", &["p", "INV-2"])
        );
        assert_ne!(request_id("x", &["a", "bc"]), request_id("x", &["ab", "c"]));
    }

    #[test]
    fn field_paths_become_columns() {
        let table = [
            ("earning.amount.amount", "amount"),
            ("earning.party_id", "party"),
        ];
        assert_eq!(column_of("earning.amount.amount", &table), "amount");
        assert_eq!(
            column_of("earning.client_country", &table),
            "client_country"
        );
    }
}
