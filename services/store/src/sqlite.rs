//! SQLite: the embedded default. Every write, the server's own background
//! work included, goes through one writer connection: requests queue for it
//! in order instead of racing for the database lock (which SQLite would
//! answer with "database is locked" once the busy timeout ran out). Readers
//! have a pool of their own and go on beside the writer (WAL). The writer
//! takes the lock up front (`BEGIN IMMEDIATE`), so nothing needs a row lock,
//! and set operations are plain loops of prepared statements inside that one
//! transaction.
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
use sqlx::{AssertSqlSafe, Sqlite, SqlitePool, Transaction};
use uuid::Uuid;

use crate::codec;
use crate::db::{Pool, Pools};
use crate::dialect::{Dialect, JourneyUpdate};
use crate::metrics_rows::{JOURNEY_DIMS, JourneyDims, ObservationRow, RollupDelta, SummaryRow};
use crate::rows::{AllocationRow, JourneyDimsRow, KeyRow, RemovedObservation, RollupRow, StepRow};
use crate::types::{DbDecimal, DbTime};
use crate::{ConnectOptions, Idempotency, KeyId, StoreError, migrate};

/// The write transaction already holds the database: no row locks.
pub const FOR_UPDATE: &str = "";

/// How long a write waits for its turn at the one writer before the
/// database is reported unavailable: far beyond any queue of short
/// transactions, so only a stuck writer (or another process holding the
/// file) ends a request this way.
const WRITER_QUEUE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

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
        .busy_timeout(options.acquire_timeout);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(WRITER_QUEUE_TIMEOUT)
        .connect_with(connect.clone())
        .await?;
    if options.migrate {
        migrate::sqlite().run(&writer).await?;
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
        writes: Pool::Sqlite(writer),
        health: Pool::Sqlite(health),
    })
}

/// A transaction that may write: it takes the database's write lock at
/// once, so it never fails to upgrade a read lock half-way.
pub async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
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

    async fn insert_audit(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        for e in entries {
            let r = &e.record;
            sqlx::query(
                "INSERT INTO audit_log (sequence, time, subject, role, method, resource, request_hash, request_id, previous_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(r.sequence)
            .bind(DbTime(r.time))
            .bind(&r.subject)
            .bind(&r.role)
            .bind(&r.method)
            .bind(&r.resource)
            .bind(&r.request_hash)
            .bind(r.request_id)
            .bind(&e.previous_hash)
            .bind(&e.hash)
            .execute(&mut *self)
            .await?;
        }
        Ok(())
    }

    async fn claim_keys(
        &mut self,
        keys: &[(Idempotency, Option<String>)],
        at: DateTime<Utc>,
    ) -> Result<HashSet<KeyId>, StoreError> {
        let mut claimed = HashSet::new();
        for (k, response) in keys {
            let done = sqlx::query(
                "INSERT INTO idempotency (request_id, scope, principal, method, fingerprint, response, create_time)
                 SELECT $1, $2, $3, $4, $5, $6, $7
                 WHERE NOT EXISTS (SELECT 1 FROM idempotency WHERE request_id = $1 AND scope = '')
                 ON CONFLICT (request_id, scope, method) DO NOTHING",
            )
            .bind(k.request_id)
            .bind(&k.scope)
            .bind(&k.principal)
            .bind(k.method)
            .bind(&k.fingerprint)
            .bind(response)
            .bind(DbTime(at))
            .execute(&mut *self)
            .await?;
            if done.rows_affected() == 1 {
                claimed.insert(k.key());
            }
        }
        Ok(claimed)
    }

    async fn fetch_keys(&mut self, keys: &[KeyId]) -> Result<Vec<KeyRow>, StoreError> {
        let mut out = Vec::new();
        for k in keys {
            let rows: Vec<KeyRow> = sqlx::query_as(
                "SELECT * FROM idempotency
                 WHERE request_id = $1 AND ((scope = $2 AND method = $3) OR scope = '')",
            )
            .bind(k.request_id)
            .bind(&k.scope)
            .bind(&k.method)
            .fetch_all(&mut *self)
            .await?;
            out.extend(rows);
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
        for id in ids {
            let row: Option<(i32,)> =
                sqlx::query_as("SELECT step_count FROM repatriations WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *self)
                    .await?;
            if let Some((count,)) = row {
                out.insert(*id, count);
            }
        }
        Ok(out)
    }

    async fn load_steps(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Step>>, StoreError> {
        let mut out: HashMap<Uuid, Vec<Step>> = HashMap::new();
        for id in ids {
            let rows: Vec<StepRow> =
                sqlx::query_as("SELECT * FROM steps WHERE repatriation_id = $1")
                    .bind(id)
                    .fetch_all(&mut *self)
                    .await?;
            let steps = rows
                .into_iter()
                .map(Step::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            out.insert(*id, steps);
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
                            "SELECT * FROM (SELECT * FROM steps WHERE repatriation_id = $1 AND kind = '{}' \
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
            let row: Option<StepRow> = sqlx::query_as("SELECT * FROM steps WHERE id = $1")
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
        for s in steps {
            let d = &s.details;
            sqlx::query(
                "INSERT INTO steps (id, repatriation_id, kind, occurred_at, recorded_at, institution_bic, amount, currency, fees,
                                    fx_source, fx_target, fx_rate, end_to_end_id, uetr, gpi_status, reason_code, note)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(s.id)
            .bind(d.repatriation_id)
            .bind(d.kind.name())
            .bind(DbTime(d.occurred_at))
            .bind(DbTime(s.recorded_at))
            .bind(&d.institution_bic)
            .bind(d.amount.map(|m| DbDecimal(m.amount())))
            .bind(d.amount.map(|m| m.currency().code()))
            .bind(codec::to_json(&d.fees)?)
            .bind(d.fx_rate.as_ref().map(|f| f.source.code()))
            .bind(d.fx_rate.as_ref().map(|f| f.target.code()))
            .bind(d.fx_rate.as_ref().map(|f| DbDecimal(f.rate)))
            .bind(&d.end_to_end_id)
            .bind(d.uetr)
            .bind(d.gpi_status.map(Named::name))
            .bind(&d.reason_code)
            .bind(&d.note)
            .execute(&mut *self)
            .await?;
        }
        Ok(())
    }

    async fn update_repatriations(
        &mut self,
        updates: &[JourneyUpdate],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for u in updates {
            sqlx::query("UPDATE repatriations SET status = $2, step_count = $3, update_time = $4 WHERE id = $1")
                .bind(u.id)
                .bind(u.status)
                .bind(u.step_count)
                .bind(DbTime(at))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn load_journey_dims(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, JourneyDims>, StoreError> {
        let mut out = HashMap::new();
        for id in ids {
            let row: Option<JourneyDimsRow> =
                sqlx::query_as(AssertSqlSafe(format!("{JOURNEY_DIMS} WHERE r.id = $1")))
                    .bind(id)
                    .fetch_optional(&mut *self)
                    .await?;
            if let Some(row) = row {
                let (id, dims) = row.into();
                out.insert(id, dims);
            }
        }
        Ok(out)
    }

    async fn replace_metrics(
        &mut self,
        ids: &[Uuid],
        dims: &HashMap<Uuid, JourneyDims>,
        obs: &[ObservationRow],
        sums: &[SummaryRow],
    ) -> Result<Vec<RollupDelta>, StoreError> {
        let mut removed = Vec::new();
        for id in ids {
            let rows: Vec<RemovedObservation> =
                sqlx::query_as("DELETE FROM delay_observations WHERE repatriation_id = $1 RETURNING measure, corridor, month, bucket, micros")
                    .bind(id)
                    .fetch_all(&mut *self)
                    .await?;
            removed.extend(rows.into_iter().map(RollupDelta::from));
            sqlx::query("DELETE FROM journey_summaries WHERE repatriation_id = $1")
                .bind(id)
                .execute(&mut *self)
                .await?;
        }
        let d = |id: &Uuid| {
            dims.get(id)
                .ok_or_else(|| StoreError::Internal(format!("no dimensions for repatriation {id}")))
        };
        for o in obs {
            let dims = d(&o.repatriation_id)?;
            sqlx::query(
                "INSERT INTO delay_observations (repatriation_id, position, measure, end_at, micros, bucket, institution, corridor, channel, party_kind, party_id, month)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(o.repatriation_id)
            .bind(o.position)
            .bind(o.measure)
            .bind(DbTime(o.end_at))
            .bind(o.micros)
            .bind(o.bucket)
            .bind(&o.institution)
            .bind(&dims.corridor)
            .bind(&dims.channel)
            .bind(&dims.party_kind)
            .bind(dims.party_id)
            .bind(&o.month)
            .execute(&mut *self)
            .await?;
        }
        for s in sums {
            let dims = d(&s.repatriation_id)?;
            sqlx::query(
                "INSERT INTO journey_summaries (repatriation_id, corridor, channel, party_kind, party_id, invoice_date, initiated_at, funds_at, claim_filed_at,
                                                disbursed_at, ended_at, realized_on, realized_days, claim_days, initiation_to_funds, within_business_day,
                                                fee_share_ppm, month)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .bind(s.repatriation_id)
            .bind(&dims.corridor)
            .bind(&dims.channel)
            .bind(&dims.party_kind)
            .bind(dims.party_id)
            .bind(dims.invoice_date)
            .bind(s.initiated_at.map(DbTime))
            .bind(s.funds_at.map(DbTime))
            .bind(s.claim_filed_at.map(DbTime))
            .bind(s.disbursed_at.map(DbTime))
            .bind(s.ended_at.map(DbTime))
            .bind(s.realized_on)
            .bind(s.realized_days)
            .bind(s.claim_days)
            .bind(s.initiation_to_funds)
            .bind(s.within_business_day)
            .bind(s.fee_share_ppm)
            .bind(&s.month)
            .execute(&mut *self)
            .await?;
        }
        Ok(removed)
    }

    async fn mark_pending(&mut self, ids: &[Uuid]) -> Result<(), StoreError> {
        for id in ids {
            sqlx::query(
                "INSERT INTO metrics_pending (repatriation_id) VALUES ($1) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .execute(&mut *self)
            .await?;
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
        for id in ids {
            sqlx::query("DELETE FROM metrics_pending WHERE repatriation_id = $1")
                .bind(id)
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn insert_rollup(&mut self, deltas: &[RollupDelta]) -> Result<(), StoreError> {
        for d in deltas {
            sqlx::query("INSERT INTO delay_rollup (measure, corridor, month, bucket, n, total) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&d.measure)
                .bind(&d.corridor)
                .bind(&d.month)
                .bind(d.bucket)
                .bind(d.n)
                .bind(d.total)
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    /// The write lock is held, so reading, deleting and re-inserting is
    /// one step to everyone else.
    async fn compact_rollup(&mut self) -> Result<(), StoreError> {
        let folded: Vec<RollupRow> = sqlx::query_as(
            "SELECT measure, corridor, month, bucket, SUM(n) AS n, SUM(total) AS total FROM delay_rollup
             GROUP BY measure, corridor, month, bucket HAVING SUM(n) <> 0 OR SUM(total) <> 0",
        )
        .fetch_all(&mut *self)
        .await?;
        sqlx::query("DELETE FROM delay_rollup")
            .execute(&mut *self)
            .await?;
        let folded: Vec<RollupDelta> = folded.into_iter().map(Into::into).collect();
        self.insert_rollup(&folded).await
    }
}
