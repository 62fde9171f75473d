//! SQLite: the embedded default. Writers take the database lock up front
//! (`BEGIN IMMEDIATE`), so set operations are plain loops of prepared
//! statements inside that one transaction.

use std::str::FromStr;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool};

use crate::{ConnectOptions, migrate};

type Db = Sqlite;
const BACKEND: &str = "sqlite";
/// The IMMEDIATE transaction already holds the write lock.
const FOR_UPDATE: &str = "";

/// The repository on SQLite.
#[derive(Clone)]
pub struct SqliteRepository {
    pool: SqlitePool,
}

impl SqliteRepository {
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad database url: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            // WAL lets readers go on while one writer commits; FULL keeps an
            // acknowledged commit through a power cut.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.acquire_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        if options.migrate {
            migrate::sqlite().run(&pool).await?;
        }
        Ok(SqliteRepository { pool })
    }
}

/// The IMMEDIATE transaction already serializes writers.
async fn lock_audit(_: &mut SqliteConnection) -> Result<(), StoreError> {
    Ok(())
}

async fn insert_audit(
    conn: &mut SqliteConnection,
    entries: &[AuditEntry],
) -> Result<(), StoreError> {
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
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn begin_write(pool: &SqlitePool) -> Result<Tx, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// Inserts the keys (with their responses, when known) that are not taken;
/// returns the ids inserted.
async fn claim_keys(
    conn: &mut SqliteConnection,
    keys: &[(Idempotency, Option<String>)],
    at: DateTime<Utc>,
) -> Result<HashSet<Uuid>, StoreError> {
    let mut claimed = HashSet::new();
    for (k, response) in keys {
        let done = sqlx::query(
            "INSERT INTO idempotency (request_id, principal, method, fingerprint, response, create_time) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(k.request_id)
        .bind(&k.principal)
        .bind(k.method)
        .bind(&k.fingerprint)
        .bind(response)
        .bind(DbTime(at))
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 1 {
            claimed.insert(k.request_id);
        }
    }
    Ok(claimed)
}

async fn fetch_keys(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, KeyRecord>, StoreError> {
    let mut out = HashMap::new();
    for id in ids {
        if let Some(r) = sqlx::query("SELECT * FROM idempotency WHERE request_id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
        {
            out.insert(*id, key_record(&r)?);
        }
    }
    Ok(out)
}

async fn save_responses(
    conn: &mut SqliteConnection,
    responses: &[(Uuid, String)],
) -> Result<(), StoreError> {
    for (id, response) in responses {
        sqlx::query("UPDATE idempotency SET response = $2 WHERE request_id = $1")
            .bind(id)
            .bind(response)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The write lock is already held; returns the step counts.
async fn lock_repatriations(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, i32>, StoreError> {
    let mut out = HashMap::new();
    for id in ids {
        if let Some(r) = sqlx::query("SELECT step_count FROM repatriations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
        {
            out.insert(*id, r.try_get("step_count")?);
        }
    }
    Ok(out)
}

async fn load_steps(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Step>>, StoreError> {
    let mut out: HashMap<Uuid, Vec<Step>> = HashMap::new();
    for id in ids {
        let rows = sqlx::query("SELECT * FROM steps WHERE repatriation_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        let steps = rows
            .iter()
            .map(step_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(*id, steps);
    }
    Ok(out)
}

async fn load_allocations(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Allocation>>, StoreError> {
    let mut out: HashMap<Uuid, Vec<Allocation>> = HashMap::new();
    for id in ids {
        let rows =
            sqlx::query("SELECT * FROM allocations WHERE repatriation_id = $1 ORDER BY position")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?;
        for r in &rows {
            let (rid, a) = allocation_from_row(r)?;
            out.entry(rid).or_default().push(a);
        }
    }
    Ok(out)
}

async fn insert_steps(conn: &mut SqliteConnection, steps: &[Step]) -> Result<(), StoreError> {
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
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn update_repatriations(
    conn: &mut SqliteConnection,
    updates: &[(Uuid, &'static str, i32)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    for (id, status, count) in updates {
        sqlx::query(
            "UPDATE repatriations SET status = $2, step_count = $3, update_time = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(*status)
        .bind(count)
        .bind(DbTime(at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The grouping dimensions of the journeys.
async fn load_journey_dims(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, JourneyDims>, StoreError> {
    let mut out = HashMap::new();
    for id in ids {
        if let Some(row) = sqlx::query(AssertSqlSafe(format!("{JOURNEY_DIMS} WHERE r.id = $1")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
        {
            let (id, dims) = journey_dims_from_row(&row)?;
            out.insert(id, dims);
        }
    }
    Ok(out)
}

/// Replaces the metrics rows of the journeys `ids` (all of them, also those
/// with no rows now).
async fn replace_metrics(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
    dims: &HashMap<Uuid, JourneyDims>,
    obs: &[ObservationRow],
    sums: &[SummaryRow],
) -> Result<Vec<RollupDelta>, StoreError> {
    let mut removed = Vec::new();
    for id in ids {
        let rows = sqlx::query("DELETE FROM delay_observations WHERE repatriation_id = $1 RETURNING measure, corridor, month, bucket, micros")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        for r in &rows {
            removed.push(removed_observation(r)?);
        }
        sqlx::query("DELETE FROM journey_summaries WHERE repatriation_id = $1")
            .bind(id)
            .execute(&mut *conn)
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
        .execute(&mut *conn)
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
        .execute(&mut *conn)
        .await?;
    }
    Ok(removed)
}

/// Marks journeys whose metrics rows are behind their steps.
async fn mark_pending(conn: &mut SqliteConnection, ids: &[Uuid]) -> Result<(), StoreError> {
    for id in ids {
        sqlx::query(
            "INSERT INTO metrics_pending (repatriation_id) VALUES ($1) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Takes up to `limit` pending journeys (the write lock is already held).
async fn take_pending(conn: &mut SqliteConnection, limit: u32) -> Result<Vec<Uuid>, StoreError> {
    let rows = sqlx::query(
        "SELECT repatriation_id FROM metrics_pending ORDER BY repatriation_id LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok(r.try_get("repatriation_id")?))
        .collect()
}

async fn insert_rollup(
    conn: &mut SqliteConnection,
    deltas: &[RollupDelta],
) -> Result<(), StoreError> {
    for d in deltas {
        sqlx::query("INSERT INTO delay_rollup (measure, corridor, month, bucket, n, total) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&d.measure)
            .bind(&d.corridor)
            .bind(&d.month)
            .bind(d.bucket)
            .bind(d.n)
            .bind(d.total)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Folds the deltas into one row per key (the write lock is held).
async fn compact_rollup(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT measure, corridor, month, bucket, SUM(n) AS n, SUM(total) AS total FROM delay_rollup
         GROUP BY measure, corridor, month, bucket HAVING SUM(n) <> 0 OR SUM(total) <> 0",
    )
    .fetch_all(&mut *conn)
    .await?;
    let folded = rows
        .iter()
        .map(|r| {
            Ok(RollupDelta {
                measure: r.try_get("measure")?,
                corridor: r.try_get("corridor")?,
                month: r.try_get("month")?,
                bucket: r.try_get("bucket")?,
                n: r.try_get("n")?,
                total: r.try_get("total")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    sqlx::query("DELETE FROM delay_rollup")
        .execute(&mut *conn)
        .await?;
    insert_rollup(conn, &folded).await
}

async fn clear_pending(conn: &mut SqliteConnection, ids: &[Uuid]) -> Result<(), StoreError> {
    for id in ids {
        sqlx::query("DELETE FROM metrics_pending WHERE repatriation_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

crate::sql::shared_sql!(SqliteRepository);
crate::incentive_sql::incentive_sql!(SqliteRepository);
crate::metrics_sql::metrics_sql!(SqliteRepository);
crate::reconciliation_sql::reconciliation_sql!(SqliteRepository);
