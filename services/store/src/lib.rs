//! The repository: one interface ([`Repository`]) and two implementations,
//! PostgreSQL and SQLite, over sqlx. Migrations run at start. It is
//! persistence only: the use cases (`repat-usecases`) decide what changes,
//! with the pure core, and commit it through one write transaction
//! ([`Write`]).
//!
//! Guarantees, on both backends:
//! - a mutation, its effects and its idempotency record commit in one
//!   transaction: acknowledged means committed;
//! - a retried `request_id` returns the stored response and writes nothing;
//!   the same id with another payload is refused;
//! - money is exact (NUMERIC on PostgreSQL, canonical decimal TEXT on
//!   SQLite, summed in Rust).

mod checkpoints;
mod codec;
mod db;
mod dialect;
mod error;
mod event_rows;
pub mod events;
mod metrics_rows;
mod migrate;
mod model;
mod postgres;
mod repo;
mod rows;
mod search;
mod sqlite;
mod sqlite_writer;
mod types;

use std::sync::Arc;

pub use checkpoints::CheckpointRepository;
pub use codec::derive_id;
pub use dialect::JourneyUpdate;
pub use error::StoreError;
pub use events::{
    Attempt, CreditUnmatched, Delivery, DeliveryFilter, DeliveryStatus, DueDelivery, Endpoint,
    EventFilter, EventRepository, EventType, JourneyChange, NewEndpoint, NewEvent, StoredEvent,
    UnrealizedEarning, WebhookRepository,
};
pub use model::*;
pub use repo::{
    Revision, RevisionRepository, SqlRepository, StatementFile, StoredKey, Write,
    journey_change_events,
};
pub use search::{RepatriationSearch, SearchRepository};

/// Opens the database named by `url` (`postgres://...` or `sqlite:...`),
/// creating a SQLite file if needed, and applies the migrations.
pub async fn connect(
    url: &str,
    options: &ConnectOptions,
) -> Result<Arc<dyn Repository>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(SqlRepository::postgres(url, options).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqlRepository::sqlite(url, options).await?))
    } else {
        Err(StoreError::Config(format!(
            "database url must start with postgres:// or sqlite:, got {:?}",
            redact(url)
        )))
    }
}

/// Checks that `url` names a database this store can open, without
/// connecting to it.
pub fn check_url(url: &str) -> Result<(), StoreError> {
    use std::str::FromStr;
    let bad =
        |e: sqlx::Error| StoreError::Config(format!("bad database url {:?}: {e}", redact(url)));
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        sqlx::postgres::PgConnectOptions::from_str(url).map_err(bad)?;
    } else if url.starts_with("sqlite:") {
        sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(bad)?;
    } else {
        return Err(StoreError::Config(format!(
            "database url must start with postgres:// or sqlite:, got {:?}",
            redact(url)
        )));
    }
    Ok(())
}

/// The url without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite:repat.db"), "sqlite:repat.db");
    }
}
