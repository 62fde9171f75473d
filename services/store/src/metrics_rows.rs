//! The rows of the delay-metrics tables for one journey, computed from its
//! steps by the domain (core::metrics) and written by each backend.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use repat_core::journey::Step;
use repat_core::metrics::{business, observations, sketch, summary};
use repat_core::time::dhaka_date;
use rust_decimal::Decimal;
use uuid::Uuid;

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

/// A signed change to the count and sum of one rollup key (measure,
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

/// The net change from `removed` observations (already negative) and the
/// `added` ones; keys whose changes cancel out are left out.
pub fn rollup_deltas(
    removed: Vec<RollupDelta>,
    added: &[ObservationRow],
    dims: &std::collections::HashMap<Uuid, JourneyDims>,
) -> Vec<RollupDelta> {
    let mut net: std::collections::BTreeMap<(String, String, String, i32), (i64, i64)> =
        std::collections::BTreeMap::new();
    for d in removed {
        let e = net
            .entry((d.measure, d.corridor, d.month, d.bucket))
            .or_default();
        e.0 += d.n;
        e.1 += d.total;
    }
    for o in added {
        let Some(d) = dims.get(&o.repatriation_id) else {
            continue;
        };
        let e = net
            .entry((
                o.measure.to_string(),
                d.corridor.clone(),
                o.month.clone(),
                o.bucket,
            ))
            .or_default();
        e.0 += 1;
        e.1 += o.micros;
    }
    net.into_iter()
        .filter(|(_, (n, total))| *n != 0 || *total != 0)
        .map(
            |((measure, corridor, month, bucket), (n, total))| RollupDelta {
                measure,
                corridor,
                month,
                bucket,
                n,
                total,
            },
        )
        .collect()
}
