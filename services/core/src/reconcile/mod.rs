//! Reconciliation: what the bank says arrived ([`entry`]) matched against
//! what was invoiced ([`matcher`]), and where each invoice stands as a
//! result ([`status`]). Pure: the store feeds it and keeps what it decides.

pub mod entry;
pub mod identity;
pub mod matcher;
pub mod references;
pub mod status;

pub use entry::{BookingStatus, Entry, EntryKind, StatementFormat};
pub use matcher::{
    Candidate, Credit, Exception, ExceptionReason, Invoice, Match, MatchMethod, Outcome, Subject,
    Tolerances, reconcile,
};
pub use status::{Realization, RealizationStatus, realization};
