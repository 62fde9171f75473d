//! Wire values as people write and read them: instants, durations, dates,
//! money and enum names. Amounts stay decimal strings end to end.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use repat_proto::google::r#type::Date;
use repat_proto::v1 as pb;
use serde_json::Value;

/// An instant as RFC 3339 UTC, to the microsecond when it has a fraction.
pub fn timestamp(t: &Option<prost_types::Timestamp>) -> String {
    let Some(t) = t else { return String::new() };
    match DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.max(0) as u32) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => format!("{}s", t.seconds),
    }
}

/// Parses an RFC 3339 instant ("2024-03-04T09:00:00Z", "...+06:00").
pub fn parse_timestamp(s: &str) -> Result<prost_types::Timestamp, String> {
    let t = DateTime::parse_from_rfc3339(s.trim()).map_err(|e| {
        format!("{s:?} is not an RFC 3339 instant such as 2024-03-04T09:00:00Z ({e})")
    })?;
    Ok(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    })
}

/// The same instant written one way, to microseconds (what the server
/// keeps): part of a step's identity, so `+06:00` and `Z` spellings of one
/// instant are one step.
pub fn canonical_instant(t: &prost_types::Timestamp) -> String {
    let micros = t.nanos / 1000;
    format!("{}.{micros:06}", t.seconds)
}

pub fn now() -> prost_types::Timestamp {
    let t = Utc::now();
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn date(d: &Option<Date>) -> String {
    match d {
        Some(d) if d.year != 0 => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
        _ => String::new(),
    }
}

pub fn parse_date(s: &str) -> Result<Date, String> {
    use chrono::Datelike;
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date YYYY-MM-DD"))?;
    Ok(Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    })
}

pub fn money(m: &Option<pb::Money>) -> String {
    match m {
        Some(m) if !m.amount.is_empty() => format!("{} {}", m.amount, m.currency),
        _ => String::new(),
    }
}

/// Whole microseconds of a wire duration (the server's precision).
pub fn micros(d: &prost_types::Duration) -> i64 {
    d.seconds * 1_000_000 + i64::from(d.nanos / 1000)
}

/// A duration for people: "2d 03h 04m", "1h 05m", "4m 10s", "0.5s".
pub fn human_duration(d: &Option<prost_types::Duration>) -> String {
    let Some(d) = d else { return String::new() };
    human_micros(micros(d))
}

pub fn human_micros(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let us = us.unsigned_abs();
    let secs = us / 1_000_000;
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{sign}{d}d {h:02}h {m:02}m")
    } else if h > 0 {
        format!("{sign}{h}h {m:02}m")
    } else if m > 0 {
        format!("{sign}{m}m {s:02}s")
    } else {
        let frac = us % 1_000_000;
        if frac == 0 {
            format!("{sign}{s}s")
        } else {
            format!("{sign}{}s", trim_zeros(&format!("{s}.{frac:06}")))
        }
    }
}

/// A duration for scripts: exact seconds as a decimal string ("3600",
/// "1800.25"); null when unset.
pub fn seconds(d: &Option<prost_types::Duration>) -> Value {
    let Some(d) = d else { return Value::Null };
    let us = micros(d);
    let sign = if us < 0 { "-" } else { "" };
    let us = us.unsigned_abs();
    Value::String(trim_zeros(&format!(
        "{sign}{}.{:06}",
        us / 1_000_000,
        us % 1_000_000
    )))
}

fn trim_zeros(s: &str) -> String {
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// An enum's name without its prefix: STEP_KIND_NOSTRO_CREDITED reads
/// NOSTRO_CREDITED.
pub fn enum_name(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

/// An enum from its short name, any case, `-` or `_`
/// ("nostro-credited", "NOSTRO_CREDITED"); `what` names it in the error.
pub fn parse_enum<T>(
    s: &str,
    prefix: &str,
    what: &str,
    from_str_name: fn(&str) -> Option<T>,
    names: &[&str],
) -> Result<T, String> {
    let upper = s.trim().to_ascii_uppercase().replace('-', "_");
    let full = if upper.starts_with(prefix) {
        upper.clone()
    } else {
        format!("{prefix}{upper}")
    };
    match from_str_name(&full) {
        Some(v) if !full.ends_with("_UNSPECIFIED") => Ok(v),
        _ => Err(format!(
            "{s:?} is not a {what} (one of {})",
            names.join(", ")
        )),
    }
}

pub fn step_kind_name(kind: i32) -> String {
    pb::StepKind::try_from(kind)
        .map(|k| enum_name(k.as_str_name(), "STEP_KIND_"))
        .unwrap_or_else(|_| kind.to_string())
}

pub fn status_name(status: i32) -> String {
    pb::RepatriationStatus::try_from(status)
        .map(|k| enum_name(k.as_str_name(), "REPATRIATION_STATUS_"))
        .unwrap_or_else(|_| status.to_string())
}

pub fn channel_name(channel: i32) -> String {
    pb::Channel::try_from(channel)
        .map(|k| enum_name(k.as_str_name(), "CHANNEL_"))
        .unwrap_or_else(|_| channel.to_string())
}

pub fn party_kind_name(kind: i32) -> String {
    pb::PartyKind::try_from(kind)
        .map(|k| enum_name(k.as_str_name(), "PARTY_KIND_"))
        .unwrap_or_else(|_| kind.to_string())
}

pub fn zone_name(zone: i32) -> String {
    pb::Zone::try_from(zone)
        .map(|k| enum_name(k.as_str_name(), "ZONE_"))
        .unwrap_or_else(|_| zone.to_string())
}

/// ISO 20022 status reason codes (ExternalStatusReason1Code) and SWIFT gpi
/// reasons a payment is returned, rejected or held with, and what they mean.
const REASONS: &[(&str, &str)] = &[
    ("AC01", "incorrect account number"),
    ("AC03", "invalid creditor account number"),
    ("AC04", "closed account number"),
    ("AC06", "blocked account"),
    ("AC13", "invalid debtor account type"),
    ("AG01", "transaction forbidden on this account"),
    ("AG02", "invalid bank operation code"),
    ("AM02", "amount not allowed"),
    ("AM04", "insufficient funds"),
    ("AM05", "duplication"),
    ("AM09", "wrong amount"),
    ("BE01", "inconsistent with end customer"),
    ("BE04", "missing creditor address"),
    ("CUST", "requested by customer"),
    ("DUPL", "duplicate payment"),
    ("FF01", "invalid file format"),
    ("FOCR", "following cancellation request"),
    ("MD07", "end customer deceased"),
    ("MS02", "not specified reason, customer generated"),
    ("MS03", "not specified reason, agent generated"),
    ("NARR", "narrative"),
    ("RC01", "bank identifier incorrect"),
    ("RR01", "missing debtor account or identification"),
    ("RR02", "missing debtor name or address"),
    ("RR03", "missing creditor name or address"),
    ("RR04", "regulatory reason"),
    ("G000", "forwarded to the next gpi agent"),
    ("G001", "forwarded to a non-gpi agent"),
    ("G002", "credit may not be same day"),
    ("G003", "awaiting documents from the creditor"),
    ("G004", "awaiting cover funds"),
];

/// A reason code with its meaning, "AC06 (blocked account)"; an unknown
/// code as it is.
pub fn reason(code: &str) -> String {
    match REASONS
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code.trim()))
    {
        Some((c, meaning)) => format!("{c} ({meaning})"),
        None => code.to_string(),
    }
}

pub const STEP_KINDS: &[&str] = &[
    "INVOICE_ISSUED",
    "PAYMENT_INITIATED",
    "PLATFORM_RECEIVED",
    "PLATFORM_WITHDRAWN",
    "INTERMEDIARY_PROCESSED",
    "NOSTRO_CREDITED",
    "BENEFICIARY_CREDITED",
    "CONVERTED_TO_BDT",
    "PRC_ISSUED",
    "INCENTIVE_CLAIM_FILED",
    "INCENTIVE_AUDITED",
    "INCENTIVE_DISBURSED",
    "RETURNED",
    "REJECTED",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well_and_stay_exact() {
        let d = |seconds, nanos| Some(prost_types::Duration { seconds, nanos });
        assert_eq!(human_duration(&d(93_840, 0)), "1d 02h 04m");
        assert_eq!(human_duration(&d(3_900, 0)), "1h 05m");
        assert_eq!(human_duration(&d(250, 0)), "4m 10s");
        assert_eq!(human_duration(&d(0, 500_000_000)), "0.5s");
        assert_eq!(
            seconds(&d(1800, 250_000_000)),
            Value::String("1800.25".into())
        );
        assert_eq!(seconds(&d(3600, 0)), Value::String("3600".into()));
    }

    #[test]
    fn enums_parse_from_short_names() {
        let k = parse_enum(
            "nostro-credited",
            "STEP_KIND_",
            "step kind",
            pb::StepKind::from_str_name,
            STEP_KINDS,
        )
        .unwrap();
        assert_eq!(k, pb::StepKind::NostroCredited);
        assert!(
            parse_enum(
                "unspecified",
                "STEP_KIND_",
                "step kind",
                pb::StepKind::from_str_name,
                STEP_KINDS
            )
            .is_err()
        );
        assert!(
            parse_enum(
                "SOON",
                "STEP_KIND_",
                "step kind",
                pb::StepKind::from_str_name,
                STEP_KINDS
            )
            .unwrap_err()
            .contains("NOSTRO_CREDITED")
        );
    }

    #[test]
    fn reason_codes_say_what_they_mean() {
        assert_eq!(reason("AC06"), "AC06 (blocked account)");
        assert_eq!(reason("g001"), "G001 (forwarded to a non-gpi agent)");
        assert_eq!(reason("XY99"), "XY99");
    }

    #[test]
    fn one_instant_two_spellings() {
        let a = parse_timestamp("2024-03-04T15:00:00+06:00").unwrap();
        let b = parse_timestamp("2024-03-04T09:00:00.000000Z").unwrap();
        assert_eq!(canonical_instant(&a), canonical_instant(&b));
    }
}
