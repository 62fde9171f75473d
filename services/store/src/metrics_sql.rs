//! The delay metrics' SQL, written once and expanded into each backend
//! module: recomputing the metrics rows of journeys from their steps (those
//! a step marked pending, drained before every read and in the background),
//! and the queries behind MetricsService. Sums are of integers only (microseconds, parts per
//! million), which both backends add exactly.

macro_rules! metrics_sql {
    ($Repo:ident) => {
        use crate::metrics_rows::{JourneyDims, ObservationRow, RollupDelta, SummaryRow, rollup_deltas, rows_for};
        use crate::{Breach, BreachFilter, BreachKind, DelayBucketRow, DelayFilter, DelayObservation, Dimension, GroupKey, MetricsRepository, ScorecardRow};

        /// The dimensions of a journey: its repatriation, party and earliest invoice.
        const JOURNEY_DIMS: &str = "SELECT r.id, r.channel, r.payer_country, r.party_id, p.kind,
                (SELECT MIN(e.invoice_date) FROM allocations a JOIN earnings e ON e.id = a.earning_id WHERE a.repatriation_id = r.id) AS invoice_date
             FROM repatriations r JOIN parties p ON p.id = r.party_id";

        fn journey_dims_from_row(row: &Row) -> Result<(Uuid, JourneyDims), StoreError> {
            Ok((
                row.try_get("id")?,
                JourneyDims {
                    corridor: row.try_get("payer_country")?,
                    channel: row.try_get("channel")?,
                    party_kind: row.try_get("kind")?,
                    party_id: row.try_get("party_id")?,
                    invoice_date: row.try_get("invoice_date")?,
                },
            ))
        }

        /// Recomputes the metrics rows of the journeys `ids`, whose steps
        /// (as they now stand) are in `journeys`, inside `tx`.
        async fn refresh_metrics(tx: &mut Tx, ids: &[Uuid], journeys: &HashMap<Uuid, Vec<Step>>) -> Result<(), StoreError> {
            if ids.is_empty() {
                return Ok(());
            }
            let dims = load_journey_dims(tx, ids).await?;
            let mut obs: Vec<ObservationRow> = Vec::new();
            let mut sums: Vec<SummaryRow> = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(d) = dims.get(id) else { continue };
                let steps = journeys.get(id).map(Vec::as_slice).unwrap_or_default();
                let (o, s) = rows_for(*id, d, steps);
                obs.extend(o);
                sums.push(s);
            }
            let removed = replace_metrics(tx, ids, &dims, &obs, &sums).await?;
            insert_rollup(tx, &rollup_deltas(removed, &obs, &dims)).await
        }

        /// A removed observation, as a negative rollup delta.
        fn removed_observation(row: &Row) -> Result<RollupDelta, StoreError> {
            Ok(RollupDelta {
                measure: row.try_get("measure")?,
                corridor: row.try_get("corridor")?,
                month: row.try_get("month")?,
                bucket: row.try_get("bucket")?,
                n: -1,
                total: -row.try_get::<i64, _>("micros")?,
            })
        }

        /// `WHERE` clause and its parameters for a delay filter; parameters
        /// are numbered from `$1`.
        fn delay_where(f: &DelayFilter) -> (String, Vec<Option<String>>, Option<Uuid>) {
            let clause = "($1 IS NULL OR month >= $1) AND ($2 IS NULL OR month <= $2) AND ($3 IS NULL OR measure = $3) AND ($4 IS NULL OR party_id = $4)";
            (clause.to_string(), vec![f.start_month.clone(), f.end_month.clone(), f.measure.clone()], f.party_id)
        }

        /// The group key's columns: the measure, then the dimensions.
        fn key_columns(dims: &[Dimension]) -> String {
            std::iter::once("measure").chain(dims.iter().map(|d| d.column())).collect::<Vec<_>>().join(", ")
        }

        fn key_of(row: &Row, dims: &[Dimension]) -> Result<GroupKey, StoreError> {
            let mut key = vec![Some(row.try_get::<String, _>("measure")?)];
            for d in dims {
                key.push(row.try_get::<Option<String>, _>(d.column())?);
            }
            Ok(key)
        }

        fn observation_from_row(row: &Row) -> Result<DelayObservation, StoreError> {
            Ok(DelayObservation {
                repatriation_id: row.try_get("repatriation_id")?,
                position: row.try_get("position")?,
                measure: row.try_get("measure")?,
                end_at: row.try_get::<DbTime, _>("end_at")?.0,
                micros: row.try_get("micros")?,
                institution: row.try_get("institution")?,
                corridor: row.try_get("corridor")?,
                channel: row.try_get("channel")?,
                party_kind: row.try_get("party_kind")?,
                party_id: row.try_get("party_id")?,
                month: row.try_get("month")?,
            })
        }

        #[async_trait]
        impl MetricsRepository for $Repo {
            async fn delay_buckets(&self, filter: &DelayFilter, dims: &[Dimension]) -> Result<Vec<DelayBucketRow>, StoreError> {
                let keys = key_columns(dims);
                if filter.party_id.is_none() && dims.iter().all(|d| matches!(d, Dimension::Corridor | Dimension::Month)) {
                    // The rollup holds these keys already counted.
                    let sql = format!(
                        "SELECT {keys}, bucket, CAST(SUM(n) AS BIGINT) AS n, CAST(SUM(total) AS BIGINT) AS total FROM delay_rollup
                         WHERE ($1 IS NULL OR month >= $1) AND ($2 IS NULL OR month <= $2) AND ($3 IS NULL OR measure = $3)
                         GROUP BY {keys}, bucket HAVING SUM(n) > 0"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(&filter.start_month)
                        .bind(&filter.end_month)
                        .bind(&filter.measure)
                        .fetch_all(&self.pool)
                        .await?;
                    return rows
                        .iter()
                        .map(|r| {
                            Ok(DelayBucketRow { key: key_of(r, dims)?, bucket: r.try_get("bucket")?, count: r.try_get("n")?, sum_micros: r.try_get("total")? })
                        })
                        .collect();
                }
                let (clause, texts, party) = delay_where(filter);
                // Per bucket, the values are of one magnitude, so their sum
                // stays far inside 64 bits.
                let sql = format!(
                    "SELECT {keys}, bucket, COUNT(*) AS n, CAST(SUM(micros) AS BIGINT) AS total
                     FROM delay_observations WHERE {clause} GROUP BY {keys}, bucket"
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for t in texts {
                    q = q.bind(t);
                }
                let rows = q.bind(party).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(DelayBucketRow { key: key_of(r, dims)?, bucket: r.try_get("bucket")?, count: r.try_get("n")?, sum_micros: r.try_get("total")? })
                    })
                    .collect()
            }

            async fn delay_values(&self, filter: &DelayFilter, dims: &[Dimension]) -> Result<Vec<(GroupKey, i64)>, StoreError> {
                let (clause, texts, party) = delay_where(filter);
                let keys = key_columns(dims);
                let sql = format!("SELECT {keys}, micros FROM delay_observations WHERE {clause}");
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for t in texts {
                    q = q.bind(t);
                }
                let rows = q.bind(party).fetch_all(&self.pool).await?;
                rows.iter().map(|r| Ok((key_of(r, dims)?, r.try_get("micros")?))).collect()
            }

            async fn export_observations(&self, filter: &DelayFilter, after: Option<(Uuid, i32)>, limit: u32) -> Result<Vec<DelayObservation>, StoreError> {
                let (clause, texts, party) = delay_where(filter);
                let sql = format!(
                    "SELECT * FROM delay_observations WHERE {clause}
                       AND ($5 IS NULL OR repatriation_id > $5 OR (repatriation_id = $5 AND position > $6))
                     ORDER BY repatriation_id, position LIMIT $7"
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for t in texts {
                    q = q.bind(t);
                }
                let rows = q
                    .bind(party)
                    .bind(after.map(|a| a.0))
                    .bind(after.map_or(0, |a| a.1))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(observation_from_row).collect()
            }

            async fn scorecard(&self, start_month: Option<&str>, end_month: Option<&str>, party_id: Option<Uuid>) -> Result<Vec<ScorecardRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT corridor, month,
                            COUNT(*) AS completed,
                            SUM(CASE WHEN initiation_to_funds <= 3600000000 THEN 1 ELSE 0 END) AS within_hour,
                            SUM(CASE WHEN within_business_day THEN 1 ELSE 0 END) AS within_business_day,
                            COUNT(fee_share_ppm) AS costed,
                            CAST(COALESCE(SUM(fee_share_ppm), 0) AS BIGINT) AS fee_share_ppm_sum
                     FROM journey_summaries
                     WHERE month IS NOT NULL AND funds_at IS NOT NULL
                       AND ($1 IS NULL OR month >= $1) AND ($2 IS NULL OR month <= $2) AND ($3 IS NULL OR party_id = $3)
                     GROUP BY corridor, month ORDER BY corridor, month",
                )
                .bind(start_month)
                .bind(end_month)
                .bind(party_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(ScorecardRow {
                            corridor: r.try_get("corridor")?,
                            month: r.try_get("month")?,
                            completed: r.try_get("completed")?,
                            within_hour: r.try_get("within_hour")?,
                            within_business_day: r.try_get("within_business_day")?,
                            costed: r.try_get("costed")?,
                            fee_share_ppm_sum: r.try_get("fee_share_ppm_sum")?,
                        })
                    })
                    .collect()
            }

            async fn breaches(&self, f: &BreachFilter, after: Option<Uuid>, limit: u32) -> Result<Vec<Breach>, StoreError> {
                // The earliest invoice's category chooses the programme.
                let base = "SELECT js.*, (SELECT e.service_category FROM allocations a JOIN earnings e ON e.id = a.earning_id
                                          WHERE a.repatriation_id = js.repatriation_id ORDER BY e.invoice_date, e.id LIMIT 1) AS service_category
                            FROM journey_summaries js WHERE ($1 IS NULL OR party_id = $1) AND ($2 IS NULL OR repatriation_id > $2) AND";
                let order = "ORDER BY repatriation_id LIMIT $3";
                let q = match f.kind {
                    BreachKind::RepatriationLate => sqlx::query(AssertSqlSafe(format!(
                        "{base} (realized_days > $4 OR (funds_at IS NULL AND ended_at IS NULL AND invoice_date < $5)) {order}"
                    ))),
                    BreachKind::ClaimWindowExpired => sqlx::query(AssertSqlSafe(format!(
                        "{base} (claim_days > $4 OR (funds_at IS NOT NULL AND claim_filed_at IS NULL AND realized_on < $5)) {order}"
                    ))),
                    BreachKind::InFlight => sqlx::query(AssertSqlSafe(format!(
                        "{base} (initiated_at IS NOT NULL AND funds_at IS NULL AND ended_at IS NULL AND initiated_at < $4) {order}"
                    ))),
                };
                let q = q.bind(f.party_id).bind(after).bind(i64::from(limit));
                let q = match f.kind {
                    BreachKind::RepatriationLate => q.bind(f.repatriation_days).bind(f.invoice_cutoff),
                    BreachKind::ClaimWindowExpired => q.bind(f.claim_days).bind(f.realization_cutoff),
                    BreachKind::InFlight => q.bind(DbTime(f.initiated_before)),
                };
                let rows = q.fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(Breach {
                            repatriation_id: r.try_get("repatriation_id")?,
                            party_id: r.try_get("party_id")?,
                            party_kind: r.try_get("party_kind")?,
                            service_category: r.try_get::<Option<String>, _>("service_category")?.unwrap_or_default(),
                            corridor: r.try_get("corridor")?,
                            invoice_date: r.try_get("invoice_date")?,
                            initiated_at: r.try_get::<Option<DbTime>, _>("initiated_at")?.map(|t| t.0),
                            funds_at: r.try_get::<Option<DbTime>, _>("funds_at")?.map(|t| t.0),
                            claim_filed_at: r.try_get::<Option<DbTime>, _>("claim_filed_at")?.map(|t| t.0),
                            realized_on: r.try_get("realized_on")?,
                        })
                    })
                    .collect()
            }

            async fn rebuild_metrics(&self, after: Option<Uuid>, limit: u32) -> Result<Option<Uuid>, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let rows = sqlx::query("SELECT id FROM repatriations WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                let ids: Vec<Uuid> = rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
                let Some(last) = ids.last().copied() else { return Ok(None) };
                lock_repatriations(&mut tx, &ids).await?;
                let journeys = load_steps(&mut tx, &ids).await?;
                refresh_metrics(&mut tx, &ids, &journeys).await?;
                tx.commit().await?;
                Ok(Some(last))
            }

            async fn compact_delay_rollup(&self) -> Result<(), StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                compact_rollup(&mut tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn pending_metrics(&self) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM metrics_pending").fetch_one(&self.pool).await?;
                Ok(row.try_get("n")?)
            }

            async fn drain_pending_metrics(&self, limit: u32) -> Result<usize, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let ids = take_pending(&mut tx, limit).await?;
                if ids.is_empty() {
                    return Ok(0);
                }
                // The journeys' locks come before their steps are read, so a
                // step committed meanwhile is seen here or marks them again.
                lock_repatriations(&mut tx, &ids).await?;
                let journeys = load_steps(&mut tx, &ids).await?;
                refresh_metrics(&mut tx, &ids, &journeys).await?;
                clear_pending(&mut tx, &ids).await?;
                tx.commit().await?;
                Ok(ids.len())
            }
        }
    };
}

pub(crate) use metrics_sql;
