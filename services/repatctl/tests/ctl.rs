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
    statements_import_once_and_reconcile,
    names_script_output_and_the_remaining_commands,
    documents_and_facts_over_time,
    events_follow_resumes_and_webhooks,
    steps_statements_and_parties_corrected
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

/// The papers of PAY-1's claim, and a row naming an invoice never recorded.
const DOCUMENTS: &str = "\
party,kind,reference,issue_date,issuer,earning,repatriation,valid_from,valid_until
dhaka-soft,CONTRACT_OR_WORK_ORDER,WO-17,2024-02-10,Nordic Retail AB,INV-1,,,
dhaka-soft,invoice,INV-1,2024-03-01,Dhaka Soft Ltd,INV-1,,,
dhaka-soft,PROCEEDS_REALIZATION_CERTIFICATE,PRC-9,2024-03-07,BRAKBDDH,,PAY-1,,
dhaka-soft,INVOICE,INV-404,2024-03-01,Dhaka Soft Ltd,INV-404,,,
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
    let documents = dir.write("documents.csv", DOCUMENTS);
    expect(
        app,
        3,
        &[
            "documents",
            "import",
            s(&documents),
            "--party-ids",
            s(&party_ids),
            "--repatriation-ids",
            s(&repatriation_ids),
        ],
    )
    .await;
    let refused = std::fs::read_to_string(dir.path("documents.csv.errors.csv")).unwrap();
    assert!(
        refused.contains(
            "5,earning,\"no earning of this party has the invoice reference (or id) \"\"INV-404\"\"\""
        ),
        "{refused}"
    );
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
    assert!(
        e[0].2.contains("--amend"),
        "the refusal says how to amend: {e:?}"
    );
    assert_eq!(counts(app).await.1, 5);

    // With --amend the changed row amends its earning (twice: a retry).
    for _ in 0..2 {
        expect(
            app,
            0,
            &[
                "earnings",
                "import",
                s(&earnings),
                "--party-ids",
                s(&dir.path("parties.csv.ids.csv")),
                "--amend",
                "the invoice says 10500.00",
            ],
        )
        .await;
        assert!(!dir.path("earnings.csv.errors.csv").exists());
    }
    assert_eq!(counts(app).await.1, 5);
    let amended: Vec<pb::Earning> = app
        .earnings()
        .list_earnings(pb::ListEarningsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .earnings
        .into_iter()
        .filter(|e| e.revision > 1)
        .collect();
    assert_eq!(amended.len(), 1, "{amended:?}");
    assert_eq!(amended[0].revision, 2);
    assert_eq!(amended[0].amount.as_ref().unwrap().amount, "10500.00");
    let history = json(app, &["earnings", "history", &amended[0].id]).await;
    assert!(
        history.to_string().contains("the invoice says 10500.00"),
        "{history}"
    );

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
    assert!(
        timeline.iter().all(|s| s.get("#").is_none()),
        "no \"#\" keys"
    );
    assert_eq!(
        shown["repatriation"]["initiation_to_funds_available_secs"],
        "86400"
    );
    // Money as objects; fees with who charged them; the rate as a pair.
    assert_eq!(
        shown["repatriation"]["fees"],
        serde_json::json!([{"amount": "25.00", "currency": "USD"}])
    );
    assert_eq!(shown["repatriation"]["party"], "Dhaka Soft Ltd");
    assert_eq!(shown["repatriation"]["invoices"], "INV-1");
    assert_eq!(
        timeline[1]["fees"],
        serde_json::json!([{"amount": "25.00", "currency": "USD", "charged_by": "CITIUS33", "kind": "CORRESPONDENT"}])
    );
    assert_eq!(
        timeline[3]["amount"],
        serde_json::json!({"amount": "9975.00", "currency": "USD"})
    );
    // (The rate's trailing zeros are the backend's: "110.00" or "110".)
    assert_eq!(
        (
            timeline[4]["fx"]["source_currency"].as_str(),
            timeline[4]["fx"]["target_currency"].as_str()
        ),
        (Some("USD"), Some("BDT"))
    );
    assert!(
        timeline[4]["fx"]["rate"]
            .as_str()
            .unwrap()
            .starts_with("110")
    );
    let table = expect(app, 0, &["repatriation", "show", pay1]).await;
    assert!(
        table.contains("NOSTRO_CREDITED")
            && table.contains("20h 00m")
            && table.contains("initiation to funds available"),
        "{table}"
    );
    assert!(
        table.contains("USD/BDT 110")
            && table.contains("9,975.00 USD")
            && table.contains("25.00 USD by CITIUS33"),
        "readable figures: {table}"
    );
    let csv_out = expect(app, 0, &["repatriation", "show", pay1, "-o", "csv"]).await;
    assert!(csv_out.starts_with("step,occurred_at,wait,wait_secs,institution,amount,amount_currency,fees,fx,fx_pair,note"), "{csv_out}");
    assert!(
        csv_out.contains(",9975.00,USD,") && csv_out.contains(",USD/BDT,"),
        "{csv_out}"
    );
    assert_eq!(csv_out.lines().count(), 6);

    // The incentive, to the poisha, with its arithmetic: 9975.00 × 110.00
    // = 1097250.00 BDT; realized in March 2024, at 8%. Looking stores nothing.
    let a = json(app, &["incentive", "assess", pay1, "--as-of", "2024-03-10"]).await;
    assert_eq!(a["assessment"]["eligible"], true, "{a}");
    assert_eq!(
        a["assessment"]["incentive"],
        serde_json::json!({"amount": "87780.00", "currency": "BDT"})
    );
    assert_eq!(a["assessment"]["rate"], "0.08");
    assert_eq!(
        (
            a["assessment"]["stored"].as_bool(),
            a["assessment"]["party"].as_str()
        ),
        (Some(false), Some("Dhaka Soft Ltd"))
    );
    let stored = || async {
        app.incentives()
            .list_assessments(pb::ListAssessmentsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .assessments
            .len()
    };
    assert_eq!(stored().await, 0, "a look stores no assessment");
    let recorded = json(
        app,
        &[
            "incentive",
            "assess",
            pay1,
            "--as-of",
            "2024-03-10",
            "--record",
        ],
    )
    .await;
    assert_eq!(recorded["assessment"]["stored"], true);
    assert_eq!(stored().await, 1, "--record stores it");
    let table = expect(
        app,
        0,
        &["incentive", "assess", pay1, "--as-of", "2024-03-10"],
    )
    .await;
    assert!(
        table.contains("87,780.00 BDT")
            && table.contains("8%")
            && table.contains("nothing was stored"),
        "{table}"
    );
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
        .replace("bd-2024.07.2", "what-if")
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
        "--document",
        "CONTRACT_OR_WORK_ORDER",
        "--document",
        "INVOICE",
        "--document",
        "PROCEEDS_REALIZATION_CERTIFICATE",
    ];
    let sim = json(app, &base).await;
    assert_eq!(sim["assessment"]["incentive"]["amount"], "29333.30");
    let mut what_if = base.to_vec();
    what_if.extend(["--rules", s(&rules_file)]);
    let sim = json(app, &what_if).await;
    assert_eq!(
        (
            sim["assessment"]["incentive"]["amount"].as_str(),
            sim["assessment"]["rule_set"].as_str()
        ),
        (Some("36666.63"), Some("what-if"))
    );
    // Bad input: the server's reason, naming the flag typed, and exit 1.
    let mut bad = base.to_vec();
    bad[7] = "3333.333";
    let o = run(app, &bad).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("InvalidArgument")
            && stderr(&o).contains("--net-credited: ")
            && !stderr(&o).contains("inputs."),
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
    assert_eq!(
        o.status.code(),
        Some(2),
        "a bad flag value is a usage error"
    );
    assert!(
        stderr(&o).contains("weather") && stderr(&o).contains("party-kind"),
        "{}",
        stderr(&o)
    );

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
    let pay4 = rows
        .iter()
        .find(|b| b["repatriation"] == ids["PAY-4"].as_str())
        .unwrap_or_else(|| panic!("{late}"));
    assert_eq!(
        (pay4["party"].as_str(), pay4["invoices"].as_str()),
        (Some("Dhaka Soft Ltd"), Some("INV-4")),
        "names beside ids"
    );
    // The party by its name.
    let by_name = json(
        app,
        &[
            "metrics",
            "breaches",
            "--kind",
            "repatriation-late",
            "--as-of",
            "2024-07-01",
            "--party",
            "dhaka soft ltd",
        ],
    )
    .await;
    assert_eq!(
        by_name.as_array().unwrap().len(),
        rows.iter()
            .filter(|b| b["party"] == "Dhaka Soft Ltd")
            .count()
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
    let table = expect(
        app,
        0,
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
    assert!(table.contains("100%"), "shares as percentages: {table}");

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
    assert!(created.is_object(), "one record, one object: {created}");
    let party = created["id"].as_str().unwrap().to_string();
    let e = app.create_earning(&party, "K-1", "700.00", "USD").await;
    let opened = json(
        app,
        &[
            "repatriations",
            "open",
            "--party",
            "Karnaphuli Apps Ltd",
            "--earning",
            &format!("{}:300.00", e.id),
        ],
    )
    .await;
    assert_eq!(
        opened["expected"],
        serde_json::json!({"amount": "300.00", "currency": "USD"})
    );
    assert_eq!(
        (opened["party"].as_str(), opened["invoices"].as_str()),
        (Some("Karnaphuli Apps Ltd"), Some("K-1"))
    );

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
    let texts = svg_texts(&text);
    let has = |t: &str| texts.iter().any(|(_, x)| x == t);
    assert!(
        has("beneficiary credited (n=2)") && has("1 hour (G20 target)"),
        "labelled boxes and the G20 line: {texts:?}"
    );
    assert!(has("120 days (repatriation deadline)"), "the deadline line");
    assert!(
        has("waits before each step:") && has("end-to-end spans:"),
        "waits and spans apart"
    );
    // The title says the period (the months of the data) and the scope.
    assert!(
        has("Waiting time before each step, and end-to-end spans, 2024-03 to 2024-06, all parties"),
        "{texts:?}"
    );
    // The font is in the file, under the family the text names.
    assert!(
        text.contains("@font-face")
            && text.contains("data:font/ttf;base64,")
            && text.contains("font-family=\"DejaVu Sans\"")
    );

    // Twice the size, twice the text: the legend grows with the plot.
    let big = dir.path("big.svg");
    expect(
        app,
        0,
        &[
            "metrics",
            "delays",
            "--plot",
            s(&big),
            "--plot-size",
            "2000x1200",
            "--from",
            "2024-03",
            "--to",
            "2024-04",
            "--party",
            "Dhaka Soft Ltd",
        ],
    )
    .await;
    let big_texts = svg_texts(&std::fs::read_to_string(&big).unwrap());
    let legend = |texts: &[(f64, String)]| {
        texts
            .iter()
            .find(|(_, t)| t.starts_with("box: p25"))
            .map(|(size, _)| *size)
            .expect("a legend")
    };
    let (small, large) = (legend(&texts), legend(&big_texts));
    assert!(
        small >= 12.0 && (large / small - 2.0).abs() < 0.01,
        "legend {small}px at 1000x600, {large}px at 2000x1200"
    );
    assert!(
        big_texts
            .iter()
            .any(|(_, t)| t.ends_with("2024-03 to 2024-04, Dhaka Soft Ltd")),
        "the period and party asked: {big_texts:?}"
    );

    // Grouped: one panel per group, each named.
    let grouped = dir.path("grouped.svg");
    expect(
        app,
        0,
        &[
            "metrics",
            "delays",
            "--group-by",
            "corridor",
            "--plot",
            s(&grouped),
        ],
    )
    .await;
    let panels: Vec<String> = svg_texts(&std::fs::read_to_string(&grouped).unwrap())
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| t.starts_with("corridor "))
        .collect();
    assert_eq!(panels, ["corridor SE", "corridor SG", "corridor US"]);

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

/// The text elements of an SVG: (font size, text).
fn svg_texts(svg: &str) -> Vec<(f64, String)> {
    svg.split("<text")
        .skip(1)
        .map(|t| {
            let size = t
                .split("font-size=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            let body = t
                .split_once('>')
                .map(|(_, b)| b.split("</text>").next().unwrap_or_default())
                .unwrap_or_default();
            (size, body.trim().replace("&amp;", "&"))
        })
        .collect()
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
        "documents.csv",
        "claims.csv",
        "statement.csv",
        "run.sh",
    ] {
        std::fs::copy(demo.join(f), dir.path(f)).unwrap();
    }
    let out = Dir::new();
    let o = tokio::process::Command::new("bash")
        .arg(dir.path("run.sh"))
        .arg(&out.0)
        .env("REPATCTL", env!("CARGO_BIN_EXE_repatctl"))
        .env("REPATCTL_SERVER", format!("http://{}", app.server.addr))
        .env_remove("REPATCTL_TOKEN")
        .output()
        .await
        .unwrap();
    let errors_files: String = std::fs::read_dir(&out.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".errors.csv"))
        .map(|e| {
            format!(
                "{}:\n{}",
                e.file_name().to_string_lossy(),
                std::fs::read_to_string(e.path()).unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}\n{errors_files}",
        stdout(&o),
        stderr(&o)
    );
    let refused: Vec<_> = std::fs::read_dir(&out.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".errors.csv"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(
        svg_size(&std::fs::read_to_string(out.path("delays.svg")).unwrap()),
        (1000, 600)
    );
    // The demo directory is only read: every output is in the one given.
    assert_eq!(
        std::fs::read_dir(&dir.0).unwrap().count(),
        8,
        "nothing written beside the inputs"
    );
    // The statement was reconciled: its invoices matched, the stranger explained.
    assert!(
        stdout(&o).contains("NO_CANDIDATE") && stdout(&o).contains("REFERENCE"),
        "{}",
        stdout(&o)
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
    let party = party["id"].as_str().unwrap().to_string();
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
            matches[0]["covered"]["amount"].as_str(),
            matches[0]["fee_gap"]["amount"].as_str()
        ),
        (Some("1000.00"), Some("50.00"))
    );
    assert_eq!(
        (matches[0]["party"].as_str(), matches[0]["invoice"].as_str()),
        (Some("Padma Payouts Ltd"), Some("INV-3001"))
    );
    // The matches and each invoice's realization, later.
    let listed = json(
        app,
        &["reconcile", "matches", "--party", "Padma Payouts Ltd"],
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let realized = json(app, &["reconcile", "realizations", "--party", &party]).await;
    let status: Vec<(&str, &str)> = realized
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["invoice"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(status, [("INV-3001", "REALIZED"), ("INV-3002", "UNPAID")]);
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
    // A credit's exception names it as the bank did.
    let credit = exceptions
        .as_array()
        .unwrap()
        .iter()
        .find(|e| !e["credit"].as_str().unwrap_or_default().is_empty())
        .expect("an exception about a credit");
    assert!(
        !credit["bank_reference"].as_str().unwrap().is_empty(),
        "{credit}"
    );
    assert!(credit["credit_amount"]["amount"].is_string(), "{credit}");
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

/// The commands the API had and the CLI lacked, one record at a time and
/// for scripts: earnings and steps one by one, a journey followed as it
/// moves, claims, incentive totals, the audit trail; every import writing
/// the ids it created; JSON and CSV a script can use; `| head`.
async fn names_script_output_and_the_remaining_commands(app: &TestApp) {
    let (dir, ids) = load(app).await;
    // Every import that creates records says their ids, by the row's key.
    let earning_ids = std::fs::read_to_string(dir.path("earnings.csv.ids.csv")).unwrap();
    assert!(
        earning_ids.starts_with("key,id\n") && earning_ids.contains("dhaka-soft/INV-1,"),
        "{earning_ids}"
    );
    let step_ids = std::fs::read_to_string(dir.path("steps.csv.ids.csv")).unwrap();
    assert!(
        step_ids.contains("PAY-1/NOSTRO_CREDITED/2024-03-04T19:00:00+06:00/BRAKBDDH,"),
        "{step_ids}"
    );

    // Earnings: the party's name, money as an object, CSV split in two.
    let earnings = json(app, &["earnings", "list", "--party", "Dhaka Soft Ltd"]).await;
    let inv1 = earnings
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["invoice_reference"] == "INV-1")
        .unwrap();
    assert_eq!(
        (inv1["party"].as_str(), &inv1["amount"]),
        (
            Some("Dhaka Soft Ltd"),
            &serde_json::json!({"amount": "10000.00", "currency": "USD"})
        )
    );
    let csv_out = expect(app, 0, &["earnings", "list", "-o", "csv"]).await;
    assert!(csv_out.starts_with("invoice_reference,party,client,client_country,invoice_date,amount,amount_currency,allocated,allocated_currency,id,party_id\n"), "{csv_out}");

    // One earning, one step, by hand; the same request ids as an import.
    let created = json(
        app,
        &[
            "earnings",
            "create",
            "--party",
            "Nusrat Jahan",
            "--client-name",
            "Fjord Apps AS",
            "--client-country",
            "no",
            "--amount",
            "640.00",
            "--invoice-date",
            "2024-04-02",
            "--invoice-reference",
            "UP-90",
        ],
    )
    .await;
    assert_eq!(
        (
            created["party"].as_str(),
            created["client_country"].as_str()
        ),
        (Some("Nusrat Jahan"), Some("NO"))
    );
    let again = json(
        app,
        &[
            "earnings",
            "create",
            "--party",
            "Nusrat Jahan",
            "--client-name",
            "Fjord Apps AS",
            "--client-country",
            "no",
            "--amount",
            "640.00",
            "--invoice-date",
            "2024-04-02",
            "--invoice-reference",
            "UP-90",
        ],
    )
    .await;
    assert_eq!(again["id"], created["id"], "a retry is the same earning");
    let opened = json(
        app,
        &[
            "repatriations",
            "open",
            "--party",
            "Nusrat Jahan",
            "--earning",
            created["id"].as_str().unwrap(),
            "--channel",
            "platform",
        ],
    )
    .await;
    let r = opened["id"].as_str().unwrap().to_string();

    // Follow it while steps are recorded, until it is returned.
    let server = format!("http://{}", app.server.addr);
    let watch = tokio::process::Command::new(env!("CARGO_BIN_EXE_repatctl"))
        .args([
            "--server",
            &server,
            "repatriations",
            "watch",
            &r,
            "-o",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let step = json(
        app,
        &[
            "steps",
            "record",
            &r,
            "--kind",
            "payment-initiated",
            "--at",
            "2024-04-20T09:00:00Z",
            "--amount",
            "640.00",
            "--currency",
            "USD",
        ],
    )
    .await;
    assert_eq!(
        (step["step"].as_str(), step["status"].as_str()),
        (Some("PAYMENT_INITIATED"), Some("IN_TRANSIT"))
    );
    let returned = json(
        app,
        &[
            "steps",
            "record",
            &r,
            "--kind",
            "returned",
            "--at",
            "2024-04-22T09:00:00Z",
            "--reason-code",
            "ac06",
        ],
    )
    .await;
    assert_eq!(
        (returned["status"].as_str(), returned["note"].as_str()),
        (Some("RETURNED"), Some("AC06 (blocked account)"))
    );
    let watched =
        tokio::time::timeout(std::time::Duration::from_secs(20), watch.wait_with_output())
            .await
            .expect("watch ends with the journey")
            .unwrap();
    assert_eq!(watched.status.code(), Some(0));
    let lines: Vec<Value> = stdout(&watched)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.first().map(|l| l["status"].clone()),
        Some(Value::from("AWAITING_PAYMENT")),
        "{lines:?}"
    );
    assert_eq!(
        lines
            .last()
            .map(|l| (l["status"].clone(), l["party"].clone())),
        Some((Value::from("RETURNED"), Value::from("Nusrat Jahan")))
    );

    // Claims, listed with names; the incentive totals.
    let claims = dir.write("claims.csv", "repatriation,filed_at,audited_at,disbursed_at\nPAY-1,2024-03-20T05:00:00Z,2024-04-10T05:00:00Z,2024-05-02T05:00:00Z\n");
    expect(
        app,
        0,
        &[
            "claims",
            "import",
            s(&claims),
            "--repatriation-ids",
            s(&dir.path("repatriations.csv.ids.csv")),
        ],
    )
    .await;
    let claim_ids = std::fs::read_to_string(dir.path("claims.csv.ids.csv")).unwrap();
    assert!(claim_ids.contains("PAY-1,"), "{claim_ids}");
    let listed = json(app, &["claims", "list", "--status", "disbursed"]).await;
    let claim = &listed.as_array().unwrap()[0];
    assert_eq!(
        (
            claim["party"].as_str(),
            claim["invoices"].as_str(),
            claim["status"].as_str()
        ),
        (Some("Dhaka Soft Ltd"), Some("INV-1"), Some("DISBURSED"))
    );
    assert_eq!(
        claim["claimed"],
        serde_json::json!({"amount": "87780.00", "currency": "BDT"})
    );
    let totals = json(
        app,
        &[
            "incentive",
            "totals",
            "--from",
            "2024-01",
            "--to",
            "2024-12",
        ],
    )
    .await;
    assert_eq!(totals["sum"]["disbursed"]["amount"], "87780.00", "{totals}");
    assert_eq!(totals["totals"][0]["party"], "Dhaka Soft Ltd");

    // The audit trail, oldest first, the chain's links included.
    let audit = json(app, &["audit", "list", "--limit", "5"]).await;
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 5);
    assert_eq!(
        (
            entries[0]["sequence"].as_i64(),
            entries[0]["previous_hash"].as_str()
        ),
        (Some(1), Some("0".repeat(64).as_str()))
    );
    assert_eq!(entries[1]["previous_hash"], entries[0]["hash"]);

    // A reader that stops early is not a failure.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_repatctl"))
        .args(["--server", &server, "audit", "list", "-o", "csv"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let closed = child.wait_with_output().await.unwrap();
    assert_eq!(
        closed.status.code(),
        Some(0),
        "stdout closed early: {}",
        stderr(&closed)
    );
    assert!(stderr(&closed).is_empty(), "{}", stderr(&closed));

    // Tables fit the width asked for.
    let narrow = tokio::process::Command::new(env!("CARGO_BIN_EXE_repatctl"))
        .args(["--server", &server, "repatriations", "list"])
        .env("COLUMNS", "100")
        .output()
        .await
        .unwrap();
    let table = stdout(&narrow);
    assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
    assert!(
        table.contains("Nusrat") && table.contains("INV-4") && !table.contains("party id"),
        "names for people, no second id column: {table}"
    );
    let _ = ids;
}

/// Help and exit codes as documented, without a server.
#[tokio::test]
async fn help_and_usage_errors() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_repatctl"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("REPATCTL_") {
                cmd.env_remove(k);
            }
        }
        cmd.args(args).envs(env.iter().copied()).output().unwrap()
    };
    let help = run(&["audit", "verify", "--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    assert!(
        stdout(&help).contains("exits 4 when it is broken"),
        "{}",
        stdout(&help)
    );
    let help = stdout(&run(&["statements", "import", "--help"], &[]));
    assert!(
        help.contains("The statement file as the bank sent it") && help.contains("legal name"),
        "{help}"
    );
    let help = stdout(&run(&["incentive", "assess", "--help"], &[]));
    assert!(
        help.contains("CLAIM_WINDOW_EXPIRED") && help.contains("--record"),
        "--as-of and --record explained: {help}"
    );

    // A setting from the environment is not shown as if it were required.
    let o = run(
        &["parties", "create", "--kind", "firm"],
        &[("REPATCTL_SERVER", "http://127.0.0.1:1")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--legal-name") && !stderr(&o).contains("--server"),
        "{}",
        stderr(&o)
    );
    // Bad flag values: exit 2, naming the flag as typed.
    for (args, flag) in [
        (vec!["metrics", "delays", "--from", "2024-13"], "--from"),
        (
            vec!["metrics", "delays", "--group-by", "corridor,weather"],
            "--group-by",
        ),
        (
            vec![
                "metrics",
                "breaches",
                "--kind",
                "in-flight",
                "--as-of",
                "2024-02-30",
            ],
            "--as-of",
        ),
        (
            vec![
                "steps",
                "record",
                "x",
                "--kind",
                "soon",
                "--at",
                "2024-01-01T00:00:00Z",
            ],
            "--kind",
        ),
    ] {
        let o = run(&args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{args:?}: {}", stderr(&o));
    }
    // A server that is not there: exit 1, saying so.
    let o = run(&["--server", "http://127.0.0.1:1", "audit", "verify"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
}

/// Documents listed with the records they belong to and added by hand
/// (the file's hash taken here, the file kept here); a party's zone
/// changed from a day, its history, and the party as it was.
async fn documents_and_facts_over_time(app: &TestApp) {
    let (dir, ids) = load(app).await;
    let listed = json(app, &["documents", "list", "--party", "Dhaka Soft Ltd"]).await;
    // Imported a few at a time: in the order they were stored.
    let mut kinds: Vec<(&str, &str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["invoice"].as_str().unwrap_or(""),
                d["repatriation_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("CONTRACT_OR_WORK_ORDER", "INV-1", ""),
            ("INVOICE", "INV-1", ""),
            (
                "PROCEEDS_REALIZATION_CERTIFICATE",
                "",
                ids["PAY-1"].as_str()
            )
        ]
    );

    let file = dir.write("basis.pdf", "the certificate");
    let added = json(
        app,
        &[
            "documents",
            "add",
            "--party",
            "Dhaka Soft Ltd",
            "--kind",
            "association-certificate",
            "--reference",
            "BASIS-G-1024",
            "--issue-date",
            "2024-01-01",
            "--issuer",
            "BASIS",
            "--valid-until",
            "2024-12-31",
            "--file",
            s(&file),
        ],
    )
    .await;
    // SHA-256 of "the certificate".
    assert_eq!(
        added["sha256"],
        "a5e2afc8822f65381e660136a178d8404c34785f20ccb0dc07a78ca3eda5aa21"
    );
    let o = run(
        app,
        &[
            "documents",
            "add",
            "--party",
            "Dhaka Soft Ltd",
            "--kind",
            "invoice",
            "--reference",
            "X-1",
            "--issue-date",
            "2024-01-01",
            "--issuer",
            "Dhaka Soft Ltd",
            "--sha256",
            "not-a-hash",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--sha256: "), "{}", stderr(&o));

    // PAY-1 was realized on 2024-03-05: eligible as the firm then was,
    // excluded once it is in a Hi-Tech Park from that day.
    let assess = || async {
        json(
            app,
            &[
                "incentive",
                "assess",
                &ids["PAY-1"],
                "--as-of",
                "2024-03-10",
            ],
        )
        .await
    };
    assert_eq!(assess().await["assessment"]["eligible"], true);
    let changed = json(
        app,
        &[
            "parties",
            "change",
            "Dhaka Soft Ltd",
            "--from",
            "2024-03-05",
            "--zone",
            "hi-tech-park",
            "--reason",
            "moved into the Kaliakoir Hi-Tech Park",
        ],
    )
    .await;
    assert_eq!(
        (changed["value"].as_str(), changed["previous"].as_str()),
        (Some("HI_TECH_PARK"), Some("NONE"))
    );
    let a = assess().await;
    assert_eq!(a["violations"][0]["code"], "EXCLUDED_ZONE", "{a}");
    let history = json(app, &["parties", "history", "Dhaka Soft Ltd"]).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["effective_from"], "2024-03-05");
    let then = json(
        app,
        &["parties", "show", "Dhaka Soft Ltd", "--as-of", "2024-03-04"],
    )
    .await;
    assert_eq!(then["zone"], "NONE");
    let now = json(app, &["parties", "show", "Dhaka Soft Ltd"]).await;
    assert_eq!(now["zone"], "HI_TECH_PARK");
    let o = run(
        app,
        &[
            "parties",
            "change",
            "Dhaka Soft Ltd",
            "--from",
            "2024-03-05",
            "--memberships",
            "BASIS",
            "--reason",
            "x",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--memberships is ASSOCIATION:NUMBER"),
        "{}",
        stderr(&o)
    );
}

/// JSON lines, one object each.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect()
}

async fn events_follow_resumes_and_webhooks(app: &TestApp) {
    let party = app.create_firm("Event Follow Ltd").await;
    app.create_earning(&party.id, "EV-1", "120.00", "USD").await;
    let dir = Dir::new();
    let cursor = dir.path("cursor");

    // The party's events so far, oldest first.
    let listed = json(app, &["events", "list", "--party", "Event Follow Ltd"]).await;
    let types: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["repat.party.created", "repat.earning.created"]);
    assert_eq!(listed[1]["data"]["invoice_reference"], "EV-1");

    // Followed with a cursor: two events, then the cursor holds the last.
    let args = |count: &'static str| {
        vec![
            "events".to_string(),
            "follow".into(),
            "--party".into(),
            party.id.clone(),
            "--cursor".into(),
            s(&cursor).into(),
            "--count".into(),
            count.into(),
            "--output".into(),
            "json".into(),
        ]
    };
    let first = args("2");
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let seen = json_lines(&expect(app, 0, &first).await);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["specversion"], "1.0");
    assert_eq!(seen[1]["type"], "repat.earning.created");
    let last: i64 = seen[1]["sequence"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        std::fs::read_to_string(&cursor).unwrap().trim(),
        last.to_string()
    );

    // A second run resumes after the cursor: only what came since.
    app.create_earning(&party.id, "EV-2", "80.00", "USD").await;
    let again = args("1");
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    let next = json_lines(&expect(app, 0, &again).await);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0]["data"]["invoice_reference"], "EV-2");
    assert!(
        next[0]["sequence"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > last
    );

    // Filtered by type, as CSV: a header, then one row per event.
    let csv = expect(
        app,
        0,
        &[
            "events",
            "follow",
            "--party",
            &party.id,
            "--type",
            "earning.created",
            "--count",
            "2",
            "--output",
            "csv",
        ],
    )
    .await;
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "sequence,time,type,subject,party_id,id");
    assert_eq!(rows.len(), 3);
    assert!(
        rows[1..]
            .iter()
            .all(|r| r.contains("repat.earning.created"))
    );

    // Webhooks: the secret is shown once, the endpoint listed without it,
    // then deleted.
    let added = json(
        app,
        &[
            "webhooks",
            "add",
            "--party",
            "Event Follow Ltd",
            "--url",
            "https://hooks.invalid/repat",
            "--type",
            "earning.created",
        ],
    )
    .await;
    let id = added["id"].as_str().unwrap().to_string();
    assert!(!added["secret"].as_str().unwrap().is_empty());
    let listed = json(app, &["webhooks", "list", "--party", &party.id]).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["types"], "earning.created");
    assert!(listed[0].get("secret").is_none());
    let deleted = json(app, &["webhooks", "delete", &id]).await;
    assert!(!deleted["delete_time"].as_str().unwrap().is_empty());
    let dead = json(
        app,
        &["webhooks", "deliveries", "--endpoint", &id, "--dead"],
    )
    .await;
    assert!(
        dead.as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "DEAD")
    );

    // A bad filter is named by its flag.
    let o = run(
        app,
        &["events", "list", "--party", "not-a-party-id-or-name"],
    )
    .await;
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("--party"), "{}", stderr(&o));
}

async fn steps_statements_and_parties_corrected(app: &TestApp) {
    use repat_tests::fixtures::step;
    let party = app.create_firm("Correctable Ltd").await;
    let e = app.create_earning(&party.id, "CR-1", "500.00", "USD").await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let initiated = app
        .record(step(
            &r.id,
            pb::StepKind::PaymentInitiated,
            "2024-03-04T09:00:00Z",
        ))
        .await
        .unwrap()
        .step
        .unwrap();
    let wrong = app
        .record(step(
            &r.id,
            pb::StepKind::NostroCredited,
            "2024-03-05T09:00:00Z",
        ))
        .await
        .unwrap()
        .step
        .unwrap();

    // A mistaken step superseded by the corrected one.
    let corrected = json(
        app,
        &[
            "steps",
            "correct",
            "--step",
            &wrong.id,
            "--reason",
            "the bank's advice gave the wrong day",
            &r.id,
            "--kind",
            "nostro-credited",
            "--at",
            "2024-03-06T09:00:00Z",
        ],
    )
    .await;
    assert_eq!(corrected["voided"], wrong.id.as_str());
    assert_eq!(corrected["replacement_step"], "NOSTRO_CREDITED");
    assert_eq!(corrected["replacement_at"], "2024-03-06T09:00:00Z");
    // A step voided outright.
    let voided = json(
        app,
        &[
            "steps",
            "void",
            &initiated.id,
            "--repatriation",
            &r.id,
            "--reason",
            "recorded twice",
        ],
    )
    .await;
    assert_eq!(voided["voided"], initiated.id.as_str());
    assert_eq!(voided["revision"], 3);
    let timeline = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .timeline;
    let kept: Vec<i32> = timeline.iter().map(|s| s.kind).collect();
    assert_eq!(kept, [pb::StepKind::NostroCredited as i32]);

    // A party's name corrected, then its statement voided.
    let renamed = json(
        app,
        &[
            "parties",
            "correct",
            "Correctable Ltd",
            "--legal-name",
            "Correctable Software Ltd",
            "--reason",
            "registered name",
        ],
    )
    .await;
    assert_eq!(renamed["legal_name"], "Correctable Software Ltd");
    let nothing = run(app, &["parties", "correct", &party.id, "--reason", "x"]).await;
    assert_ne!(nothing.status.code(), Some(0));
    let statement = app
        .reconciliation()
        .import_statement(pb::ImportStatementRequest {
            request_id: repat_tests::fixtures::rid(),
            party_id: party.id.clone(),
            format: pb::StatementFormat::Csv as i32,
            content: b"booking_date,direction,amount,currency,remittance\n2024-03-20,CREDIT,500.00,USD,CR-1\n".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let void = json(
        app,
        &[
            "statements",
            "void",
            &statement.id,
            "--reason",
            "imported for the wrong firm",
        ],
    )
    .await;
    assert_eq!(void["void_reason"], "imported for the wrong firm");
    assert!(!void["void_time"].as_str().unwrap().is_empty());
}

/// `audit verify --checkpoints` checks the chain against the file the
/// server appends its signed checkpoints to: intact at first; once the
/// stored checkpoints are deleted behind the server's back, the kept ones
/// find it (exit 4, each checkpoint named).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_checks_the_kept_checkpoints() {
    let keys = repat_tests::security::KeyDir::new();
    let (checkpoint_key, _) = repat_tests::security::ed25519_pair();
    let key = keys.write("checkpoint.pem", &checkpoint_key);
    let file = keys.dir.join("checkpoints.jsonl");
    let app = repat_tests::spawn_with(Backend::Sqlite, |s| {
        s.audit_checkpoint_key_file = Some(key);
        s.audit_checkpoint_interval_secs = 1;
        s.audit_checkpoint_file = Some(file.clone());
    })
    .await
    .expect("sqlite is always available");
    app.create_firm("Kept Ltd").await;
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&file).map_or(true, |t| t.trim().is_empty()) {
        assert!(
            started.elapsed().as_secs() < 30,
            "no checkpoint was published"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let sound = json(&app, &["audit", "verify", "--checkpoints", s(&file)]).await;
    assert_eq!(sound["intact"], true, "{sound}");
    assert!(
        sound["checkpoints_checked"].as_i64().unwrap() >= 1,
        "{sound}"
    );

    app.execute_sql("DELETE FROM audit_checkpoints").await;
    let o = run(
        &app,
        &[
            "audit",
            "verify",
            "--checkpoints",
            s(&file),
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let broken: Value = serde_json::from_str(&stdout(&o)).expect("JSON output");
    assert_eq!(broken["intact"], false, "{broken}");
    assert!(
        broken["checkpoint_problems"]
            .as_str()
            .is_some_and(|p| p.contains("removed")),
        "{broken}"
    );
    // A file that is not checkpoints is refused, naming the line.
    let bad = keys.write("bad.jsonl", "{\"sequence\": 1}\n");
    let o = run(&app, &["audit", "verify", "--checkpoints", s(&bad)]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
    app.finish().await;
}
