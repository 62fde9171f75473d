//! The delay metrics: recomputing the metrics rows of journeys from their
//! steps (those a step marked pending, drained before every read and in
//! the background), and the queries behind MetricsService. Sums are of
//! integers only (microseconds, parts per million), which both backends
//! add exactly.

use std::collections::HashMap;
use std::fmt::Write;

use async_trait::async_trait;
use repat_core::journey::Step;
use repat_core::metrics::stats::BucketCount;
use uuid::Uuid;

use super::SqlRepository;
use crate::db::{Conn, Sql};
use crate::metrics_rows::{
    DELAY_BY_CORRIDOR, DELAY_BY_DIMS, DELAY_BY_MONTH, ObservationRow, SummaryRow,
    WITHIN_HOUR_MICROS, rollup_deltas, rows_for,
};
use crate::rows::{
    BreachRow, GroupKeyRow, ObservationRow as StoredObservation, ScorecardCounts, ValueRow,
};
use crate::types::DbTime;
use crate::{
    Breach, BreachFilter, BreachKind, DelayFilter, DelayObservation, Dimension, GroupBuckets,
    GroupKey, MetricsRepository, ScorecardRow, StoreError,
};

/// Every dimension, in the order of [`GroupKeyRow`].
const DIMENSIONS: [Dimension; 5] = [
    Dimension::Corridor,
    Dimension::Channel,
    Dimension::Institution,
    Dimension::PartyKind,
    Dimension::Month,
];

/// Most steps read into memory by one round of bringing metrics up to
/// date (beside at least one journey): a round's memory stays bounded
/// whatever the journeys' lengths.
const STEPS_PER_ROUND: i64 = 20_000;

/// The first of `ids` whose steps (`counts`) fit one round; the rest wait
/// for the next.
fn within_round(ids: Vec<Uuid>, counts: &HashMap<Uuid, i32>) -> Vec<Uuid> {
    let mut steps = 0i64;
    let mut taken = Vec::with_capacity(ids.len());
    for id in ids {
        steps += i64::from(counts.get(&id).copied().unwrap_or(0));
        if steps > STEPS_PER_ROUND && !taken.is_empty() {
            break;
        }
        taken.push(id);
    }
    taken
}

/// Recomputes the metrics rows of the journeys `ids`, whose steps (as
/// they now stand) are in `journeys`.
pub(super) async fn refresh_metrics(
    c: &mut Conn<'_>,
    ids: &[Uuid],
    journeys: &HashMap<Uuid, Vec<Step>>,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let dims = c.dialect().load_journey_dims(ids).await?;
    let mut obs: Vec<ObservationRow> = Vec::new();
    let mut sums: Vec<SummaryRow> = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(d) = dims.get(id) else { continue };
        let steps = journeys.get(id).map(Vec::as_slice).unwrap_or_default();
        let (o, s) = rows_for(*id, d, steps);
        obs.extend(o);
        sums.push(s);
    }
    let removed = c.dialect().replace_metrics(ids, &dims, &obs, &sums).await?;
    c.dialect()
        .insert_rollup(&rollup_deltas(&removed, &obs, &sums, &dims))
        .await
}

/// The select list of a group key: the measure, then each dimension's
/// column where grouped by it, NULL where not (so every key reads as one
/// [`GroupKeyRow`]). In delay_rollup_dims, no institution is keyed as ''.
fn key_select(dims: &[Dimension], table: &str) -> String {
    let mut cols = vec!["measure".to_string()];
    for d in DIMENSIONS {
        cols.push(if dims.contains(&d) {
            match d {
                Dimension::Institution if table == DELAY_BY_DIMS.table => {
                    "NULLIF(institution, '') AS institution".to_string()
                }
                _ => d.column().to_string(),
            }
        } else {
            format!("CAST(NULL AS TEXT) AS {}", d.column())
        });
    }
    cols.join(", ")
}

/// The position of a dimension's column in [`key_select`]'s list (the
/// measure is first).
fn key_column(d: Dimension) -> Result<usize, StoreError> {
    DIMENSIONS
        .iter()
        .position(|x| *x == d)
        .map(|p| p + 1)
        .ok_or_else(|| StoreError::Internal(format!("{d:?} is not among the key columns")))
}

/// The position of `bucket` in a bucket read: after the measure and every
/// dimension; then its count and sum.
const BUCKET_COLUMN: usize = 1 + DIMENSIONS.len();

/// The `GROUP BY` columns of a group key.
fn key_group(dims: &[Dimension]) -> String {
    std::iter::once("measure")
        .chain(dims.iter().map(|d| d.column()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The group key of a row: the measure, then the requested dimensions in
/// the requested order.
fn key_of(row: GroupKeyRow, dims: &[Dimension]) -> GroupKey {
    let mut key = vec![Some(row.measure)];
    for d in dims {
        key.push(match d {
            Dimension::Corridor => row.corridor.clone(),
            Dimension::Channel => row.channel.clone(),
            Dimension::Institution => row.institution.clone(),
            Dimension::PartyKind => row.party_kind.clone(),
            Dimension::Month => row.month.clone(),
        });
    }
    key
}

/// Appends the conditions of a delay filter (after a `WHERE ...`).
fn delay_where(q: &mut Sql<'_>, f: &DelayFilter) {
    q.and("month", ">=", f.start_month.as_deref())
        .and("month", "<=", f.end_month.as_deref())
        .and_eq("measure", f.measure.as_deref())
        .and_eq("party_id", f.party_id);
}

#[async_trait]
impl MetricsRepository for SqlRepository {
    async fn pending_metrics(&self) -> Result<i64, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let (n,): (i64,) = pooled
            .conn()
            .query("SELECT COUNT(*) FROM metrics_pending")
            .fetch_one()
            .await?;
        Ok(n)
    }

    async fn delay_buckets(
        &self,
        filter: &DelayFilter,
        dims: &[Dimension],
    ) -> Result<Vec<GroupBuckets>, StoreError> {
        let group = key_group(dims);
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        // A rollup holds the keys already counted, for every party: by
        // corridor alone or by every dimension but the month, over all
        // months; or by corridor and month. With it, whether its rows are
        // summed: grouped by its whole key, they are the answer as they
        // are (summing them again cost the read most of its time).
        let all_months = filter.start_month.is_none() && filter.end_month.is_none();
        let rollup = match filter.party_id {
            Some(_) => None,
            None if all_months && dims.iter().all(|d| *d == Dimension::Corridor) => {
                Some((DELAY_BY_CORRIDOR.table, dims.is_empty()))
            }
            None if all_months && !dims.contains(&Dimension::Month) => {
                Some((DELAY_BY_DIMS.table, true))
            }
            None if dims
                .iter()
                .all(|d| matches!(d, Dimension::Corridor | Dimension::Month)) =>
            {
                Some((DELAY_BY_MONTH.table, true))
            }
            None => None,
        };
        let q = if let Some((table, summed)) = rollup {
            let select = key_select(dims, table);
            let mut q = if summed {
                c.sql(&format!(
                    "SELECT {select}, bucket, CAST(SUM(n) AS BIGINT) AS n, CAST(SUM(total) AS BIGINT) AS total FROM {table} WHERE TRUE"
                ))
            } else {
                c.sql(&format!(
                    "SELECT {select}, bucket, n, total FROM {table} WHERE n > 0"
                ))
            };
            delay_where(&mut q, filter);
            if summed {
                q.push(&format!(" GROUP BY {group}, bucket HAVING SUM(n) > 0"));
            }
            q
        } else {
            // Per bucket, the values are of one magnitude, so their sum
            // stays far inside 64 bits.
            let select = key_select(dims, "delay_observations");
            let mut q = c.sql(&format!("SELECT {select}, bucket, COUNT(*) AS n, CAST(SUM(micros) AS BIGINT) AS total FROM delay_observations WHERE TRUE"));
            delay_where(&mut q, filter);
            q.push(&format!(" GROUP BY {group}, bucket"));
            q
        };
        // Rows are grouped as they arrive, their key compared in place: a
        // read of the rollups is tens of thousands of rows for a few
        // hundred groups, and a key allocated, copied and compared per row
        // took a third of its time.
        let key_columns: Vec<usize> = std::iter::once(Ok(0))
            .chain(dims.iter().map(|d| key_column(*d)))
            .collect::<Result<_, _>>()?;
        let mut groups: Vec<GroupBuckets> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut lookup = String::new();
        q.for_each_row(|row| {
            lookup.clear();
            for &i in &key_columns {
                match row.text(i)? {
                    // Lengths first, so no two keys give the same text
                    // (writing into a String cannot fail).
                    Some(t) => {
                        let _ = write!(lookup, "{}:{t}", t.len());
                    }
                    None => lookup.push('-'),
                }
            }
            let g = match by_key.get(lookup.as_str()) {
                Some(&g) => g,
                None => {
                    let key = key_columns
                        .iter()
                        .map(|&i| Ok(row.text(i)?.map(str::to_string)))
                        .collect::<Result<GroupKey, StoreError>>()?;
                    groups.push(GroupBuckets {
                        key,
                        buckets: Vec::new(),
                    });
                    by_key.insert(lookup.clone(), groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[g].buckets.push(BucketCount {
                bucket: row.int(BUCKET_COLUMN)?,
                count: row.bigint(BUCKET_COLUMN + 1)?,
                sum: i128::from(row.bigint(BUCKET_COLUMN + 2)?),
            });
            Ok(())
        })
        .await?;
        Ok(groups)
    }

    async fn delay_values(
        &self,
        filter: &DelayFilter,
        dims: &[Dimension],
    ) -> Result<Vec<(GroupKey, i64)>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql(&format!(
            "SELECT {}, micros FROM delay_observations WHERE TRUE",
            key_select(dims, "delay_observations")
        ));
        delay_where(&mut q, filter);
        let rows: Vec<ValueRow> = q.fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(|r| (key_of(r.key, dims), r.micros))
            .collect())
    }

    async fn export_observations(
        &self,
        filter: &DelayFilter,
        after: Option<(Uuid, i32)>,
        limit: u32,
    ) -> Result<Vec<DelayObservation>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT * FROM delay_observations WHERE TRUE");
        delay_where(&mut q, filter);
        if let Some((rid, position)) = after {
            q.push(" AND (repatriation_id > ")
                .bind(rid)
                .push(" OR (repatriation_id = ")
                .bind(rid)
                .push(" AND position > ")
                .bind(position)
                .push("))");
        }
        q.push(" ORDER BY repatriation_id, position LIMIT ")
            .bind(i64::from(limit));
        let rows: Vec<StoredObservation> = q.fetch_all().await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn scorecard(
        &self,
        start_month: Option<&str>,
        end_month: Option<&str>,
        party_id: Option<Uuid>,
    ) -> Result<Vec<ScorecardRow>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        // Every party's: the rollup's counts; one party's: its summaries
        // (counted as metrics_rows::rollup_deltas counts them).
        let mut q = if party_id.is_none() {
            c.sql(
                "SELECT corridor, month,
                        CAST(SUM(completed) AS BIGINT) AS completed,
                        CAST(SUM(within_hour) AS BIGINT) AS within_hour,
                        CAST(SUM(within_business_day) AS BIGINT) AS within_business_day,
                        CAST(SUM(costed) AS BIGINT) AS costed,
                        CAST(SUM(fee_share_ppm_sum) AS BIGINT) AS fee_share_ppm_sum
                 FROM scorecard_rollup WHERE TRUE",
            )
        } else {
            c.sql(&format!(
                "SELECT corridor, month,
                        COUNT(*) AS completed,
                        SUM(CASE WHEN initiation_to_funds <= {WITHIN_HOUR_MICROS} THEN 1 ELSE 0 END) AS within_hour,
                        SUM(CASE WHEN within_business_day THEN 1 ELSE 0 END) AS within_business_day,
                        COUNT(fee_share_ppm) AS costed,
                        CAST(COALESCE(SUM(fee_share_ppm), 0) AS BIGINT) AS fee_share_ppm_sum
                 FROM journey_summaries
                 WHERE month IS NOT NULL AND funds_at IS NOT NULL"
            ))
        };
        q.and("month", ">=", start_month)
            .and("month", "<=", end_month)
            .and_eq("party_id", party_id)
            .push(" GROUP BY corridor, month");
        if party_id.is_none() {
            // Keys whose journeys all moved elsewhere fold to nothing.
            q.push(" HAVING SUM(completed) > 0");
        }
        q.push(" ORDER BY corridor, month");
        let rows: Vec<ScorecardCounts> = q.fetch_all().await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn breaches(
        &self,
        f: &BreachFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Breach>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        // The earliest invoice's category chooses the programme.
        let mut q = c.sql(
            "SELECT js.*, r.repatriation_deadline,
                    (SELECT e.service_category FROM allocations a JOIN earnings e ON e.id = a.earning_id
                     WHERE a.repatriation_id = js.repatriation_id ORDER BY e.invoice_date, e.id LIMIT 1) AS service_category
             FROM journey_summaries js JOIN repatriations r ON r.id = js.repatriation_id WHERE TRUE",
        );
        q.and_eq("js.party_id", f.party_id)
            .and("js.repatriation_id", ">", after);
        match f.kind {
            // Realized after the stored deadline, or not realized by it.
            BreachKind::RepatriationLate => {
                q.push(" AND (js.realized_on > r.repatriation_deadline")
                    .push(" OR (js.funds_at IS NULL AND js.ended_at IS NULL AND r.repatriation_deadline < ")
                    .bind(f.today)
                    .push("))");
            }
            BreachKind::ClaimWindowExpired => {
                q.push(" AND (claim_days > ")
                    .bind(f.claim_days)
                    .push(" OR (funds_at IS NOT NULL AND claim_filed_at IS NULL AND realized_on < ")
                    .bind(f.realization_cutoff)
                    .push("))");
            }
            BreachKind::InFlight => {
                q.push(" AND initiated_at IS NOT NULL AND funds_at IS NULL AND ended_at IS NULL AND initiated_at < ").bind(DbTime(f.initiated_before));
            }
        }
        q.push(" ORDER BY js.repatriation_id LIMIT ")
            .bind(i64::from(limit));
        let rows: Vec<BreachRow> = q.fetch_all().await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn rebuild_metrics(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Option<Uuid>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut c = tx.conn();
        let mut q = c.sql("SELECT id FROM repatriations WHERE TRUE");
        q.and("id", ">", after)
            .push(" ORDER BY id LIMIT ")
            .bind(i64::from(limit));
        let ids: Vec<(Uuid,)> = q.fetch_all().await?;
        let ids: Vec<Uuid> = ids.into_iter().map(|(id,)| id).collect();
        let counts = c.dialect().lock_repatriations(&ids).await?;
        let ids = within_round(ids, &counts);
        let Some(last) = ids.last().copied() else {
            return Ok(None);
        };
        let journeys = c.dialect().load_steps(&ids).await?;
        refresh_metrics(&mut c, &ids, &journeys).await?;
        tx.commit().await?;
        Ok(Some(last))
    }

    async fn compact_delay_rollup(&self) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        tx.conn().dialect().compact_rollup().await?;
        tx.commit().await?;
        Ok(())
    }

    async fn drain_pending_metrics(&self, limit: u32) -> Result<usize, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut c = tx.conn();
        let ids = c.dialect().take_pending(limit).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        // The journeys' locks come before their steps are read, so a step
        // committed meanwhile is seen here or marks them again. Those beyond
        // the round's steps stay pending.
        let counts = c.dialect().lock_repatriations(&ids).await?;
        let ids = within_round(ids, &counts);
        let journeys = c.dialect().load_steps(&ids).await?;
        refresh_metrics(&mut c, &ids, &journeys).await?;
        c.dialect().clear_pending(&ids).await?;
        tx.commit().await?;
        Ok(ids.len())
    }
}
