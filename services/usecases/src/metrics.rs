//! MetricsService's use cases: where the money waits. Statistics are
//! exact (nearest rank over every observation) while a query covers at
//! most [`EXACT_LIMIT`] observations; beyond that, min, max and
//! percentiles are read off the stored log buckets within a stated
//! relative error, and count and mean stay exact. Both paths give the same
//! figures on SQLite and PostgreSQL: the arithmetic is done here and in
//! the core, on integers.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use futures::{Stream, StreamExt};
use repat_core::metrics::stats::{self, Summary};
use repat_core::money::ratio_half_up;
use repat_core::time::dhaka_date;
use repat_store::{
    Breach, BreachFilter, BreachKind, DelayFilter, DelayObservation, Dimension, GroupKey,
    Repository, ScorecardRow, StoreError,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::App;
use crate::auth::{Caller, list_scope};
use crate::error::Result;
use crate::rules::ActiveRules;

/// Largest query answered exactly.
pub const EXACT_LIMIT: i64 = 100_000;
/// Journeys brought up to date per transaction.
const SETTLE_BATCH: u32 = 1000;
/// Rounds of the background catch-up running at once: while one waits on
/// the database, the other computes; more would mostly wait on each
/// other's rollup keys.
const DRAINERS: usize = 2;
/// Longest a read spends bringing pending journeys into the figures.
const SETTLE_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);
/// How long a read waits for journeys another drain holds before looking
/// again.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_millis(10);
/// Rows per read of the export.
const EXPORT_CHUNK: u32 = 1000;

/// How fresh a read's figures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Journeys whose latest steps are not in the figures yet.
    pub pending_journeys: i64,
    pub read_time: DateTime<Utc>,
}

/// Brings pending journeys' metrics up to date, for at most
/// [`SETTLE_BUDGET`], so a read sees the steps acknowledged before it
/// without waiting on a backlog under sustained ingestion (the background
/// task drains the rest). Says how many are still pending.
async fn settle(store: &dyn Repository) -> Result<Freshness> {
    let started = std::time::Instant::now();
    loop {
        let within = started.elapsed() < SETTLE_BUDGET;
        if within && store.drain_pending_metrics(SETTLE_BATCH).await? > 0 {
            continue;
        }
        // Nothing this read could take: none is pending, or another drain
        // (the background's) holds what is left, and commits it soon.
        let pending_journeys = store.pending_metrics().await?;
        if pending_journeys == 0 || started.elapsed() >= SETTLE_BUDGET {
            return Ok(Freshness {
                pending_journeys,
                read_time: Utc::now(),
            });
        }
        tokio::time::sleep(SETTLE_WAIT).await;
    }
}

/// Drains every journey whose metrics are behind its steps: the server's
/// own background work, for no caller, in [`DRAINERS`] rounds at once,
/// each on journeys no other round holds.
pub async fn settle_all(store: &dyn Repository) -> Result<(), StoreError> {
    let drainer = || async {
        while store.drain_pending_metrics(SETTLE_BATCH).await? > 0 {}
        Ok::<(), StoreError>(())
    };
    futures::future::try_join_all((0..DRAINERS).map(|_| drainer())).await?;
    Ok(())
}

/// Delay statistics of each group.
pub struct DelayStatistics {
    pub groups: BTreeMap<GroupKey, Summary>,
    /// Whether every figure is exact (else within the sketch's error).
    pub exact: bool,
    pub freshness: Freshness,
}

/// Statistics of the observations `filter` covers (its party the one
/// asked for; `None`: as the caller's scope allows), grouped by `dims`.
pub async fn delay_statistics(
    app: &App,
    caller: &Caller,
    filter: DelayFilter,
    dims: &[Dimension],
) -> Result<DelayStatistics> {
    let (party_id, permit) = list_scope(caller, filter.party_id)?;
    let filter = DelayFilter { party_id, ..filter };
    let store = app.store(&permit);
    let freshness = settle(store).await?;
    let buckets = store.delay_buckets(&filter, dims).await?;
    let total: i64 = buckets
        .iter()
        .flat_map(|g| &g.buckets)
        .map(|b| b.count)
        .sum();
    let exact = total <= EXACT_LIMIT;
    let groups = if exact {
        let mut values: BTreeMap<GroupKey, Vec<i64>> = BTreeMap::new();
        for (key, micros) in store.delay_values(&filter, dims).await? {
            values.entry(key).or_default().push(micros);
        }
        values
            .into_iter()
            .map(|(k, mut v)| (k, stats::exact(&mut v)))
            .collect()
    } else {
        buckets
            .into_iter()
            .map(|mut g| (g.key, stats::from_buckets(&mut g.buckets)))
            .collect()
    };
    Ok(DelayStatistics {
        groups,
        exact,
        freshness,
    })
}

/// Which breaches to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreachQuery {
    pub kind: BreachKind,
    /// The party asked for (`None`: as the caller's scope allows).
    pub party_id: Option<Uuid>,
    /// The day the deadlines are judged at the end of (default: today in
    /// Dhaka, now).
    pub as_of: Option<NaiveDate>,
    /// How long a payment may be in flight before it is reported.
    pub in_flight_threshold: Duration,
}

/// A repatriation past its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateRepatriation {
    pub breach: Breach,
    pub deadline: NaiveDate,
    pub days_late: i64,
}

/// A page of breaches.
pub struct Breaches {
    pub items: Vec<LateRepatriation>,
    /// The repatriation the next page starts after, if there is one.
    pub next_after: Option<Uuid>,
    pub freshness: Freshness,
}

/// Repatriations past a deadline of `query.kind`, in repatriation order
/// after `after`, at most `size` candidates a page. A repatriation is held
/// to the deadline stored when it was opened; a claim window's candidates
/// are found by the shortest of any programme, then each is held to its
/// own programme's window, computed by the rules.
pub async fn deadline_breaches(
    app: &App,
    rules: &ActiveRules,
    caller: &Caller,
    query: &BreachQuery,
    after: Option<Uuid>,
    size: u32,
) -> Result<Breaches> {
    let (party_id, permit) = list_scope(caller, query.party_id)?;
    let store = app.store(&permit);
    let kind = query.kind;
    let threshold = query.in_flight_threshold;
    let today = query.as_of.unwrap_or_else(|| dhaka_date(Utc::now()));
    let (_, claim_days) = rules.rules.shortest_deadlines();
    let claim_days = claim_days as i32;
    let back = |days: i32| {
        today
            .checked_sub_days(Days::new(days.max(0) as u64))
            .unwrap_or(today)
    };
    // "As of" a day means at its end, in Dhaka.
    let now = query
        .as_of
        .map_or_else(Utc::now, repat_core::time::dhaka_day_end);
    let filter = BreachFilter {
        kind,
        party_id,
        today,
        claim_days,
        realization_cutoff: back(claim_days),
        initiated_before: now - threshold,
    };
    let freshness = settle(store).await?;
    let rows = store.breaches(&filter, after, size + 1).await?;
    let more = rows.len() > size as usize;
    let page: Vec<Breach> = rows.into_iter().take(size as usize).collect();
    let next_after = match (more, page.last()) {
        (true, Some(last)) => Some(last.repatriation_id),
        _ => None,
    };
    let items = page
        .into_iter()
        .filter_map(|b| {
            let (deadline, days_late) = match kind {
                BreachKind::InFlight => {
                    let since = b.initiated_at.map_or(today, |i| dhaka_date(i + threshold));
                    (since, (today - since).num_days())
                }
                _ => breach_of(rules, kind, &b, today).filter(|(_, late)| *late > 0)?,
            };
            Some(LateRepatriation {
                breach: b,
                deadline,
                days_late,
            })
        })
        .collect();
    Ok(Breaches {
        items,
        next_after,
        freshness,
    })
}

/// The deadline `b` is held to, and the days past it (counted to `today`
/// while the awaited event has not happened): the one stored for its
/// realization, its own programme's window for its claim; `None` when no
/// programme covers it.
fn breach_of(
    rules: &ActiveRules,
    kind: BreachKind,
    b: &Breach,
    today: NaiveDate,
) -> Option<(NaiveDate, i64)> {
    match kind {
        BreachKind::RepatriationLate => {
            let deadline = b.repatriation_deadline?;
            Some((
                deadline,
                (b.realized_on.unwrap_or(today) - deadline).num_days(),
            ))
        }
        BreachKind::ClaimWindowExpired => {
            let programme = rules
                .rules
                .programme_for(&b.party_kind, &b.service_category)?;
            let deadline = programme.claim_window.from(b.realized_on?)?;
            Some((
                deadline,
                (b.claim_filed_at.map(dhaka_date).unwrap_or(today) - deadline).num_days(),
            ))
        }
        BreachKind::InFlight => None,
    }
}

/// One corridor and month against the G20 targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScorecardEntry {
    pub counts: ScorecardRow,
    /// Shares of completed payments, to 4 places.
    pub share_within_hour: Decimal,
    pub share_within_business_day: Decimal,
    /// The mean fee share of payments with a known cost, to 6 places.
    pub average_cost: Option<Decimal>,
    /// 75% within the hour.
    pub meets_speed_target: bool,
    /// Average cost at most 1%.
    pub meets_cost_target: bool,
    /// Average cost at most 3%.
    pub within_corridor_cost_cap: bool,
}

pub async fn scorecard(
    app: &App,
    caller: &Caller,
    start_month: Option<&str>,
    end_month: Option<&str>,
    party_id: Option<Uuid>,
) -> Result<(Vec<ScorecardEntry>, Freshness)> {
    let (party_id, permit) = list_scope(caller, party_id)?;
    let store = app.store(&permit);
    let freshness = settle(store).await?;
    let rows = store.scorecard(start_month, end_month, party_id).await?;
    let share = |n: i64, d: i64| {
        ratio_half_up(Decimal::from(n), Decimal::from(d), 4).unwrap_or(Decimal::ZERO)
    };
    let entries = rows
        .into_iter()
        .map(|r| {
            let hour = share(r.within_hour, r.completed);
            let day = share(r.within_business_day, r.completed);
            // The mean of shares kept in parts per million: exact sum, one
            // rounding at the end.
            let cost = ratio_half_up(
                Decimal::from(r.fee_share_ppm_sum),
                Decimal::from(r.costed) * Decimal::from(1_000_000),
                6,
            );
            ScorecardEntry {
                counts: r,
                share_within_hour: hour,
                share_within_business_day: day,
                average_cost: cost,
                meets_speed_target: hour >= Decimal::new(75, 2),
                meets_cost_target: cost.is_some_and(|c| c <= Decimal::new(1, 2)),
                within_corridor_cost_cap: cost.is_some_and(|c| c <= Decimal::new(3, 2)),
            }
        })
        .collect();
    Ok((entries, freshness))
}

/// Every observation `filter` covers (its party as for
/// [`delay_statistics`]), read page by page as the stream is consumed.
pub async fn export_durations(
    app: &App,
    caller: &Caller,
    filter: DelayFilter,
) -> Result<impl Stream<Item = Result<DelayObservation>> + Send + 'static> {
    let (party_id, permit) = list_scope(caller, filter.party_id)?;
    let filter = DelayFilter { party_id, ..filter };
    settle(app.store(&permit)).await?;
    let store = app.store_handle(&permit);
    Ok(futures::stream::unfold(
        (Some(None::<(Uuid, i32)>), store, filter),
        |(cursor, store, filter)| async move {
            let after = cursor?;
            match store
                .export_observations(&filter, after, EXPORT_CHUNK)
                .await
            {
                Err(e) => Some((vec![Err(e.into())], (None, store, filter))),
                Ok(rows) => {
                    let next = (rows.len() == EXPORT_CHUNK as usize)
                        .then(|| rows.last().map(|r| (r.repatriation_id, r.position)));
                    if rows.is_empty() {
                        return None;
                    }
                    let items: Vec<Result<DelayObservation>> = rows.into_iter().map(Ok).collect();
                    Some((items, (next, store, filter)))
                }
            }
        },
    )
    .flat_map(futures::stream::iter))
}
