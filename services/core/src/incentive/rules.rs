//! Rule sets: versioned TOML data, each rule with its source. Loading checks
//! what the engine relies on (rates in date order, known names), so a bad
//! edit is refused at start, not at the first assessment.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Named;
use crate::document::DocumentKind;

/// The Bangladesh rules shipped with the service.
pub const BANGLADESH: &str = include_str!("../../../../rules/bangladesh.toml");

/// Decimals in rule files are strings ("0.10"): a TOML float would pass
/// through binary floating point before it reached us.
mod exact {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let text = String::deserialize(d)?;
        crate::money::parse_decimal(&text)
            .map_err(|e| serde::de::Error::custom(format!("decimal {text:?} {e}")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub version: String,
    pub name: String,
    pub programmes: Vec<Programme>,
}

/// Which date selects the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RateDate {
    /// BENEFICIARY_CREDITED.
    Realization,
    Invoice,
}

/// What the rate applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Base {
    /// The amount credited after fees deducted abroad.
    NetCredited,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoundingMode {
    /// Half away from zero, as banks round.
    HalfUp,
    /// Half to even.
    HalfEven,
    /// Toward zero.
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rounding {
    pub mode: RoundingMode,
    pub scale: u32,
}

impl Rounding {
    pub fn apply(&self, v: Decimal) -> Decimal {
        use rust_decimal::RoundingStrategy as S;
        let strategy = match self.mode {
            RoundingMode::HalfUp => S::MidpointAwayFromZero,
            RoundingMode::HalfEven => S::MidpointNearestEven,
            RoundingMode::Down => S::ToZero,
        };
        let mut r = v.round_dp_with_strategy(self.scale, strategy);
        r.rescale(self.scale);
        r
    }

    pub fn describe(&self) -> String {
        let mode = match self.mode {
            RoundingMode::HalfUp => "half-up",
            RoundingMode::HalfEven => "half-even",
            RoundingMode::Down => "down",
        };
        format!("rounded {mode} to {} places", self.scale)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub from: NaiveDate,
    #[serde(with = "exact")]
    pub rate: Decimal,
    pub source: String,
}

/// A deadline counted in calendar days or in calendar months.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    #[serde(default)]
    pub days: Option<u32>,
    #[serde(default)]
    pub months: Option<u32>,
    pub source: String,
}

impl Deadline {
    /// The last allowed date counted from `start`.
    pub fn from(&self, start: NaiveDate) -> Option<NaiveDate> {
        match (self.days, self.months) {
            (Some(d), None) => start.checked_add_days(chrono::Days::new(u64::from(d))),
            (None, Some(m)) => start.checked_add_months(chrono::Months::new(m)),
            _ => None,
        }
    }

    /// The fewest days this deadline can allow (a month has at least 28).
    pub fn fewest_days(&self) -> u32 {
        match (self.days, self.months) {
            (Some(d), None) => d,
            (None, Some(m)) => m.saturating_mul(28),
            _ => 0,
        }
    }

    pub fn describe(&self) -> String {
        match (self.days, self.months) {
            (Some(d), None) => format!("{d} calendar days"),
            (None, Some(m)) => format!("{m} calendar months"),
            _ => "an invalid deadline".into(),
        }
    }
}

/// A document a programme requires, and when: from `required_from`
/// through `required_until` (either open), on the date the programme looks
/// at ([`Programme::date_looked_at`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRule {
    /// A [`DocumentKind`] name, e.g. "CONTRACT_OR_WORK_ORDER".
    pub document: String,
    #[serde(default)]
    pub required_from: Option<NaiveDate>,
    #[serde(default)]
    pub required_until: Option<NaiveDate>,
    /// The simplified route stands this document down...
    #[serde(default)]
    pub waived_by_simplified_route: bool,
    /// ...and, when named, this one serves instead on that route.
    #[serde(default)]
    pub simplified_route_instead: Option<String>,
    pub source: String,
}

impl DocumentRule {
    pub fn required_on(&self, date: NaiveDate) -> bool {
        self.required_from.is_none_or(|f| date >= f)
            && self.required_until.is_none_or(|u| date <= u)
    }
}

/// Small proceeds through a recognised marketplace need fewer documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimplifiedRoute {
    /// The first day the route is open (always, when unset).
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Proceeds up to and including this amount take the route.
    #[serde(with = "exact")]
    pub max_amount: Decimal,
    pub currency: String,
    /// The marketplaces recognised for the route, matched without regard
    /// to case.
    #[serde(default)]
    pub marketplaces: Vec<String>,
    pub source: String,
}

/// Whether proceeds take the simplified route, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Simplified,
    /// The normal route, with the reason the simplified one is closed
    /// (none when the programme has no simplified route).
    Normal(Option<String>),
}

impl SimplifiedRoute {
    /// Proceeds `net` realized through a recognised marketplace (or not)
    /// take the route on `date` when it is open and they are within its
    /// cap. Proceeds in another currency than the cap's do not: no rate
    /// the rules can name converts them.
    pub fn route(&self, date: NaiveDate, net: Option<&crate::Money>, marketplace: bool) -> Route {
        let cap = format!("{} {}", self.currency, self.max_amount);
        let closed = |why: String| Route::Normal(Some(why));
        if let Some(from) = self.from
            && date < from
        {
            return closed(format!("the simplified route opened on {from}"));
        }
        if !marketplace {
            return closed("the proceeds did not come through a recognised marketplace".into());
        }
        match net {
            None => closed("nothing has been credited yet".into()),
            Some(n) if n.currency().code() != self.currency => closed(format!(
                "{} {} credited is not in {}, the currency of its cap",
                n.currency().code(),
                n.amount(),
                self.currency
            )),
            Some(n) if n.amount() > self.max_amount => closed(format!(
                "{} {} credited is above its cap of {cap}",
                n.currency().code(),
                n.amount()
            )),
            Some(_) => Route::Simplified,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Programme {
    pub id: String,
    pub name: String,
    pub party_kinds: Vec<String>,
    pub service_categories: Vec<String>,
    pub rate_date: RateDate,
    pub base: Base,
    pub rounding: Rounding,
    #[serde(default)]
    pub excluded_zones: Vec<String>,
    #[serde(default)]
    pub exclusion_source: String,
    pub repatriation_deadline: Deadline,
    pub claim_window: Deadline,
    pub rates: Vec<Rate>,
    #[serde(default)]
    pub documents: Vec<DocumentRule>,
    #[serde(default)]
    pub simplified_route: Option<SimplifiedRoute>,
}

impl Programme {
    /// The date the programme's rules look at: the one that selects the
    /// rate, the documents required and the facts about the party (the
    /// realization date, unless the rule set says the invoice date).
    pub fn date_looked_at(
        &self,
        invoice_date: NaiveDate,
        realized_on: Option<NaiveDate>,
    ) -> Option<NaiveDate> {
        match self.rate_date {
            RateDate::Realization => realized_on,
            RateDate::Invoice => Some(invoice_date),
        }
    }

    /// The rate in force on `date`: the last one that started on or before it.
    pub fn rate_on(&self, date: NaiveDate) -> Option<&Rate> {
        self.rates.iter().rev().find(|r| r.from <= date)
    }

    /// The highest rate the programme ever has.
    pub fn highest_rate(&self) -> Decimal {
        self.rates
            .iter()
            .map(|r| r.rate)
            .max()
            .unwrap_or(Decimal::ZERO)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleSetError {
    #[error("rule set is not valid TOML for this format: {0}")]
    Parse(String),
    #[error("programme {programme}: {reason}")]
    Invalid { programme: String, reason: String },
}

impl RuleSet {
    /// The programme that covers a party of `party_kind` exporting
    /// `category` (names as in the rule file): the one place that choice is
    /// made, for assessment and for deadlines alike.
    pub fn programme_for(&self, party_kind: &str, category: &str) -> Option<&Programme> {
        self.programmes.iter().find(|p| {
            p.party_kinds.iter().any(|k| k == party_kind)
                && p.service_categories.iter().any(|c| c == category)
        })
    }

    /// The last day a repatriation may be realized: the repatriation
    /// deadline of the programme of `party_kind` and the earliest invoice's
    /// `category`, counted from that invoice's date. `None` when no
    /// programme covers it.
    pub fn repatriation_deadline(
        &self,
        party_kind: &str,
        category: &str,
        invoice_date: NaiveDate,
    ) -> Option<NaiveDate> {
        self.programme_for(party_kind, category)?
            .repatriation_deadline
            .from(invoice_date)
    }

    /// The fewest days any programme allows from invoice to realization and
    /// from realization to claim: a bound to find candidates by (in SQL)
    /// before each is checked against its own programme's deadline.
    pub fn shortest_deadlines(&self) -> (u32, u32) {
        let shortest = |d: fn(&Programme) -> &Deadline| {
            self.programmes
                .iter()
                .map(|p| d(p).fewest_days())
                .min()
                .unwrap_or(0)
        };
        (
            shortest(|p| &p.repatriation_deadline),
            shortest(|p| &p.claim_window),
        )
    }

    /// Parses and checks a rule set.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleSetError> {
        let set: RuleSet = toml::from_str(text).map_err(|e| RuleSetError::Parse(e.to_string()))?;
        for p in &set.programmes {
            let invalid = |reason: String| RuleSetError::Invalid {
                programme: p.id.clone(),
                reason,
            };
            if p.rates.is_empty() {
                return Err(invalid("has no rates".into()));
            }
            if p.rates.windows(2).any(|w| w[0].from >= w[1].from) {
                return Err(invalid(
                    "rates must be in strictly increasing order of `from`".into(),
                ));
            }
            if let Some(r) = p
                .rates
                .iter()
                .find(|r| r.rate < Decimal::ZERO || r.rate > Decimal::ONE)
            {
                return Err(invalid(format!(
                    "rate {} from {} is not between 0 and 1",
                    r.rate, r.from
                )));
            }
            for d in [&p.repatriation_deadline, &p.claim_window] {
                if d.days.is_some() == d.months.is_some() {
                    return Err(invalid(
                        "a deadline needs exactly one of `days` or `months`".into(),
                    ));
                }
            }
            for k in &p.party_kinds {
                if !["FIRM", "FREELANCER"].contains(&k.as_str()) {
                    return Err(invalid(format!("unknown party kind {k:?}")));
                }
            }
            for c in &p.service_categories {
                if !["SOFTWARE", "ITES", "HARDWARE"].contains(&c.as_str()) {
                    return Err(invalid(format!("unknown service category {c:?}")));
                }
            }
            for z in &p.excluded_zones {
                if !["EPZ", "ECONOMIC_ZONE", "HI_TECH_PARK"].contains(&z.as_str()) {
                    return Err(invalid(format!("unknown zone {z:?}")));
                }
            }
            for d in &p.documents {
                for name in std::iter::once(&d.document).chain(&d.simplified_route_instead) {
                    if DocumentKind::from_name(name).is_none() {
                        let known: Vec<&str> =
                            DocumentKind::NAMES.iter().map(|(_, n)| *n).collect();
                        return Err(invalid(format!(
                            "unknown document {name:?}; documents are {known:?}"
                        )));
                    }
                }
                if d.simplified_route_instead.is_some() && !d.waived_by_simplified_route {
                    return Err(invalid(format!(
                        "{}: simplified_route_instead needs waived_by_simplified_route",
                        d.document
                    )));
                }
                if d.waived_by_simplified_route && p.simplified_route.is_none() {
                    return Err(invalid(format!(
                        "{} is waived by a simplified route the programme does not have",
                        d.document
                    )));
                }
            }
        }
        Ok(set)
    }

    /// Whether a programme's simplified route recognises `marketplace`.
    pub fn recognises_marketplace(&self, marketplace: &str) -> bool {
        let name = marketplace.trim();
        !name.is_empty()
            && self
                .programmes
                .iter()
                .filter_map(|p| p.simplified_route.as_ref())
                .any(|r| r.marketplaces.iter().any(|m| m.eq_ignore_ascii_case(name)))
    }

    /// The shipped Bangladesh rules.
    pub fn bangladesh() -> RuleSet {
        // Checked by the test below; a broken shipped file fails the build's tests.
        RuleSet::from_toml(BANGLADESH)
            .unwrap_or_else(|e| panic!("shipped rules/bangladesh.toml is invalid: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_load_and_cite_a_source_for_every_rate() {
        let set = RuleSet::from_toml(BANGLADESH).unwrap();
        assert_eq!(set.programmes.len(), 2);
        assert!(
            set.programmes
                .iter()
                .flat_map(|p| &p.rates)
                .all(|r| !r.source.is_empty())
        );
        let firm = &set.programmes[0];
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            firm.rate_on(d("2024-01-31")).unwrap().rate.to_string(),
            "0.10"
        );
        assert_eq!(
            firm.rate_on(d("2024-02-01")).unwrap().rate.to_string(),
            "0.08"
        );
        assert_eq!(
            firm.rate_on(d("2024-07-01")).unwrap().rate.to_string(),
            "0.06"
        );
        assert!(firm.rate_on(d("2017-06-30")).is_none());
    }

    #[test]
    fn bad_edits_are_refused() {
        let swapped = BANGLADESH.replacen("from = \"2024-02-01\"", "from = \"2016-01-01\"", 1);
        assert!(matches!(
            RuleSet::from_toml(&swapped),
            Err(RuleSetError::Invalid { .. })
        ));
        let float = BANGLADESH.replacen("rate = \"0.10\"", "rate = 0.1", 1);
        assert!(
            RuleSet::from_toml(&float).is_err(),
            "a float rate is not accepted"
        );
        assert!(matches!(
            RuleSet::from_toml("version = 1"),
            Err(RuleSetError::Parse(_))
        ));
        let misspelt = BANGLADESH.replacen("document = \"INVOICE\"", "document = \"INVOCE\"", 1);
        assert!(
            matches!(RuleSet::from_toml(&misspelt), Err(RuleSetError::Invalid { reason, .. }) if reason.contains("unknown document \"INVOCE\"")),
            "a misspelt document would make every claim ineligible"
        );
    }

    #[test]
    fn deadlines_in_days_and_months_differ_as_domain_md_says() {
        let start = NaiveDate::from_ymd_opt(2023, 8, 1).unwrap();
        let days = Deadline {
            days: Some(120),
            months: None,
            source: String::new(),
        };
        let months = Deadline {
            days: None,
            months: Some(4),
            source: String::new(),
        };
        assert_eq!(days.from(start).unwrap().to_string(), "2023-11-29");
        assert_eq!(months.from(start).unwrap().to_string(), "2023-12-01");
    }
}
