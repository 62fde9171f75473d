//! What a use case answers when it does not do what was asked. The API
//! maps each variant to one gRPC code, in one place (`repat-api`'s
//! `error.rs`).

use repat_core::journey::JourneyViolation;
use repat_core::repatriation::AllocationError;
use repat_store::StoreError;

/// A field of the request and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's path in the request, e.g. `allocations[1].amount`.
    pub field: String,
    pub description: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Violation {
            field: field.into(),
            description: description.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input found by the use case (what only the stored data or the
    /// core can tell: a file's entries, an amount too large to compute).
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    /// A record the caller may not see, answered as an absent one.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// A uniqueness rule of the domain (an invoice reference per party).
    #[error("{0}")]
    Duplicate(String),
    /// The step contradicts the journey.
    #[error(transparent)]
    Journey(#[from] JourneyViolation),
    /// The allocations do not fit the earnings.
    #[error(transparent)]
    Allocation(#[from] AllocationError),
    /// The request contradicts the state of what it concerns (a claim on
    /// an unassessed repatriation, a claim step out of order).
    #[error("{0}")]
    Precondition(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// A refusal of one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Error {
        Error::Invalid(vec![Violation::new(field, description)])
    }

    /// A defect, never the caller's doing.
    pub fn internal(what: impl Into<String>) -> Error {
        Error::Store(StoreError::Internal(what.into()))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
