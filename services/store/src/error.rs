//! What can go wrong in storage, in terms the API maps to gRPC codes.

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
    /// The change contradicts what is stored (a constraint of the
    /// schema, a rule set version stored with other content).
    #[error("{0}")]
    Precondition(String),
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
            // Another transaction committed the same key first: the
            // client's conflict, not a defect.
            E::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
                StoreError::Duplicate(unique_conflict(db.as_ref()))
            }
            E::Database(db)
                if matches!(
                    db.kind(),
                    sqlx::error::ErrorKind::CheckViolation
                        | sqlx::error::ErrorKind::ForeignKeyViolation
                ) =>
            {
                StoreError::Precondition(format!(
                    "the change conflicts with what is stored ({})",
                    constraint_of(db.as_ref())
                ))
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

/// The constraint a database error names: PostgreSQL gives its name,
/// SQLite the columns in its message.
fn constraint_of(db: &dyn sqlx::error::DatabaseError) -> String {
    match db.constraint() {
        Some(name) => name.to_string(),
        None => db
            .message()
            .trim_start_matches("UNIQUE constraint failed: ")
            .to_string(),
    }
}

/// What a unique violation means to the client, for the keys a client can
/// race on; the constraint otherwise.
fn unique_conflict(db: &dyn sqlx::error::DatabaseError) -> String {
    let constraint = constraint_of(db);
    if constraint.contains("invoice_reference") {
        "invoice_reference is already recorded for this party (by a request that committed first)"
            .into()
    } else {
        format!(
            "a record with the same key was stored by a request that committed first ({constraint})"
        )
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
