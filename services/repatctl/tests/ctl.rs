//! The real `repatctl` binary against a real repatd, on both databases:
//! imports (safe to re-run, bad rows reported by line and column, the rest
//! stored), the journey timeline, incentives, delay metrics and their plots,
//! breaches, the scorecard, the audit chain, and the connection settings
//! (mutual TLS and a token from a configuration file).

use std::path::{Path, PathBuf};
use std::process::Output;

use repat_proto::v1 as pb;
use repat_tests::{Backend, TestApp, on_both_backends};
use serde_json::Value;

on_both_backends!(
    imports_are_safe_to_rerun_and_report_bad_rows,
    journeys_incentives_and_metrics,
    plots_are_svg_and_png_of_the_size_asked,
    statements_import_once_and_reconcile
);

/// A scratch directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("repatctl-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs repatctl against `server` with `args`; no environment leaks in
/// from the caller's shell.
async fn run_at(server: &str, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_repatctl"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("REPATCTL_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("--server")
        .arg(server)
        .args(args)
        .output()
        .await
        .expect("run repatctl")
}

async fn run(app: &TestApp, args: &[&str]) -> Output {
    run_at(&format!("http://{}", app.server.addr), args).await
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects exit code `code`; returns stdout.
async fn expect(app: &TestApp, code: i32, args: &[&str]) -> String {
    let o = run(app, args).await;
    assert_eq!(
        o.status.code(),
        Some(code),
        "repatctl {args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

async fn json(app: &TestApp, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    serde_json::from_str(&expect(app, 0, &all).await).expect("JSON output")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const PARTIES: &str = "\
key,kind,legal_name,country,zone,association,membership_number,bank_bic,account_number,account_currency
dhaka-soft,FIRM,Dhaka Soft Ltd,BD,NONE,BASIS,G-1024,BRAKBDDH,1501202900001,USD
nusrat,freelancer,Nusrat Jahan,BD,,,,DBBLBDDH,2201000000017,BDT
";

const EARNINGS: &str = "\
party,client_name,client_country,service_category,amount,currency,invoice_date,due_date,invoice_reference,marketplace
dhaka-soft,Nordic Retail AB,SE,SOFTWARE,10000.00,USD,2024-03-01,2024-03-31,INV-1,
dhaka-soft,Hudson Retail Inc,US,ITES,12.345,USD,2024-03-01,,INV-2,
dhaka-soft,Hudson Retail Inc,US,ITES,2500.00,USD,2024-13-01,,INV-3,
dhaka-soft,Hudson Retail Inc,US,ITES,4000.00,USD,2024-01-02,,INV-4,
nusrat,Orchard Games Pte Ltd,SG,SOFTWARE,800.00,USD,2024-03-05,,UP-77,Upwork
nobody,Orchard Games Pte Ltd,SG,SOFTWARE,800.00,USD,2024-03-05,,UP-78,Upwork
";

const REPATRIATIONS: &str = "\
key,party,earnings,channel,payer_country
PAY-1,dhaka-soft,INV-1,BANK,
PAY-4,dhaka-soft,INV-4,BANK,US
PAY-N,nusrat,UP-77:500.00,PLATFORM,
PAY-X,dhaka-soft,INV-404,BANK,
";

// Line 7 contradicts its journey (a credit before the initiation);
// line 8 names a kind that does not exist.
const STEPS: &str = "\
repatriation,kind,occurred_at,institution_bic,amount,currency,fee_amount,fee_kind,fx_rate,note
PAY-1,PAYMENT_INITIATED,2024-03-04T09:00:00Z,,10000.00,USD,,,,
PAY-1,INTERMEDIARY_PROCESSED,2024-03-04T10:00:00Z,CITIUS33,,USD,25.00,CORRESPONDENT,,
PAY-1,NOSTRO_CREDITED,2024-03-04T19:00:00+06:00,BRAKBDDH,,,,,,
PAY-1,BENEFICIARY_CREDITED,2024-03-05T09:00:00Z,BRAKBDDH,9975.00,USD,,,,
PAY-1,CONVERTED_TO_BDT,2024-03-05T10:00:00Z,BRAKBDDH,9975.00,USD,,,110.00,
PAY-4,BENEFICIARY_CREDITED,2024-06-01T00:00:00Z,,,,,,,
PAY-4,soon,2024-06-02T00:00:00Z,,,,,,,
PAY-4,PAYMENT_INITIATED,2024-06-02T00:00:00Z,,,,,,,
PAY-N,PAYMENT_INITIATED,2024-03-06T09:00:00Z,,,,,,,
PAY-N,PLATFORM_RECEIVED,2024-03-06T09:20:00Z,,,,,,,
PAY-N,BENEFICIARY_CREDITED,2024-03-06T09:50:00Z,,,,,,,
";

/// The errors file as (line, field) pairs.
fn errors(path: &Path) -> Vec<(u64, String, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|rec| rec.unwrap())
        .map(|rec| {
            (
                rec[0].parse().unwrap(),
                rec[1].to_string(),
                rec[2].to_string(),
            )
        })
        .collect()
}

/// Imports the small dataset above; returns the directory and the id of
/// each repatriation by key.
async fn load(app: &TestApp) -> (Dir, std::collections::HashMap<String, String>) {
    let dir = Dir::new();
    // As a spreadsheet saves it: with a byte-order mark.
    let parties = dir.write("parties.csv", &format!("\u{feff}{PARTIES}"));
    let earnings = dir.write("earnings.csv", EARNINGS);
    let repatriations = dir.write("repatriations.csv", REPATRIATIONS);
    let steps = dir.write("steps.csv", STEPS);
    let party_ids = dir.path("parties.csv.ids.csv");
    let repatriation_ids = dir.path("repatriations.csv.ids.csv");
    expect(app, 0, &["parties", "import", s(&parties)]).await;
    expect(
        app,
        3,
        &[
            "earnings",
            "import",
            s(&earnings),
            "--party-ids",
            s(&party_ids),
        ],
    )
    .await;
    expect(
        app,
        3,
        &[
            "repatriations",
            "import",
            s(&repatriations),
            "--party-ids",
            s(&party_ids),
        ],
    )
    .await;
    expect(
        app,
        3,
        &[
            "steps",
            "import",
            s(&steps),
            "--repatriation-ids",
            s(&repatriation_ids),
        ],
    )
    .await;
    let mut by_key = std::collections::HashMap::new();
    let mut r = csv::Reader::from_path(&repatriation_ids).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        by_key.insert(rec[0].to_string(), rec[1].to_string());
    }
    (dir, by_key)
}

async fn counts(app: &TestApp) -> (usize, usize, usize, i32) {
    let parties = app
        .parties()
        .list_parties(pb::ListPartiesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .parties
        .len();
    let earnings = app
        .earnings()
        .list_earnings(pb::ListEarningsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .earnings
        .len();
    let repatriations = app
        .repatriations()
        .list_repatriations(pb::ListRepatriationsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .repatriations;
    let steps = repatriations.iter().map(|r| r.step_count).sum();
    (parties, earnings, repatriations.len(), steps)
}

async fn imports_are_safe_to_rerun_and_report_bad_rows(app: &TestApp) {
    let (dir, ids) = load(app).await;
    // Two parties; earnings of lines 2, 5 and 6 (not the bad amount, the
    // bad date, the unknown party); three payments; 5 + 1 + 3 steps.
    assert_eq!(counts(app).await, (2, 3, 3, 9));
    assert_eq!(ids.len(), 3, "{ids:?}");

    let e = errors(&dir.path("earnings.csv.errors.csv"));
    let at: Vec<(u64, &str)> = e.iter().map(|(l, f, _)| (*l, f.as_str())).collect();
    assert_eq!(
        at,
        [(3, "amount"), (4, "invoice_date"), (7, "party")],
        "{e:?}"
    );
    assert!(
        e[0].2.contains("decimal places"),
        "the server's reason: {}",
        e[0].2
    );
    assert!(e[2].2.contains("nobody"), "{}", e[2].2);

    let r = errors(&dir.path("repatriations.csv.errors.csv"));
    assert_eq!(
        (r.len(), r[0].0, r[0].1.as_str()),
        (1, 5, "earnings"),
        "{r:?}"
    );
    assert!(r[0].2.contains("INV-404"));

    let st = errors(&dir.path("steps.csv.errors.csv"));
    let at: Vec<(u64, &str)> = st.iter().map(|(l, f, _)| (*l, f.as_str())).collect();
    assert_eq!(at, [(8, "kind"), (9, "kind")], "{st:?}");
    assert!(st[0].2.contains("not a step kind"), "{}", st[0].2);
    assert!(
        st[1].2.contains("FailedPrecondition") && st[1].2.contains("BENEFICIARY_CREDITED"),
        "the server's reason names the other step: {}",
        st[1].2
    );

    // Every import again, from the same files: nothing new.
    let before = std::fs::read_to_string(dir.path("repatriations.csv.ids.csv")).unwrap();
    let ids2 = {
        // The same rows, in another order and another file, are the same rows.
        let mut lines: Vec<&str> = STEPS.lines().collect();
        lines[1..].reverse();
        let steps = dir.write("steps-again.csv", &(lines.join("\n") + "\n"));
        let out = expect(
            app,
            3,
            &[
                "steps",
                "import",
                s(&steps),
                "--repatriation-ids",
                s(&dir.path("repatriations.csv.ids.csv")),
                "-o",
                "json",
            ],
        )
        .await;
        let summary: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (
                summary["rows"].as_u64(),
                summary["stored"].as_u64(),
                summary["failed"].as_u64()
            ),
            (Some(11), Some(9), Some(2))
        );
        load_again(app, &dir).await
    };
    assert_eq!(counts(app).await, (2, 3, 3, 9), "a second run adds nothing");
    assert_eq!(ids, ids2);
    assert_eq!(
        before,
        std::fs::read_to_string(dir.path("repatriations.csv.ids.csv")).unwrap()
    );

    // Fixing the bad rows and running again stores just them, and the
    // errors file goes away once nothing is refused.
    let fixed = EARNINGS
        .replace("12.345", "12.34")
        .replace("2024-13-01", "2024-12-01")
        .lines()
        .filter(|l| !l.starts_with("nobody"))
        .collect::<Vec<_>>()
        .join("\n");
    let earnings = dir.write("earnings.csv", &fixed);
    expect(
        app,
        0,
        &[
            "earnings",
            "import",
            s(&earnings),
            "--party-ids",
            s(&dir.path("parties.csv.ids.csv")),
        ],
    )
    .await;
    assert!(!dir.path("earnings.csv.errors.csv").exists());
    assert_eq!(counts(app).await.1, 5);

    // A changed row under the same identity is refused, not stored twice.
    let changed = fixed.replace("10000.00", "10500.00");
    let earnings = dir.write("earnings.csv", &changed);
    expect(
        app,
        3,
        &[
            "earnings",
            "import",
            s(&earnings),
            "--party-ids",
            s(&dir.path("parties.csv.ids.csv")),
        ],
    )
    .await;
    let e = errors(&dir.path("earnings.csv.errors.csv"));
    assert_eq!(e.len(), 1);
    assert!(e[0].2.contains("AlreadyExists"), "{e:?}");
    assert_eq!(counts(app).await.1, 5);

    // A file whose header lacks a column is refused as a whole.
    let bad = dir.write("bad.csv", "party,amount\nx,1\n");
    let o = run(app, &["earnings", "import", s(&bad)]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("client_name"), "{}", stderr(&o));
}

/// Runs the four imports of `load` again over the same files.
async fn load_again(app: &TestApp, dir: &Dir) -> std::collections::HashMap<String, String> {
    let party_ids = dir.path("parties.csv.ids.csv");
    let repatriation_ids = dir.path("repatriations.csv.ids.csv");
    expect(app, 0, &["parties", "import", s(&dir.path("parties.csv"))]).await;
    expect(
        app,
        3,
        &[
            "earnings",
            "import",
            s(&dir.path("earnings.csv")),
            "--party-ids",
            s(&party_ids),
        ],
    )
    .await;
    expect(
        app,
        3,
        &[
            "repatriations",
            "import",
            s(&dir.path("repatriations.csv")),
            "--party-ids",
            s(&party_ids),
        ],
    )
    .await;
    expect(
        app,
        3,
        &[
            "steps",
            "import",
            s(&dir.path("steps.csv")),
            "--repatriation-ids",
            s(&repatriation_ids),
        ],
    )
    .await;
    let mut by_key = std::collections::HashMap::new();
    for rec in csv::Reader::from_path(&repatriation_ids).unwrap().records() {
        let rec = rec.unwrap();
        by_key.insert(rec[0].to_string(), rec[1].to_string());
    }
    by_key
}

async fn journeys_incentives_and_metrics(app: &TestApp) {
    let (dir, ids) = load(app).await;
    let pay1 = &ids["PAY-1"];

    // The timeline: each step with its wait, the +06:00 instant in UTC.
    let shown = json(app, &["repatriation", "show", pay1]).await;
    let timeline = shown["timeline"].as_array().unwrap();
    let steps: Vec<(&str, &str, &str)> = timeline
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap(),
                s["occurred_at"].as_str().unwrap(),
                s["wait"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("PAYMENT_INITIATED", "2024-03-04T09:00:00Z", ""),
            ("INTERMEDIARY_PROCESSED", "2024-03-04T10:00:00Z", "1h 00m"),
            ("NOSTRO_CREDITED", "2024-03-04T13:00:00Z", "3h 00m"),
            ("BENEFICIARY_CREDITED", "2024-03-05T09:00:00Z", "20h 00m"),
            ("CONVERTED_TO_BDT", "2024-03-05T10:00:00Z", "1h 00m"),
        ]
    );
    assert_eq!(timeline[3]["wait_secs"], "72000");
    assert_eq!(
        shown["repatriation"]["initiation_to_funds_available_secs"],
        "86400"
    );
    assert_eq!(shown["repatriation"]["fees"], "25.00 USD");
    let table = expect(app, 0, &["repatriation", "show", pay1]).await;
    assert!(
        table.contains("NOSTRO_CREDITED")
            && table.contains("20h 00m")
            && table.contains("initiation to funds available"),
        "{table}"
    );
    let csv_out = expect(app, 0, &["repatriation", "show", pay1, "-o", "csv"]).await;
    assert!(
        csv_out.starts_with("#,step,occurred_at,wait,wait_secs,"),
        "{csv_out}"
    );
    assert_eq!(csv_out.lines().count(), 6);

    // The incentive, to the poisha, with its arithmetic: 9975.00 × 110.00
    // = 1097250.00 BDT; realized in March 2024, at 8%.
    let a = json(app, &["incentive", "assess", pay1, "--as-of", "2024-03-10"]).await;
    assert_eq!(a["assessment"]["eligible"], true, "{a}");
    assert_eq!(a["assessment"]["incentive"], "87780.00 BDT");
    assert_eq!(a["assessment"]["rate"], "0.08");
    assert!(
        a["arithmetic"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["expression"] == "1097250.00 × 0.08 = 87780.0000"),
        "{}",
        a["arithmetic"]
    );
    // Late: realized more than 120 days after the invoice.
    let late = json(
        app,
        &[
            "incentive",
            "assess",
            &ids["PAY-4"],
            "--as-of",
            "2024-06-10",
            "--fx-rate",
            "117.00",
        ],
    )
    .await;
    assert_eq!(late["assessment"]["eligible"], false);
    assert!(
        late["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["code"] == "NOT_REALIZED" || v["code"] == "REPATRIATION_LATE"),
        "{late}"
    );

    // Simulation with an inline rule set: back to 10%.
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../rules/bangladesh.toml"
    ))
    .unwrap();
    let inline = rules
        .replace("bd-2024.07.1", "what-if")
        .replace("rate = \"0.08\"", "rate = \"0.10\"");
    let rules_file = dir.write("what-if.toml", &inline);
    let base = [
        "incentive",
        "simulate",
        "--invoice-date",
        "2024-01-10",
        "--realized-on",
        "2024-03-01",
        "--net-credited",
        "3333.33",
        "--fx-rate",
        "110.00",
        "--as-of",
        "2024-03-10",
    ];
    let sim = json(app, &base).await;
    assert_eq!(sim["assessment"]["incentive"], "29333.30 BDT");
    let mut what_if = base.to_vec();
    what_if.extend(["--rules", s(&rules_file)]);
    let sim = json(app, &what_if).await;
    assert_eq!(
        (
            sim["assessment"]["incentive"].as_str(),
            sim["assessment"]["rule_set"].as_str()
        ),
        (Some("36666.63 BDT"), Some("what-if"))
    );
    // Bad input: the server's reason, naming the field, and exit 1.
    let mut bad = base.to_vec();
    bad[7] = "3333.333";
    let o = run(app, &bad).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("InvalidArgument") && stderr(&o).contains("net_credited"),
        "{}",
        stderr(&o)
    );

    // Claims: filed, audited and disbursed, safe to re-run.
    let claims = dir.write("claims.csv", "repatriation,filed_at,audited_at,disbursed_at,rejected_at,reason\nPAY-1,2024-03-20T05:00:00Z,2024-04-10T05:00:00Z,2024-05-02T05:00:00Z,,\n");
    let rids = dir.path("repatriations.csv.ids.csv");
    for _ in 0..2 {
        expect(
            app,
            0,
            &[
                "claims",
                "import",
                s(&claims),
                "--repatriation-ids",
                s(&rids),
            ],
        )
        .await;
    }
    let shown = json(app, &["repatriation", "show", pay1]).await;
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        &kinds[5..],
        [
            "INCENTIVE_CLAIM_FILED",
            "INCENTIVE_AUDITED",
            "INCENTIVE_DISBURSED"
        ]
    );

    // Delay statistics grouped by step and corridor.
    let delays = json(app, &["metrics", "delays", "--group-by", "step,corridor"]).await;
    let credit_se = delays
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["step"] == "BENEFICIARY_CREDITED" && g["corridor"] == "SE")
        .expect("SE credits");
    assert_eq!(
        (credit_se["count"].as_i64(), credit_se["p50_secs"].as_str()),
        (Some(1), Some("72000"))
    );
    let csv_out = expect(
        app,
        0,
        &[
            "metrics",
            "delays",
            "--group-by",
            "corridor,month",
            "--measure",
            "INITIATION_TO_FUNDS_AVAILABLE",
            "-o",
            "csv",
        ],
    )
    .await;
    let mut lines = csv_out.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("step,corridor,month,count,min,p50,")
    );
    assert_eq!(lines.count(), 2, "{csv_out}");
    let o = run(app, &["metrics", "delays", "--group-by", "weather"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("weather"));

    // Breaches: PAY-4 was credited 151 days after its invoice.
    let late = json(
        app,
        &[
            "metrics",
            "breaches",
            "--kind",
            "repatriation-late",
            "--as-of",
            "2024-07-01",
        ],
    )
    .await;
    let rows = late.as_array().unwrap();
    assert!(
        rows.iter()
            .any(|b| b["repatriation"] == ids["PAY-4"].as_str()),
        "{late}"
    );
    // The scorecard: PAY-1 took a day, PAY-N half an hour.
    let card = json(
        app,
        &[
            "metrics",
            "scorecard",
            "--from",
            "2024-03",
            "--to",
            "2024-03",
        ],
    )
    .await;
    let se = card
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["corridor"] == "SE")
        .unwrap();
    assert_eq!(
        (se["completed"].as_i64(), se["within_1h"].as_i64()),
        (Some(1), Some(0))
    );

    // Parties, earnings and repatriations by hand.
    let parties = json(app, &["parties", "list"]).await;
    assert_eq!(parties.as_array().unwrap().len(), 2);
    let created = json(
        app,
        &[
            "parties",
            "create",
            "--kind",
            "firm",
            "--legal-name",
            "Karnaphuli Apps Ltd",
            "--membership",
            "BASIS:G-2001",
            "--bank-account",
            "EBLDBDDH:1101:USD",
        ],
    )
    .await;
    let party = created[0]["id"].as_str().unwrap().to_string();
    let e = app.create_earning(&party, "K-1", "700.00", "USD").await;
    let opened = json(
        app,
        &[
            "repatriations",
            "open",
            "--party",
            &party,
            "--earning",
            &format!("{}:300.00", e.id),
        ],
    )
    .await;
    assert_eq!(opened[0]["expected"], "300.00 USD");

    // The audit trail holds and verifies.
    let audit = json(app, &["audit", "verify"]).await;
    assert_eq!(audit["intact"], true);
    assert!(audit["entries_checked"].as_i64().unwrap() > 10);
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// Width and height of an SVG's root element.
fn svg_size(text: &str) -> (u32, u32) {
    let start = text.find("<svg").expect("an <svg> root");
    let tag = &text[start..start + text[start..].find('>').unwrap()];
    let attr = |name: &str| -> u32 {
        let at = tag
            .find(&format!(" {name}=\""))
            .unwrap_or_else(|| panic!("{name} in {tag}"))
            + name.len()
            + 3;
        tag[at..at + tag[at..].find('"').unwrap()].parse().unwrap()
    };
    assert!(text.trim_end().ends_with("</svg>"), "a whole document");
    (attr("width"), attr("height"))
}

async fn plots_are_svg_and_png_of_the_size_asked(app: &TestApp) {
    let (dir, _) = load(app).await;
    let svg = dir.path("delays.svg");
    expect(app, 0, &["metrics", "delays", "--plot", s(&svg)]).await;
    let text = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(svg_size(&text), (1000, 600));
    assert!(
        text.contains("BENEFICIARY_CREDITED (n=2)") && text.contains("1 hour (G20 target)"),
        "labelled boxes and the G20 line"
    );

    let png = dir.path("delays.png");
    expect(
        app,
        0,
        &[
            "metrics",
            "delays",
            "--group-by",
            "corridor",
            "--plot",
            s(&png),
            "--plot-size",
            "800x450",
        ],
    )
    .await;
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), (800, 450));

    // Nothing to draw, a bad size or a bad extension: a clear failure.
    let o = run(
        app,
        &[
            "metrics",
            "delays",
            "--from",
            "2030-01",
            "--plot",
            s(&dir.path("none.svg")),
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no observations"), "{}", stderr(&o));
    let o = run(
        app,
        &[
            "metrics",
            "delays",
            "--plot",
            s(&dir.path("x.svg")),
            "--plot-size",
            "big",
        ],
    )
    .await;
    assert!(stderr(&o).contains("WIDTHxHEIGHT"));
    let o = run(app, &["metrics", "delays", "--plot", s(&dir.path("x.pdf"))]).await;
    assert!(stderr(&o).contains(".svg or .png"));
}

/// Mutual TLS and a token: the CA, client certificate and token come from
/// a configuration file, the server address from the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_and_a_token_from_the_configuration_file() {
    use repat_api::auth::Role;
    use repat_tests::security::{KeyDir, Minter, TestCa, ed25519_pair};
    let keys = KeyDir::new();
    let (private, public) = ed25519_pair();
    let server_ca = TestCa::new("repat test CA");
    let (cert, key) = server_ca.issue("localhost", &["localhost", "127.0.0.1"]);
    let client_ca = TestCa::new("integrators CA");
    let (client_cert, client_key) = client_ca.issue("auditor-1", &["auditor-1"]);
    let verify = keys.write("verify.pem", &public);
    let (cert_file, key_file, client_ca_file) = (
        keys.write("server.pem", &cert),
        keys.write("server.key", &key),
        keys.write("clients.pem", &client_ca.cert_pem),
    );
    let app = repat_tests::spawn_with(Backend::Sqlite, |s| {
        s.allow_unauthenticated = false;
        s.jwt_verify_key_file = Some(verify);
        s.tls_cert_file = Some(cert_file);
        s.tls_key_file = Some(key_file);
        s.tls_client_ca_file = Some(client_ca_file);
    })
    .await
    .unwrap();
    let server = format!("https://localhost:{}", app.server.addr.port());
    let ca = keys.write("ca.pem", &server_ca.cert_pem);
    let (ccert, ckey) = (
        keys.write("client.pem", &client_cert),
        keys.write("client.key", &client_key),
    );
    let token = Minter::new(&private).token("auditor-1", Role::Auditor, &[]);
    let token_file = keys.write("token", format!("{token}\n"));
    let config = keys.write(
        "repatctl.toml",
        format!("ca_file = {:?}\nclient_cert_file = {:?}\nclient_key_file = {:?}\ntoken_file = {:?}\noutput = \"json\"\n", s(&ca), s(&ccert), s(&ckey), s(&token_file)),
    );

    let run_env = |args: Vec<String>| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_repatctl"));
        cmd.env("REPATCTL_SERVER", &server).args(args);
        cmd
    };
    let o = run_env(vec![
        "--config".into(),
        s(&config).into(),
        "audit".into(),
        "verify".into(),
    ])
    .output()
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["intact"], true);

    // Without the token: refused, and told why.
    let o = run_env(vec![
        "--ca-file".into(),
        s(&ca).into(),
        "--client-cert-file".into(),
        s(&ccert).into(),
        "--client-key-file".into(),
        s(&ckey).into(),
        "audit".into(),
        "verify".into(),
    ])
    .output()
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Unauthenticated") && stderr(&o).contains("--token"),
        "{}",
        stderr(&o)
    );
    // An auditor may not write: the flag's token over the file's.
    let parties = keys.write("p.csv", PARTIES);
    let o = run_env(vec![
        "--config".into(),
        s(&config).into(),
        "parties".into(),
        "import".into(),
        s(&parties).into(),
    ])
    .output()
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(3), "rows refused: {}", stderr(&o));
    let e = errors(&keys.dir.join("p.csv.errors.csv"));
    assert!(e[0].2.contains("PermissionDenied"), "{e:?}");
    // Not trusting the server's CA: a clear failure, not a hang.
    let o = run_env(vec!["audit".into(), "verify".into()])
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
    app.finish().await;
}

/// demo/run.sh loads the shipped demo into a fresh server with not one row
/// refused, and ends with the delay plot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_loads_without_a_refused_row() {
    let app = repat_tests::spawn(Backend::Sqlite).await.unwrap();
    let dir = Dir::new();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo");
    for f in [
        "parties.csv",
        "earnings.csv",
        "repatriations.csv",
        "steps.csv",
        "claims.csv",
        "run.sh",
    ] {
        std::fs::copy(demo.join(f), dir.path(f)).unwrap();
    }
    let o = tokio::process::Command::new("bash")
        .arg(dir.path("run.sh"))
        .env("REPATCTL", env!("CARGO_BIN_EXE_repatctl"))
        .env("REPATCTL_SERVER", format!("http://{}", app.server.addr))
        .env_remove("REPATCTL_TOKEN")
        .output()
        .await
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    let refused: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".errors.csv"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(
        svg_size(&std::fs::read_to_string(dir.path("delays.svg")).unwrap()),
        (1000, 600)
    );
    app.finish().await;
}

/// A bank's CSV statement imported twice (the second adds nothing), then
/// matched: 950.00 pays INV-3001 within the fee allowance; 1,149.99 is
/// 50.01 short of INV-3002 and is explained.
async fn statements_import_once_and_reconcile(app: &TestApp) {
    let party = json(
        app,
        &[
            "parties",
            "create",
            "--kind",
            "firm",
            "--legal-name",
            "Padma Payouts Ltd",
        ],
    )
    .await;
    let party = party[0]["id"].as_str().unwrap().to_string();
    for (reference, amount) in [("INV-3001", "1000.00"), ("INV-3002", "1200.00")] {
        let mut e = repat_tests::fixtures::earning(&party, reference, amount, "USD");
        e.invoice_date = repat_tests::fixtures::date(2024, 3, 1);
        e.due_date = None;
        app.earnings()
            .create_earning(pb::CreateEarningRequest {
                request_id: repat_tests::fixtures::rid(),
                earning: Some(e),
            })
            .await
            .unwrap();
    }
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/statements/credits.csv");
    let first = json(app, &["statements", "import", s(&file), "--party", &party]).await;
    assert_eq!(first["statement"]["format"], "CSV");
    assert_eq!(first["statement"]["entries"], 11);
    let again = json(app, &["statements", "import", s(&file), "--party", &party]).await;
    assert_eq!(
        again["statement"]["id"], first["statement"]["id"],
        "the same file is stored once"
    );

    let matching = json(app, &["reconcile", "run", "--party", &party]).await;
    let matches = matching["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{matching}");
    // The invoice is settled in full; the 50.00 short is the fee taken abroad.
    assert_eq!(
        (
            matches[0]["covered"].as_str(),
            matches[0]["fee_gap"].as_str()
        ),
        (Some("1000.00 USD"), Some("50.00 USD"))
    );
    let exceptions = json(app, &["reconcile", "exceptions", "--party", &party]).await;
    let reasons: Vec<&str> = exceptions
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"AMOUNT_OUTSIDE_TOLERANCE"),
        "{exceptions}"
    );
    // A format that cannot be told is refused before anything is sent.
    let unknown =
        std::env::temp_dir().join(format!("statement-{}.bin", repat_tests::fixtures::rid()));
    std::fs::write(&unknown, b"nothing to see").unwrap();
    let o = run(
        app,
        &["statements", "import", s(&unknown), "--party", &party],
    )
    .await;
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("--format"), "{}", stderr(&o));
    let _ = std::fs::remove_file(unknown);
}
