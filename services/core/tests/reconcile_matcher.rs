//! The matcher: each cardinality and tolerance edge, and properties over
//! generated books (order does not matter; a re-run over the outcome
//! changes nothing; money is neither made nor lost).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use proptest::prelude::*;
use repat_core::journey::FxRate;
use repat_core::reconcile::matcher::CreditState;
use repat_core::reconcile::{
    Credit, Entry, EntryKind, ExceptionReason, Invoice, MatchMethod, Outcome, Subject, Tolerances,
    reconcile,
};
use repat_core::{Currency, Money};
use rust_decimal::Decimal;
use uuid::Uuid;

const PARTY: Uuid = Uuid::from_u128(1);

fn usd(s: &str) -> Money {
    Money::parse(s, "USD").unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn invoice(n: u128, reference: &str, amount: Money, date: &str) -> Invoice {
    Invoice {
        id: Uuid::from_u128(1000 + n),
        party: PARTY,
        amount,
        invoice_date: day(date),
        references: vec![reference.into()],
        realized: Decimal::ZERO,
        journey_rates: vec![],
        payer: String::new(),
    }
}

fn credit(n: u128, amount: Money, date: &str, text: &str) -> Credit {
    let mut entry = Entry::credit(n as u32, amount, day(date));
    entry.remittance = text.into();
    Credit {
        id: Uuid::from_u128(2000 + n),
        party: PARTY,
        entry,
        state: CreditState::Open,
    }
}

fn reason(o: &Outcome, subject: Subject) -> Option<ExceptionReason> {
    o.exceptions
        .iter()
        .find(|x| x.subject == subject)
        .map(|x| x.reason)
}

#[test]
fn one_credit_one_invoice_by_reference_with_the_fee_as_the_gap() {
    let inv = invoice(1, "INV-1", usd("10000.00"), "2024-03-01");
    let c = credit(1, usd("9975.00"), "2024-03-20", "Invoice INV-1, thank you.");
    let o = reconcile(&[inv], &[c], &Tolerances::default());
    let m = &o.matches[0];
    assert_eq!(
        (m.method, m.covered, m.fee_gap, m.days),
        (MatchMethod::Reference, usd("10000.00"), usd("25.00"), 19)
    );
    assert!(o.exceptions.is_empty());
}

#[test]
fn instalments_then_bulk() {
    let tol = Tolerances::default();
    let mut inv = invoice(1, "INV-1", usd("10000.00"), "2024-03-01");
    let o = reconcile(
        &[inv.clone()],
        &[credit(1, usd("4000.00"), "2024-03-20", "INV-1")],
        &tol,
    );
    assert_eq!(o.matches[0].covered, usd("4000.00"));
    inv.realized = Decimal::new(4000, 0);
    let o = reconcile(
        &[inv],
        &[credit(2, usd("5990.00"), "2024-04-20", "INV-1 rest")],
        &tol,
    );
    assert_eq!(
        (o.matches[0].covered, o.matches[0].fee_gap),
        (usd("6000.00"), usd("10.00"))
    );

    let a = invoice(2, "INV-2", usd("1500.00"), "2024-03-01");
    let b = invoice(3, "INV-3", usd("2500.00"), "2024-03-02");
    let o = reconcile(
        &[b, a],
        &[credit(3, usd("3990.00"), "2024-03-20", "INV-2/INV-3")],
        &tol,
    );
    let got: Vec<(Money, Money)> = o.matches.iter().map(|m| (m.covered, m.converted)).collect();
    assert_eq!(
        got,
        [
            (usd("1500.00"), usd("1500.00")),
            (usd("2500.00"), usd("2490.00"))
        ]
    );
}

#[test]
fn tolerance_edges() {
    let tol = Tolerances::default();
    // Absolute allowance 50.00 on 1,000.00; 2% (100.00) on 5,000.00.
    for (amount, credit_amount, matched) in [
        ("1000.00", "950.00", true),
        ("1000.00", "949.99", false),
        ("5000.00", "4900.00", true),
        ("5000.00", "4899.99", false),
    ] {
        let o = reconcile(
            &[invoice(1, "A-1", usd(amount), "2024-03-01")],
            &[credit(1, usd(credit_amount), "2024-03-05", "")],
            &tol,
        );
        assert_eq!(
            o.matches.len() == 1,
            matched,
            "{credit_amount} against {amount}"
        );
        if !matched {
            assert_eq!(
                reason(&o, Subject::Credit(Uuid::from_u128(2001))),
                Some(ExceptionReason::AmountOutsideTolerance)
            );
        }
    }
    // The window: 180 days in, 181 out.
    for (date, matched) in [("2024-08-28", true), ("2024-08-29", false)] {
        let o = reconcile(
            &[invoice(1, "A-1", usd("800.00"), "2024-03-01")],
            &[credit(1, usd("800.00"), date, "")],
            &tol,
        );
        assert_eq!(o.matches.len() == 1, matched, "{date}");
    }
    // A converted credit: 1% more, either way.
    let bdt = |s: &str| Money::parse(s, "BDT").unwrap();
    let rate = FxRate {
        source: Currency::from_code("USD").unwrap(),
        target: Currency::from_code("BDT").unwrap(),
        rate: Decimal::new(110, 0),
    };
    for (booked, matched) in [("212300.00", true), ("212298.90", false)] {
        let mut c = credit(1, bdt(booked), "2024-03-05", "");
        c.entry.fx_rate = Some(rate.clone());
        let o = reconcile(
            &[invoice(1, "A-1", usd("2000.00"), "2024-03-01")],
            &[c],
            &tol,
        );
        assert_eq!(o.matches.len() == 1, matched, "{booked}");
        if matched {
            assert_eq!(
                (o.matches[0].fee_gap, o.matches[0].fx_gap),
                (usd("50.00"), usd("20.00"))
            );
        }
    }
}

#[test]
fn ambiguity_duplicates_reversals_and_currencies() {
    let tol = Tolerances::default();
    let invoices = [
        invoice(1, "A-1", usd("760.00"), "2024-03-01"),
        invoice(2, "A-2", usd("760.00"), "2024-03-02"),
    ];
    let o = reconcile(
        &invoices,
        &[credit(1, usd("760.00"), "2024-03-05", "")],
        &tol,
    );
    assert_eq!(
        reason(&o, Subject::Credit(Uuid::from_u128(2001))),
        Some(ExceptionReason::Ambiguous)
    );
    assert_eq!(
        reason(&o, Subject::Invoice(invoices[0].id)),
        Some(ExceptionReason::Ambiguous)
    );

    // Unless the bank names the payer one of them was invoiced to.
    let mut named = invoices.clone();
    named[1].payer = "Nordic  Retail AB".into();
    let mut c = credit(1, usd("760.00"), "2024-03-05", "");
    c.entry.counterparty = "NORDIC RETAIL AB".into();
    let o = reconcile(&named, &[c], &tol);
    assert_eq!(o.matches[0].invoice, named[1].id);

    let mut first = credit(1, usd("760.00"), "2024-03-05", "");
    first.entry.servicer_reference = Some("BANK-1".into());
    let mut again = first.clone();
    again.id = Uuid::from_u128(2002);
    let o = reconcile(&invoices[..1], &[first.clone(), again.clone()], &tol);
    assert_eq!(o.matches.len(), 1);
    let dup = if o.matches[0].credit == first.id {
        again.id
    } else {
        first.id
    };
    assert_eq!(
        reason(&o, Subject::Credit(dup)),
        Some(ExceptionReason::DuplicateCredit)
    );

    let mut reversal = first.clone();
    reversal.id = Uuid::from_u128(2003);
    reversal.entry.kind = EntryKind::CreditReversal;
    let o = reconcile(&invoices[..1], &[first.clone(), reversal], &tol);
    assert_eq!(
        reason(&o, Subject::Credit(first.id)),
        Some(ExceptionReason::Reversed)
    );
    assert!(o.matches.is_empty());

    let eur = credit(
        4,
        Money::parse("500.00", "EUR").unwrap(),
        "2024-03-05",
        "INV-9",
    );
    let o = reconcile(
        &[invoice(9, "INV-9", usd("550.00"), "2024-03-01")],
        &[eur],
        &tol,
    );
    assert_eq!(
        reason(&o, Subject::Credit(Uuid::from_u128(2004))),
        Some(ExceptionReason::CurrencyMismatch)
    );

    // "No reference" is not a reference, however many journeys carry it.
    let mut blank = invoice(10, "INV-10", usd("100.00"), "2024-03-01");
    blank.references.push("NOTPROVIDED".into());
    let mut c = credit(6, usd("40.00"), "2024-03-05", "NONREF");
    c.entry.end_to_end_id = Some("NOTPROVIDED".into());
    let o = reconcile(&[blank], &[c], &tol);
    assert!(o.matches.is_empty());

    let o = reconcile(&[], &[credit(5, usd("1.00"), "2024-03-05", "")], &tol);
    assert_eq!(
        reason(&o, Subject::Credit(Uuid::from_u128(2005))),
        Some(ExceptionReason::NoCandidate)
    );
}

/// A generated book of one or two parties: invoices, and credits paying
/// some of them (whole, short by a fee, in instalments, in bulk, by
/// reference or not) plus strays.
fn arb_book() -> impl Strategy<Value = (Vec<Invoice>, Vec<Credit>)> {
    prop::collection::vec(
        (1i64..500_000, 0u32..60, 0u8..6, 0i64..3000, any::<bool>()),
        1..40,
    )
    .prop_map(|rows| {
        let mut invoices = Vec::new();
        let mut credits = Vec::new();
        for (n, (cents, day, how, fee, second_party)) in rows.into_iter().enumerate() {
            let party = Uuid::from_u128(if second_party { 2 } else { 1 });
            let amount =
                Money::new(Decimal::new(cents, 2), Currency::from_code("USD").unwrap()).unwrap();
            let date =
                NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(u64::from(day));
            let reference = format!("INV-{n}");
            invoices.push(Invoice {
                id: Uuid::from_u128(10_000 + n as u128),
                party,
                amount,
                invoice_date: date,
                references: vec![reference.clone()],
                realized: Decimal::ZERO,
                journey_rates: vec![],
                payer: format!("Client {}", n % 3),
            });
            let paid = |value: Decimal, k: u128, text: String| {
                let m = Money::new(value.max(Decimal::new(1, 2)), amount.currency()).unwrap();
                let mut e = Entry::credit(0, m, date + chrono::Days::new(10));
                e.remittance = text;
                e.counterparty = format!("client {}", n % 3);
                Credit {
                    id: Uuid::from_u128(50_000 + 10 * n as u128 + k),
                    party,
                    entry: e,
                    state: CreditState::Open,
                }
            };
            let a = amount.amount();
            match how {
                0 => credits.push(paid(a, 0, reference)),
                1 => credits.push(paid(a - Decimal::new(fee, 2), 0, String::new())),
                2 => {
                    let half = (a / Decimal::TWO).round_dp(2);
                    credits.push(paid(half, 0, reference.clone()));
                    credits.push(paid(a - half, 1, format!("rest of {reference}")));
                }
                3 if n > 0 => credits.push(paid(
                    a + Decimal::new(fee, 2),
                    0,
                    format!("INV-{} INV-{n}", n - 1),
                )),
                4 => credits.push(paid(Decimal::new(fee + 1, 2), 0, "stray".into())),
                _ => {}
            }
        }
        (invoices, credits)
    })
}

/// The books after an outcome is stored: matched credits settled, covered
/// amounts realized.
fn apply(invoices: &[Invoice], credits: &[Credit], o: &Outcome) -> (Vec<Invoice>, Vec<Credit>) {
    let mut covered: HashMap<Uuid, Decimal> = HashMap::new();
    for m in &o.matches {
        *covered.entry(m.invoice).or_default() += m.covered.amount();
    }
    let matched: HashSet<Uuid> = o.matches.iter().map(|m| m.credit).collect();
    let invoices = invoices
        .iter()
        .map(|i| Invoice {
            realized: i.realized + covered.get(&i.id).copied().unwrap_or_default(),
            ..i.clone()
        })
        .collect();
    let credits = credits
        .iter()
        .map(|c| Credit {
            state: if matched.contains(&c.id) {
                CreditState::Settled
            } else {
                c.state
            },
            ..c.clone()
        })
        .collect();
    (invoices, credits)
}

proptest! {
    #[test]
    fn order_does_not_matter((invoices, credits) in arb_book(), seed in any::<u64>()) {
        let tol = Tolerances::default();
        let want = reconcile(&invoices, &credits, &tol);
        let (mut i2, mut c2) = (invoices.clone(), credits.clone());
        // A deterministic shuffle: rotate and reverse.
        let k = (seed as usize) % i2.len().max(1);
        i2.rotate_left(k);
        c2.reverse();
        prop_assert_eq!(reconcile(&i2, &c2, &tol), want);
    }

    #[test]
    fn a_rerun_changes_nothing((invoices, credits) in arb_book()) {
        let tol = Tolerances::default();
        let first = reconcile(&invoices, &credits, &tol);
        let (invoices, credits) = apply(&invoices, &credits, &first);
        let again = reconcile(&invoices, &credits, &tol);
        prop_assert!(again.matches.is_empty(), "{:?}", again.matches);
        prop_assert_eq!(again.exceptions, first.exceptions);
    }

    #[test]
    fn money_is_neither_made_nor_lost((invoices, credits) in arb_book()) {
        let o = reconcile(&invoices, &credits, &Tolerances::default());
        let mut shares: HashMap<Uuid, Decimal> = HashMap::new();
        for m in &o.matches {
            *shares.entry(m.credit).or_default() += m.converted.amount();
            // The gap is all fees here (one currency), and never negative
            // unless the credit overpays.
            prop_assert_eq!(m.covered.amount() - m.converted.amount(), m.fee_gap.amount());
        }
        for c in &credits {
            if let Some(total) = shares.get(&c.id) {
                prop_assert_eq!(*total, c.entry.amount.amount(), "a credit is counted whole");
            }
        }
        // Every open credit is matched or explained, once.
        let explained: HashSet<Uuid> = o.exceptions.iter().filter_map(|x| match x.subject { Subject::Credit(c) => Some(c), _ => None }).collect();
        for c in &credits {
            prop_assert!(shares.contains_key(&c.id) != explained.contains(&c.id), "credit {} matched and explained, or neither", c.id);
        }
    }
}

#[test]
fn manual_amounts_are_bounded_by_the_invoice_and_the_credit() {
    use repat_core::reconcile::matcher::manual_all;
    let tol = Tolerances::default();
    let big = invoice(1, "INV-1", usd("1000.00"), "2024-03-01");
    let mut part_paid = invoice(2, "INV-2", usd("300.00"), "2024-03-02");
    part_paid.realized = Decimal::new(10000, 2);
    let c = credit(1, usd("985.00"), "2024-03-20", "");
    // Just inside: the outstanding 200.00, and 1,035.00 in all (985 + 50
    // of fee allowance).
    let ok = manual_all(
        &c,
        &[
            (&big, Some(usd("835.00"))),
            (&part_paid, Some(usd("200.00"))),
        ],
        &tol,
    )
    .unwrap();
    assert_eq!(ok.len(), 2);
    // Just outside each bound, the allocation named.
    let over = manual_all(&c, &[(&part_paid, Some(usd("200.01")))], &tol).unwrap_err();
    assert_eq!(over.0, 0);
    assert!(over.1.contains("outstanding (200.00 USD)"), "{}", over.1);
    let beyond = manual_all(
        &c,
        &[
            (&big, Some(usd("835.01"))),
            (&part_paid, Some(usd("200.00"))),
        ],
        &tol,
    )
    .unwrap_err();
    assert_eq!(beyond.0, 1);
    assert!(beyond.1.contains("at most 1035.00 USD"), "{}", beyond.1);
    // Nothing left to settle.
    let mut paid = invoice(3, "INV-3", usd("50.00"), "2024-03-03");
    paid.realized = Decimal::new(5000, 2);
    let done = manual_all(&c, &[(&paid, None)], &tol).unwrap_err();
    assert!(done.1.contains("fully realized"), "{}", done.1);
}

#[test]
fn a_booked_reversal_takes_back_a_matched_credit_and_a_pending_one_does_not() {
    use repat_core::reconcile::BookingStatus;
    use repat_core::reconcile::matcher::taken_back;
    let mut matched = credit(1, usd("640.00"), "2024-03-20", "INV-1");
    matched.entry.servicer_reference = Some("BRAC-77121".into());
    matched.state = CreditState::Settled;
    let mut other = credit(2, usd("640.00"), "2024-03-21", "INV-2");
    other.entry.servicer_reference = Some("BRAC-99999".into());
    other.state = CreditState::Settled;
    let mut reversal = credit(3, usd("640.00"), "2024-03-22", "returned");
    reversal.entry.kind = EntryKind::CreditReversal;
    reversal.entry.servicer_reference = Some("BRAC-77121".into());
    assert_eq!(
        taken_back(&[matched.clone(), other.clone(), reversal.clone()]),
        [matched.id]
    );
    reversal.entry.status = BookingStatus::Pending;
    assert!(taken_back(&[matched, other, reversal]).is_empty());
}
