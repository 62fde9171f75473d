//! What can go wrong in storage, in terms the API maps to gRPC codes.

use repat_core::journey::JourneyViolation;
use repat_core::repatriation::AllocationError;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist (or the caller may not know it does).
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// A uniqueness rule of the domain was broken.
    #[error("{0}")]
    Duplicate(String),
    /// The request id was used before for a different request.
    #[error("request_id {0} was already used for a different request")]
    IdempotencyMismatch(Uuid),
    /// The step contradicts the journey.
    #[error(transparent)]
    Journey(#[from] JourneyViolation),
    /// The request contradicts the state of what it concerns (a claim on
    /// an unassessed repatriation, a claim step out of order).
    #[error("{0}")]
    Precondition(String),
    /// The allocations do not fit the earnings.
    #[error(transparent)]
    Allocation(#[from] AllocationError),
    /// The database cannot be reached; safe to retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A concurrent transaction conflicted; safe to retry.
    #[error("transaction conflict, retry: {0}")]
    Aborted(String),
    /// Bad configuration (url, options).
    #[error("{0}")]
    Config(String),
    /// Stored data could not be read back; a defect, never bad input.
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &e {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
                StoreError::Unavailable(e.to_string())
            }
            E::Database(db) => match db.code().as_deref() {
                // PostgreSQL: serialization failure, deadlock.
                Some("40001") | Some("40P01") => StoreError::Aborted(db.message().to_string()),
                // PostgreSQL: admin shutdown, cannot connect now; SQLite: busy, locked.
                Some("57P01") | Some("57P02") | Some("57P03") | Some("5") | Some("6")
                | Some("517") => StoreError::Unavailable(db.message().to_string()),
                _ => StoreError::Internal(e.to_string()),
            },
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(inner) => inner.into(),
            other => StoreError::Internal(format!("migration failed: {other}")),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Internal(format!("stored JSON unreadable: {e}"))
    }
}
