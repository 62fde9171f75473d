//! PostgreSQL: set operations as single statements over arrays (UNNEST,
//! ANY), row locks with FOR UPDATE.

use sqlx::postgres::{PgConnectOptions, PgConnection, PgHasArrayType, PgPoolOptions, PgTypeInfo};
use sqlx::{PgPool, Postgres};

use crate::{ConnectOptions, migrate};

type Db = Postgres;
const BACKEND: &str = "postgres";
const FOR_UPDATE: &str = " FOR UPDATE";

/// The repository on PostgreSQL.
#[derive(Clone)]
pub struct PgRepository {
    pool: PgPool,
}

impl PgRepository {
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let connect: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Config(format!("bad database url: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        if options.migrate {
            migrate::postgres().run(&pool).await?;
        }
        Ok(PgRepository { pool })
    }
}

impl PgHasArrayType for DbDecimal {
    fn array_type_info() -> PgTypeInfo {
        <rust_decimal::Decimal as PgHasArrayType>::array_type_info()
    }
}

impl PgHasArrayType for DbTime {
    fn array_type_info() -> PgTypeInfo {
        <DateTime<Utc> as PgHasArrayType>::array_type_info()
    }
}

/// Appends to the audit chain are serialized by a transaction-scoped lock
/// (held until commit), so the chain follows commit order.
async fn lock_audit(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(7251001)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert_audit(conn: &mut PgConnection, entries: &[AuditEntry]) -> Result<(), StoreError> {
    let r = |f: &dyn Fn(&AuditEntry) -> String| entries.iter().map(f).collect::<Vec<String>>();
    sqlx::query(
        "INSERT INTO audit_log (sequence, time, subject, role, method, resource, request_hash, request_id, previous_hash, hash)
         SELECT * FROM UNNEST($1::int8[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::text[], $10::text[])",
    )
    .bind(entries.iter().map(|e| e.record.sequence).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| DbTime(e.record.time)).collect::<Vec<_>>())
    .bind(r(&|e| e.record.subject.clone()))
    .bind(r(&|e| e.record.role.clone()))
    .bind(r(&|e| e.record.method.clone()))
    .bind(r(&|e| e.record.resource.clone()))
    .bind(r(&|e| e.record.request_hash.clone()))
    .bind(entries.iter().map(|e| e.record.request_id).collect::<Vec<_>>())
    .bind(r(&|e| e.previous_hash.clone()))
    .bind(r(&|e| e.hash.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn begin_write(pool: &PgPool) -> Result<Tx, StoreError> {
    Ok(pool.begin().await?)
}

/// Inserts the keys (with their responses, when known) that are not taken;
/// returns the ids inserted.
async fn claim_keys(
    conn: &mut PgConnection,
    keys: &[(Idempotency, Option<String>)],
    at: DateTime<Utc>,
) -> Result<HashSet<Uuid>, StoreError> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = sqlx::query(
        "INSERT INTO idempotency (request_id, principal, method, fingerprint, response, create_time)
         SELECT k.id, k.principal, k.method, k.fingerprint, k.response, $6
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(id, principal, method, fingerprint, response)
         ON CONFLICT (request_id) DO NOTHING
         RETURNING request_id",
    )
    .bind(keys.iter().map(|k| k.0.request_id).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.0.principal.clone()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.0.method.to_string()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.0.fingerprint.clone()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.1.clone()).collect::<Vec<_>>())
    .bind(DbTime(at))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| r.try_get("request_id").map_err(StoreError::from))
        .collect()
}

async fn fetch_keys(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, KeyRecord>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query("SELECT * FROM idempotency WHERE request_id = ANY($1)")
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("request_id")?, key_record(r)?)))
        .collect()
}

async fn save_responses(
    conn: &mut PgConnection,
    responses: &[(Uuid, String)],
) -> Result<(), StoreError> {
    if responses.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE idempotency SET response = r.response
         FROM UNNEST($1::uuid[], $2::text[]) AS r(id, response) WHERE request_id = r.id",
    )
    .bind(responses.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(responses.iter().map(|r| r.1.clone()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Locks the repatriations (in id order) and returns their step counts.
async fn lock_repatriations(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, i32>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(
        "SELECT id, step_count FROM repatriations WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("step_count")?)))
        .collect()
}

async fn load_steps(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Step>>, StoreError> {
    let mut out: HashMap<Uuid, Vec<Step>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = sqlx::query("SELECT * FROM steps WHERE repatriation_id = ANY($1)")
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    for r in &rows {
        let step = step_from_row(r)?;
        out.entry(step.details.repatriation_id)
            .or_default()
            .push(step);
    }
    Ok(out)
}

async fn load_allocations(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Allocation>>, StoreError> {
    let mut out: HashMap<Uuid, Vec<Allocation>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = sqlx::query("SELECT * FROM allocations WHERE repatriation_id = ANY($1) ORDER BY repatriation_id, position")
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    for r in &rows {
        let (rid, a) = allocation_from_row(r)?;
        out.entry(rid).or_default().push(a);
    }
    Ok(out)
}

async fn insert_steps(conn: &mut PgConnection, steps: &[Step]) -> Result<(), StoreError> {
    if steps.is_empty() {
        return Ok(());
    }
    let col =
        |f: &dyn Fn(&Step) -> Option<String>| steps.iter().map(f).collect::<Vec<Option<String>>>();
    let fees = steps
        .iter()
        .map(|s| codec::to_json(&s.details.fees))
        .collect::<Result<Vec<_>, _>>()?;
    sqlx::query(
        "INSERT INTO steps (id, repatriation_id, kind, occurred_at, recorded_at, institution_bic, amount, currency, fees,
                            fx_source, fx_target, fx_rate, end_to_end_id, uetr, gpi_status, reason_code, note)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::numeric[],
                              $8::text[], $9::text[], $10::text[], $11::text[], $12::numeric[], $13::text[], $14::uuid[],
                              $15::text[], $16::text[], $17::text[])",
    )
    .bind(steps.iter().map(|s| s.id).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.details.repatriation_id).collect::<Vec<_>>())
    .bind(col(&|s| Some(s.kind().name().to_string())))
    .bind(steps.iter().map(|s| DbTime(s.occurred_at())).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| DbTime(s.recorded_at)).collect::<Vec<_>>())
    .bind(col(&|s| s.details.institution_bic.clone()))
    .bind(steps.iter().map(|s| s.details.amount.map(|m| DbDecimal(m.amount()))).collect::<Vec<_>>())
    .bind(col(&|s| s.details.amount.map(|m| m.currency().code().to_string())))
    .bind(fees)
    .bind(col(&|s| s.details.fx_rate.as_ref().map(|f| f.source.code().to_string())))
    .bind(col(&|s| s.details.fx_rate.as_ref().map(|f| f.target.code().to_string())))
    .bind(steps.iter().map(|s| s.details.fx_rate.as_ref().map(|f| DbDecimal(f.rate))).collect::<Vec<_>>())
    .bind(col(&|s| s.details.end_to_end_id.clone()))
    .bind(steps.iter().map(|s| s.details.uetr).collect::<Vec<_>>())
    .bind(col(&|s| s.details.gpi_status.map(|g| g.name().to_string())))
    .bind(col(&|s| s.details.reason_code.clone()))
    .bind(col(&|s| Some(s.details.note.clone())))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn update_repatriations(
    conn: &mut PgConnection,
    updates: &[(Uuid, &'static str, i32)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if updates.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE repatriations SET status = u.status, step_count = u.step_count, update_time = $4
         FROM UNNEST($1::uuid[], $2::text[], $3::int4[]) AS u(id, status, step_count) WHERE repatriations.id = u.id",
    )
    .bind(updates.iter().map(|u| u.0).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.1.to_string()).collect::<Vec<_>>())
    .bind(updates.iter().map(|u| u.2).collect::<Vec<_>>())
    .bind(DbTime(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The grouping dimensions of the journeys.
async fn load_journey_dims(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, JourneyDims>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{JOURNEY_DIMS} WHERE r.id = ANY($1)"
    )))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(journey_dims_from_row).collect()
}

/// Replaces the metrics rows of the journeys `ids` (all of them, also those
/// with no rows now).
async fn replace_metrics(
    conn: &mut PgConnection,
    ids: &[Uuid],
    dims: &HashMap<Uuid, JourneyDims>,
    obs: &[ObservationRow],
    sums: &[SummaryRow],
) -> Result<Vec<RollupDelta>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let removed = sqlx::query("DELETE FROM delay_observations WHERE repatriation_id = ANY($1) RETURNING measure, corridor, month, bucket, micros")
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    let removed = removed
        .iter()
        .map(removed_observation)
        .collect::<Result<Vec<_>, _>>()?;
    sqlx::query("DELETE FROM journey_summaries WHERE repatriation_id = ANY($1)")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    let d = |id: &Uuid| {
        dims.get(id)
            .ok_or_else(|| StoreError::Internal(format!("no dimensions for repatriation {id}")))
    };
    if !obs.is_empty() {
        let ds = obs
            .iter()
            .map(|o| d(&o.repatriation_id))
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "INSERT INTO delay_observations (repatriation_id, position, measure, end_at, micros, bucket, institution, corridor, channel, party_kind, party_id, month)
             SELECT * FROM UNNEST($1::uuid[], $2::int4[], $3::text[], $4::timestamptz[], $5::int8[], $6::int4[], $7::text[], $8::text[], $9::text[], $10::text[], $11::uuid[], $12::text[])",
        )
        .bind(obs.iter().map(|o| o.repatriation_id).collect::<Vec<_>>())
        .bind(obs.iter().map(|o| o.position).collect::<Vec<_>>())
        .bind(obs.iter().map(|o| o.measure.to_string()).collect::<Vec<_>>())
        .bind(obs.iter().map(|o| DbTime(o.end_at)).collect::<Vec<_>>())
        .bind(obs.iter().map(|o| o.micros).collect::<Vec<_>>())
        .bind(obs.iter().map(|o| o.bucket).collect::<Vec<_>>())
        .bind(obs.iter().map(|o| o.institution.clone()).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.corridor.clone()).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.channel.clone()).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.party_kind.clone()).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.party_id).collect::<Vec<_>>())
        .bind(obs.iter().map(|o| o.month.clone()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    if !sums.is_empty() {
        let ds = sums
            .iter()
            .map(|s| d(&s.repatriation_id))
            .collect::<Result<Vec<_>, _>>()?;
        let t = |f: &dyn Fn(&SummaryRow) -> Option<DateTime<Utc>>| {
            sums.iter().map(|s| f(s).map(DbTime)).collect::<Vec<_>>()
        };
        sqlx::query(
            "INSERT INTO journey_summaries (repatriation_id, corridor, channel, party_kind, party_id, invoice_date, initiated_at, funds_at, claim_filed_at,
                                            disbursed_at, ended_at, realized_on, realized_days, claim_days, initiation_to_funds, within_business_day,
                                            fee_share_ppm, month)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::date[], $7::timestamptz[], $8::timestamptz[],
                                  $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::date[], $13::int4[], $14::int4[], $15::int8[],
                                  $16::bool[], $17::int8[], $18::text[])",
        )
        .bind(sums.iter().map(|s| s.repatriation_id).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.corridor.clone()).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.channel.clone()).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.party_kind.clone()).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.party_id).collect::<Vec<_>>())
        .bind(ds.iter().map(|d| d.invoice_date).collect::<Vec<_>>())
        .bind(t(&|s| s.initiated_at))
        .bind(t(&|s| s.funds_at))
        .bind(t(&|s| s.claim_filed_at))
        .bind(t(&|s| s.disbursed_at))
        .bind(t(&|s| s.ended_at))
        .bind(sums.iter().map(|s| s.realized_on).collect::<Vec<_>>())
        .bind(sums.iter().map(|s| s.realized_days).collect::<Vec<_>>())
        .bind(sums.iter().map(|s| s.claim_days).collect::<Vec<_>>())
        .bind(sums.iter().map(|s| s.initiation_to_funds).collect::<Vec<_>>())
        .bind(sums.iter().map(|s| s.within_business_day).collect::<Vec<_>>())
        .bind(sums.iter().map(|s| s.fee_share_ppm).collect::<Vec<_>>())
        .bind(sums.iter().map(|s| s.month.clone()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(removed)
}

/// Marks journeys whose metrics rows are behind their steps.
async fn mark_pending(conn: &mut PgConnection, ids: &[Uuid]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("INSERT INTO metrics_pending (repatriation_id) SELECT * FROM UNNEST($1::uuid[]) ON CONFLICT DO NOTHING")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes up to `limit` pending journeys that no other drainer holds.
async fn take_pending(conn: &mut PgConnection, limit: u32) -> Result<Vec<Uuid>, StoreError> {
    let rows = sqlx::query("SELECT repatriation_id FROM metrics_pending ORDER BY repatriation_id LIMIT $1 FOR UPDATE SKIP LOCKED")
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get("repatriation_id")?))
        .collect()
}

async fn insert_rollup(conn: &mut PgConnection, deltas: &[RollupDelta]) -> Result<(), StoreError> {
    if deltas.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO delay_rollup (measure, corridor, month, bucket, n, total)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::int8[], $6::int8[])",
    )
    .bind(deltas.iter().map(|d| d.measure.clone()).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.corridor.clone()).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.month.clone()).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.bucket).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.n).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| d.total).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Folds the deltas into one row per key. Rows committed while this runs
/// are not in its snapshot and stay as they are; each row is folded once.
async fn compact_rollup(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query(
        "WITH gone AS (DELETE FROM delay_rollup RETURNING measure, corridor, month, bucket, n, total)
         INSERT INTO delay_rollup (measure, corridor, month, bucket, n, total)
         SELECT measure, corridor, month, bucket, SUM(n), SUM(total) FROM gone
         GROUP BY measure, corridor, month, bucket HAVING SUM(n) <> 0 OR SUM(total) <> 0",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn clear_pending(conn: &mut PgConnection, ids: &[Uuid]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM metrics_pending WHERE repatriation_id = ANY($1)")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

crate::sql::shared_sql!(PgRepository);
crate::incentive_sql::incentive_sql!(PgRepository);
crate::metrics_sql::metrics_sql!(PgRepository);
crate::reconciliation_sql::reconciliation_sql!(PgRepository);
