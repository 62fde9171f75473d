//! References: how an invoice reference, an end-to-end id or a UETR is
//! compared, the words of a credit that could be one, and the index of the
//! invoices by the references they bear.
//!
//! A reference is compared upper case, and only if it is long enough not to
//! be found by chance in free text and is not a bank's "no reference".

use std::borrow::Cow;
use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::entry::Entry;

/// Words banks write where there is no reference.
const NO_REFERENCE: [&str; 2] = ["NOTPROVIDED", "NONREF"];

/// A reference as compared, or none when it cannot be one.
pub fn reference_key(reference: &str) -> Option<String> {
    let r = reference.trim().to_uppercase();
    comparable(&r).then_some(r)
}

/// Whether an upper-case, trimmed reference may be compared.
fn comparable(r: &str) -> bool {
    r.len() >= 3 && !NO_REFERENCE.contains(&r)
}

/// [`reference_key`], borrowing `reference` when it is already in the
/// compared form (plain ASCII upper case, nothing to trim): most are.
fn key_of(reference: &str) -> Option<Cow<'_, str>> {
    let plain = reference.is_ascii()
        && !reference.bytes().any(|b| b.is_ascii_lowercase())
        && reference.trim() == reference;
    if plain {
        comparable(reference).then_some(Cow::Borrowed(reference))
    } else {
        reference_key(reference).map(Cow::Owned)
    }
}

/// Calls `visit` with each reference a credit carries, in order: the words
/// of its remittance text (`INV-7/INV-8` is itself and its two halves,
/// `INV-7.` is `INV-7`), its end-to-end id and its UETR, each as compared.
/// Stops when `visit` returns true.
pub fn visit_credit_references(e: &Entry, mut visit: impl FnMut(&str) -> bool) {
    let mut word = String::new();
    for w in e.remittance.split(|c: char| {
        !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '/' || c == '.')
    }) {
        // Only ASCII is left in a word: upper case is ASCII upper case.
        let w = w.trim_matches(|c| c == '.' || c == '/' || c == '-');
        let mut seen_whole = false;
        for part in std::iter::once(w).chain(w.split('/')) {
            // A word without '/' is its own only half: compared once.
            if part.len() == w.len() {
                if seen_whole {
                    continue;
                }
                seen_whole = true;
            }
            word.clear();
            word.push_str(part);
            word.make_ascii_uppercase();
            if comparable(&word) && visit(&word) {
                return;
            }
        }
    }
    if let Some(k) = e.end_to_end_id.as_deref().and_then(reference_key)
        && visit(&k)
    {
        return;
    }
    if let Some(u) = e.uetr {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        visit(u.hyphenated().encode_upper(&mut buf));
    }
}

/// The references a credit carries, each once, as compared.
pub fn credit_references(e: &Entry) -> Vec<String> {
    let mut refs: Vec<String> = Vec::new();
    visit_credit_references(e, |r| {
        if !refs.iter().any(|k| k == r) {
            refs.push(r.to_string());
        }
        false
    });
    refs
}

/// Invoices by the references they bear (their invoice reference, and the
/// end-to-end ids and UETRs of the journeys paying them).
pub(super) struct ReferenceIndex<'a> {
    /// Reference → the last of its entries in `entries`.
    heads: HashMap<Cow<'a, str>, u32, RandomState>,
    /// (invoice position, the reference's previous entry or `NONE`).
    entries: Vec<(u32, u32)>,
}

const NONE: u32 = u32::MAX;

impl<'a> ReferenceIndex<'a> {
    pub(super) fn new(capacity: usize) -> Self {
        ReferenceIndex {
            heads: HashMap::with_capacity_and_hasher(capacity, RandomState::default()),
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Adds invoice `position` under each of `references` (once each).
    pub(super) fn add(&mut self, position: usize, references: &'a [String]) {
        let mut keys: Vec<Cow<'a, str>> = references.iter().filter_map(|r| key_of(r)).collect();
        if keys.len() > 1 {
            keys.sort();
            keys.dedup();
        }
        for k in keys {
            let at = self.entries.len() as u32;
            let previous = self.heads.insert(k, at).unwrap_or(NONE);
            self.entries.push((position as u32, previous));
        }
    }

    /// The invoices bearing `reference` (as compared), in no order.
    pub(super) fn get(&self, reference: &str) -> impl Iterator<Item = usize> + '_ {
        let mut at = self.heads.get(reference).copied().unwrap_or(NONE);
        std::iter::from_fn(move || {
            let (position, previous) = *self.entries.get(at as usize)?;
            at = previous;
            Some(position as usize)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Money;
    use chrono::NaiveDate;

    fn credit(text: &str) -> Entry {
        let usd = crate::Currency::from_code("USD").unwrap();
        let mut e = Entry::credit(
            0,
            Money::new(rust_decimal::Decimal::ONE, usd).unwrap(),
            NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        );
        e.remittance = text.into();
        e
    }

    #[test]
    fn words_halves_ids_and_uetrs() {
        let mut e = credit("Inv-7/inv-8. paid; NONREF ab é-x INV-9");
        e.end_to_end_id = Some(" e2e-1 ".into());
        e.uetr = Some(uuid::Uuid::from_u128(0xabc));
        assert_eq!(
            credit_references(&e),
            [
                "INV-7/INV-8",
                "INV-7",
                "INV-8",
                "PAID",
                "INV-9",
                "E2E-1",
                "00000000-0000-0000-0000-000000000ABC"
            ]
        );
    }

    #[test]
    fn keys_borrow_what_is_already_compared() {
        assert!(matches!(key_of("INV-1"), Some(Cow::Borrowed("INV-1"))));
        assert_eq!(key_of(" inv-1").as_deref(), Some("INV-1"));
        assert_eq!(key_of("straße").as_deref(), Some("STRASSE"));
        assert_eq!(key_of("ab"), None);
        assert_eq!(key_of("nonref"), None);
    }

    #[test]
    fn an_index_finds_every_invoice_of_a_reference() {
        let refs = [
            vec!["INV-1".to_string(), "inv-1".into(), "E2E".into()],
            vec!["E2E".to_string()],
        ];
        let mut index = ReferenceIndex::new(4);
        for (i, r) in refs.iter().enumerate() {
            index.add(i, r);
        }
        let mut e2e: Vec<usize> = index.get("E2E").collect();
        e2e.sort();
        assert_eq!(e2e, [0, 1]);
        assert_eq!(index.get("INV-1").collect::<Vec<_>>(), [0]);
        assert_eq!(index.get("INV-2").count(), 0);
    }
}
