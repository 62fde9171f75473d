//! The range of instants the service accepts.

use chrono::{DateTime, Duration, Utc};

/// How far ahead of the server's clock an event may claim to have occurred:
/// clocks drift and time zones get mislabelled, but not by more than a day.
pub const MAX_CLOCK_SKEW: Duration = Duration::days(1);

/// Why an instant was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    #[error("is before 1970-01-01T00:00:00Z")]
    BeforeEpoch,
    #[error("is more than a day in the future ({0})")]
    InFuture(DateTime<Utc>),
}

/// Accepts an event time between the Unix epoch and a day past `now`.
pub fn check_event_time(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), InstantError> {
    if at < DateTime::UNIX_EPOCH {
        return Err(InstantError::BeforeEpoch);
    }
    if at > now + MAX_CLOCK_SKEW {
        return Err(InstantError::InFuture(at));
    }
    Ok(())
}
