//! Business days in Bangladesh: the weekend is Friday and Saturday. Public
//! holidays are not modelled (a holiday makes the measure stricter, never
//! looser).

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};

use crate::time::dhaka_date;

pub fn is_business_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Fri | Weekday::Sat)
}

/// The `n`th business day after `d`.
pub fn add_business_days(d: NaiveDate, n: u32) -> NaiveDate {
    let mut day = d;
    let mut left = n;
    while left > 0 {
        day = day.checked_add_days(Days::new(1)).unwrap_or(day);
        if is_business_day(day) {
            left -= 1;
        }
    }
    day
}

/// Funds available by the end of the first business day after the day the
/// payment was initiated (Dhaka dates): the G20 "within one business day".
pub fn within_one_business_day(initiated: DateTime<Utc>, available: DateTime<Utc>) -> bool {
    dhaka_date(available) <= add_business_days(dhaka_date(initiated), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weekend_is_friday_and_saturday() {
        // 2024-03-07 is a Thursday: the next business day is Sunday 03-10.
        let thursday = NaiveDate::from_ymd_opt(2024, 3, 7).unwrap();
        assert_eq!(add_business_days(thursday, 1).to_string(), "2024-03-10");
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(within_one_business_day(
            at("2024-03-07T04:00:00Z"),
            at("2024-03-10T17:59:59Z")
        ));
        assert!(
            !within_one_business_day(at("2024-03-07T04:00:00Z"), at("2024-03-10T18:00:00Z")),
            "Monday in Dhaka"
        );
        assert!(within_one_business_day(
            at("2024-03-10T04:00:00Z"),
            at("2024-03-11T10:00:00Z")
        ));
    }
}
