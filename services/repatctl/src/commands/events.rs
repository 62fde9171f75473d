//! Events: follow the stream as it commits (resuming where a run or a
//! dropped connection stopped), or page through what is kept.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use repat_proto::json::cloud_event_json;
use repat_proto::v1 as pb;
use serde_json::{Value, json};

use crate::cli::{EventFilter, OutputFormat};
use crate::client::{Repat, describe, in_flag_terms, retryable, with_retry};
use crate::names::optional_party;
use crate::output::{Cell, Report, emit_line, text};
use crate::wire::timestamp;

/// The API's fields as the flags of `events`.
const FLAGS: &[(&str, &str)] = &[("party_id", "--party"), ("types", "--type")];

/// Where `events follow` starts.
pub struct Start {
    pub after: Option<i64>,
    pub from_now: bool,
    pub cursor: Option<PathBuf>,
}

/// The columns of an event, in tables and CSV.
const COLUMNS: [&str; 6] = ["sequence", "time", "type", "subject", "party_id", "id"];

fn summary(e: &pb::Event) -> [String; 6] {
    [
        e.sequence.to_string(),
        timestamp(&e.time),
        e.r#type.clone(),
        e.subject.clone(),
        e.party_id.clone(),
        e.id.clone(),
    ]
}

/// The sequence a cursor file holds (none: the file does not exist yet).
fn read_cursor(path: &Path) -> anyhow::Result<Option<i64>> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().map(Some).with_context(|| {
            format!(
                "--cursor: {} does not hold a sequence number",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("--cursor: reading {}", path.display())),
    }
}

/// Writes the cursor whole or not at all (a new file renamed over the old),
/// so an interrupted run never leaves half a number behind.
fn write_cursor(path: &Path, sequence: i64) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, format!("{sequence}\n"))
        .and_then(|()| std::fs::rename(&partial, path))
        .with_context(|| format!("--cursor: writing {}", path.display()))
}

/// Prints events as they commit until `count` were printed, the reader
/// goes away, or the server ends the stream for good. A dropped connection
/// or a server shutting down (UNAVAILABLE) is followed by a reconnect after
/// the last sequence printed: nothing is missed and nothing repeated.
pub async fn follow(
    repat: &Repat,
    filter: EventFilter,
    start: Start,
    count: Option<u64>,
    format: OutputFormat,
) -> anyhow::Result<Report> {
    let party_id = optional_party(repat, &filter.party).await?;
    let from_cursor = match &start.cursor {
        Some(path) => read_cursor(path)?,
        None => None,
    };
    let mut after = from_cursor.or(start.after);
    let mut from_now = start.from_now && after.is_none();
    let mut printed = 0u64;
    let mut delay = Duration::from_millis(200);
    if format == OutputFormat::Csv && !emit_line(&COLUMNS.join(","))? {
        return Ok(Report::default());
    }
    loop {
        if count.is_some_and(|c| printed >= c) {
            return Ok(Report::default());
        }
        let request = pb::StreamEventsRequest {
            after_sequence: after.unwrap_or(0),
            from_now,
            party_id: party_id.clone(),
            types: filter.types.clone(),
        };
        let mut stream = match repat.events().stream_events(request).await {
            Ok(s) => s.into_inner(),
            Err(s) if retryable(&s) => {
                eprintln!("repatctl: {}; reconnecting", describe(&s));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
                continue;
            }
            Err(s) => return Err(in_flag_terms(s, FLAGS).into()),
        };
        loop {
            match stream.next().await {
                Some(Ok(event)) => {
                    delay = Duration::from_millis(200);
                    // Resumed or not, the sequence decides: never one twice.
                    if after.is_some_and(|a| event.sequence <= a) {
                        continue;
                    }
                    if !emit_line(&line(&event, format)?)? {
                        return Ok(Report::default());
                    }
                    after = Some(event.sequence);
                    from_now = false;
                    if let Some(path) = &start.cursor {
                        write_cursor(path, event.sequence)?;
                    }
                    printed += 1;
                    if count.is_some_and(|c| printed >= c) {
                        return Ok(Report::default());
                    }
                }
                Some(Err(s)) if retryable(&s) => {
                    eprintln!("repatctl: {}; resuming", describe(&s));
                    break;
                }
                Some(Err(s)) => return Err(in_flag_terms(s, FLAGS).into()),
                None => {
                    // The server ended the stream (a restart, a closing
                    // replica): resume after the last event printed.
                    break;
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// One event as one line: a summary for people, a CSV row, or the
/// CloudEvents JSON object with its payload.
fn line(e: &pb::Event, format: OutputFormat) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Json => serde_json::to_string(&cloud_event_json(e))?,
        OutputFormat::Csv => {
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(Vec::new());
            w.write_record(summary(e))?;
            String::from_utf8(w.into_inner()?)?.trim_end().to_string()
        }
        OutputFormat::Table => {
            let [sequence, time, kind, subject, ..] = summary(e);
            format!("{sequence:>8}  {time}  {kind:<28} {subject}")
        }
    })
}

/// The events after `after`, oldest first, at most `limit`.
pub async fn list(
    repat: &Repat,
    filter: EventFilter,
    after: i64,
    limit: usize,
) -> anyhow::Result<Report> {
    let party_id = optional_party(repat, &filter.party).await?;
    let mut events = Vec::new();
    let mut after = after;
    while events.len() < limit {
        let request = pb::ListEventsRequest {
            after_sequence: after,
            party_id: party_id.clone(),
            types: filter.types.clone(),
            page_size: (limit - events.len()).min(1000) as i32,
        };
        let page = with_retry(|| {
            let mut c = repat.events();
            let r = request.clone();
            async move { c.list_events(r).await.map(|r| r.into_inner()) }
        })
        .await
        .map_err(|s| in_flag_terms(s, FLAGS))?;
        let read = page.events.len();
        events.extend(page.events);
        if read == 0 || page.last_sequence <= after {
            break;
        }
        after = page.last_sequence;
    }
    let rows = events
        .iter()
        .map(|e| {
            let mut row: Vec<Cell> = summary(e).into_iter().map(text).collect();
            row.push(Cell::from(data_of(e)));
            row
        })
        .collect();
    let mut columns = COLUMNS.to_vec();
    columns.push("data");
    Ok(Report::default().table("events", &columns, rows))
}

/// The payload as JSON, for the `data` column.
fn data_of(e: &pb::Event) -> Value {
    let mut event = cloud_event_json(e);
    match event.get_mut("data") {
        Some(v) => v.take(),
        None => json!(null),
    }
}
