//! One entry of a bank statement, reduced to what matching needs, whatever
//! format it came in.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Money;
use crate::journey::FxRate;

/// The formats a statement may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StatementFormat {
    /// ISO 20022 bank-to-customer statement, `.001.02` to `.001.08`.
    Camt053,
    /// ISO 20022 debit/credit notification, `.001.02` to `.001.08`.
    Camt054,
    /// SWIFT MT940 customer statement.
    Mt940,
    /// repat's CSV (columns in the README).
    Csv,
}

crate::names::named!(StatementFormat { Camt053 => "CAMT_053", Camt054 => "CAMT_054", Mt940 => "MT940", Csv => "CSV" });

/// Which way an entry moved the money. Only a [`EntryKind::Credit`] can
/// pay an invoice; the others are kept and shown, never matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    /// Money in.
    Credit,
    /// Money out.
    Debit,
    /// Takes back an earlier credit (camt `RvslInd` on a debit; MT940 `RC`).
    CreditReversal,
    /// Takes back an earlier debit (camt `RvslInd` on a credit; MT940 `RD`).
    DebitReversal,
}

crate::names::named!(EntryKind { Credit => "CREDIT", Debit => "DEBIT", CreditReversal => "CREDIT_REVERSAL", DebitReversal => "DEBIT_REVERSAL" });

/// An entry as read from a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the statement, from 0.
    pub index: u32,
    pub kind: EntryKind,
    /// Booked amount, in the account's currency; positive.
    pub amount: Money,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    /// When the bank gives the booking instant (camt `BookgDt/DtTm`).
    pub booked_at: Option<DateTime<Utc>>,
    /// The bank's own reference of the entry (camt `AcctSvcrRef`, MT940
    /// reference for the account servicing institution).
    pub servicer_reference: Option<String>,
    pub end_to_end_id: Option<String>,
    pub uetr: Option<Uuid>,
    /// Remittance information and any other free text, joined.
    pub remittance: String,
    /// The payer as the bank names it.
    pub counterparty: String,
    /// Charges the bank reports on the entry.
    pub charges: Option<Money>,
    /// The amount as instructed, before conversion (camt
    /// `AmtDtls/InstdAmt`), when the payment was converted.
    pub instructed: Option<Money>,
    /// The rate the payment was converted at.
    pub fx_rate: Option<FxRate>,
}

impl Entry {
    /// The date matching counts from: the value date (funds available),
    /// else the booking date.
    pub fn date(&self) -> Option<NaiveDate> {
        self.value_date.or(self.booking_date)
    }

    /// A minimal credit, for tests and generators.
    pub fn credit(index: u32, amount: Money, date: NaiveDate) -> Entry {
        Entry {
            index,
            kind: EntryKind::Credit,
            amount,
            booking_date: Some(date),
            value_date: Some(date),
            booked_at: None,
            servicer_reference: None,
            end_to_end_id: None,
            uetr: None,
            remittance: String::new(),
            counterparty: String::new(),
            charges: None,
            instructed: None,
            fx_rate: None,
        }
    }
}
