//! No input makes a reader panic: arbitrary bytes, and real files (the
//! corpus and the test statements) truncated, cut, spliced and flipped,
//! fed to every format. A refusal always says why; one about an entry of
//! a format with lines names the line.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use repat_core::reconcile::StatementFormat;

const FORMATS: [StatementFormat; 6] = [
    StatementFormat::Camt052,
    StatementFormat::Camt053,
    StatementFormat::Camt054,
    StatementFormat::Mt940,
    StatementFormat::Mt942,
    StatementFormat::Csv,
];

fn real_files() -> &'static [Vec<u8>] {
    static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("data/statements"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        for dir in std::fs::read_dir(root.join("corpus"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
        {
            paths.extend(std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()));
        }
        paths.retain(|p| {
            p.extension().is_some_and(|e| e != "expect" && e != "md") && !p.ends_with("LICENSE")
        });
        paths.sort();
        paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
    })
}

/// Reads `content` in every format; a refusal must say why.
fn read_every_way(content: &[u8]) -> Result<(), TestCaseError> {
    for format in FORMATS {
        if let Err(e) = repat_statements::parse(format, content) {
            prop_assert!(
                !e.reason.is_empty(),
                "{format:?}: a refusal without a reason"
            );
            if e.entry.is_some()
                && matches!(
                    format,
                    StatementFormat::Mt940 | StatementFormat::Mt942 | StatementFormat::Csv
                )
            {
                prop_assert!(e.line.is_some(), "{format:?}: {e} names no line");
            }
        }
    }
    let _ = repat_statements::detect(content);
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Cut(usize, usize),
    Insert(usize, Vec<u8>),
    Flip(usize, u8),
    /// A piece of another real file spliced in.
    Splice(usize, usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0usize..64).prop_map(|(a, n)| Mutation::Cut(a, n)),
        (
            any::<usize>(),
            prop::collection::vec(
                prop_oneof![any::<u8>(), Just(b':'), Just(b'<'), Just(b'\n'), Just(0xc3)],
                1..12
            )
        )
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        (any::<usize>(), any::<usize>(), any::<usize>(), 1usize..200)
            .prop_map(|(f, a, b, n)| Mutation::Splice(f, a, b, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match m {
        Mutation::Truncate(i) => bytes.truncate(at(*i, bytes.len())),
        Mutation::Cut(i, n) => {
            let a = at(*i, bytes.len());
            let b = (a + n).min(bytes.len());
            bytes.drain(a..b);
        }
        Mutation::Insert(i, ins) => {
            let a = at(*i, bytes.len());
            bytes.splice(a..a, ins.iter().copied());
        }
        Mutation::Flip(i, b) if !bytes.is_empty() => {
            let a = i % bytes.len();
            bytes[a] ^= b | 1;
        }
        Mutation::Flip(..) => {}
        Mutation::Splice(f, i, j, n) => {
            let files = real_files();
            let other = &files[f % files.len()];
            let s = at(*j, other.len());
            let piece = &other[s..(s + n).min(other.len())];
            let a = at(*i, bytes.len());
            bytes.splice(a..a, piece.iter().copied());
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        read_every_way(&bytes)?;
    }

    #[test]
    fn arbitrary_field_lines_never_panic(lines in prop::collection::vec("(:[0-9]{2}[A-Z]?:)?[ -~é£ÿ,]{0,40}", 0..30)) {
        read_every_way(lines.join("\r\n").as_bytes())?;
    }

    #[test]
    fn mutated_real_files_never_panic(file in any::<prop::sample::Index>(), mutations in prop::collection::vec(mutation(), 1..6)) {
        let files = real_files();
        let mut bytes = files[file.index(files.len())].clone();
        for m in &mutations {
            bytes = apply(bytes, m);
        }
        read_every_way(&bytes)?;
    }
}
