//! The rows of the delay-metrics tables for one journey, computed from its
//! steps by the domain (core::metrics) and written by each backend.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use repat_core::journey::Step;
use repat_core::metrics::{business, observations, sketch, summary};
use repat_core::time::dhaka_date;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::ScorecardRow;
use crate::rows::{RemovedObservation, RemovedSummary};

/// The dimensions of a journey: its repatriation, party and earliest
/// invoice (each backend adds its own `WHERE` on `r.id`).
pub const JOURNEY_DIMS: &str = "SELECT r.id, r.channel, r.payer_country, r.party_id, p.kind,
        (SELECT MIN(e.invoice_date) FROM allocations a JOIN earnings e ON e.id = a.earning_id WHERE a.repatriation_id = r.id) AS invoice_date
     FROM repatriations r JOIN parties p ON p.id = r.party_id";

/// What a journey is grouped by, from its repatriation and party.
#[derive(Debug, Clone)]
pub struct JourneyDims {
    pub corridor: String,
    pub channel: String,
    pub party_kind: String,
    pub party_id: Uuid,
    /// The earliest invoice the repatriation pays.
    pub invoice_date: NaiveDate,
}

pub struct ObservationRow {
    pub repatriation_id: Uuid,
    pub position: i32,
    pub measure: &'static str,
    pub end_at: DateTime<Utc>,
    pub micros: i64,
    pub bucket: i32,
    pub institution: Option<String>,
    pub month: String,
}

pub struct SummaryRow {
    pub repatriation_id: Uuid,
    pub initiated_at: Option<DateTime<Utc>>,
    pub funds_at: Option<DateTime<Utc>>,
    pub claim_filed_at: Option<DateTime<Utc>>,
    pub disbursed_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub realized_on: Option<NaiveDate>,
    /// Calendar days (Dhaka) from the invoice to realization.
    pub realized_days: Option<i32>,
    /// Calendar days (Dhaka) from realization to the claim's filing.
    pub claim_days: Option<i32>,
    pub initiation_to_funds: Option<i64>,
    pub within_business_day: Option<bool>,
    pub fee_share_ppm: Option<i64>,
    /// Dhaka month of initiation.
    pub month: Option<String>,
}

/// "YYYY-MM" of an instant, in Dhaka.
pub fn month(at: DateTime<Utc>) -> String {
    let d = dhaka_date(at);
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The metrics rows of journey `id`.
pub fn rows_for(id: Uuid, dims: &JourneyDims, steps: &[Step]) -> (Vec<ObservationRow>, SummaryRow) {
    let obs = observations(steps, &[dims.invoice_date])
        .into_iter()
        .enumerate()
        .map(|(i, o)| ObservationRow {
            repatriation_id: id,
            position: i as i32,
            measure: o.measure,
            end_at: o.end_at,
            micros: o.micros,
            bucket: sketch::bucket(o.micros),
            institution: o.institution,
            month: month(o.end_at),
        })
        .collect();
    let s = summary(steps);
    let realized_on = s.funds_at.map(dhaka_date);
    let days = |a: NaiveDate, b: NaiveDate| (b - a).num_days() as i32;
    let row = SummaryRow {
        repatriation_id: id,
        initiated_at: s.initiated_at,
        funds_at: s.funds_at,
        claim_filed_at: s.claim_filed_at,
        disbursed_at: s.disbursed_at,
        ended_at: s.ended_at,
        realized_on,
        realized_days: realized_on.map(|r| days(dims.invoice_date, r)),
        claim_days: realized_on
            .zip(s.claim_filed_at)
            .map(|(r, f)| days(r, dhaka_date(f))),
        initiation_to_funds: s
            .initiated_at
            .zip(s.funds_at)
            .and_then(|(i, f)| (f - i).num_microseconds()),
        within_business_day: s
            .initiated_at
            .zip(s.funds_at)
            .map(|(i, f)| business::within_one_business_day(i, f)),
        fee_share_ppm: s.fee_share.and_then(|f| {
            use rust_decimal::prelude::ToPrimitive;
            (f * Decimal::from(1_000_000)).trunc().to_i64()
        }),
        month: s.initiated_at.map(month),
    };
    (obs, row)
}

/// Longest wait from initiation to funds that counts as within the hour
/// (the scorecard's speed target; migration 0016 repeats it, filling
/// scorecard_rollup).
pub const WITHIN_HOUR_MICROS: i64 = 3_600_000_000;

/// A rollup table: its key (its primary key, migration 0017), and the
/// columns summed over a key.
pub struct Rollup {
    pub table: &'static str,
    pub key: &'static str,
    pub sums: &'static [&'static str],
}

pub const DELAY_BY_MONTH: Rollup = Rollup {
    table: "delay_rollup",
    key: "measure, corridor, month, bucket",
    sums: &["n", "total"],
};
pub const DELAY_BY_CORRIDOR: Rollup = Rollup {
    table: "delay_rollup_corridor",
    key: "measure, corridor, bucket",
    sums: &["n", "total"],
};
pub const DELAY_BY_DIMS: Rollup = Rollup {
    table: "delay_rollup_dims",
    key: "measure, corridor, channel, institution, party_kind, bucket",
    sums: &["n", "total"],
};
pub const SCORECARD: Rollup = Rollup {
    table: "scorecard_rollup",
    key: "corridor, month",
    sums: &[
        "completed",
        "within_hour",
        "within_business_day",
        "costed",
        "fee_share_ppm_sum",
    ],
};
pub const ROLLUPS: [Rollup; 4] = [DELAY_BY_MONTH, DELAY_BY_CORRIDOR, DELAY_BY_DIMS, SCORECARD];

impl Rollup {
    /// What follows an `INSERT` of deltas into the rollup so that they add
    /// to the sums of keys already there (the same SQL on both backends).
    pub fn add_to_keys(&self) -> String {
        let (table, key) = (self.table, self.key);
        let set = self
            .sums
            .iter()
            .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(" ON CONFLICT ({key}) DO UPDATE SET {set}")
    }

    /// The statement that clears the keys whose sums all came back to zero
    /// (journeys moved to other keys).
    pub fn clear_zero_keys(&self) -> String {
        let zero = self
            .sums
            .iter()
            .map(|c| format!("{c} = 0"))
            .collect::<Vec<_>>()
            .join(" AND ");
        format!("DELETE FROM {} WHERE {zero}", self.table)
    }
}

/// A signed change to the count and sum of one delay_rollup key (measure,
/// corridor, month, bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupDelta {
    pub measure: String,
    pub corridor: String,
    pub month: String,
    pub bucket: i32,
    pub n: i64,
    pub total: i64,
}

/// A signed change to one delay_rollup_corridor key (measure, corridor,
/// bucket, over every month).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorridorDelta {
    pub measure: String,
    pub corridor: String,
    pub bucket: i32,
    pub n: i64,
    pub total: i64,
}

/// A signed change to one delay_rollup_dims key (every dimension but the
/// month and the party).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimsDelta {
    pub measure: String,
    pub corridor: String,
    pub channel: String,
    pub institution: Option<String>,
    pub party_kind: String,
    pub bucket: i32,
    pub n: i64,
    pub total: i64,
}

/// The signed changes to every rollup from one round of metrics rows;
/// scorecard deltas are counts of a (corridor, month).
#[derive(Debug, Default)]
pub struct RollupDeltas {
    pub by_month: Vec<RollupDelta>,
    pub by_corridor: Vec<CorridorDelta>,
    pub by_dims: Vec<DimsDelta>,
    pub scorecard: Vec<ScorecardRow>,
}

/// The rows a round removed, as they counted in the rollups.
#[derive(Default)]
pub struct Removed {
    pub observations: Vec<RemovedObservation>,
    pub summaries: Vec<RemovedSummary>,
}

/// What a journey summary counts for in the scorecard: once completed
/// (initiated, funds available), one journey of its corridor and month.
struct Completion<'a> {
    month: Option<&'a str>,
    funded: bool,
    initiation_to_funds: Option<i64>,
    within_business_day: Option<bool>,
    fee_share_ppm: Option<i64>,
}

impl<'a> Completion<'a> {
    /// The counts `[completed, within hour, within a business day, costed,
    /// fee share sum]` times `sign`, under its month; none if not completed.
    fn counts(&self, sign: i64) -> Option<(&'a str, [i64; 5])> {
        let month = self.month.filter(|_| self.funded)?;
        let one = |b: bool| if b { sign } else { 0 };
        Some((
            month,
            [
                sign,
                one(self
                    .initiation_to_funds
                    .is_some_and(|m| m <= WITHIN_HOUR_MICROS)),
                one(self.within_business_day == Some(true)),
                one(self.fee_share_ppm.is_some()),
                sign * self.fee_share_ppm.unwrap_or(0),
            ],
        ))
    }
}

/// Adds a count and sum to a key.
fn add<K: Ord, const N: usize>(net: &mut BTreeMap<K, [i64; N]>, key: K, by: [i64; N]) {
    let e = net.entry(key).or_insert([0; N]);
    for (a, b) in e.iter_mut().zip(by) {
        *a += b;
    }
}

/// The net change to every rollup from the `removed` rows and the added
/// ones (`obs`, `sums`, of the journeys in `dims`); keys whose changes
/// cancel out are left out.
pub fn rollup_deltas(
    removed: &Removed,
    obs: &[ObservationRow],
    sums: &[SummaryRow],
    dims: &HashMap<Uuid, JourneyDims>,
) -> RollupDeltas {
    let mut by_month = BTreeMap::new();
    let mut by_corridor = BTreeMap::new();
    let mut by_dims = BTreeMap::new();
    let mut card = BTreeMap::new();
    for o in &removed.observations {
        let by = [-1, -o.micros];
        add(
            &mut by_month,
            (&*o.measure, &*o.corridor, &*o.month, o.bucket),
            by,
        );
        add(&mut by_corridor, (&*o.measure, &*o.corridor, o.bucket), by);
        let key = (
            &*o.measure,
            &*o.corridor,
            &*o.channel,
            o.institution.as_deref(),
            &*o.party_kind,
            o.bucket,
        );
        add(&mut by_dims, key, by);
    }
    for o in obs {
        let Some(d) = dims.get(&o.repatriation_id) else {
            continue;
        };
        let by = [1, o.micros];
        add(
            &mut by_month,
            (o.measure, &*d.corridor, &*o.month, o.bucket),
            by,
        );
        add(&mut by_corridor, (o.measure, &*d.corridor, o.bucket), by);
        let key = (
            o.measure,
            &*d.corridor,
            &*d.channel,
            o.institution.as_deref(),
            &*d.party_kind,
            o.bucket,
        );
        add(&mut by_dims, key, by);
    }
    for s in &removed.summaries {
        let c = Completion {
            month: s.month.as_deref(),
            funded: s.funds_at.is_some(),
            initiation_to_funds: s.initiation_to_funds,
            within_business_day: s.within_business_day,
            fee_share_ppm: s.fee_share_ppm,
        };
        if let Some((month, counts)) = c.counts(-1) {
            add(&mut card, (&*s.corridor, month), counts);
        }
    }
    for s in sums {
        let Some(d) = dims.get(&s.repatriation_id) else {
            continue;
        };
        let c = Completion {
            month: s.month.as_deref(),
            funded: s.funds_at.is_some(),
            initiation_to_funds: s.initiation_to_funds,
            within_business_day: s.within_business_day,
            fee_share_ppm: s.fee_share_ppm,
        };
        if let Some((month, counts)) = c.counts(1) {
            add(&mut card, (&*d.corridor, month), counts);
        }
    }
    let changed = |by: &[i64]| by.iter().any(|v| *v != 0);
    RollupDeltas {
        by_month: by_month
            .into_iter()
            .filter(|(_, by)| changed(by))
            .map(
                |((measure, corridor, month, bucket), [n, total])| RollupDelta {
                    measure: measure.to_string(),
                    corridor: corridor.to_string(),
                    month: month.to_string(),
                    bucket,
                    n,
                    total,
                },
            )
            .collect(),
        by_corridor: by_corridor
            .into_iter()
            .filter(|(_, by)| changed(by))
            .map(|((measure, corridor, bucket), [n, total])| CorridorDelta {
                measure: measure.to_string(),
                corridor: corridor.to_string(),
                bucket,
                n,
                total,
            })
            .collect(),
        by_dims: by_dims
            .into_iter()
            .filter(|(_, by)| changed(by))
            .map(
                |((measure, corridor, channel, institution, party_kind, bucket), [n, total])| {
                    DimsDelta {
                        measure: measure.to_string(),
                        corridor: corridor.to_string(),
                        channel: channel.to_string(),
                        institution: institution.map(str::to_string),
                        party_kind: party_kind.to_string(),
                        bucket,
                        n,
                        total,
                    }
                },
            )
            .collect(),
        scorecard: card
            .into_iter()
            .filter(|(_, by)| changed(by))
            .map(
                |((corridor, month), [completed, hour, day, costed, fees])| ScorecardRow {
                    corridor: corridor.to_string(),
                    month: month.to_string(),
                    completed,
                    within_hour: hour,
                    within_business_day: day,
                    costed,
                    fee_share_ppm_sum: fees,
                },
            )
            .collect(),
    }
}
