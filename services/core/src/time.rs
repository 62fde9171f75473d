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

/// Bangladesh Standard Time, UTC+06:00 all year (no daylight saving since
/// 2009): the calendar that deadlines and rate dates are counted in.
pub const DHAKA: chrono::FixedOffset = match chrono::FixedOffset::east_opt(6 * 3600) {
    Some(offset) => offset,
    None => panic!("+06:00 is a valid offset"),
};

/// The Dhaka calendar date of an instant.
pub fn dhaka_date(at: DateTime<Utc>) -> chrono::NaiveDate {
    at.with_timezone(&DHAKA).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evening_in_utc_is_the_next_day_in_dhaka() {
        let at: DateTime<Utc> = "2023-09-11T18:00:00Z".parse().unwrap();
        assert_eq!(dhaka_date(at).to_string(), "2023-09-12");
        let at: DateTime<Utc> = "2023-09-11T17:59:59Z".parse().unwrap();
        assert_eq!(dhaka_date(at).to_string(), "2023-09-11");
    }
}
