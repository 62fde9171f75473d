//! The rows of the delay-metrics tables for one journey, computed from its
//! steps by the domain (core::metrics) and written by each backend.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use repat_core::Named;
use repat_core::journey::MAX_STEPS;
use repat_core::journey::Step;
use repat_core::journey::StepKind;
use repat_core::metrics::observe::SPANS;
use repat_core::metrics::{Observation, business, observations, sketch, summary};
use repat_core::time::dhaka_date;
use rust_decimal::Decimal;
use uuid::Uuid;

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

#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Where a span's observation sits among a journey's: after every wait (a
/// journey has at most `MAX_STEPS` steps, so fewer waits), at a place of
/// its own, so that a step added at the end of the timeline leaves every
/// other observation where it was, and refreshing the journey rewrites
/// only what changed.
fn position(o: &Observation, waits_before: usize) -> i32 {
    match SPANS.iter().position(|s| *s == o.measure) {
        Some(k) => (MAX_STEPS as usize + k) as i32,
        None => waits_before as i32,
    }
}

/// The metrics rows of journey `id`.
pub fn rows_for(id: Uuid, dims: &JourneyDims, steps: &[Step]) -> (Vec<ObservationRow>, SummaryRow) {
    let obs = observations(steps, &[dims.invoice_date])
        .into_iter()
        .enumerate()
        .map(|(i, o)| ObservationRow {
            repatriation_id: id,
            position: position(&o, i),
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

/// A signed change to the count and sum of one rollup key: the measure,
/// every dimension an unfiltered question groups by, the month and the
/// bucket. The corridor rollup counts the same changes with only the
/// corridor ([`by_corridor`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RollupDelta {
    pub measure: String,
    pub corridor: String,
    pub channel: String,
    pub institution: Option<String>,
    pub party_kind: String,
    pub month: String,
    pub bucket: i32,
    pub n: i64,
    pub total: i64,
}

/// The name of a measure, as the domain spells it.
pub fn measure(name: &str) -> Option<&'static str> {
    SPANS
        .iter()
        .copied()
        .find(|s| *s == name)
        .or_else(|| StepKind::from_name(name).map(|k| k.name()))
}

/// A stored observation, with the dimensions it was counted under.
#[derive(Debug, Clone)]
pub struct StoredObservation {
    pub row: ObservationRow,
    pub corridor: String,
    pub channel: String,
    pub party_kind: String,
}

/// What refreshing journeys' metrics changes: the places (journey,
/// position) that no longer hold an observation, the observations new or
/// changed at their place (written over what was there), and the rollups'
/// deltas.
#[derive(Debug, Default)]
pub struct MetricsChange {
    pub removed: Vec<(Uuid, i32)>,
    pub written: Vec<ObservationRow>,
    pub deltas: Vec<RollupDelta>,
}

/// The difference between the stored observations of some journeys and
/// what they are now: an observation that is the same at the same place
/// is left alone.
pub fn observation_changes(
    stored: Vec<StoredObservation>,
    now: Vec<ObservationRow>,
    dims: &HashMap<Uuid, JourneyDims>,
) -> MetricsChange {
    let mut old: HashMap<(Uuid, i32), StoredObservation> = stored
        .into_iter()
        .map(|o| ((o.row.repatriation_id, o.row.position), o))
        .collect();
    let mut net: BTreeMap<RollupDelta, (i64, i64)> = BTreeMap::new();
    let mut count = |key: RollupDelta, n: i64, micros: i64| {
        let e = net.entry(key).or_default();
        e.0 += n;
        e.1 += n * micros;
    };
    let mut change = MetricsChange::default();
    for o in now {
        let Some(d) = dims.get(&o.repatriation_id) else {
            continue;
        };
        match old.remove(&(o.repatriation_id, o.position)) {
            Some(same) if same.row == o => continue,
            Some(replaced) => count(
                rollup_key(
                    &replaced.row,
                    &replaced.corridor,
                    &replaced.channel,
                    &replaced.party_kind,
                ),
                -1,
                replaced.row.micros,
            ),
            None => {}
        }
        count(
            rollup_key(&o, &d.corridor, &d.channel, &d.party_kind),
            1,
            o.micros,
        );
        change.written.push(o);
    }
    // Left: places that hold nothing now.
    let mut gone: Vec<StoredObservation> = old.into_values().collect();
    gone.sort_by_key(|o| (o.row.repatriation_id, o.row.position));
    for o in gone {
        count(
            rollup_key(&o.row, &o.corridor, &o.channel, &o.party_kind),
            -1,
            o.row.micros,
        );
        change.removed.push((o.row.repatriation_id, o.row.position));
    }
    change.deltas = net
        .into_iter()
        .filter(|(_, (n, total))| *n != 0 || *total != 0)
        .map(|(key, (n, total))| RollupDelta { n, total, ..key })
        .collect();
    change
}

fn rollup_key(o: &ObservationRow, corridor: &str, channel: &str, party_kind: &str) -> RollupDelta {
    RollupDelta {
        measure: o.measure.to_string(),
        corridor: corridor.to_string(),
        channel: channel.to_string(),
        institution: o.institution.clone(),
        party_kind: party_kind.to_string(),
        month: o.month.clone(),
        bucket: o.bucket,
        n: 0,
        total: 0,
    }
}

/// The same changes counted by (measure, corridor, month, bucket) only,
/// for the corridor rollup (the other dimensions left empty).
pub fn by_corridor(deltas: &[RollupDelta]) -> Vec<RollupDelta> {
    let mut net: BTreeMap<(&str, &str, &str, i32), (i64, i64)> = BTreeMap::new();
    for d in deltas {
        let e = net
            .entry((&d.measure, &d.corridor, &d.month, d.bucket))
            .or_default();
        e.0 += d.n;
        e.1 += d.total;
    }
    net.into_iter()
        .filter(|(_, (n, total))| *n != 0 || *total != 0)
        .map(
            |((measure, corridor, month, bucket), (n, total))| RollupDelta {
                measure: measure.to_string(),
                corridor: corridor.to_string(),
                channel: String::new(),
                institution: None,
                party_kind: String::new(),
                month: month.to_string(),
                bucket,
                n,
                total,
            },
        )
        .collect()
}
