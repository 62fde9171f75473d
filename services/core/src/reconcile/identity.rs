//! When two statement entries are the same payment: the same UETR, or the
//! same bank reference or end-to-end id for the same amount, on the same
//! party's accounts. A credit reported twice (a camt.054 and then the
//! day's camt.053) is one payment; a reversal takes back the credit it is
//! the same payment as.

use uuid::Uuid;

use super::entry::Entry;
use super::references::reference_key;
use crate::Money;

/// One way an entry identifies its payment (within one party).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity<'a> {
    Uetr(Uuid),
    /// The bank's own reference (`AcctSvcrRef`) and the amount.
    Servicer(&'a str, Money),
    /// The end-to-end id, as compared, and the amount.
    EndToEnd(String, Money),
}

/// The identities of an entry (none, one, or up to three).
pub fn identities(e: &Entry) -> impl Iterator<Item = Identity<'_>> {
    let uetr = e.uetr.map(Identity::Uetr);
    let servicer = e
        .servicer_reference
        .as_deref()
        .map(|r| Identity::Servicer(r, e.amount));
    let end_to_end = e
        .end_to_end_id
        .as_deref()
        .and_then(reference_key)
        .map(|r| Identity::EndToEnd(r, e.amount));
    uetr.into_iter().chain(servicer).chain(end_to_end)
}

impl Identity<'_> {
    /// The identity as one string, the form the store indexes entries by:
    /// `U:<uetr>`, `S:<reference>:<amount> <currency>`,
    /// `E:<end-to-end id>:<amount> <currency>` (the amount at the
    /// currency's minor units, last, so no two identities share a key).
    pub fn key(&self) -> String {
        match self {
            Identity::Uetr(u) => format!("U:{u}"),
            Identity::Servicer(r, m) => format!("S:{r}:{m}"),
            Identity::EndToEnd(r, m) => format!("E:{r}:{m}"),
        }
    }
}

/// [`Identity::key`] of each identity of `e`.
pub fn identity_keys(e: &Entry) -> Vec<String> {
    identities(e).map(|i| i.key()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn keys_name_the_payment_and_its_amount() {
        let usd = crate::Currency::from_code("USD").unwrap();
        let mut e = Entry::credit(
            0,
            Money::new(rust_decimal::Decimal::new(99000, 2), usd).unwrap(),
            NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
        );
        assert!(identity_keys(&e).is_empty());
        e.uetr = Some(Uuid::from_u128(1));
        e.servicer_reference = Some("B-1".into());
        e.end_to_end_id = Some(" e2e-1".into());
        assert_eq!(
            identity_keys(&e),
            [
                "U:00000000-0000-0000-0000-000000000001",
                "S:B-1:990.00 USD",
                "E:E2E-1:990.00 USD"
            ]
        );
        e.end_to_end_id = Some("NOTPROVIDED".into());
        assert_eq!(identity_keys(&e).len(), 2);
    }
}
