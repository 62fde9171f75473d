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

/// The Dhaka calendar date of an instant: the one function by which an
/// instant becomes a date that decides money (deadlines, rate dates, the
/// day a payment was realized).
pub fn dhaka_date(at: DateTime<Utc>) -> chrono::NaiveDate {
    at.with_timezone(&DHAKA).date_naive()
}

/// The instant a Dhaka calendar date begins (18:00 UTC the day before).
pub fn dhaka_day_start(date: chrono::NaiveDate) -> DateTime<Utc> {
    (date.and_time(chrono::NaiveTime::MIN) - DHAKA_OFFSET).and_utc()
}

/// The instant a Dhaka calendar date ends: the next day's start.
pub fn dhaka_day_end(date: chrono::NaiveDate) -> DateTime<Utc> {
    dhaka_day_start(date) + Duration::days(1)
}

const DHAKA_OFFSET: Duration = Duration::hours(6);

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

    #[test]
    fn a_dhaka_day_runs_from_18_00_utc_to_18_00_utc() {
        let d: chrono::NaiveDate = "2023-09-12".parse().unwrap();
        assert_eq!(dhaka_day_start(d).to_rfc3339(), "2023-09-11T18:00:00+00:00");
        assert_eq!(dhaka_day_end(d).to_rfc3339(), "2023-09-12T18:00:00+00:00");
        assert_eq!(dhaka_date(dhaka_day_start(d)), d);
        assert_eq!(dhaka_date(dhaka_day_end(d) - Duration::nanoseconds(1)), d);
    }
}
