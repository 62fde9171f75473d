//! Reconciliation benchmark: the pure matcher on generated books of N
//! invoices and about N credits (exact payments by reference, fees deducted
//! abroad, converted credits, instalments, bulk payments, strays and unpaid
//! invoices mixed), at 10,000, 100,000 and 1,000,000, with how the time
//! grows; then the rate at which a large generated camt.053 is read, and
//! the rate at which a running service imports one (`ImportStatement` on
//! SQLite: read, checked, stored with its entries and audit record in one
//! transaction) beside a plain XML parse of the same file (`roxmltree`,
//! counting the entries: the floor any reader stands on).
//!
//! ```sh
//! cargo run --release -p repat-bench --bin recon-bench -- [--matching-only] [N ...]
//! ```
//! N: books of N invoices (and about 1.1 N credits) to match, each the best
//! of three runs. Default: 10000 100000 1000000. `--matching-only` leaves
//! out the statement reading and import (for profiling the matcher).

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use chrono::NaiveDate;
use repat_core::journey::FxRate;
use repat_core::reconcile::matcher::CreditState;
use repat_core::reconcile::{
    Credit, Entry, Invoice, Outcome, StatementFormat, Tolerances, reconcile,
};
use repat_core::{Currency, Money};
use rust_decimal::Decimal;
use uuid::Uuid;

/// A small linear congruential generator: reproducible, no extra crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn generate(n: usize) -> (Vec<Invoice>, Vec<Credit>) {
    let mut rng = Lcg(0x2545_f491_4f6c_dd1d);
    let currencies = ["USD", "EUR", "GBP"].map(|c| Currency::from_code(c).unwrap());
    let bdt = Currency::from_code("BDT").unwrap();
    let start = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    let parties = (n / 50).max(1);
    let mut invoices = Vec::with_capacity(n);
    let mut credits = Vec::with_capacity(n + n / 10);
    let mut next_credit = 0u128;
    let mut credit =
        |party: Uuid, amount: Money, date: NaiveDate, text: String, fx: Option<FxRate>| {
            next_credit += 1;
            let mut e = Entry::credit(0, amount, date);
            e.remittance = text;
            e.fx_rate = fx;
            Credit {
                id: Uuid::from_u128(1 << 64 | next_credit),
                party,
                entry: e,
                state: CreditState::Open,
            }
        };
    for k in 0..n {
        let party = Uuid::from_u128((k % parties) as u128 + 1);
        let cur = currencies[k % 3];
        let cents = 10_000 + (rng.next() % 5_000_000) as i64;
        let amount = Money::new(Decimal::new(cents, 2), cur).unwrap();
        let date = start + chrono::Days::new(rng.next() % 600);
        let paid_on = date + chrono::Days::new(5 + rng.next() % 60);
        let reference = format!("INV-{k}");
        invoices.push(Invoice {
            id: Uuid::from_u128(k as u128 + 1),
            party,
            amount,
            invoice_date: date,
            references: vec![reference.clone()],
            realized: Decimal::ZERO,
            journey_rates: vec![],
            payer: format!("Client {}", k % 7),
        });
        let fee = Decimal::new((rng.next() % 4_000) as i64, 2);
        let money = |v: Decimal| Money::new(v.round_dp(cur.minor_units()), cur).unwrap();
        match k % 10 {
            0..=3 => credits.push(credit(
                party,
                amount,
                paid_on,
                format!("Invoice {reference}"),
                None,
            )),
            4 => credits.push(credit(
                party,
                money(amount.amount() - fee),
                paid_on,
                "payment".into(),
                None,
            )),
            5 => {
                let rate = Decimal::new(11_000 + (rng.next() % 2_000) as i64, 2);
                let booked = Money::new(((amount.amount() - fee) * rate).round_dp(2), bdt).unwrap();
                credits.push(credit(
                    party,
                    booked,
                    paid_on,
                    String::new(),
                    Some(FxRate {
                        source: cur,
                        target: bdt,
                        rate,
                    }),
                ));
            }
            6 => {
                let half = money(amount.amount() / Decimal::TWO);
                credits.push(credit(
                    party,
                    half,
                    paid_on,
                    format!("{reference} 1/2"),
                    None,
                ));
                credits.push(credit(
                    party,
                    money(amount.amount() - half.amount() - fee),
                    paid_on + chrono::Days::new(30),
                    format!("{reference} 2/2"),
                    None,
                ));
            }
            // A bulk payment of this invoice and the next (whose own mode
            // is then a stray credit or an unpaid invoice).
            7 => credits.push(credit(
                party,
                money(amount.amount() * Decimal::TWO),
                paid_on,
                format!("{reference}/INV-{}", k + 1),
                None,
            )),
            8 => credits.push(credit(
                party,
                money(Decimal::new(1 + (rng.next() % 9_999) as i64, 2)),
                paid_on,
                "refund".into(),
                None,
            )),
            _ => {}
        }
    }
    (invoices, credits)
}

/// Runs of each size; the best is shown.
const RUNS: usize = 3;

/// How much more than in proportion the matching time may grow from one
/// size to the next (x11 for x10).
const GROWTH_AIM: f64 = 1.1;

/// A digest of everything an outcome says, so that runs of two builds can
/// be compared: the same digest, the same matches and exceptions.
fn digest(o: &Outcome) -> u64 {
    use std::hash::Hasher;
    struct Digest(std::hash::DefaultHasher);
    impl std::fmt::Write for Digest {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    let mut d = Digest(std::hash::DefaultHasher::new());
    for m in &o.matches {
        let _ = write!(d, "{m:?}");
    }
    for e in &o.exceptions {
        let _ = write!(d, "{e:?}");
    }
    d.0.finish()
}

fn seconds(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// A camt.053.001.08 of `n` credits, as a bank would send it.
fn camt053(n: usize) -> String {
    let mut s = String::with_capacity(n * 800);
    s.push_str(r#"<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>BENCH-1</MsgId><CreDtTm>2024-04-11T07:15:00+06:00</CreDtTm></GrpHdr><Stmt><Id>BENCH</Id><Acct><Id><IBAN>BD00CIBL1234567890123456</IBAN></Id><Ccy>BDT</Ccy></Acct>"#);
    for k in 0..n {
        let _ = write!(
            s,
            "\n<Ntry><Amt Ccy=\"BDT\">{}.{:02}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2024-04-10</Dt></BookgDt><ValDt><Dt>2024-04-10</Dt></ValDt><AcctSvcrRef>B-{k}</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>E2E-{k}</EndToEndId><UETR>8a562c67-ca16-48ba-b074-{k:012}</UETR></Refs><AmtDtls><InstdAmt><Amt Ccy=\"USD\">{}.00</Amt><CcyXchg><SrcCcy>USD</SrcCcy><TrgtCcy>BDT</TrgtCcy><XchgRate>110.00</XchgRate></CcyXchg></InstdAmt></AmtDtls><RltdPties><Dbtr><Pty><Nm>Client {k}</Nm></Pty></Dbtr></RltdPties><RmtInf><Ustrd>Invoice INV-{k}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>",
            110 * (100 + k % 9000),
            k % 100,
            100 + k % 9000
        );
    }
    s.push_str("</Stmt></BkToCstmrStmt></Document>");
    s
}

/// Most entries of the file imported through the service (about 15 MB).
const IMPORTED: usize = 20_000;

/// Seconds a running service (SQLite in a temporary directory) takes to
/// import `xml`, of `entries` entries, for a party holding its account.
async fn service_import(xml: &str, entries: usize) -> anyhow::Result<f64> {
    use repat_proto::v1 as pb;
    let dir = std::env::temp_dir().join(format!("repat-recon-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let mut settings =
        repatd::Settings::ephemeral(format!("sqlite:{}", dir.join("bench.db").display()));
    settings.max_message_bytes = 64 << 20;
    settings.request_timeout_secs = 600;
    let server = repatd::start(&settings).await?;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))?
        .connect()
        .await?;
    let account = pb::BankAccount {
        bank_bic: "CIBLBDDH".into(),
        account_number: "BD00CIBL1234567890123456".into(),
        currency: "BDT".into(),
        ..Default::default()
    };
    let party = pb::Party {
        kind: pb::PartyKind::Firm as i32,
        legal_name: "Bench Soft Ltd".into(),
        country: "BD".into(),
        bank_accounts: vec![account],
        ..Default::default()
    };
    let party = pb::party_service_client::PartyServiceClient::new(channel.clone())
        .create_party(pb::CreatePartyRequest {
            request_id: Uuid::new_v4().to_string(),
            party: Some(party),
        })
        .await?
        .into_inner();
    let mut recon = pb::reconciliation_service_client::ReconciliationServiceClient::new(channel)
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(64 << 20);
    let request = pb::ImportStatementRequest {
        request_id: Uuid::new_v4().to_string(),
        party_id: party.id,
        format: pb::StatementFormat::Camt053 as i32,
        content: xml.as_bytes().to_vec(),
        charset: String::new(),
    };
    let started = Instant::now();
    let stored = recon.import_statement(request).await?.into_inner();
    let t = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        stored.entries.len() == entries,
        "{} entries stored",
        stored.entries.len()
    );
    server.stop().await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(t)
}

fn rate_line(what: &str, entries: usize, bytes: usize, t: f64) {
    println!(
        "{what:<34} {entries:>7} entries {:>6.1} MB {t:>8.3}s {:>9.0} entries/s {:>7.1} MB/s",
        bytes as f64 / 1e6,
        entries as f64 / t,
        bytes as f64 / 1e6 / t
    );
}

fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let matching_only = std::env::args().any(|a| a == "--matching-only");
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    // The files scale with the books: at the default sizes, 100,000
    // entries read and 20,000 imported; small runs (CI) stay small.
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let entries = (largest / 10).clamp(100, 100_000);
    let imported = (largest / 50).clamp(100, IMPORTED);
    let tol = Tolerances::default();
    println!(
        "{:>10} {:>10} {:>9} {:>9} {:>11} {:>10} {:>12}  {:<16}",
        "invoices",
        "credits",
        "matches",
        "excepts",
        "match time",
        "ns/invoice",
        "vs previous",
        "outcome digest"
    );
    let mut previous: Option<(usize, f64)> = None;
    let mut growth_line = None;
    for n in sizes {
        let (invoices, credits) = generate(n);
        // The best of a few runs: the machine is shared, and the growth
        // below compares two sizes timed under whatever load each met.
        let mut outcome = None;
        let t = (0..RUNS)
            .map(|_| {
                drop(outcome.take());
                seconds(|| {
                    outcome = Some(reconcile(black_box(&invoices), black_box(&credits), &tol))
                })
            })
            .fold(f64::INFINITY, f64::min);
        let o = outcome.unwrap_or_default();
        let growth = previous.map_or(String::from("-"), |(m, p)| {
            format!("x{:.1} for x{:.0}", t / p, n as f64 / m as f64)
        });
        println!(
            "{n:>10} {:>10} {:>9} {:>9} {:>10.3}s {:>10.0} {:>12}  {:016x}",
            credits.len(),
            o.matches.len(),
            o.exceptions.len(),
            t,
            t * 1e9 / n as f64,
            growth,
            digest(&o)
        );
        if let Some((m, p)) = previous {
            let scale = n as f64 / m as f64;
            growth_line = Some(format!(
                "growth {n} / {m}: x{:.1} for x{scale:.0} (aim: at most x{:.1}); {t:.3}s / {p:.3}s",
                t / p,
                scale * GROWTH_AIM
            ));
        }
        previous = Some((n, t));
    }
    if let Some(line) = growth_line {
        println!("{line}");
    }
    if matching_only {
        return Ok(());
    }

    let xml = camt053(entries);
    let mut read = 0;
    let t = seconds(|| {
        read = repat_statements::parse(StatementFormat::Camt053, black_box(xml.as_bytes()))
            .map(|s| s.iter().map(|s| s.entries.len()).sum::<usize>())
            .unwrap_or(0)
    });
    assert_eq!(read, entries);
    rate_line("camt.053 read (repat-statements)", entries, xml.len(), t);

    // The service's import beside a plain XML parse of the same file.
    let xml = camt053(imported);
    let mut counted = 0;
    let plain = seconds(|| {
        counted = roxmltree::Document::parse(black_box(&xml))
            .map(|d| {
                d.descendants()
                    .filter(|n| {
                        n.has_tag_name(("urn:iso:std:iso:20022:tech:xsd:camt.053.001.08", "Ntry"))
                    })
                    .count()
            })
            .unwrap_or(0)
    });
    assert_eq!(counted, imported);
    let service = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(service_import(&xml, imported))?;
    rate_line("plain XML parse (roxmltree)", imported, xml.len(), plain);
    rate_line(
        "service ImportStatement (SQLite)",
        imported,
        xml.len(),
        service,
    );
    println!(
        "service import / plain parse: {:.1}x the time",
        service / plain
    );
    Ok(())
}
