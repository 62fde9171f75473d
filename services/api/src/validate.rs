//! Decoding and validation of wire values, collecting every field
//! violation with its path so a client can fix them all at once.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use repat_core::money::{MoneyError, parse_currency, parse_rate};
use repat_core::party::{is_bic, is_country_code};
use repat_core::time::check_event_time;
use repat_core::{Currency, Money};
use repat_proto::google::r#type::Date;
use repat_proto::v1 as pb;
use rust_decimal::Decimal;
use tonic_types::FieldViolation;
use uuid::Uuid;

/// `s` cut to [`MAX_DESCRIPTION`] bytes (at a character boundary), saying
/// how long it was.
fn bounded(s: String) -> String {
    if s.len() <= MAX_DESCRIPTION {
        return s;
    }
    let mut end = MAX_DESCRIPTION;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

/// Default and maximum page sizes of every list.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Longest free-text field accepted.
pub const MAX_TEXT: usize = 1024;

/// Most items of each list a request may hold (beyond the page sizes and
/// the claim's and the match's own caps): a request's work stays bounded
/// by more than its size in bytes.
pub const MAX_ALLOCATIONS: usize = 100;
pub const MAX_FEES_PER_STEP: usize = 20;
pub const MAX_DOCUMENTS: usize = 100;
pub const MAX_EVENT_TYPES: usize = 64;

/// Most violations reported for one request, and the longest description:
/// an answer that echoes input stays small enough for any client to read
/// (gRPC clients refuse metadata beyond a few kilobytes by default).
pub const MAX_VIOLATIONS: usize = 16;
pub const MAX_DESCRIPTION: usize = 160;

/// Collects field violations.
#[derive(Debug, Default)]
pub struct Violations(pub Vec<FieldViolation>, usize);

impl Violations {
    /// Records a violation; beyond [`MAX_VIOLATIONS`] only counts it, and a
    /// long description (which may quote the input) is cut short.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        if self.0.len() >= MAX_VIOLATIONS {
            self.1 += 1;
            return;
        }
        self.0.push(FieldViolation::new(
            bounded(field.into()),
            bounded(description.into()),
        ));
    }

    /// Keeps the value or records why it was refused.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    /// What was refused (with the count of those beyond the limit).
    pub fn into_list(self) -> Vec<FieldViolation> {
        self.finish(|| None::<()>).err().unwrap_or_default()
    }

    /// `Ok(v)` when nothing was refused.
    pub fn finish<T>(self, v: impl FnOnce() -> Option<T>) -> Result<T, Vec<FieldViolation>> {
        let Violations(mut found, more) = self;
        if more > 0 {
            found.push(FieldViolation::new(
                "",
                format!("and {more} more violations not listed"),
            ));
        }
        if !found.is_empty() {
            return Err(found);
        }
        v().ok_or_else(|| vec![FieldViolation::new("", "invalid request")])
    }

    pub fn required_uuid(&mut self, field: &str, s: &str) -> Option<Uuid> {
        if s.is_empty() {
            self.add(field, "is required");
            return None;
        }
        self.check(field, uuid(s))
    }

    pub fn optional_uuid(&mut self, field: &str, s: &str) -> Option<Option<Uuid>> {
        if s.is_empty() {
            Some(None)
        } else {
            self.check(field, uuid(s)).map(Some)
        }
    }

    /// Whether the list `field` of `n` items is within `max`; names the
    /// limit when it is not (its items are then not looked at).
    pub fn at_most(&mut self, field: &str, n: usize, max: usize) -> bool {
        if n > max {
            self.add(field, format!("has {n} items; at most {max} are allowed"));
        }
        n <= max
    }

    pub fn required_text(&mut self, field: &str, s: &str) -> Option<String> {
        if s.trim().is_empty() {
            self.add(field, "is required");
            return None;
        }
        self.text(field, s)
    }

    pub fn text(&mut self, field: &str, s: &str) -> Option<String> {
        if s.contains('\0') {
            self.add(field, "contains a NUL byte, which text may not hold");
            return None;
        }
        if s.len() > MAX_TEXT {
            self.add(
                field,
                format!("is {} bytes long; at most {MAX_TEXT} are allowed", s.len()),
            );
            return None;
        }
        Some(s.to_string())
    }

    /// The revision a correction expects its record at; 0 (unset) checks
    /// none.
    pub fn expected_revision(&mut self, field: &str, revision: i64) -> Option<Option<u32>> {
        match revision {
            0 => Some(None),
            r => match u32::try_from(r) {
                Ok(r) => Some(Some(r)),
                Err(_) => {
                    self.add(field, "must be a revision (1 or more), or 0 to check none");
                    None
                }
            },
        }
    }

    pub fn country(&mut self, field: &str, s: &str) -> Option<String> {
        if !is_country_code(s) {
            self.add(
                field,
                format!("must be an ISO 3166-1 alpha-2 code such as \"US\", got {s:?}"),
            );
            return None;
        }
        Some(s.to_string())
    }

    pub fn optional_bic(&mut self, field: &str, s: &str) -> Option<Option<String>> {
        if s.is_empty() {
            return Some(None);
        }
        if !is_bic(s) {
            self.add(
                field,
                format!("must be a BIC of 8 or 11 characters such as \"CITIUS33\", got {s:?}"),
            );
            return None;
        }
        Some(Some(s.to_string()))
    }

    pub fn currency(&mut self, field: &str, s: &str) -> Option<Currency> {
        self.check(field, parse_currency(s))
    }

    /// Money that must be present and positive.
    pub fn positive_money(&mut self, field: &str, m: Option<&pb::Money>) -> Option<Money> {
        let Some(m) = m else {
            self.add(field, "is required");
            return None;
        };
        match Money::parse_positive(&m.amount, &m.currency) {
            Ok(v) => Some(v),
            Err((part, e)) => {
                self.add(format!("{field}.{}", part.name()), e.to_string());
                None
            }
        }
    }

    /// Money that may be absent; when present, positive.
    pub fn optional_money(&mut self, field: &str, m: Option<&pb::Money>) -> Option<Option<Money>> {
        match m {
            None => Some(None),
            Some(m) => self.positive_money(field, Some(m)).map(Some),
        }
    }

    pub fn rate(&mut self, field: &str, s: &str) -> Option<Decimal> {
        self.check(
            field,
            parse_rate(s).map_err(|e| match e {
                MoneyError::Missing => "is required".to_string(),
                other => other.to_string(),
            }),
        )
    }

    /// A full calendar date.
    pub fn date(&mut self, field: &str, d: Option<&Date>) -> Option<NaiveDate> {
        let Some(d) = d else {
            self.add(field, "is required");
            return None;
        };
        let valid = u32::try_from(d.month)
            .ok()
            .zip(u32::try_from(d.day).ok())
            .and_then(|(m, day)| NaiveDate::from_ymd_opt(d.year, m, day));
        match valid {
            Some(v) if d.year >= 1970 && d.year <= 9999 => Some(v),
            _ => {
                self.add(
                    field,
                    format!(
                        "must be a full calendar date from 1970 on, got {}-{}-{}",
                        d.year, d.month, d.day
                    ),
                );
                None
            }
        }
    }

    pub fn optional_date(&mut self, field: &str, d: Option<&Date>) -> Option<Option<NaiveDate>> {
        match d {
            None => Some(None),
            Some(d) => self.date(field, Some(d)).map(Some),
        }
    }

    /// An event time: from 1970 to a day ahead of `now`, kept to the
    /// microsecond (what both databases store).
    pub fn event_time(
        &mut self,
        field: &str,
        t: Option<&prost_types::Timestamp>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let Some(t) = t else {
            self.add(field, "is required");
            return None;
        };
        let Some(at) = u32::try_from(t.nanos)
            .ok()
            .and_then(|n| DateTime::from_timestamp(t.seconds, n))
        else {
            self.add(field, "is not a valid timestamp");
            return None;
        };
        self.check(field, check_event_time(at, now))
            .map(|()| at.trunc_subsecs(6))
    }

    pub fn page_size(&mut self, size: i32) -> Option<u32> {
        match size {
            0 => Some(DEFAULT_PAGE_SIZE),
            s if s < 0 => {
                self.add("page_size", format!("must not be negative, got {s}"));
                None
            }
            s if s as u32 > MAX_PAGE_SIZE => {
                self.add(
                    "page_size",
                    format!("must be at most {MAX_PAGE_SIZE}, got {s}"),
                );
                None
            }
            s => Some(s as u32),
        }
    }
}

pub fn uuid(s: &str) -> Result<Uuid, String> {
    Uuid::try_parse(s).map_err(|_| {
        format!("must be a UUID such as \"0b6f8c1e-6f8a-4f1e-9a57-3c2d1e0f9a8b\", got {s:?}")
    })
}

/// The one id a Get or Watch request names.
pub fn id_field(field: &str, s: &str) -> Result<Uuid, Vec<FieldViolation>> {
    let mut v = Violations::default();
    let id = v.required_uuid(field, s);
    v.finish(|| id)
}

/// A non-empty request id that is a UUID.
pub fn request_id(v: &mut Violations, s: &str) -> Option<Uuid> {
    crate::observe::note_request_id(s);
    v.required_uuid("request_id", s)
}
