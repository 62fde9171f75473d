//! The matcher: which credit pays which invoice, or exactly why a credit or
//! an invoice matched nothing.
//!
//! Invariants:
//! - deterministic: the same invoices, credits and tolerances give the same
//!   outcome, whatever order they are given in;
//! - settled credits (matched before, automatically or by hand) and held
//!   credits (unmatched by hand) are never matched again, so re-running
//!   changes nothing already settled;
//! - candidates are found through indexes (by reference, and by party and
//!   currency with amounts sorted), never by comparing every credit with
//!   every invoice: a run is O((n + m) log n).
//!
//! Order of work: duplicates and reversed credits are set aside; then each
//! open credit, oldest first, is matched by a reference it carries (invoice
//! reference in its remittance text, end-to-end id, UETR), paying one
//! invoice in full or in part (instalments) or several (a bulk payment);
//! then the rest by party, amount and date within the tolerances (the
//! payer the bank names deciding between invoices that fit equally).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use foldhash::fast::RandomState;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entry::{BookingStatus, Entry, EntryKind};
use super::identity::{Identity, identities};
use super::references::{ReferenceIndex, visit_credit_references};
use crate::journey::FxRate;
use crate::money::{exact_product, ratio_half_up};
use crate::{Currency, Money};

/// How far a credit may fall short of, or (converted) stray from, what it
/// pays. Percentages are of the amount outstanding (5 means 5%).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tolerances {
    /// Fees deducted abroad accepted whatever the amount, in units of the
    /// invoice's currency.
    pub fee_absolute: Decimal,
    /// Fees deducted abroad accepted as a share of the amount outstanding;
    /// the larger of the two allowances applies.
    pub fee_percent: Decimal,
    /// Further allowance, either way, when the credit was converted from
    /// another currency.
    pub fx_percent: Decimal,
    /// Days after the invoice date within which a credit may match by
    /// amount (a credit carrying the invoice's reference matches whenever it
    /// comes).
    pub date_window_days: i64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            fee_absolute: Decimal::new(50, 0),
            fee_percent: Decimal::new(2, 0),
            fx_percent: Decimal::new(1, 0),
            date_window_days: 180,
        }
    }
}

impl Tolerances {
    fn fee_allowance(&self, outstanding: Decimal) -> Decimal {
        self.fee_absolute
            .max(outstanding * self.fee_percent / Decimal::ONE_HUNDRED)
    }

    fn fx_allowance(&self, outstanding: Decimal, converted: bool) -> Decimal {
        if converted {
            outstanding * self.fx_percent / Decimal::ONE_HUNDRED
        } else {
            Decimal::ZERO
        }
    }

    /// Whether `converted` pays `outstanding` in full: short by no more than
    /// the fee (and FX) allowance, over by no more than the FX allowance.
    pub fn settles(&self, outstanding: Decimal, converted: Decimal, fx: bool) -> bool {
        let gap = outstanding - converted;
        let fx_allowance = self.fx_allowance(outstanding, fx);
        gap >= -fx_allowance && gap <= self.fee_allowance(outstanding) + fx_allowance
    }

    /// What of `outstanding` a credit worth `converted` settles: all of it
    /// when within the tolerances (the gap being fees or FX), else exactly
    /// what came (an instalment, or an overpayment).
    pub fn covered(&self, outstanding: Decimal, converted: Decimal, fx: bool) -> Decimal {
        if outstanding > Decimal::ZERO && self.settles(outstanding, converted, fx) {
            outstanding
        } else {
            converted
        }
    }
}

/// An invoice as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub id: Uuid,
    pub party: Uuid,
    pub amount: Money,
    pub invoice_date: NaiveDate,
    /// Its invoice reference, and the end-to-end ids and UETRs of the
    /// journeys paying it.
    pub references: Vec<String>,
    /// What settled matches already cover.
    pub realized: Decimal,
    /// Rates recorded on its journeys (CONVERTED_TO_BDT), for a credit in
    /// another currency that carries no rate of its own.
    pub journey_rates: Vec<FxRate>,
    /// The client invoiced, by name: among invoices that fit a credit
    /// equally, the one whose client the bank names as the payer.
    pub payer: String,
}

/// Where a credit stands before a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditState {
    /// Not matched yet.
    Open,
    /// Matched in an earlier run or by hand: left as it is.
    Settled,
    /// Unmatched by hand: left for a person to match.
    Held,
}

/// A stored statement entry of a party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    pub id: Uuid,
    pub party: Uuid,
    pub entry: Entry,
    pub state: CreditState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MatchMethod {
    /// The credit carries the invoice's reference, end-to-end id or UETR.
    Reference,
    /// Same party, amount within the tolerances, date within the window.
    AmountAndDate,
    /// Decided by a person.
    Manual,
}

crate::names::named!(MatchMethod { Reference => "REFERENCE", AmountAndDate => "AMOUNT_AND_DATE", Manual => "MANUAL" });

/// One credit paying (part of) one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    pub credit: Uuid,
    pub invoice: Uuid,
    pub party: Uuid,
    pub method: MatchMethod,
    /// What of the invoice this settles, in its currency.
    pub covered: Money,
    /// The share of the credit counted, converted into the invoice's
    /// currency.
    pub converted: Money,
    /// Covered minus converted put down to fees deducted abroad.
    pub fee_gap: Money,
    /// The rest of the gap, put down to conversion (zero without one).
    pub fx_gap: Money,
    /// The rate the credit was converted at, if it was.
    pub rate: Option<FxRate>,
    /// From the invoice date to the credit's date.
    pub days: i64,
    /// The reference that matched, for a match by reference.
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ExceptionReason {
    /// Nothing of the party could be this.
    NoCandidate,
    /// Invoices of the party and currency exist, none within the amount
    /// tolerances.
    AmountOutsideTolerance,
    /// The amount fits, the date is outside the window.
    DateOutsideWindow,
    /// The currencies differ and no rate converts one to the other.
    CurrencyMismatch,
    /// The same credit was reported before (another statement, a
    /// notification and then the statement).
    DuplicateCredit,
    /// Several invoices fit equally.
    Ambiguous,
    /// A reversal on the account takes the credit back.
    Reversed,
    /// Unmatched by hand: left for a person to match.
    HeldForManualMatch,
    /// The amount fits, but the bank gave the credit no date (neither
    /// booking nor value date), so no window can be checked.
    Undated,
}

crate::names::named!(ExceptionReason {
    NoCandidate => "NO_CANDIDATE",
    AmountOutsideTolerance => "AMOUNT_OUTSIDE_TOLERANCE",
    DateOutsideWindow => "DATE_OUTSIDE_WINDOW",
    CurrencyMismatch => "CURRENCY_MISMATCH",
    DuplicateCredit => "DUPLICATE_CREDIT",
    Ambiguous => "AMBIGUOUS",
    Reversed => "REVERSED",
    HeldForManualMatch => "HELD_FOR_MANUAL_MATCH",
    Undated => "UNDATED",
});

/// What an exception is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Subject {
    Credit(Uuid),
    Invoice(Uuid),
}

/// Something near that was not taken, and by how far it missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// An invoice (for a credit's exception) or a credit (for an
    /// invoice's, or the earlier credit a duplicate repeats).
    pub id: Uuid,
    /// Its amount (an invoice's outstanding amount).
    pub amount: Money,
    /// The credit (converted) minus the invoice's outstanding amount, when
    /// they share a currency.
    pub amount_difference: Option<Money>,
    /// From the invoice date to the credit's date.
    pub days: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    pub subject: Subject,
    pub party: Uuid,
    pub reason: ExceptionReason,
    pub message: String,
    /// Nearest first.
    pub candidates: Vec<Candidate>,
}

/// The outcome of a run: new matches, and an exception for every credit
/// and invoice left open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub matches: Vec<Match>,
    pub exceptions: Vec<Exception>,
}

/// How many near candidates an exception lists.
const NEAREST: usize = 3;

/// A name as compared: upper case, single spaces; none when empty.
fn same_name(name: &str) -> Option<String> {
    let n = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase();
    (!n.is_empty()).then_some(n)
}

/// The credit's amount in `currency`, and the rate used (none when it is
/// already in that currency). The credit's own rate first, then its
/// instructed amount, then a rate of the invoice's journey.
fn convert(
    e: &Entry,
    currency: Currency,
    journey_rates: &[FxRate],
) -> Option<(Decimal, Option<FxRate>)> {
    let booked = e.amount.currency();
    if booked == currency {
        return Some((e.amount.amount(), None));
    }
    let minor = currency.minor_units();
    let by_rate = |r: &FxRate| -> Option<Decimal> {
        if r.source == currency && r.target == booked {
            ratio_half_up(e.amount.amount(), r.rate, minor)
        } else if r.source == booked && r.target == currency {
            exact_product(e.amount.amount(), r.rate)
                .and_then(|p| ratio_half_up(p, Decimal::ONE, minor))
        } else {
            None
        }
    };
    if let Some(r) = &e.fx_rate
        && let Some(v) = by_rate(r)
    {
        return Some((v, Some(r.clone())));
    }
    if let Some(i) = e.instructed.filter(|i| i.currency() == currency) {
        return Some((i.amount(), None));
    }
    journey_rates
        .iter()
        .find_map(|r| by_rate(r).map(|v| (v, Some(r.clone()))))
}

fn money(amount: Decimal, currency: Currency) -> Money {
    let mut a = amount;
    a.rescale(currency.minor_units());
    // Every amount here is a sum or difference of amounts of `currency`, or
    // rounded to its minor units: the scale always fits.
    Money::new(a, currency).unwrap_or_else(|_| Money::zero(currency))
}

type Map<K, V> = HashMap<K, V, RandomState>;

fn map<K, V>() -> Map<K, V> {
    HashMap::with_hasher(RandomState::default())
}

/// Per party and currency, (amount, rank in date order, invoice position).
type AmountIndex = Map<(Uuid, Currency), Vec<(Decimal, u32, u32)>>;

/// An unmatched credit's amount and id beside it.
type AmountAndCredit<'c> = (Decimal, Uuid, &'c Credit);

struct Run<'a> {
    invoices: &'a [Invoice],
    tol: &'a Tolerances,
    outstanding: Vec<Decimal>,
    /// Paid in part, before this run (realized) or by it: matched by
    /// reference only.
    paid: Vec<bool>,
    by_reference: ReferenceIndex<'a>,
    /// Per party and currency, (amount, rank in date order, invoice
    /// position) sorted by amount, then date.
    by_amount: AmountIndex,
    /// Per party, invoice positions in date order.
    by_party: Map<Uuid, Vec<usize>>,
    out: Outcome,
    /// Invoices open credits named as candidates: how far each missed
    /// (zero when unknown), why, and the credit.
    near_misses: Map<usize, Vec<(Decimal, ExceptionReason, Uuid, Money)>>,
}

/// A candidate invoice of a credit: its position, the credit's value in
/// its currency and the rate used.
type Fitting = (usize, Decimal, Option<FxRate>);

/// What matching a credit by amount found.
enum ByAmount {
    Matched(usize),
    /// Nothing yet: several invoices fit equally; one of them being paid
    /// by another credit may settle it.
    Ambiguous(Vec<usize>),
    /// Nothing, and nothing can change that in this run.
    Unmatched,
}

/// What the references of the open credits name: for each, the invoices
/// of its party bearing one (by date, then id) and the first reference
/// that named one. None of it changes as credits are matched.
struct Named {
    /// Per open credit, oldest first (read in that order): start and end
    /// in `invoices`, and its reference in `references` (or `NONE`).
    at: Vec<(u32, u32, u32)>,
    invoices: Vec<u32>,
    references: Vec<String>,
}

impl Named {
    /// What the `n`th open credit's references name, if anything.
    fn get(&self, n: usize) -> Option<(&[u32], &str)> {
        let (start, end, reference) = self.at[n];
        let reference = self.references.get(reference as usize)?;
        Some((&self.invoices[start as usize..end as usize], reference))
    }
}

const NONE: u32 = u32::MAX;

/// Matches the open credits against the invoices.
///
/// At a million invoices and credits nothing fits in a cache, so every pass
/// over them goes in the order they lie in memory (the order given) where
/// the order of work does not matter: the indexes are built, and what each
/// credit's references name is looked up, in that order; only the matching
/// itself, which must go oldest credit first, visits them in date order.
pub fn reconcile(invoices: &[Invoice], credits: &[Credit], tol: &Tolerances) -> Outcome {
    let mut keyed: Vec<(NaiveDate, Uuid, u32)> = invoices
        .iter()
        .enumerate()
        .map(|(i, inv)| (inv.invoice_date, inv.id, i as u32))
        .collect();
    keyed.sort_unstable();
    // Each invoice's rank in date order (then id): ties in amount go by it.
    let mut rank = vec![0u32; invoices.len()];
    for (r, &(_, _, i)) in keyed.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    drop(keyed);
    let outstanding: Vec<Decimal> = invoices
        .iter()
        .map(|i| i.amount.amount() - i.realized)
        .collect();
    let mut by_reference = ReferenceIndex::new(invoices.len());
    let mut by_amount: AmountIndex = map();
    let mut by_party: Map<Uuid, Vec<(u32, usize)>> = map();
    for (i, inv) in invoices.iter().enumerate() {
        by_reference.add(i, &inv.references);
        by_amount
            .entry((inv.party, inv.amount.currency()))
            .or_default()
            .push((inv.amount.amount(), rank[i], i as u32));
        by_party.entry(inv.party).or_default().push((rank[i], i));
    }
    for list in by_amount.values_mut() {
        list.sort_unstable_by_key(|&(amount, rank, _)| (amount, rank));
    }
    let by_party: Map<Uuid, Vec<usize>> = by_party
        .into_iter()
        .map(|(party, mut list)| {
            list.sort_unstable();
            (party, list.into_iter().map(|(_, i)| i).collect())
        })
        .collect();
    let mut run = Run {
        invoices,
        tol,
        paid: invoices.iter().map(|i| !i.realized.is_zero()).collect(),
        outstanding,
        by_reference,
        by_amount,
        by_party,
        out: Outcome {
            matches: Vec::with_capacity(credits.len()),
            exceptions: Vec::new(),
        },
        near_misses: map(),
    };

    let open = run.set_aside(credits);
    let named = run.named(credits, &open);
    let mut unmatched = Vec::new();
    for (n, k) in open.into_iter().enumerate() {
        let c = &credits[k];
        let matched = named
            .get(n)
            .is_some_and(|(names, reference)| run.by_reference(c, names, reference));
        if !matched {
            unmatched.push(c);
        }
    }
    drop(named);
    let unmatched = run.by_amount_until_settled(unmatched);
    // What is left is explained against the final state, so that a re-run
    // finds exactly the same exceptions.
    for c in &unmatched {
        let matched = run.by_amount_and_date(c);
        debug_assert!(!matched, "matching by amount had settled");
    }
    run.invoice_exceptions(&unmatched);
    let Outcome {
        matches,
        exceptions,
    } = run.out;
    Outcome {
        matches: sorted_by_key(matches, |m| (m.credit, m.invoice)),
        exceptions: sorted_by_key(exceptions, |e| e.subject),
    }
}

/// What the party's booked reversals take back, by party and identity.
/// Only what the bank booked counts: a pending reversal takes nothing back.
fn reversal_keys(credits: &[Credit]) -> HashSet<(Uuid, Identity<'_>), RandomState> {
    credits
        .iter()
        .filter(|c| {
            c.entry.kind == EntryKind::CreditReversal && c.entry.status == BookingStatus::Booked
        })
        .flat_map(|c| identities(&c.entry).map(move |k| (c.party, k)))
        .collect()
}

/// The matched credits a booked reversal has since taken back: their
/// matches must go before a run (the credit then stays open, explained as
/// REVERSED), or the money would count twice.
pub fn taken_back(credits: &[Credit]) -> Vec<Uuid> {
    let reversals = reversal_keys(credits);
    if reversals.is_empty() {
        return Vec::new();
    }
    credits
        .iter()
        .filter(|c| c.state == CreditState::Settled && c.entry.not_payable().is_none())
        .filter(|c| identities(&c.entry).any(|k| reversals.contains(&(c.party, k))))
        .map(|c| c.id)
        .collect()
}

/// `items` sorted (stably) by `key`, moving each once: cheaper than
/// sorting large values in place.
fn sorted_by_key<T, K: Ord>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut keys: Vec<(K, usize)> = items.iter().map(&key).zip(0..).collect();
    keys.sort_unstable();
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    keys.into_iter()
        .filter_map(|(_, i)| slots[i].take())
        .collect()
}

impl<'a> Run<'a> {
    fn except(
        &mut self,
        c: &Credit,
        reason: ExceptionReason,
        message: String,
        candidates: Vec<Candidate>,
    ) {
        self.out.exceptions.push(Exception {
            subject: Subject::Credit(c.id),
            party: c.party,
            reason,
            message,
            candidates,
        });
    }

    /// Holds back duplicates, reversed and held credits (with their
    /// exceptions) and returns the open credits to match (by position),
    /// oldest first.
    fn set_aside(&mut self, credits: &[Credit]) -> Vec<usize> {
        // Read in the order given; then only credits that carry an identity
        // or are held need to be visited again.
        let mut sorted: Vec<_> = credits
            .iter()
            .enumerate()
            // Debits, reversals, pending and zero-amount entries pay nothing.
            .filter(|(_, c)| c.entry.not_payable().is_none())
            .map(|(k, c)| {
                let e = &c.entry;
                let identified =
                    e.uetr.is_some() || e.servicer_reference.is_some() || e.end_to_end_id.is_some();
                (
                    (
                        c.state != CreditState::Settled,
                        e.date(),
                        e.amount.amount(),
                        c.id,
                        k,
                    ),
                    c.state,
                    identified,
                )
            })
            .collect();
        sorted.sort_unstable_by_key(|a| a.0);
        let reversals = reversal_keys(credits);
        let mut seen: Map<(Uuid, Identity), &Credit> = map();
        let mut open = Vec::with_capacity(sorted.len());
        for ((.., k), state, identified) in sorted {
            if !identified && state == CreditState::Open {
                open.push(k);
                continue;
            }
            let c = &credits[k];
            let keys: Vec<(Uuid, Identity)> = identities(&c.entry).map(|k| (c.party, k)).collect();
            let earlier = keys.iter().find_map(|k| seen.get(k).copied());
            let reversed = keys.iter().any(|k| reversals.contains(k));
            for k in keys {
                seen.entry(k).or_insert(c);
            }
            match state {
                CreditState::Settled => continue,
                CreditState::Held => {
                    self.except(
                        c,
                        ExceptionReason::HeldForManualMatch,
                        "unmatched by hand; it waits for a manual match".into(),
                        vec![],
                    );
                    continue;
                }
                CreditState::Open => {}
            }
            if let Some(first) = earlier {
                let candidate = Candidate {
                    id: first.id,
                    amount: first.entry.amount,
                    amount_difference: None,
                    days: None,
                };
                let message = format!(
                    "the same credit ({}) was reported before as entry {}",
                    c.entry.amount, first.id
                );
                self.except(
                    c,
                    ExceptionReason::DuplicateCredit,
                    message,
                    vec![candidate],
                );
            } else if reversed {
                self.except(
                    c,
                    ExceptionReason::Reversed,
                    format!(
                        "a reversal on the account takes back this credit of {}",
                        c.entry.amount
                    ),
                    vec![],
                );
            } else {
                open.push(k);
            }
        }
        open
    }

    /// What the references of each of the `open` credits name, looked up
    /// in the order the credits are given.
    fn named(&self, credits: &[Credit], open: &[usize]) -> Named {
        let mut named = Named {
            at: vec![(0, 0, NONE); open.len()],
            invoices: Vec::new(),
            references: Vec::new(),
        };
        // Each credit's place among the open ones, if it is open.
        let mut place = vec![NONE; credits.len()];
        for (n, &k) in open.iter().enumerate() {
            place[k] = n as u32;
        }
        let mut found: Vec<(NaiveDate, Uuid, u32)> = Vec::new();
        let (invoices, index) = (self.invoices, &self.by_reference);
        for (c, &n) in credits.iter().zip(&place) {
            if n == NONE {
                continue;
            }
            found.clear();
            let mut matched_ref: Option<String> = None;
            visit_credit_references(&c.entry, |r| {
                for i in index.get(r) {
                    let inv = &invoices[i];
                    if inv.party == c.party {
                        found.push((inv.invoice_date, inv.id, i as u32));
                        if matched_ref.is_none() {
                            matched_ref = Some(r.to_string());
                        }
                    }
                }
                false
            });
            let Some(reference) = matched_ref else {
                continue;
            };
            found.sort_unstable();
            found.dedup();
            let start = named.invoices.len() as u32;
            named.invoices.extend(found.iter().map(|&(_, _, i)| i));
            named.at[n as usize] = (
                start,
                named.invoices.len() as u32,
                named.references.len() as u32,
            );
            named.references.push(reference);
        }
        named
    }

    /// Records a match of `share` (converted) of credit `c` paying invoice
    /// `i`.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        c: &Credit,
        i: usize,
        covered: Decimal,
        share: Decimal,
        rate: Option<FxRate>,
        method: MatchMethod,
        reference: Option<String>,
    ) {
        let m = make_match(
            c,
            &self.invoices[i],
            self.outstanding[i],
            covered,
            share,
            rate,
            method,
            reference,
            self.tol,
        );
        self.outstanding[i] -= covered;
        self.paid[i] = true;
        self.out.matches.push(m);
    }

    /// Matches `c` by the references it carries, which name the invoices
    /// `named` of its party (at least one; `reference` first).
    fn by_reference(&mut self, c: &Credit, named: &[u32], reference: &str) -> bool {
        let named: Vec<usize> = named.iter().map(|&i| i as usize).collect();
        let matched_ref = Some(reference.to_string());
        let first = named[0];
        let cur = self.invoices[first].amount.currency();
        let candidates = |run: &Run| -> Vec<Candidate> {
            named.iter().map(|&i| run.candidate(c, i, None)).collect()
        };
        if named
            .iter()
            .any(|&i| self.invoices[i].amount.currency() != cur)
        {
            let list = candidates(self);
            self.except(
                c,
                ExceptionReason::Ambiguous,
                "its references name invoices in different currencies".into(),
                list,
            );
            return true;
        }
        let Some((total, rate)) = convert(&c.entry, cur, &self.invoices[first].journey_rates)
        else {
            let list = candidates(self);
            let message = format!(
                "the credit is in {} and the invoice it names in {cur}; neither the credit nor the journey carries a rate",
                c.entry.amount.currency()
            );
            for &i in &named {
                self.near_misses.entry(i).or_default().push((
                    Decimal::ZERO,
                    ExceptionReason::CurrencyMismatch,
                    c.id,
                    c.entry.amount,
                ));
            }
            self.except(c, ExceptionReason::CurrencyMismatch, message, list);
            return true;
        };
        let fx = rate.is_some();
        let open: Vec<Decimal> = named
            .iter()
            .map(|&i| self.outstanding[i].max(Decimal::ZERO))
            .collect();
        let sum: Decimal = open.iter().sum();
        let last = named.len() - 1;
        if sum > Decimal::ZERO && self.tol.settles(sum, total, fx) {
            // Paid in full: the shortfall (fees) falls on the last invoice.
            let mut left = total;
            for (k, &i) in named.iter().enumerate() {
                let share = if k == last { left } else { open[k].min(left) };
                left -= share;
                self.settle(
                    c,
                    i,
                    open[k],
                    share,
                    rate.clone(),
                    MatchMethod::Reference,
                    matched_ref.clone(),
                );
            }
        } else {
            // An instalment, a short bulk payment, or an overpayment (which
            // the last invoice takes).
            let mut left = total;
            for (k, &i) in named.iter().enumerate() {
                let share = if k == last { left } else { open[k].min(left) };
                if share <= Decimal::ZERO {
                    continue;
                }
                left -= share;
                let covered = self.tol.covered(open[k], share, fx);
                self.settle(
                    c,
                    i,
                    covered,
                    share,
                    rate.clone(),
                    MatchMethod::Reference,
                    matched_ref.clone(),
                );
            }
        }
        true
    }

    fn candidate(&self, c: &Credit, i: usize, converted: Option<Decimal>) -> Candidate {
        let inv = &self.invoices[i];
        let cur = inv.amount.currency();
        let converted =
            converted.or_else(|| convert(&c.entry, cur, &inv.journey_rates).map(|v| v.0));
        Candidate {
            id: inv.id,
            amount: money(self.outstanding[i], cur),
            amount_difference: converted.map(|v| money(v - self.outstanding[i], cur)),
            days: c.entry.date().map(|d| (d - inv.invoice_date).num_days()),
        }
    }

    /// Matches credits by party, amount and date until nothing more
    /// matches (a match can settle what made another credit ambiguous);
    /// returns those left, in order.
    ///
    /// As if every credit left were tried again, in order, until a round
    /// matched nothing; but a credit is tried again only when an invoice it
    /// was ambiguous between has been paid since: nothing else can change
    /// what it fits, since invoices only leave a credit's fit (a paid
    /// invoice matches by reference only), never join it.
    fn by_amount_until_settled<'c>(&mut self, credits: Vec<&'c Credit>) -> Vec<&'c Credit> {
        let mut left: Vec<Option<&Credit>> = credits.into_iter().map(Some).collect();
        // Credits (positions in `left`) to try in this round and the next.
        let mut now = vec![true; left.len()];
        let mut next = vec![false; left.len()];
        // Invoice → positions of the credits ambiguous between it and others.
        let mut watchers: Map<usize, Vec<usize>> = map();
        loop {
            let mut again = false;
            for p in 0..left.len() {
                let Some(c) = left[p].filter(|_| std::mem::take(&mut now[p])) else {
                    continue;
                };
                match self.try_by_amount(c) {
                    ByAmount::Matched(i) => {
                        left[p] = None;
                        for q in watchers.remove(&i).unwrap_or_default() {
                            if q > p {
                                now[q] = true;
                            } else {
                                next[q] = true;
                                again = true;
                            }
                        }
                    }
                    ByAmount::Ambiguous(fitting) => {
                        for i in fitting {
                            watchers.entry(i).or_default().push(p);
                        }
                    }
                    ByAmount::Unmatched => {}
                }
            }
            if !again {
                return left.into_iter().flatten().collect();
            }
            std::mem::swap(&mut now, &mut next);
        }
    }

    /// The invoices `c` fits by amount (in its currency, or the one it was
    /// converted from), ignoring dates; with `nearest`, also the nearest by
    /// amount, for its exception. Whether the party has invoices in either
    /// currency at all.
    fn fit(
        &self,
        c: &Credit,
        nearest: Option<&mut Vec<(Decimal, usize, Decimal)>>,
    ) -> (Vec<Fitting>, bool) {
        let e = &c.entry;
        // The credit's currency, and the currency it was converted from.
        let mut keys: Vec<(Currency, Decimal, Option<FxRate>)> =
            vec![(e.amount.currency(), e.amount.amount(), None)];
        if let Some(r) = &e.fx_rate {
            let other = if r.target == e.amount.currency() {
                r.source
            } else {
                r.target
            };
            if let Some((v, rate)) = convert(e, other, &[]) {
                keys.push((other, v, rate));
            }
        } else if let Some(i) = e.instructed {
            keys.push((i.currency(), i.amount(), None));
        }
        let mut fitting_amount: Vec<Fitting> = Vec::new();
        let mut near = nearest;
        let mut any_currency = false;
        for (cur, value, rate) in &keys {
            let Some(list) = self.by_amount.get(&(c.party, *cur)) else {
                continue;
            };
            any_currency = true;
            let fx = rate.is_some() || *cur != e.amount.currency();
            // Invoices that could fit lie between these outstanding amounts.
            let hundred = Decimal::ONE_HUNDRED;
            let low = if fx {
                *value * hundred / (hundred + self.tol.fx_percent)
            } else {
                *value
            };
            let shrink = hundred
                - self.tol.fee_percent
                - if fx {
                    self.tol.fx_percent
                } else {
                    Decimal::ZERO
                };
            let by_pct = if shrink > Decimal::ZERO {
                *value * hundred / shrink
            } else {
                Decimal::MAX / Decimal::TWO
            };
            let high = (*value
                + self.tol.fee_absolute
                + if fx {
                    *value * self.tol.fx_percent / hundred * Decimal::TWO
                } else {
                    Decimal::ZERO
                })
            .max(by_pct);
            let start = list.partition_point(|&(amount, ..)| amount < low);
            let end = start + list[start..].partition_point(|&(amount, ..)| amount <= high);
            for &(.., i) in &list[start..end] {
                let i = i as usize;
                // Only invoices nothing has paid yet match by amount.
                if !self.paid[i] && self.tol.settles(self.outstanding[i], *value, fx) {
                    fitting_amount.push((i, *value, rate.clone()));
                }
            }
            // The nearest by amount, for the exception.
            if let Some(nearest) = near.as_deref_mut() {
                let at = list.partition_point(|&(amount, ..)| amount < *value);
                for &(.., i) in &list[at.saturating_sub(NEAREST)..(at + NEAREST).min(list.len())] {
                    let i = i as usize;
                    if self.outstanding[i] > Decimal::ZERO {
                        nearest.push(((self.outstanding[i] - *value).abs(), i, *value));
                    }
                }
            }
        }
        (fitting_amount, any_currency)
    }

    /// Of what fits by amount, what is also within the date window.
    fn in_window(&self, c: &Credit, fitting_amount: &[Fitting]) -> Vec<Fitting> {
        let date = c.entry.date();
        fitting_amount
            .iter()
            .filter(|f| {
                let inv_date = self.invoices[f.0].invoice_date;
                date.is_some_and(|d| {
                    d >= inv_date && (d - inv_date).num_days() <= self.tol.date_window_days
                })
            })
            .cloned()
            .collect()
    }

    /// The one invoice of `fitting` to take: the only one, else the only
    /// exact fit, else the only one invoiced to the payer the bank names.
    fn choose(&self, c: &Credit, fitting: &[Fitting]) -> Option<Fitting> {
        if fitting.len() == 1 {
            return Some(fitting[0].clone());
        }
        let mut exact = fitting.iter().filter(|f| self.outstanding[f.0] == f.1);
        if let (Some(one), None) = (exact.next(), exact.next()) {
            return Some(one.clone());
        }
        let payer = same_name(&c.entry.counterparty)?;
        let mut named = fitting
            .iter()
            .filter(|f| same_name(&self.invoices[f.0].payer).as_ref() == Some(&payer));
        match (named.next(), named.next()) {
            (Some(one), None) => Some(one.clone()),
            _ => None,
        }
    }

    /// Records a match by amount and date of `c` to `chosen`.
    fn settle_by_amount(&mut self, c: &Credit, (i, value, rate): Fitting) {
        let fx = rate.is_some() || self.invoices[i].amount.currency() != c.entry.amount.currency();
        let covered = self.tol.covered(self.outstanding[i], value, fx);
        self.settle(c, i, covered, value, rate, MatchMethod::AmountAndDate, None);
    }

    /// Matches `c` by party, amount and date if it can be, without
    /// explaining why not.
    fn try_by_amount(&mut self, c: &Credit) -> ByAmount {
        let (fitting_amount, _) = self.fit(c, None);
        let fitting = self.in_window(c, &fitting_amount);
        match self.choose(c, &fitting) {
            Some(chosen) => {
                let i = chosen.0;
                self.settle_by_amount(c, chosen);
                ByAmount::Matched(i)
            }
            None if fitting.len() > 1 => ByAmount::Ambiguous(fitting.iter().map(|f| f.0).collect()),
            None => ByAmount::Unmatched,
        }
    }

    /// Matches `c` by party, amount and date; false (with an exception)
    /// when nothing, or more than one invoice, fits.
    fn by_amount_and_date(&mut self, c: &Credit) -> bool {
        let e = &c.entry;
        let date = e.date();
        let mut nearest: Vec<(Decimal, usize, Decimal)> = Vec::new();
        let (fitting_amount, any_currency) = self.fit(c, Some(&mut nearest));
        let fitting = self.in_window(c, &fitting_amount);
        if let Some(chosen) = self.choose(c, &fitting) {
            self.settle_by_amount(c, chosen);
            return true;
        }
        // Nearest first: by the gap, then the invoice date.
        let described = |run: &Run, list: &[(usize, Decimal, Option<FxRate>)]| -> Vec<Candidate> {
            let mut list = list.to_vec();
            list.sort_by_key(|(i, v, _)| {
                (
                    (run.outstanding[*i] - *v).abs(),
                    run.invoices[*i].invoice_date,
                    run.invoices[*i].id,
                )
            });
            list.iter()
                .take(NEAREST * 2)
                .map(|(i, v, _)| run.candidate(c, *i, Some(*v)))
                .collect()
        };
        let near_miss =
            |run: &mut Run, reason: ExceptionReason, list: &[(usize, Decimal, Option<FxRate>)]| {
                for (i, v, _) in list {
                    run.near_misses.entry(*i).or_default().push((
                        (run.outstanding[*i] - *v).abs(),
                        reason,
                        c.id,
                        e.amount,
                    ));
                }
            };
        let (reason, message, candidates) = if fitting.len() > 1 {
            near_miss(self, ExceptionReason::Ambiguous, &fitting);
            let list = described(self, &fitting);
            (
                ExceptionReason::Ambiguous,
                format!(
                    "{} invoices fit {} equally; match it by hand",
                    fitting.len(),
                    e.amount
                ),
                list,
            )
        } else if !fitting_amount.is_empty() && date.is_none() {
            near_miss(self, ExceptionReason::Undated, &fitting_amount);
            let list = described(self, &fitting_amount);
            (ExceptionReason::Undated, "the amount fits, but the bank gave the credit no booking or value date; match it by hand".to_string(), list)
        } else if !fitting_amount.is_empty() {
            near_miss(self, ExceptionReason::DateOutsideWindow, &fitting_amount);
            let list = described(self, &fitting_amount);
            let message = format!(
                "the amount fits, but the credit's date is not within {} days after the invoice date",
                self.tol.date_window_days
            );
            (ExceptionReason::DateOutsideWindow, message, list)
        } else if any_currency && !nearest.is_empty() {
            nearest.sort_by_key(|n| (n.0, self.invoices[n.1].invoice_date, self.invoices[n.1].id));
            nearest.dedup_by_key(|n| n.1);
            let list: Vec<Candidate> = nearest
                .iter()
                .take(NEAREST)
                .map(|n| self.candidate(c, n.1, Some(n.2)))
                .collect();
            (
                ExceptionReason::AmountOutsideTolerance,
                format!(
                    "no open invoice of the party in {} is within the tolerances of {}",
                    e.amount.currency(),
                    e.amount
                ),
                list,
            )
        } else if let Some(others) = self.by_party.get(&c.party).filter(|_| !any_currency) {
            let open: Vec<usize> = others
                .iter()
                .copied()
                .filter(|&i| self.outstanding[i] > Decimal::ZERO)
                .take(NEAREST)
                .collect();
            let list = open
                .into_iter()
                .map(|i| self.candidate(c, i, None))
                .collect();
            (
                ExceptionReason::CurrencyMismatch,
                format!(
                    "the party has no open invoice in {} and the credit carries no rate to convert it",
                    e.amount.currency()
                ),
                list,
            )
        } else {
            (
                ExceptionReason::NoCandidate,
                "the party has no open invoice this could pay".to_string(),
                vec![],
            )
        };
        self.except(c, reason, message, candidates);
        false
    }

    /// An exception for every invoice nothing has paid: why, and the
    /// nearest unmatched credits of its party and currency. (In the order
    /// given: the outcome is sorted by subject.)
    fn invoice_exceptions(&mut self, unmatched: &[&Credit]) {
        // (amount, id, credit): searched without reading the credits.
        let mut by_key: Map<(Uuid, Currency), Vec<AmountAndCredit>> = map();
        for c in unmatched {
            by_key
                .entry((c.party, c.entry.amount.currency()))
                .or_default()
                .push((c.entry.amount.amount(), c.id, c));
        }
        for list in by_key.values_mut() {
            list.sort_by_key(|&(amount, id, _)| (amount, id));
        }
        for (i, inv) in self.invoices.iter().enumerate() {
            if self.paid[i] {
                continue;
            }
            let cur = inv.amount.currency();
            let (reason, message, candidates) = match self.near_misses.remove(&i) {
                Some(mut misses) => {
                    // The nearest miss says why.
                    misses.sort_by_key(|m| (m.0, m.2));
                    let reason = misses[0].1;
                    let list = misses
                        .iter()
                        .map(|(_, _, id, amount)| Candidate {
                            id: *id,
                            amount: *amount,
                            amount_difference: None,
                            days: None,
                        })
                        .collect();
                    (
                        reason,
                        format!(
                            "a credit that could pay it was left open ({})",
                            reason_name(reason)
                        ),
                        list,
                    )
                }
                None => {
                    let list = by_key
                        .get(&(inv.party, cur))
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    let at = list.partition_point(|&(amount, ..)| amount < inv.amount.amount());
                    let mut near: Vec<&Credit> = list
                        [at.saturating_sub(NEAREST)..(at + NEAREST).min(list.len())]
                        .iter()
                        .map(|&(.., c)| c)
                        .collect();
                    near.sort_by_key(|c| {
                        ((c.entry.amount.amount() - inv.amount.amount()).abs(), c.id)
                    });
                    let list = near
                        .iter()
                        .take(NEAREST)
                        .map(|c| Candidate {
                            id: c.id,
                            amount: c.entry.amount,
                            amount_difference: Some(money(
                                c.entry.amount.amount() - inv.amount.amount(),
                                cur,
                            )),
                            days: c.entry.date().map(|d| (d - inv.invoice_date).num_days()),
                        })
                        .collect();
                    (
                        ExceptionReason::NoCandidate,
                        "no credit paying it has arrived".to_string(),
                        list,
                    )
                }
            };
            self.out.exceptions.push(Exception {
                subject: Subject::Invoice(inv.id),
                party: inv.party,
                reason,
                message,
                candidates,
            });
        }
    }
}

fn reason_name(r: ExceptionReason) -> &'static str {
    use crate::Named;
    r.name()
}

/// A match of `share` (converted) of credit `c` covering `covered` of an
/// invoice with `outstanding` left. With a conversion, the gap is put down
/// to fees up to the fee allowance and the rest to the conversion.
#[allow(clippy::too_many_arguments)]
fn make_match(
    c: &Credit,
    inv: &Invoice,
    outstanding: Decimal,
    covered: Decimal,
    share: Decimal,
    rate: Option<FxRate>,
    method: MatchMethod,
    reference: Option<String>,
    tol: &Tolerances,
) -> Match {
    let cur = inv.amount.currency();
    let gap = covered - share;
    let fee = if rate.is_some() {
        gap.clamp(
            Decimal::ZERO,
            tol.fee_allowance(outstanding).max(Decimal::ZERO),
        )
    } else {
        gap
    };
    Match {
        credit: c.id,
        invoice: inv.id,
        party: c.party,
        method,
        covered: money(covered, cur),
        converted: money(share, cur),
        fee_gap: money(fee, cur),
        fx_gap: money(gap - fee, cur),
        rate,
        days: c
            .entry
            .date()
            .map_or(0, |d| (d - inv.invoice_date).num_days()),
        reference,
    }
}

/// A match decided by hand: `amount` of the invoice settled by the credit,
/// or, without one, what the whole credit (converted) settles under the
/// tolerances.
pub fn manual(
    c: &Credit,
    inv: &Invoice,
    amount: Option<Money>,
    tol: &Tolerances,
) -> Result<Match, String> {
    if let Some(why) = c.entry.not_payable() {
        return Err(format!(
            "the entry {why}; only a booked credit of more than zero pays an earning"
        ));
    }
    let cur = inv.amount.currency();
    let outstanding = inv.amount.amount() - inv.realized;
    if outstanding <= Decimal::ZERO {
        return Err(format!(
            "earning {} is fully realized ({} of {} came home); unmatch what paid it first",
            inv.id,
            shown(inv.realized, cur),
            inv.amount
        ));
    }
    match amount {
        Some(a) if a.currency() != cur => Err(format!(
            "the amount is in {} but the earning is in {cur}",
            a.currency()
        )),
        Some(a) if a.amount() > outstanding => Err(format!(
            "{a} is more than earning {} has outstanding ({})",
            inv.id,
            shown(outstanding, cur)
        )),
        Some(a) => Ok(make_match(
            c,
            inv,
            outstanding,
            a.amount(),
            a.amount(),
            None,
            MatchMethod::Manual,
            None,
            tol,
        )),
        None => {
            let (converted, rate) = convert(&c.entry, cur, &inv.journey_rates).ok_or_else(|| {
                format!("the credit is in {} and the earning in {cur}, and no rate converts it; give the amount settled", c.entry.amount.currency())
            })?;
            let fx = rate.is_some() || c.entry.amount.currency() != cur;
            let covered = tol.covered(outstanding, converted, fx);
            Ok(make_match(
                c,
                inv,
                outstanding,
                covered,
                converted,
                rate,
                MatchMethod::Manual,
                None,
                tol,
            ))
        }
    }
}

/// An amount as a person reads it, in its currency's places.
fn shown(amount: Decimal, cur: Currency) -> String {
    Money::new(amount, cur).map_or_else(|_| format!("{amount} {cur}"), |m| m.to_string())
}

/// Matches a credit by hand to several earnings: each allocation bounded
/// by its earning's outstanding amount ([`manual`]), and together by what
/// the credit is worth in each earning's currency, give or take the fee
/// and FX tolerances (what a bank deducted on the way may still be
/// settled). Where no rate converts the credit, the amounts given stand:
/// the person knows the rate. An error names the allocation (by index)
/// that breaks a bound.
pub fn manual_all(
    c: &Credit,
    allocations: &[(&Invoice, Option<Money>)],
    tol: &Tolerances,
) -> Result<Vec<Match>, (usize, String)> {
    let mut matches = Vec::with_capacity(allocations.len());
    let mut totals: HashMap<Currency, Decimal> = HashMap::new();
    for (n, (inv, amount)) in allocations.iter().enumerate() {
        let m = manual(c, inv, *amount, tol).map_err(|e| (n, e))?;
        let cur = m.covered.currency();
        let total = totals.entry(cur).or_default();
        *total += m.covered.amount();
        if let Some((worth, rate)) = convert(&c.entry, cur, &inv.journey_rates) {
            let fx = rate.is_some() || c.entry.amount.currency() != cur;
            let allowed = worth + tol.fee_allowance(*total) + tol.fx_allowance(*total, fx);
            if *total > allowed {
                return Err((
                    n,
                    format!(
                        "the allocations settle {} but the credit of {} is worth {} (with the fee and FX tolerances, at most {})",
                        shown(*total, cur),
                        c.entry.amount,
                        shown(worth, cur),
                        shown(allowed, cur)
                    ),
                ));
            }
        }
        matches.push(m);
    }
    Ok(matches)
}
