//! Incentive engine benchmark: assessments per second of the pure engine on
//! generated inputs, printed beside the time to merely parse the same inputs
//! (decimal strings and dates, as they arrive over the wire).
//!
//! ```sh
//! cargo run --release -p repat-bench --bin incentive-bench -- [N]
//! ```
//! Default N: 1,000,000.

use std::hint::black_box;
use std::time::Instant;

use chrono::NaiveDate;
use repat_core::Money;
use repat_core::earning::ServiceCategory;
use repat_core::incentive::{Case, RuleSet, assess};
use repat_core::party::{PartyKind, Zone};
use rust_decimal::Decimal;

/// One input as text: amount, currency, fx rate, invoice date, realization date.
struct RawInput {
    amount: String,
    currency: &'static str,
    fx: String,
    invoice: String,
    realized: String,
    freelancer: bool,
}

fn generate(n: usize) -> Vec<RawInput> {
    // A small linear congruential generator: reproducible, no extra crate.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let start = NaiveDate::from_ymd_opt(2018, 1, 1).unwrap();
    (0..n)
        .map(|_| {
            let invoice = start + chrono::Days::new(next() % 2500);
            let realized = invoice + chrono::Days::new(next() % 150);
            let (currency, scale) =
                [("USD", 2), ("EUR", 2), ("GBP", 2), ("JPY", 0)][(next() % 4) as usize];
            RawInput {
                amount: Decimal::new((next() % 5_000_000 + 100) as i64, scale).to_string(),
                currency,
                fx: Decimal::new((next() % 100_000 + 500_000) as i64, 4).to_string(),
                invoice: invoice.to_string(),
                realized: realized.to_string(),
                freelancer: next() % 3 == 0,
            }
        })
        .collect()
}

fn parse(r: &RawInput) -> Case {
    let realized = NaiveDate::parse_from_str(&r.realized, "%Y-%m-%d").expect("generated date");
    Case {
        party_kind: if r.freelancer {
            PartyKind::Freelancer
        } else {
            PartyKind::Firm
        },
        zone: Zone::None,
        category: ServiceCategory::Software,
        formal_channel: true,
        invoice_date: NaiveDate::parse_from_str(&r.invoice, "%Y-%m-%d").expect("generated date"),
        realized_on: Some(realized),
        net_credited: Some(Money::parse_positive(&r.amount, r.currency).expect("generated amount")),
        fx_rate: Some(repat_core::money::parse_rate(&r.fx).expect("generated rate")),
        claim_filed_on: None,
        as_of: realized,
        // The papers of the normal route (the association certificate for
        // the years it was required): every document rule is checked.
        documents: [
            "ASSOCIATION_CERTIFICATE",
            "CONTRACT_OR_WORK_ORDER",
            "INVOICE",
            "PROCEEDS_REALIZATION_CERTIFICATE",
        ]
        .map(String::from)
        .to_vec(),
        recognised_marketplace: true,
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rules = RuleSet::bangladesh();
    let inputs = generate(n);

    let t = Instant::now();
    let cases: Vec<Case> = inputs.iter().map(parse).collect();
    let parse_time = t.elapsed();

    let t = Instant::now();
    let mut eligible = 0usize;
    let mut total = Decimal::ZERO;
    for c in &cases {
        let a = black_box(assess(&rules, c).expect("bounded inputs"));
        eligible += usize::from(a.eligible);
        total += a.incentive_bdt;
    }
    let assess_time = t.elapsed();

    println!("incentive engine benchmark: {n} generated repatriations");
    println!(
        "parse only (amounts, rates, dates): {:>8.3} s  {:>12.0} inputs/s",
        parse_time.as_secs_f64(),
        n as f64 / parse_time.as_secs_f64()
    );
    println!(
        "assess (explained, exact):          {:>8.3} s  {:>12.0} assessments/s",
        assess_time.as_secs_f64(),
        n as f64 / assess_time.as_secs_f64()
    );
    println!(
        "assess / parse time:                {:>8.2}",
        assess_time.as_secs_f64() / parse_time.as_secs_f64()
    );
    println!("eligible: {eligible}; incentive total: BDT {total}");
}
