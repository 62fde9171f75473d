//! SQLite: the embedded default. Every write, the server's own background
//! work included, goes through one writer connection (`sqlite_writer`):
//! requests queue for it in order instead of racing for the database lock
//! (which SQLite would answer with "database is locked" once the busy
//! timeout ran out), and it commits them in groups, one fsync per group.
//! Readers have a pool of their own and go on beside the writer (WAL). The
//! writer holds the lock (`BEGIN IMMEDIATE`) for the whole group, so nothing
//! needs a row lock. Its set operations on the hot paths are one statement
//! per set (multi-row `INSERT`, `IN` lists), since every statement is a
//! round trip to the one busy connection.
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use repat_core::Named;
use repat_core::audit::AuditEntry;
use repat_core::journey::{Step, StepKind};
use repat_core::repatriation::Allocation;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection, QueryBuilder, Sqlite};
use uuid::Uuid;

use crate::codec;
use crate::db::{Pool, Pools, Writes};
use crate::dialect::{Dialect, JourneyUpdate};
use crate::events::NewEvent;
use crate::metrics_rows::{
    DELAY_BY_CORRIDOR, DELAY_BY_DIMS, DELAY_BY_MONTH, JOURNEY_DIMS, JourneyDims, ObservationRow,
    ROLLUPS, Removed, RollupDeltas, SCORECARD, SummaryRow,
};
use crate::rows::{
    AllocationRow, JourneyDimsRow, KeyRow, RemovedObservation, RemovedSummary, StepRow,
};
use crate::sqlite_writer::Writer;
use crate::types::{DbDecimal, DbTime};
use crate::{ConnectOptions, Idempotency, KeyId, StoreError, migrate};

/// The write transaction already holds the database: no row locks.
pub const FOR_UPDATE: &str = "";

/// Rows per multi-row INSERT: up to seventeen values each stays under
/// SQLite's limit of 32,766 bound values. The writer is the one busy
/// connection: a statement per set, not per row, keeps its round trips
/// few.
const ROWS_PER_INSERT: usize = 500;
/// Ids per `IN (...)` list.
const IDS_PER_SELECT: usize = 1000;

/// Appends `(?, ?, ...)` binding each of `ids`.
fn in_list<T>(q: &mut QueryBuilder<Sqlite>, ids: impl IntoIterator<Item = T>)
where
    T: for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite>,
{
    q.push("(");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    list.push_unseparated(")");
}

/// How long a write waits for its turn at the one writer before the
/// database is reported unavailable: far beyond any queue of short
/// transactions, so only a stuck writer (or another process holding the
/// file) ends a request this way.
const WRITER_QUEUE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The writer's page cache, in KiB (negative: SQLite's unit for KiB).
const WRITER_CACHE_KIB: &str = "-65536";
/// WAL pages (of 4 KiB) after which a commit checkpoints.
const WAL_CHECKPOINT_PAGES: &str = "10000";

/// Opens the readers' pool, the one writer and the readiness ping's own
/// connection (migrating, when asked), creating the file if needed.
pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Pools, StoreError> {
    let connect = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("bad database url: {e}")))?
        .create_if_missing(true)
        .foreign_keys(true)
        // WAL lets readers go on while one writer commits; FULL keeps an
        // acknowledged commit through a power cut.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        // A savepoint's undo journal (one per request in a group) is
        // scratch: kept in memory, not written to a temporary file.
        .pragma("temp_store", "memory")
        .busy_timeout(options.acquire_timeout);
    // The only connection that ever writes, migrations included. Its
    // cache holds a whole group's dirty pages: a smaller one spills them
    // into the WAL mid-transaction, writing a page again at every spill,
    // and reads evicted index pages back from the file. Checkpoints copy
    // the WAL back less often, so a page changed by many commits is
    // copied (and fsynced) once per checkpoint, not once per few.
    let mut writer = SqliteConnection::connect_with(
        &connect
            .clone()
            .pragma("cache_size", WRITER_CACHE_KIB)
            .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES),
    )
    .await?;
    if options.migrate {
        migrate::sqlite().run(&mut writer).await?;
    }
    let health = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .connect_lazy_with(connect.clone());
    let readers = SqlitePoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?;
    Ok(Pools {
        reads: Pool::Sqlite(readers),
        writes: Writes::Sqlite(Writer::start(
            writer,
            options.write_group,
            WRITER_QUEUE_TIMEOUT,
        )),
        health: Pool::Sqlite(health),
    })
}

#[async_trait]
impl Dialect for SqliteConnection {
    /// The write transaction already serializes writers.
    async fn lock_audit(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The write transaction already serializes writers.
    async fn lock_outbox(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn insert_events(
        &mut self,
        first: i64,
        events: &[NewEvent],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut next = first;
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (sequence, id, type, party_id, subject, time, payload) ",
            );
            q.push_values(chunk, |mut row, e| {
                row.push_bind(next)
                    .push_bind(e.id)
                    .push_bind(e.kind.name())
                    .push_bind(e.party_id)
                    .push_bind(&e.subject)
                    .push_bind(DbTime(at))
                    .push_bind(&e.payload);
                next += 1;
            });
            q.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn repatriation_parties(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Uuid>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_SELECT) {
            let mut q =
                QueryBuilder::<Sqlite>::new("SELECT id, party_id FROM repatriations WHERE id IN ");
            in_list(&mut q, chunk.iter().copied());
            let rows: Vec<(Uuid, Uuid)> = q.build_query_as().fetch_all(&mut *self).await?;
            out.extend(rows);
        }
        Ok(out)
    }

    async fn insert_audit(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        for chunk in entries.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO audit_log (sequence, time, subject, role, method, resource, request_hash, request_id, previous_hash, hash) ",
            );
            q.push_values(chunk, |mut row, e| {
                let r = &e.record;
                row.push_bind(r.sequence)
                    .push_bind(DbTime(r.time))
                    .push_bind(&r.subject)
                    .push_bind(&r.role)
                    .push_bind(&r.method)
                    .push_bind(&r.resource)
                    .push_bind(&r.request_hash)
                    .push_bind(r.request_id)
                    .push_bind(&e.previous_hash)
                    .push_bind(&e.hash);
            });
            q.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    /// Inserts the keys not taken, a chunk per statement; the rows
    /// returned are those this request took.
    async fn claim_keys(
        &mut self,
        keys: &[(Idempotency, Option<String>)],
        at: DateTime<Utc>,
    ) -> Result<HashSet<KeyId>, StoreError> {
        let mut taken: HashSet<(Uuid, String, String)> = HashSet::new();
        for chunk in keys.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO idempotency (request_id, scope, principal, method, fingerprint, response, create_time)
                 SELECT * FROM (",
            );
            q.push_values(chunk, |mut row, (k, response)| {
                row.push_bind(k.request_id)
                    .push_bind(&k.scope)
                    .push_bind(&k.principal)
                    .push_bind(k.method)
                    .push_bind(&k.fingerprint)
                    .push_bind(response)
                    .push_bind(DbTime(at));
            });
            // An unscoped key (from before keys were scoped) holds its
            // request id for every tenant and method.
            q.push(
                ") AS v WHERE NOT EXISTS (SELECT 1 FROM idempotency i WHERE i.request_id = v.column1 AND i.scope = '')
                 ON CONFLICT (request_id, scope, method) DO NOTHING
                 RETURNING request_id, scope, method",
            );
            let rows: Vec<(Uuid, String, String)> =
                q.build_query_as().fetch_all(&mut *self).await?;
            taken.extend(rows);
        }
        Ok(keys
            .iter()
            .map(|(k, _)| k.key())
            .filter(|k| taken.contains(&(k.request_id, k.scope.clone(), k.method.clone())))
            .collect())
    }

    async fn fetch_keys(&mut self, keys: &[KeyId]) -> Result<Vec<KeyRow>, StoreError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(IDS_PER_SELECT) {
            let mut q =
                QueryBuilder::<Sqlite>::new("SELECT * FROM idempotency WHERE request_id IN ");
            in_list(&mut q, chunk.iter().map(|k| k.request_id));
            let rows: Vec<KeyRow> = q.build_query_as().fetch_all(&mut *self).await?;
            // Of the records of these request ids, each key's own and the
            // unscoped ones.
            let asked: HashSet<(Uuid, &str, &str)> = chunk
                .iter()
                .map(|k| (k.request_id, k.scope.as_str(), k.method.as_str()))
                .collect();
            out.extend(rows.into_iter().filter(|r| {
                r.scope.is_empty()
                    || asked.contains(&(r.request_id, r.scope.as_str(), r.method.as_str()))
            }));
        }
        Ok(out)
    }

    async fn save_responses(&mut self, responses: &[(KeyId, String)]) -> Result<(), StoreError> {
        for (k, response) in responses {
            sqlx::query(
                "UPDATE idempotency SET response = $4
                 WHERE request_id = $1 AND scope = $2 AND method = $3",
            )
            .bind(k.request_id)
            .bind(&k.scope)
            .bind(&k.method)
            .bind(response)
            .execute(&mut *self)
            .await?;
        }
        Ok(())
    }

    /// The write lock is already held; returns the step counts.
    async fn lock_repatriations(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, i32>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(IDS_PER_SELECT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT id, step_count FROM repatriations WHERE id IN ",
            );
            in_list(&mut q, chunk.iter().copied());
            let rows: Vec<(Uuid, i32)> = q.build_query_as().fetch_all(&mut *self).await?;
            out.extend(rows);
        }
        Ok(out)
    }

    async fn load_steps(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Step>>, StoreError> {
        let mut out: HashMap<Uuid, Vec<Step>> = ids.iter().map(|id| (*id, Vec::new())).collect();
        for chunk in ids.chunks(IDS_PER_SELECT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT * FROM steps WHERE void_time IS NULL AND repatriation_id IN ",
            );
            in_list(&mut q, chunk.iter().copied());
            let rows: Vec<StepRow> = q.build_query_as().fetch_all(&mut *self).await?;
            for row in rows {
                let step = Step::try_from(row)?;
                out.entry(step.details.repatriation_id)
                    .or_default()
                    .push(step);
            }
        }
        Ok(out)
    }

    async fn load_step_extremes(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Step>>, StoreError> {
        // Two index probes per kind (steps_journey_kind), in one statement.
        static EXTREMES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            StepKind::ALL
                .iter()
                .flat_map(|k| {
                    ["", " DESC"].map(|dir| {
                        format!(
                            "SELECT * FROM (SELECT * FROM steps WHERE repatriation_id = $1 AND kind = '{}' AND void_time IS NULL \
                             ORDER BY occurred_at{dir}, recorded_at{dir}, id{dir} LIMIT 1)",
                            k.name()
                        )
                    })
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ")
        });
        let mut out: HashMap<Uuid, Vec<Step>> = HashMap::new();
        for id in ids {
            let rows: Vec<StepRow> = sqlx::query_as(AssertSqlSafe(EXTREMES.as_str()))
                .bind(id)
                .fetch_all(&mut *self)
                .await?;
            let mut steps: Vec<Step> = Vec::with_capacity(rows.len());
            for r in rows {
                let step = Step::try_from(r)?;
                if !steps.iter().any(|s| s.id == step.id) {
                    steps.push(step);
                }
            }
            out.insert(*id, steps);
        }
        Ok(out)
    }

    async fn load_steps_by_id(&mut self, ids: &[Uuid]) -> Result<Vec<Step>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<StepRow> =
                sqlx::query_as("SELECT * FROM steps WHERE id = $1 AND void_time IS NULL")
                    .bind(id)
                    .fetch_optional(&mut *self)
                    .await?;
            if let Some(r) = row {
                out.push(Step::try_from(r)?);
            }
        }
        Ok(out)
    }

    async fn load_allocations(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Allocation>>, StoreError> {
        let mut out: HashMap<Uuid, Vec<Allocation>> = HashMap::new();
        for id in ids {
            let rows: Vec<AllocationRow> = sqlx::query_as(
                "SELECT * FROM allocations WHERE repatriation_id = $1 ORDER BY position",
            )
            .bind(id)
            .fetch_all(&mut *self)
            .await?;
            for r in rows {
                let (rid, a) = r.into_allocation()?;
                out.entry(rid).or_default().push(a);
            }
        }
        Ok(out)
    }

    async fn insert_steps(&mut self, steps: &[Step]) -> Result<(), StoreError> {
        for chunk in steps.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO steps (id, repatriation_id, kind, occurred_at, recorded_at, institution_bic, amount, currency, fees,
                                    fx_source, fx_target, fx_rate, end_to_end_id, uetr, gpi_status, reason_code, note) ",
            );
            let fees = chunk
                .iter()
                .map(|s| codec::to_json(&s.details.fees))
                .collect::<Result<Vec<_>, _>>()?;
            q.push_values(chunk.iter().zip(fees), |mut row, (s, fees)| {
                let d = &s.details;
                row.push_bind(s.id)
                    .push_bind(d.repatriation_id)
                    .push_bind(d.kind.name())
                    .push_bind(DbTime(d.occurred_at))
                    .push_bind(DbTime(s.recorded_at))
                    .push_bind(&d.institution_bic)
                    .push_bind(d.amount.map(|m| DbDecimal(m.amount())))
                    .push_bind(d.amount.map(|m| m.currency().code()))
                    .push_bind(fees)
                    .push_bind(d.fx_rate.as_ref().map(|f| f.source.code()))
                    .push_bind(d.fx_rate.as_ref().map(|f| f.target.code()))
                    .push_bind(d.fx_rate.as_ref().map(|f| DbDecimal(f.rate)))
                    .push_bind(&d.end_to_end_id)
                    .push_bind(d.uetr)
                    .push_bind(d.gpi_status.map(Named::name))
                    .push_bind(&d.reason_code)
                    .push_bind(&d.note);
            });
            q.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn update_repatriations(
        &mut self,
        updates: &[JourneyUpdate],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for chunk in updates.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "UPDATE repatriations SET status = v.column2, step_count = v.column3, update_time = ",
            );
            q.push_bind(DbTime(at)).push(" FROM (");
            q.push_values(chunk, |mut row, u| {
                row.push_bind(u.id)
                    .push_bind(u.status)
                    .push_bind(u.step_count);
            });
            q.push(") AS v WHERE repatriations.id = v.column1");
            q.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn load_journey_dims(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, JourneyDims>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(IDS_PER_SELECT) {
            let mut q = QueryBuilder::<Sqlite>::new(format!("{JOURNEY_DIMS} WHERE r.id IN "));
            in_list(&mut q, chunk.iter().copied());
            let rows: Vec<JourneyDimsRow> = q.build_query_as().fetch_all(&mut *self).await?;
            out.extend(rows.into_iter().map(<(Uuid, JourneyDims)>::from));
        }
        Ok(out)
    }

    async fn replace_metrics(
        &mut self,
        ids: &[Uuid],
        dims: &HashMap<Uuid, JourneyDims>,
        obs: &[ObservationRow],
        sums: &[SummaryRow],
    ) -> Result<Removed, StoreError> {
        let mut removed = Removed::default();
        for chunk in ids.chunks(IDS_PER_SELECT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "DELETE FROM journey_summaries WHERE repatriation_id IN ",
            );
            in_list(&mut q, chunk.iter().copied());
            q.push(" RETURNING repatriation_id, corridor, month, funds_at, initiation_to_funds, within_business_day, fee_share_ppm");
            let rows: Vec<RemovedSummary> = q.build_query_as().fetch_all(&mut *self).await?;
            if rows.is_empty() {
                continue;
            }
            let mut q = QueryBuilder::<Sqlite>::new(
                "DELETE FROM delay_observations WHERE repatriation_id IN ",
            );
            in_list(&mut q, rows.iter().map(|r| r.repatriation_id));
            q.push(" RETURNING measure, corridor, channel, institution, party_kind, month, bucket, micros");
            let obs: Vec<RemovedObservation> = q.build_query_as().fetch_all(&mut *self).await?;
            removed.observations.extend(obs);
            removed.summaries.extend(rows);
        }
        let d = |id: &Uuid| {
            dims.get(id)
                .ok_or_else(|| StoreError::Internal(format!("no dimensions for repatriation {id}")))
        };
        for chunk in obs.chunks(ROWS_PER_INSERT) {
            let with_dims = chunk
                .iter()
                .map(|o| Ok((o, d(&o.repatriation_id)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO delay_observations (repatriation_id, position, measure, end_at, micros, bucket, institution, corridor, channel, party_kind, party_id, month) ",
            );
            q.push_values(with_dims, |mut row, (o, dims)| {
                row.push_bind(o.repatriation_id)
                    .push_bind(o.position)
                    .push_bind(o.measure)
                    .push_bind(DbTime(o.end_at))
                    .push_bind(o.micros)
                    .push_bind(o.bucket)
                    .push_bind(&o.institution)
                    .push_bind(&dims.corridor)
                    .push_bind(&dims.channel)
                    .push_bind(&dims.party_kind)
                    .push_bind(dims.party_id)
                    .push_bind(&o.month);
            });
            q.build().execute(&mut *self).await?;
        }
        for chunk in sums.chunks(ROWS_PER_INSERT) {
            let with_dims = chunk
                .iter()
                .map(|s| Ok((s, d(&s.repatriation_id)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO journey_summaries (repatriation_id, corridor, channel, party_kind, party_id, invoice_date, initiated_at, funds_at, claim_filed_at,
                                                disbursed_at, ended_at, realized_on, realized_days, claim_days, initiation_to_funds, within_business_day,
                                                fee_share_ppm, month) ",
            );
            q.push_values(with_dims, |mut row, (s, dims)| {
                row.push_bind(s.repatriation_id)
                    .push_bind(&dims.corridor)
                    .push_bind(&dims.channel)
                    .push_bind(&dims.party_kind)
                    .push_bind(dims.party_id)
                    .push_bind(dims.invoice_date)
                    .push_bind(s.initiated_at.map(DbTime))
                    .push_bind(s.funds_at.map(DbTime))
                    .push_bind(s.claim_filed_at.map(DbTime))
                    .push_bind(s.disbursed_at.map(DbTime))
                    .push_bind(s.ended_at.map(DbTime))
                    .push_bind(s.realized_on)
                    .push_bind(s.realized_days)
                    .push_bind(s.claim_days)
                    .push_bind(s.initiation_to_funds)
                    .push_bind(s.within_business_day)
                    .push_bind(s.fee_share_ppm)
                    .push_bind(&s.month);
            });
            q.build().execute(&mut *self).await?;
        }
        Ok(removed)
    }

    async fn mark_pending(&mut self, ids: &[Uuid]) -> Result<(), StoreError> {
        for chunk in ids.chunks(ROWS_PER_INSERT) {
            let mut q =
                QueryBuilder::<Sqlite>::new("INSERT INTO metrics_pending (repatriation_id) ");
            q.push_values(chunk, |mut row, id| {
                row.push_bind(*id);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    /// The write lock is already held: no other drainer runs.
    async fn take_pending(&mut self, limit: u32) -> Result<Vec<Uuid>, StoreError> {
        let rows: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT repatriation_id FROM metrics_pending ORDER BY repatriation_id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *self)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn clear_pending(&mut self, ids: &[Uuid]) -> Result<(), StoreError> {
        for chunk in ids.chunks(IDS_PER_SELECT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "DELETE FROM metrics_pending WHERE repatriation_id IN ",
            );
            in_list(&mut q, chunk.iter().copied());
            q.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn insert_rollup(&mut self, deltas: &RollupDeltas) -> Result<(), StoreError> {
        for chunk in deltas.by_month.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO delay_rollup (measure, corridor, month, bucket, n, total) ",
            );
            q.push_values(chunk, |mut row, d| {
                row.push_bind(&d.measure)
                    .push_bind(&d.corridor)
                    .push_bind(&d.month)
                    .push_bind(d.bucket)
                    .push_bind(d.n)
                    .push_bind(d.total);
            });
            q.push(DELAY_BY_MONTH.add_to_keys());
            q.build().execute(&mut *self).await?;
        }
        for chunk in deltas.by_corridor.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO delay_rollup_corridor (measure, corridor, bucket, n, total) ",
            );
            q.push_values(chunk, |mut row, d| {
                row.push_bind(&d.measure)
                    .push_bind(&d.corridor)
                    .push_bind(d.bucket)
                    .push_bind(d.n)
                    .push_bind(d.total);
            });
            q.push(DELAY_BY_CORRIDOR.add_to_keys());
            q.build().execute(&mut *self).await?;
        }
        for chunk in deltas.by_dims.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO delay_rollup_dims (measure, corridor, channel, institution, party_kind, bucket, n, total) ",
            );
            q.push_values(chunk, |mut row, d| {
                row.push_bind(&d.measure)
                    .push_bind(&d.corridor)
                    .push_bind(&d.channel)
                    .push_bind(d.institution.as_deref().unwrap_or(""))
                    .push_bind(&d.party_kind)
                    .push_bind(d.bucket)
                    .push_bind(d.n)
                    .push_bind(d.total);
            });
            q.push(DELAY_BY_DIMS.add_to_keys());
            q.build().execute(&mut *self).await?;
        }
        for chunk in deltas.scorecard.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO scorecard_rollup (corridor, month, completed, within_hour, within_business_day, costed, fee_share_ppm_sum) ",
            );
            q.push_values(chunk, |mut row, d| {
                row.push_bind(&d.corridor)
                    .push_bind(&d.month)
                    .push_bind(d.completed)
                    .push_bind(d.within_hour)
                    .push_bind(d.within_business_day)
                    .push_bind(d.costed)
                    .push_bind(d.fee_share_ppm_sum);
            });
            q.push(SCORECARD.add_to_keys());
            q.build().execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn compact_rollup(&mut self) -> Result<(), StoreError> {
        for rollup in ROLLUPS {
            sqlx::query(AssertSqlSafe(rollup.clear_zero_keys()))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }
}
