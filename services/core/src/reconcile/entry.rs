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
    /// ISO 20022 bank-to-customer statement (end of day).
    Camt053,
    /// ISO 20022 debit/credit notification.
    Camt054,
    /// SWIFT MT940 customer statement (end of day).
    Mt940,
    /// repat's CSV (columns in the README).
    Csv,
    /// ISO 20022 intraday account report: its entries are provisional.
    Camt052,
    /// SWIFT MT942 interim transaction report: its entries are provisional.
    Mt942,
}

crate::names::named!(StatementFormat {
    Camt053 => "CAMT_053",
    Camt054 => "CAMT_054",
    Mt940 => "MT940",
    Csv => "CSV",
    Camt052 => "CAMT_052",
    Mt942 => "MT942",
});

/// Whether the bank has booked an entry (camt `Sts`; every entry of an
/// intraday report is provisional).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum BookingStatus {
    /// Booked on the account: the only status that can pay an invoice.
    #[default]
    Booked,
    /// Not booked yet (camt `PDNG`, `FUTR`, an intraday report's entries):
    /// a later statement books it, or not.
    Pending,
    /// For information only (camt `INFO`), never booked as such.
    Information,
}

crate::names::named!(BookingStatus { Booked => "BOOKED", Pending => "PENDING", Information => "INFORMATION" });

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
    /// Booked, pending or for information.
    #[serde(default)]
    pub status: BookingStatus,
    /// Booked amount, in the account's currency; zero or more (banks
    /// report fee-free notices and corrections as zero).
    pub amount: Money,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    /// When the bank gives the booking instant (camt `BookgDt/DtTm`; one
    /// written without an offset is the bank's local time).
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

    /// Why this entry cannot pay an invoice, if it cannot: only a booked
    /// credit of more than zero can.
    pub fn not_payable(&self) -> Option<String> {
        use crate::Named;
        if self.kind != EntryKind::Credit {
            Some(format!("is a {}, not a credit", self.kind.name()))
        } else if self.status != BookingStatus::Booked {
            Some(format!(
                "is {}, not booked: a later statement books it",
                self.status.name()
            ))
        } else if self.amount.amount().is_zero() {
            Some("is of zero amount".to_string())
        } else {
            None
        }
    }

    /// A minimal credit, for tests and generators.
    pub fn credit(index: u32, amount: Money, date: NaiveDate) -> Entry {
        Entry {
            index,
            kind: EntryKind::Credit,
            status: BookingStatus::Booked,
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
