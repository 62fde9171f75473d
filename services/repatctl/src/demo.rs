//! `demo generate`: a made-up but plausible year of Bangladeshi software
//! and IT-services exports, as the CSV files the imports read: firms and
//! freelancers, invoices to clients in several corridors, payments by bank
//! (through correspondents, with fees) and by platform, some late, some
//! returned, some still in flight, and incentive claims at every stage,
//! with the documents each claim needs.
//!
//! The same seed always gives the same files (a small generator of our
//! own, so the output does not change with a dependency's version).

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde_json::json;

use crate::output::Report;

/// SplitMix64: small, fast, and stable across versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// In `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    /// Seconds, spread log-uniformly between `lo` and `hi`: waits are
    /// mostly short with a long tail, as payments are.
    fn wait(&mut self, lo: i64, hi: i64) -> Duration {
        let (a, b) = ((lo.max(1) as f64).ln(), (hi.max(2) as f64).ln());
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        Duration::seconds((a + (b - a) * u).exp().round() as i64)
    }
}

const PLACES: &[&str] = &[
    "Padma",
    "Meghna",
    "Jamuna",
    "Karnaphuli",
    "Surma",
    "Teesta",
    "Buriganga",
    "Rupsha",
    "Gorai",
    "Dhaleshwari",
    "Kushiyara",
    "Sylhet",
    "Chattogram",
    "Rajshahi",
    "Khulna",
    "Barishal",
    "Cumilla",
    "Sundarban",
    "Bogura",
    "Mymensingh",
    "Lalbagh",
    "Gulshan",
    "Banani",
    "Uttara",
];
const TRADES: &[&str] = &[
    "Soft",
    "Tech",
    "Data",
    "Digital",
    "Systems",
    "Labs",
    "Solutions",
    "IT",
    "Cloud",
    "Analytics",
    "Apps",
    "Code Works",
];
const FIRST_NAMES: &[&str] = &[
    "Rahim", "Karim", "Nusrat", "Farhana", "Tanvir", "Sadia", "Arif", "Mitu", "Rafiq", "Shirin",
    "Imran", "Sumaiya", "Hasan", "Jannat", "Fahim", "Tania", "Sabbir", "Rumana", "Shakil", "Anika",
];
const SURNAMES: &[&str] = &[
    "Ahmed",
    "Hossain",
    "Islam",
    "Rahman",
    "Chowdhury",
    "Khan",
    "Akter",
    "Uddin",
    "Sarkar",
    "Das",
    "Roy",
    "Begum",
    "Talukder",
    "Mia",
];
/// Banks at home, by BIC.
const BANKS: &[&str] = &[
    "BRAKBDDH", "EBLDBDDH", "DBBLBDDH", "CIBLBDDH", "PRBLBDDH", "SCBLBDDX", "MTBLBDDH",
];
/// A corridor: country, currency, clients, correspondents, and the range of
/// BDT per unit in poisha.
type Corridor = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    (i64, i64),
);

const CORRIDORS: &[Corridor] = &[
    (
        "US",
        "USD",
        &[
            "Hudson Retail Inc",
            "Lakeview Health LLC",
            "Brightpath Logistics",
            "Cedar Analytics Inc",
        ],
        &["CITIUS33", "CHASUS33", "BOFAUS3N"],
        (11_700, 12_200),
    ),
    (
        "GB",
        "GBP",
        &["Thames Insurance Ltd", "Northgate Media Ltd"],
        &["HSBCGB2L", "BARCGB22"],
        (14_800, 15_300),
    ),
    (
        "DE",
        "EUR",
        &["Rheinwerk GmbH", "Isar Mobility GmbH"],
        &["DEUTDEFF", "COBADEFF"],
        (12_700, 13_200),
    ),
    (
        "SE",
        "USD",
        &["Nordic Retail AB", "Malmo Fintech AB"],
        &["ESSESESS", "CITIUS33"],
        (11_700, 12_200),
    ),
    (
        "SG",
        "USD",
        &["Marina Payments Pte Ltd", "Orchard Games Pte Ltd"],
        &["DBSSSGSG"],
        (11_700, 12_200),
    ),
    (
        "AE",
        "USD",
        &["Gulf Trading FZE", "Creek Travel LLC"],
        &["EBILAEAD"],
        (11_700, 12_200),
    ),
    (
        "AU",
        "USD",
        &["Harbour Education Pty Ltd"],
        &["ANZBAU3M", "CITIUS33"],
        (11_700, 12_200),
    ),
];
const MARKETPLACES: &[&str] = &["Upwork", "Fiverr", "Toptal", "Freelancer.com"];

fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

struct Party {
    key: String,
    name: String,
    firm: bool,
    excluded: bool,
    bank: &'static str,
}

struct Writers {
    parties: csv::Writer<std::fs::File>,
    earnings: csv::Writer<std::fs::File>,
    repatriations: csv::Writer<std::fs::File>,
    steps: csv::Writer<std::fs::File>,
    claims: csv::Writer<std::fs::File>,
    documents: csv::Writer<std::fs::File>,
}

/// Marketplaces the shipped rules recognise for the simplified route.
const RECOGNISED: &[&str] = &["Upwork", "Fiverr"];

/// A document row: party, kind, reference, issue_date, issuer, earning,
/// repatriation, valid_from, valid_until.
type DocumentRow = [String; 9];

fn document(
    party: &str,
    kind: &str,
    reference: &str,
    issued: NaiveDate,
    issuer: &str,
) -> DocumentRow {
    let mut row = DocumentRow::default();
    (row[0], row[1], row[2], row[3], row[4]) = (
        party.into(),
        kind.into(),
        reference.into(),
        issued.to_string(),
        issuer.into(),
    );
    row
}

/// A step row: repatriation, kind, occurred_at, institution_bic, amount,
/// currency, fee_amount, fee_kind, fx_rate, reason_code, note,
/// fee_charged_by.
type StepRow = [String; 12];

fn step(r: &str, kind: &str, t: DateTime<Utc>) -> StepRow {
    let mut row = StepRow::default();
    (row[0], row[1], row[2]) = (r.into(), kind.into(), at(t));
    row
}

pub fn generate(dir: &Path, party_count: usize, seed: u64) -> anyhow::Result<Report> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let open = |name: &str| {
        csv::Writer::from_path(dir.join(name))
            .with_context(|| format!("writing {}", dir.join(name).display()))
    };
    let mut w = Writers {
        parties: open("parties.csv")?,
        earnings: open("earnings.csv")?,
        repatriations: open("repatriations.csv")?,
        steps: open("steps.csv")?,
        claims: open("claims.csv")?,
        documents: open("documents.csv")?,
    };
    w.parties.write_record([
        "key",
        "kind",
        "legal_name",
        "country",
        "zone",
        "association",
        "membership_number",
        "bank_bic",
        "account_number",
        "account_currency",
    ])?;
    w.earnings.write_record([
        "party",
        "client_name",
        "client_country",
        "service_category",
        "amount",
        "currency",
        "invoice_date",
        "due_date",
        "invoice_reference",
        "marketplace",
    ])?;
    w.repatriations
        .write_record(["key", "party", "earnings", "channel", "payer_country"])?;
    w.steps.write_record([
        "repatriation",
        "kind",
        "occurred_at",
        "institution_bic",
        "amount",
        "currency",
        "fee_amount",
        "fee_kind",
        "fx_rate",
        "reason_code",
        "note",
        "fee_charged_by",
    ])?;
    w.documents.write_record([
        "party",
        "kind",
        "reference",
        "issue_date",
        "issuer",
        "earning",
        "repatriation",
        "valid_from",
        "valid_until",
    ])?;
    w.claims.write_record([
        "repatriation",
        "filed_at",
        "audited_at",
        "disbursed_at",
        "rejected_at",
        "reason",
    ])?;

    let mut rng = Rng(seed);
    let mut counts = [0usize; 6];
    let mut names = std::collections::HashSet::new();
    let mut parties = Vec::new();
    for i in 0..party_count {
        let firm = i % 8 < 5; // five firms to three freelancers
        let key = if firm {
            format!("firm-{:03}", i + 1)
        } else {
            format!("freelancer-{:03}", i + 1)
        };
        let mut name = if firm {
            format!("{} {} Ltd", rng.pick(PLACES), rng.pick(TRADES))
        } else {
            format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(SURNAMES))
        };
        // Legal names are told apart the way registries do.
        let mut n = 2;
        while !names.insert(name.clone()) {
            name = format!(
                "{} ({n})",
                name.trim_end_matches(|c: char| c == ')' || c.is_ascii_digit())
                    .trim_end_matches(" (")
                    .trim_end()
            );
            n += 1;
        }
        let excluded = firm && rng.chance(8);
        let zone = if excluded {
            *rng.pick(&["HI_TECH_PARK", "EPZ"])
        } else {
            "NONE"
        };
        let bank = *rng.pick(BANKS);
        let (association, number) = if firm && rng.chance(70) {
            ("BASIS".to_string(), format!("G-{}", rng.range(1000, 2999)))
        } else {
            (String::new(), String::new())
        };
        let account = format!("{}", rng.range(1_000_000_000_000, 9_999_999_999_999));
        let currency = if firm && rng.chance(40) { "USD" } else { "BDT" };
        w.parties.write_record([
            key.as_str(),
            if firm { "FIRM" } else { "FREELANCER" },
            &name,
            "BD",
            zone,
            &association,
            &number,
            bank,
            &account,
            currency,
        ])?;
        counts[0] += 1;
        parties.push(Party {
            key,
            name,
            firm,
            excluded,
            bank,
        });
    }

    let start = NaiveDate::from_ymd_opt(2024, 1, 1).context("date")?;
    // The first firm's invoices, for the bank statement written last.
    let mut statement_invoices: Vec<(String, &'static str, i64, NaiveDate)> = Vec::new();
    for p in &parties {
        let invoices = if p.firm {
            rng.range(2, 5)
        } else {
            rng.range(1, 3)
        };
        let mut pending: Vec<Invoice> = Vec::new();
        let mut statements: Vec<&str> = Vec::new();
        for n in 0..invoices {
            let &(country, currency, clients, correspondents, fx) = rng.pick(CORRIDORS);
            let client = *rng.pick(clients);
            let amount = if p.firm {
                rng.range(200_000, 8_000_000)
            } else {
                rng.range(15_000, 450_000)
            };
            let invoice_date = start + Duration::days(rng.range(0, 450));
            let due = invoice_date + Duration::days(*rng.pick(&[15, 30, 45, 60]));
            let reference = format!("INV-{}-{:04}", invoice_date.format("%Y"), n + 1);
            let (category, marketplace) = if p.firm {
                (*rng.pick(&["SOFTWARE", "SOFTWARE", "ITES"]), "")
            } else {
                (*rng.pick(&["SOFTWARE", "ITES"]), *rng.pick(MARKETPLACES))
            };
            w.earnings.write_record([
                p.key.as_str(),
                client,
                country,
                category,
                &cents(amount),
                currency,
                &invoice_date.to_string(),
                &due.to_string(),
                &reference,
                marketplace,
            ])?;
            counts[1] += 1;
            // The papers of the invoice: the invoice itself and, except
            // where a recognised marketplace's earnings statement serves
            // instead (freelancers paid in USD through one), the contract
            // or work order. The documents draw nothing from the
            // generator, so the other files stay as they were.
            let mut papers = vec![document(
                &p.key,
                "INVOICE",
                &reference,
                invoice_date,
                &p.name,
            )];
            if !p.firm && currency == "USD" && RECOGNISED.contains(&marketplace) {
                if !statements.contains(&marketplace) {
                    statements.push(marketplace);
                    let mut statement = document(
                        &p.key,
                        "MARKETPLACE_EARNINGS_STATEMENT",
                        &format!("{}-{}", marketplace.to_uppercase(), p.key),
                        start,
                        marketplace,
                    );
                    (statement[7], statement[8]) = ("2024-01-01".into(), "2025-12-31".into());
                    papers.push(statement);
                }
            } else {
                papers.push(document(
                    &p.key,
                    "CONTRACT_OR_WORK_ORDER",
                    &format!("WO-{reference}"),
                    invoice_date - Duration::days(21),
                    client,
                ));
            }
            for mut d in papers {
                if d[1] != "MARKETPLACE_EARNINGS_STATEMENT" {
                    d[5] = reference.clone();
                }
                w.documents.write_record(&d)?;
                counts[5] += 1;
            }
            if p.firm
                && parties
                    .iter()
                    .find(|q| q.firm)
                    .is_some_and(|first| first.key == p.key)
            {
                statement_invoices.push((reference.clone(), currency, amount, invoice_date));
            }
            pending.push(Invoice {
                reference,
                country,
                currency,
                amount,
                date: invoice_date,
                correspondents,
                fx,
                marketplace: !marketplace.is_empty(),
            });
        }
        // A firm sometimes has one payment cover two invoices of the same
        // client currency; a few invoices are never paid.
        let mut i = 0;
        while i < pending.len() {
            let mut covered = vec![i];
            if p.firm
                && i + 1 < pending.len()
                && pending[i + 1].currency == pending[i].currency
                && pending[i + 1].country == pending[i].country
                && rng.chance(30)
            {
                covered.push(i + 1);
            }
            i += covered.len();
            if rng.chance(4) {
                continue; // never paid: it shows up as late
            }
            let first = &pending[covered[0]];
            let key = format!("{}/PAY-{}", p.key, first.reference);
            let invoice_date = covered
                .iter()
                .map(|&c| pending[c].date)
                .min()
                .unwrap_or(first.date);
            let amount: i64 = covered.iter().map(|&c| pending[c].amount).sum();
            let platform = !p.firm && first.marketplace && rng.chance(75);
            let refs = covered
                .iter()
                .map(|&c| pending[c].reference.clone())
                .collect::<Vec<_>>()
                .join(";");
            w.repatriations.write_record([
                key.as_str(),
                &p.key,
                &refs,
                if platform { "PLATFORM" } else { "BANK" },
                first.country,
            ])?;
            counts[2] += 1;
            let journey = Journey {
                key: &key,
                party: p,
                invoice_date,
                amount,
                currency: first.currency,
                correspondents: first.correspondents,
                fx: first.fx,
                platform,
            };
            let (steps, claim) = journey.steps(&mut rng);
            for s in &steps {
                w.steps.write_record(s)?;
                counts[3] += 1;
            }
            if let Some(c) = claim {
                // A claim needs the bank's PRC: where the bank reported no
                // PRC_ISSUED step, the firm holds the certificate itself.
                if !steps.iter().any(|s| s[1] == "PRC_ISSUED")
                    && let Some(converted) = steps.iter().find(|s| s[1] == "CONVERTED_TO_BDT")
                {
                    let on = converted[2]
                        .parse::<DateTime<Utc>>()
                        .context("a generated instant")?
                        .date_naive()
                        + Duration::days(2);
                    let mut prc = document(
                        &p.key,
                        "PROCEEDS_REALIZATION_CERTIFICATE",
                        &format!("PRC-{}", first.reference),
                        on,
                        p.bank,
                    );
                    prc[6] = key.clone();
                    w.documents.write_record(&prc)?;
                    counts[5] += 1;
                }
                w.claims.write_record(&c)?;
                counts[4] += 1;
            }
        }
    }
    for f in [
        &mut w.parties,
        &mut w.earnings,
        &mut w.repatriations,
        &mut w.steps,
        &mut w.claims,
        &mut w.documents,
    ] {
        f.flush()?;
    }
    let statement_rows = statement(&dir.join("statement.csv"), &statement_invoices)?;
    let counts = [
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[5],
        counts[4],
        statement_rows,
    ];
    let files = [
        "parties.csv",
        "earnings.csv",
        "repatriations.csv",
        "steps.csv",
        "documents.csv",
        "claims.csv",
        "statement.csv",
    ];
    let rows = files
        .iter()
        .zip(counts)
        .map(|(f, n)| {
            vec![
                crate::output::text(dir.join(f).display().to_string()),
                crate::output::v(json!(n)),
            ]
        })
        .collect();
    Ok(Report::default().table("files", &["file", "rows"], rows))
}

/// The first firm's bank statement (the statement CSV format): a credit for
/// each invoice, 25.00 short for the correspondent's fee and naming the
/// invoice; a credit nothing was invoiced for; and the account's fee, a
/// debit. Reconciling it matches the invoices and explains the stranger.
/// Written from the invoices alone (no draws), so the other files stay as
/// they were.
fn statement(
    path: &Path,
    invoices: &[(String, &'static str, i64, NaiveDate)],
) -> anyhow::Result<usize> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record([
        "booking_date",
        "value_date",
        "direction",
        "amount",
        "currency",
        "reference",
        "remittance",
        "counterparty",
        "charges",
    ])?;
    let mut rows = 0;
    let mut last = None;
    for (n, (reference, currency, amount, date)) in invoices.iter().enumerate() {
        let booked = *date + Duration::days(35 + 3 * n as i64);
        let remittance = format!("Payment of invoice {reference}");
        w.write_record([
            booked.to_string().as_str(),
            &booked.to_string(),
            "CREDIT",
            &cents(amount - 2500),
            currency,
            &format!("DEMO-{:05}", n + 1),
            &remittance,
            "Client abroad",
            "25.00",
        ])?;
        rows += 1;
        last = Some((booked, *currency));
    }
    if let Some((booked, currency)) = last {
        let later = (booked + Duration::days(9)).to_string();
        w.write_record([
            later.as_str(),
            &later,
            "CREDIT",
            "1234.56",
            currency,
            "DEMO-90001",
            "TRANSFER",
            "Unknown Trading FZE",
            "",
        ])?;
        let month_end = (booked + Duration::days(12)).to_string();
        w.write_record([
            month_end.as_str(),
            &month_end,
            "DEBIT",
            "5.00",
            currency,
            "DEMO-90002",
            "Account maintenance fee",
            "",
            "",
        ])?;
        rows += 2;
    }
    w.flush()?;
    Ok(rows)
}

/// One invoice, kept until its payment is written.
struct Invoice {
    reference: String,
    country: &'static str,
    currency: &'static str,
    amount: i64,
    date: NaiveDate,
    correspondents: &'static [&'static str],
    fx: (i64, i64),
    marketplace: bool,
}

struct Journey<'a> {
    key: &'a str,
    party: &'a Party,
    invoice_date: NaiveDate,
    amount: i64,
    currency: &'static str,
    correspondents: &'static [&'static str],
    fx: (i64, i64),
    platform: bool,
}

impl Journey<'_> {
    /// The steps of the journey and, when the exporter claims, its claim row.
    fn steps(&self, rng: &mut Rng) -> (Vec<StepRow>, Option<[String; 6]>) {
        let r = self.key;
        let mut out = Vec::new();
        let invoiced = self
            .invoice_date
            .and_hms_opt(4, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default();
        if rng.chance(60) {
            out.push(step(r, "INVOICE_ISSUED", invoiced));
        }
        // Most clients pay within terms; some are very late.
        let late = rng.chance(7);
        let mut t = invoiced
            + if late {
                Duration::days(rng.range(125, 200))
            } else {
                Duration::days(rng.range(5, 70))
            }
            + Duration::seconds(rng.range(0, 36_000));
        let mut initiated = step(r, "PAYMENT_INITIATED", t);
        initiated[4] = cents(self.amount);
        initiated[5] = self.currency.into();
        out.push(initiated);
        // Still on its way (no further step yet).
        if rng.chance(3) {
            return (out, None);
        }
        let mut credited = self.amount;
        if self.platform {
            t += rng.wait(60, 4 * 3600);
            out.push(step(r, "PLATFORM_RECEIVED", t));
            // The freelancer decides when to withdraw.
            t += rng.wait(3600, 12 * 86_400);
            let mut withdrawn = step(r, "PLATFORM_WITHDRAWN", t);
            let fee = 300.min(credited / 50);
            withdrawn[6] = cents(fee);
            withdrawn[5] = self.currency.into();
            withdrawn[7] = "PLATFORM".into();
            withdrawn[11] = (*rng.pick(&["Payoneer", "Upwork", "Fiverr"])).into();
            credited -= fee;
            out.push(withdrawn);
        } else {
            let hops = if rng.chance(25) {
                0
            } else if rng.chance(80) {
                1
            } else {
                2
            };
            for _ in 0..hops {
                t += rng.wait(600, 30 * 3600);
                let mut hop = step(r, "INTERMEDIARY_PROCESSED", t);
                hop[3] = (*rng.pick(self.correspondents)).into();
                let fee = rng.range(10, 35) * 100;
                hop[5] = self.currency.into();
                hop[6] = cents(fee);
                hop[7] = "CORRESPONDENT".into();
                credited -= fee;
                out.push(hop);
                // A few are sent back: a closed account, a wrong number.
                if rng.chance(4) {
                    t += rng.wait(3600, 3 * 86_400);
                    let mut returned = step(r, "RETURNED", t);
                    returned[9] = (*rng.pick(&["AC01", "AC04", "AC06"])).into();
                    returned[10] = "returned by the beneficiary bank".into();
                    out.push(returned);
                    return (out, None);
                }
            }
        }
        t += if self.platform {
            rng.wait(3600, 3 * 86_400)
        } else {
            rng.wait(300, 20 * 3600)
        };
        let mut nostro = step(r, "NOSTRO_CREDITED", t);
        nostro[3] = self.party.bank.into();
        out.push(nostro);
        t += rng.wait(120, 2 * 86_400);
        let mut credit = step(r, "BENEFICIARY_CREDITED", t);
        credit[3] = self.party.bank.into();
        credit[4] = cents(credited);
        credit[5] = self.currency.into();
        out.push(credit);
        t += rng.wait(60, 2 * 86_400);
        let mut converted = step(r, "CONVERTED_TO_BDT", t);
        converted[3] = self.party.bank.into();
        converted[4] = cents(credited);
        converted[5] = self.currency.into();
        converted[8] = cents(rng.range(self.fx.0, self.fx.1));
        out.push(converted);
        if rng.chance(85) {
            t += rng.wait(86_400 / 2, 10 * 86_400);
            let mut prc = step(r, "PRC_ISSUED", t);
            prc[3] = self.party.bank.into();
            out.push(prc);
        }
        // Claims: only where the incentive is due (in time, through a bank,
        // outside the excluded zones), and not by everyone.
        if late || self.platform || self.party.excluded || !rng.chance(55) {
            return (out, None);
        }
        let filed = t + Duration::days(rng.range(3, 60)) + Duration::seconds(rng.range(0, 20_000));
        let mut claim = [
            r.to_string(),
            at(filed),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
        if rng.chance(70) {
            let audited = filed + Duration::days(rng.range(10, 45));
            claim[2] = at(audited);
            if rng.chance(8) {
                claim[4] = at(audited + Duration::days(rng.range(1, 10)));
                claim[5] = "export proceeds could not be matched to the invoice".into();
            } else if rng.chance(75) {
                claim[3] = at(audited + Duration::days(rng.range(7, 40)));
            }
        }
        (out, Some(claim))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_same_seed_gives_the_same_files() {
        let dir = |n: &str| {
            std::env::temp_dir().join(format!("repatctl-demo-{n}-{}", uuid::Uuid::new_v4()))
        };
        let (a, b) = (dir("a"), dir("b"));
        super::generate(&a, 30, 7).unwrap();
        super::generate(&b, 30, 7).unwrap();
        for f in [
            "parties.csv",
            "earnings.csv",
            "repatriations.csv",
            "steps.csv",
            "documents.csv",
            "claims.csv",
            "statement.csv",
        ] {
            assert_eq!(
                std::fs::read(a.join(f)).unwrap(),
                std::fs::read(b.join(f)).unwrap(),
                "{f}"
            );
        }
        let _ = (std::fs::remove_dir_all(a), std::fs::remove_dir_all(b));
    }

    /// The files shipped in demo/ are what `demo generate` writes with its
    /// defaults, so the generator and the data never drift apart.
    #[test]
    fn the_shipped_demo_is_the_generators() {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo");
        let fresh = std::env::temp_dir().join(format!("repatctl-demo-{}", uuid::Uuid::new_v4()));
        super::generate(&fresh, 240, 2024).unwrap();
        for f in [
            "parties.csv",
            "earnings.csv",
            "repatriations.csv",
            "steps.csv",
            "documents.csv",
            "claims.csv",
            "statement.csv",
        ] {
            let same =
                std::fs::read(fresh.join(f)).unwrap() == std::fs::read(shipped.join(f)).unwrap();
            assert!(
                same,
                "demo/{f} differs from `repatctl demo generate demo`: regenerate and commit it"
            );
        }
        let _ = std::fs::remove_dir_all(fresh);
    }
}
