//! Incentive totals by month, programme and party, summed exactly with
//! `Decimal` in Rust (never SQL `SUM`, which on SQLite would go through
//! binary floating point).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

/// What a ledger entry counts towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// A current, eligible assessment, dated by realization.
    Assessed,
    /// A claimed repatriation, dated by the claim's filing.
    Claimed,
    /// A disbursement, dated by its payment.
    Disbursed,
}

/// One amount in BDT, dated in Dhaka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub measure: Measure,
    pub date: NaiveDate,
    pub programme: String,
    pub party_id: Uuid,
    pub amount_bdt: Decimal,
}

/// The sums of one month, programme and party.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Total {
    /// "YYYY-MM".
    pub month: String,
    pub programme: String,
    pub party_id: Uuid,
    pub assessed: Decimal,
    pub claimed: Decimal,
    pub disbursed: Decimal,
    pub assessed_count: i64,
}

/// Sums `entries` dated within `[start, end]` (whole months), ordered by
/// month, programme, party.
pub fn sum_by_month(
    entries: &[LedgerEntry],
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> Vec<Total> {
    let month = |d: NaiveDate| (d.year(), d.month());
    let mut totals: BTreeMap<((i32, u32), String, Uuid), Total> = BTreeMap::new();
    for e in entries {
        let m = month(e.date);
        if start.is_some_and(|s| m < month(s)) || end.is_some_and(|x| m > month(x)) {
            continue;
        }
        let t = totals
            .entry((m, e.programme.clone(), e.party_id))
            .or_insert_with(|| Total {
                month: format!("{:04}-{:02}", m.0, m.1),
                programme: e.programme.clone(),
                party_id: e.party_id,
                ..Total::default()
            });
        match e.measure {
            Measure::Assessed => {
                t.assessed += e.amount_bdt;
                t.assessed_count += 1;
            }
            Measure::Claimed => t.claimed += e.amount_bdt,
            Measure::Disbursed => t.disbursed += e.amount_bdt,
        }
    }
    totals
        .into_values()
        .map(|mut t| {
            for v in [&mut t.assessed, &mut t.claimed, &mut t.disbursed] {
                v.rescale(2);
            }
            t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(measure: Measure, date: &str, amount: &str) -> LedgerEntry {
        LedgerEntry {
            measure,
            date: date.parse().unwrap(),
            programme: "ICT_EXPORT_FIRM".into(),
            party_id: Uuid::nil(),
            amount_bdt: amount.parse().unwrap(),
        }
    }

    #[test]
    fn sums_exactly_by_month_within_the_range() {
        let entries = [
            entry(Measure::Assessed, "2024-01-31", "0.10"),
            entry(Measure::Assessed, "2024-01-01", "0.20"),
            entry(Measure::Claimed, "2024-02-01", "0.30"),
            entry(Measure::Disbursed, "2024-03-15", "1"),
            entry(Measure::Assessed, "2023-12-31", "5"),
        ];
        let t = sum_by_month(&entries, Some("2024-01-20".parse().unwrap()), None);
        assert_eq!(t.len(), 3);
        assert_eq!(
            (
                t[0].month.as_str(),
                t[0].assessed.to_string(),
                t[0].assessed_count
            ),
            ("2024-01", "0.30".into(), 2)
        );
        assert_eq!(t[1].claimed.to_string(), "0.30");
        assert_eq!(t[2].disbursed.to_string(), "1.00");
    }
}
