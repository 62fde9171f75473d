//! The corpus: statement files of other open-source projects' test
//! fixtures (tests/corpus/<project>/, each with its LICENSE and SOURCE.md),
//! each read to what its FILE.expect says: written by a second, independent
//! reading (tests/corpus/expect.py) or, for a file to refuse, by hand with
//! the reason. Prints the coverage per format that README.md states.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use repat_core::Named;
use repat_core::reconcile::{EntryKind, StatementFormat};
use rust_decimal::Decimal;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

/// What a .expect file says.
#[derive(Default)]
struct Expected {
    format: Option<StatementFormat>,
    refused: Option<String>,
    statements: usize,
    entries: usize,
    /// ("in"/"out", currency) -> (count, sum).
    sums: BTreeMap<(String, String), (usize, Decimal)>,
}

fn expected(text: &str) -> Expected {
    let mut e = Expected::default();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "format" => {
                e.format = Some(
                    StatementFormat::from_name(rest).unwrap_or_else(|| panic!("format {rest}")),
                )
            }
            "refused" => e.refused = Some(rest.to_string()),
            "statements" => e.statements = rest.parse().unwrap(),
            "entries" => e.entries = rest.parse().unwrap(),
            "in" | "out" => {
                let parts: Vec<&str> = rest.split(' ').collect();
                e.sums.insert(
                    (key.to_string(), parts[0].to_string()),
                    (parts[1].parse().unwrap(), parts[2].parse().unwrap()),
                );
            }
            other => panic!("unknown line {other:?}"),
        }
    }
    e
}

#[derive(Default)]
struct Coverage {
    files: usize,
    read: usize,
    entries: usize,
    refused: BTreeMap<String, usize>,
}

#[test]
fn every_corpus_file_reads_as_expected() {
    let mut failures = Vec::new();
    let mut coverage: BTreeMap<String, Coverage> = BTreeMap::new();
    let mut projects = 0;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        assert!(
            dir.join("LICENSE").is_file() && dir.join("SOURCE.md").is_file(),
            "{}: LICENSE and SOURCE.md",
            dir.display()
        );
        projects += 1;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|d| d.unwrap().path())
            .collect();
        files.sort();
        for path in files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "expect"))
        {
            let name = path.strip_prefix(corpus()).unwrap().display().to_string();
            let content = std::fs::read(path.with_extension("")).unwrap();
            let want = expected(&std::fs::read_to_string(path).unwrap());
            let detected = repat_statements::detect(&content);
            let Some(format) = want.format.or(detected) else {
                failures.push(format!("{name}: no format expected or detected"));
                continue;
            };
            if want.refused.is_none() && want.format.is_some() && detected != want.format {
                failures.push(format!(
                    "{name}: detected {detected:?}, expected {format:?}"
                ));
            }
            let version = {
                let head = String::from_utf8_lossy(&content[..content.len().min(4096)]).to_string();
                head.find("xsd:camt.")
                    .and_then(|i| head.get(i + 4..i + 19))
                    .map_or_else(|| format.name().to_string(), str::to_string)
            };
            let cov = coverage.entry(version).or_default();
            cov.files += 1;
            match (repat_statements::parse(format, &content), &want.refused) {
                (Err(e), Some(reason)) => {
                    if !e.to_string().contains(reason.as_str()) {
                        failures.push(format!("{name}: refused with {e:?}, expected {reason:?}"));
                    }
                    *cov.refused.entry(reason.clone()).or_default() += 1;
                }
                (Err(e), None) => failures.push(format!("{name}: refused: {e}")),
                (Ok(_), Some(reason)) => {
                    failures.push(format!("{name}: read, expected refused: {reason}"))
                }
                (Ok(statements), None) => {
                    let entries: Vec<_> = statements.iter().flat_map(|s| &s.entries).collect();
                    let mut sums: BTreeMap<(String, String), (usize, Decimal)> = BTreeMap::new();
                    for e in &entries {
                        let way = if matches!(e.kind, EntryKind::Credit | EntryKind::DebitReversal)
                        {
                            "in"
                        } else {
                            "out"
                        };
                        let s = sums
                            .entry((way.to_string(), e.amount.currency().code().to_string()))
                            .or_default();
                        s.0 += 1;
                        s.1 += e.amount.amount();
                    }
                    let got = (statements.len(), entries.len(), sums);
                    if got != (want.statements, want.entries, want.sums.clone()) {
                        failures.push(format!(
                            "{name}: read {got:?}, expected {:?}",
                            (want.statements, want.entries, &want.sums)
                        ));
                    }
                    cov.read += 1;
                    cov.entries += entries.len();
                }
            }
        }
    }
    println!(
        "| format and version | files | read | entries | refused (why) |\n|---|---|---|---|---|"
    );
    for (version, c) in &coverage {
        let why: Vec<String> = c.refused.iter().map(|(r, n)| format!("{n}: {r}")).collect();
        println!(
            "| {version} | {} | {} | {} | {} |",
            c.files,
            c.read,
            c.entries,
            why.join("; ")
        );
    }
    let files: usize = coverage.values().map(|c| c.files).sum();
    println!("{files} files from {projects} directories");
    assert!(files >= 150, "the corpus holds {files} files");
    assert!(
        failures.is_empty(),
        "{} of {files} files are not as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
