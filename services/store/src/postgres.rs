//! PostgreSQL: set operations as single statements over arrays (UNNEST,
//! ANY), row locks with FOR UPDATE, appends to the audit chain serialized
//! by an advisory lock.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use repat_core::Named;
use repat_core::audit::AuditEntry;
use repat_core::journey::{Step, StepKind};
use repat_core::repatriation::Allocation;
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgHasArrayType, PgListener, PgPoolOptions, PgTypeInfo,
};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};
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
    AllocationRow, JourneyDimsRow, KeyRow, RemovedObservation, RemovedSummary, StepCount, StepRow,
};
use crate::types::{DbDecimal, DbTime};
use crate::{ChangeFeed, ConnectOptions, Idempotency, KeyId, StoreError, migrate};

/// The row-lock suffix of a SELECT whose rows the transaction will change.
pub const FOR_UPDATE: &str = " FOR UPDATE";

/// Opens the pools (and migrates, when asked): reads and writes share one,
/// PostgreSQL having many writers; the readiness ping has a connection of
/// its own, so a busy pool is never mistaken for a database that is down.
pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Pools, StoreError> {
    // No statement, and no transaction left idle, holds a connection longer.
    let timeout = format!("{}ms", options.statement_timeout.as_millis());
    let connect: PgConnectOptions = url
        .parse::<PgConnectOptions>()
        .map_err(|e| StoreError::Config(format!("bad database url: {e}")))?
        .options([
            ("statement_timeout", timeout.as_str()),
            ("idle_in_transaction_session_timeout", timeout.as_str()),
            // Every statement here is a short one over indexes. Once a
            // table is large, the planner's estimates pass the JIT
            // threshold and each call would spend 100 ms or more
            // compiling code it runs for a millisecond.
            ("jit", "off"),
        ]);
    let health = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .connect_lazy_with(connect.clone());
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?;
    if options.migrate {
        migrate::postgres().run(&pool).await?;
    }
    Ok(Pools {
        reads: Pool::Postgres(pool.clone()),
        writes: Writes::Postgres(pool),
        health: Pool::Postgres(health),
    })
}

/// A transaction that may write: PostgreSQL has many writers at once.
pub async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
    Ok(pool.begin().await?)
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

/// The channel replicas announce changed repatriations on.
const CHANGES_CHANNEL: &str = "repat_changes";
/// Ids per notification: a payload stays well under PostgreSQL's 8,000 bytes.
const IDS_PER_NOTIFICATION: usize = 150;

/// Announces changed repatriations to every replica's listener, as
/// comma-separated ids.
pub async fn publish_changes(pool: &PgPool, ids: &[Uuid]) -> Result<(), StoreError> {
    for chunk in ids.chunks(IDS_PER_NOTIFICATION) {
        let payload = chunk
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(",");
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(payload)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// A listener on the changes channel, on a connection of its own.
pub async fn change_feed(pool: &PgPool) -> Result<Box<dyn ChangeFeed>, StoreError> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANGES_CHANNEL).await?;
    Ok(Box::new(PgChangeFeed { listener }))
}

struct PgChangeFeed {
    listener: PgListener,
}

#[async_trait]
impl ChangeFeed for PgChangeFeed {
    async fn next(&mut self) -> Result<Option<Vec<Uuid>>, StoreError> {
        // `try_recv` answers `None` when the connection was lost; the next
        // call reconnects and listens again.
        match self.listener.try_recv().await? {
            None => Ok(None),
            Some(n) => Ok(Some(
                n.payload()
                    .split(',')
                    .filter_map(|id| id.parse().ok())
                    .collect(),
            )),
        }
    }
}

/// One column of a set of rows, as an array to bind.
fn column<T, U>(rows: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

#[async_trait]
impl Dialect for PgConnection {
    async fn lock_audit(&mut self) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock(7251001)")
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn lock_outbox(&mut self) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock(7251002)")
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn insert_events(
        &mut self,
        first: i64,
        events: &[NewEvent],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // One SQL text whatever the number of events: it is prepared once
        // per connection, not once per batch size.
        sqlx::query(
            "INSERT INTO events (sequence, id, type, party_id, subject, time, payload)
             SELECT $1 + n - 1, id, type, party_id, subject, $6, payload
             FROM UNNEST($2::uuid[], $3::text[], $4::uuid[], $5::text[], $7::text[])
                 WITH ORDINALITY AS e(id, type, party_id, subject, payload, n)",
        )
        .bind(first)
        .bind(column(events, |e| e.id))
        .bind(column(events, |e| e.kind.name()))
        .bind(column(events, |e| e.party_id))
        .bind(column(events, |e| e.subject.clone()))
        .bind(DbTime(at))
        .bind(column(events, |e| e.payload.clone()))
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    async fn repatriation_parties(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Uuid>, StoreError> {
        let rows: Vec<(Uuid, Uuid)> =
            sqlx::query_as("SELECT id, party_id FROM repatriations WHERE id = ANY($1)")
                .bind(ids)
                .fetch_all(&mut *self)
                .await?;
        Ok(rows.into_iter().collect())
    }

    async fn insert_audit(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (sequence, time, subject, role, method, resource, request_hash, request_id, previous_hash, hash)
             SELECT * FROM UNNEST($1::int8[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::text[], $10::text[])",
        )
        .bind(column(entries, |e| e.record.sequence))
        .bind(column(entries, |e| DbTime(e.record.time)))
        .bind(column(entries, |e| e.record.subject.clone()))
        .bind(column(entries, |e| e.record.role.clone()))
        .bind(column(entries, |e| e.record.method.clone()))
        .bind(column(entries, |e| e.record.resource.clone()))
        .bind(column(entries, |e| e.record.request_hash.clone()))
        .bind(column(entries, |e| e.record.request_id))
        .bind(column(entries, |e| e.previous_hash.clone()))
        .bind(column(entries, |e| e.hash.clone()))
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    async fn claim_keys(
        &mut self,
        keys: &[(Idempotency, Option<String>)],
        at: DateTime<Utc>,
    ) -> Result<HashSet<KeyId>, StoreError> {
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let claimed: Vec<(Uuid, String, String)> = sqlx::query_as(
            "INSERT INTO idempotency (request_id, scope, principal, method, fingerprint, response, create_time)
             SELECT k.id, k.scope, k.principal, k.method, k.fingerprint, k.response, $7
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                 AS k(id, scope, principal, method, fingerprint, response)
             WHERE NOT EXISTS (SELECT 1 FROM idempotency l WHERE l.request_id = k.id AND l.scope = '')
             ON CONFLICT (request_id, scope, method) DO NOTHING
             RETURNING request_id, scope, method",
        )
        .bind(column(keys, |k| k.0.request_id))
        .bind(column(keys, |k| k.0.scope.clone()))
        .bind(column(keys, |k| k.0.principal.clone()))
        .bind(column(keys, |k| k.0.method.to_string()))
        .bind(column(keys, |k| k.0.fingerprint.clone()))
        .bind(column(keys, |k| k.1.clone()))
        .bind(DbTime(at))
        .fetch_all(&mut *self)
        .await?;
        Ok(claimed
            .into_iter()
            .map(|(request_id, scope, method)| KeyId {
                scope,
                method,
                request_id,
            })
            .collect())
    }

    async fn fetch_keys(&mut self, keys: &[KeyId]) -> Result<Vec<KeyRow>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<KeyRow> = sqlx::query_as(
            // One probe of the key's index per key, whatever the table's
            // size (`OFFSET 0` keeps the planner from turning the probes
            // into a scan of the whole table, which it prefers while the
            // table is small and then pays for per row).
            "SELECT DISTINCT i.* FROM UNNEST($1::uuid[], $2::text[], $3::text[]) AS k(id, scope, method)
             CROSS JOIN LATERAL (
                 SELECT * FROM idempotency i
                 WHERE i.request_id = k.id AND ((i.scope = k.scope AND i.method = k.method) OR i.scope = '')
                 OFFSET 0
             ) AS i",
        )
        .bind(column(keys, |k| k.request_id))
        .bind(column(keys, |k| k.scope.clone()))
        .bind(column(keys, |k| k.method.clone()))
        .fetch_all(&mut *self)
        .await?;
        Ok(rows)
    }

    async fn save_responses(&mut self, responses: &[(KeyId, String)]) -> Result<(), StoreError> {
        if responses.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE idempotency SET response = r.response
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[]) AS r(id, scope, method, response)
             WHERE request_id = r.id AND idempotency.scope = r.scope AND idempotency.method = r.method",
        )
        .bind(column(responses, |r| r.0.request_id))
        .bind(column(responses, |r| r.0.scope.clone()))
        .bind(column(responses, |r| r.0.method.clone()))
        .bind(column(responses, |r| r.1.clone()))
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    async fn lock_repatriations(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, i32>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<StepCount> = sqlx::query_as(
            "SELECT id, step_count FROM repatriations WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .bind(ids)
        .fetch_all(&mut *self)
        .await?;
        Ok(rows.into_iter().map(|r| (r.id, r.step_count)).collect())
    }

    async fn load_steps(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Step>>, StoreError> {
        let mut out: HashMap<Uuid, Vec<Step>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<StepRow> = sqlx::query_as(
            "SELECT * FROM steps WHERE repatriation_id = ANY($1) AND void_time IS NULL",
        )
        .bind(ids)
        .fetch_all(&mut *self)
        .await?;
        for r in rows {
            let step = Step::try_from(r)?;
            out.entry(step.details.repatriation_id)
                .or_default()
                .push(step);
        }
        Ok(out)
    }

    async fn load_step_extremes(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Step>>, StoreError> {
        let mut out: HashMap<Uuid, Vec<Step>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let kinds: Vec<&str> = StepKind::ALL.iter().map(|k| k.name()).collect();
        // Two index probes per journey and kind (steps_journey_kind).
        let rows: Vec<StepRow> = sqlx::query_as(
            "SELECT s.* FROM unnest($1::uuid[]) AS r(id) CROSS JOIN unnest($2::text[]) AS k(kind)
             CROSS JOIN LATERAL (
                 (SELECT * FROM steps WHERE repatriation_id = r.id AND kind = k.kind AND void_time IS NULL
                  ORDER BY occurred_at, recorded_at, id LIMIT 1)
                 UNION ALL
                 (SELECT * FROM steps WHERE repatriation_id = r.id AND kind = k.kind AND void_time IS NULL
                  ORDER BY occurred_at DESC, recorded_at DESC, id DESC LIMIT 1)
             ) AS s",
        )
        .bind(ids)
        .bind(&kinds)
        .fetch_all(&mut *self)
        .await?;
        let mut seen = HashSet::new();
        for r in rows {
            let step = Step::try_from(r)?;
            if seen.insert(step.id) {
                out.entry(step.details.repatriation_id)
                    .or_default()
                    .push(step);
            }
        }
        Ok(out)
    }

    async fn load_steps_by_id(&mut self, ids: &[Uuid]) -> Result<Vec<Step>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<StepRow> =
            sqlx::query_as("SELECT * FROM steps WHERE id = ANY($1) AND void_time IS NULL")
                .bind(ids)
                .fetch_all(&mut *self)
                .await?;
        rows.into_iter().map(Step::try_from).collect()
    }

    async fn load_allocations(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Allocation>>, StoreError> {
        let mut out: HashMap<Uuid, Vec<Allocation>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<AllocationRow> = sqlx::query_as("SELECT * FROM allocations WHERE repatriation_id = ANY($1) ORDER BY repatriation_id, position")
            .bind(ids)
            .fetch_all(&mut *self)
            .await?;
        for r in rows {
            let (rid, a) = r.into_allocation()?;
            out.entry(rid).or_default().push(a);
        }
        Ok(out)
    }

    async fn insert_steps(&mut self, steps: &[Step]) -> Result<(), StoreError> {
        if steps.is_empty() {
            return Ok(());
        }
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
        .bind(column(steps, |s| s.id))
        .bind(column(steps, |s| s.details.repatriation_id))
        .bind(column(steps, |s| s.kind().name().to_string()))
        .bind(column(steps, |s| DbTime(s.occurred_at())))
        .bind(column(steps, |s| DbTime(s.recorded_at)))
        .bind(column(steps, |s| s.details.institution_bic.clone()))
        .bind(column(steps, |s| s.details.amount.map(|m| DbDecimal(m.amount()))))
        .bind(column(steps, |s| s.details.amount.map(|m| m.currency().code().to_string())))
        .bind(fees)
        .bind(column(steps, |s| s.details.fx_rate.as_ref().map(|f| f.source.code().to_string())))
        .bind(column(steps, |s| s.details.fx_rate.as_ref().map(|f| f.target.code().to_string())))
        .bind(column(steps, |s| s.details.fx_rate.as_ref().map(|f| DbDecimal(f.rate))))
        .bind(column(steps, |s| s.details.end_to_end_id.clone()))
        .bind(column(steps, |s| s.details.uetr))
        .bind(column(steps, |s| s.details.gpi_status.map(|g| g.name().to_string())))
        .bind(column(steps, |s| s.details.reason_code.clone()))
        .bind(column(steps, |s| s.details.note.clone()))
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    async fn update_repatriations(
        &mut self,
        updates: &[JourneyUpdate],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if updates.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE repatriations SET status = u.status, step_count = u.step_count, update_time = $4
             FROM UNNEST($1::uuid[], $2::text[], $3::int4[]) AS u(id, status, step_count) WHERE repatriations.id = u.id",
        )
        .bind(column(updates, |u| u.id))
        .bind(column(updates, |u| u.status.to_string()))
        .bind(column(updates, |u| u.step_count))
        .bind(DbTime(at))
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    async fn load_journey_dims(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, JourneyDims>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<JourneyDimsRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{JOURNEY_DIMS} WHERE r.id = ANY($1)"
        )))
        .bind(ids)
        .fetch_all(&mut *self)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn replace_metrics(
        &mut self,
        ids: &[Uuid],
        dims: &HashMap<Uuid, JourneyDims>,
        obs: &[ObservationRow],
        sums: &[SummaryRow],
    ) -> Result<Removed, StoreError> {
        if ids.is_empty() {
            return Ok(Removed::default());
        }
        let summaries: Vec<RemovedSummary> = sqlx::query_as(
            "DELETE FROM journey_summaries WHERE repatriation_id = ANY($1)
             RETURNING repatriation_id, corridor, month, funds_at, initiation_to_funds, within_business_day, fee_share_ppm",
        )
        .bind(ids)
        .fetch_all(&mut *self)
        .await?;
        let observations: Vec<RemovedObservation> = if summaries.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as(
                "DELETE FROM delay_observations WHERE repatriation_id = ANY($1)
                 RETURNING measure, corridor, channel, institution, party_kind, month, bucket, micros",
            )
            .bind(column(&summaries, |s| s.repatriation_id))
            .fetch_all(&mut *self)
            .await?
        };
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
            .bind(column(obs, |o| o.repatriation_id))
            .bind(column(obs, |o| o.position))
            .bind(column(obs, |o| o.measure.to_string()))
            .bind(column(obs, |o| DbTime(o.end_at)))
            .bind(column(obs, |o| o.micros))
            .bind(column(obs, |o| o.bucket))
            .bind(column(obs, |o| o.institution.clone()))
            .bind(column(&ds, |d| d.corridor.clone()))
            .bind(column(&ds, |d| d.channel.clone()))
            .bind(column(&ds, |d| d.party_kind.clone()))
            .bind(column(&ds, |d| d.party_id))
            .bind(column(obs, |o| o.month.clone()))
            .execute(&mut *self)
            .await?;
        }
        if !sums.is_empty() {
            let ds = sums
                .iter()
                .map(|s| d(&s.repatriation_id))
                .collect::<Result<Vec<_>, _>>()?;
            let t = |f: &dyn Fn(&SummaryRow) -> Option<DateTime<Utc>>| {
                column(sums, |s| f(s).map(DbTime))
            };
            sqlx::query(
                "INSERT INTO journey_summaries (repatriation_id, corridor, channel, party_kind, party_id, invoice_date, initiated_at, funds_at, claim_filed_at,
                                                disbursed_at, ended_at, realized_on, realized_days, claim_days, initiation_to_funds, within_business_day,
                                                fee_share_ppm, month)
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::date[], $7::timestamptz[], $8::timestamptz[],
                                      $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::date[], $13::int4[], $14::int4[], $15::int8[],
                                      $16::bool[], $17::int8[], $18::text[])",
            )
            .bind(column(sums, |s| s.repatriation_id))
            .bind(column(&ds, |d| d.corridor.clone()))
            .bind(column(&ds, |d| d.channel.clone()))
            .bind(column(&ds, |d| d.party_kind.clone()))
            .bind(column(&ds, |d| d.party_id))
            .bind(column(&ds, |d| d.invoice_date))
            .bind(t(&|s| s.initiated_at))
            .bind(t(&|s| s.funds_at))
            .bind(t(&|s| s.claim_filed_at))
            .bind(t(&|s| s.disbursed_at))
            .bind(t(&|s| s.ended_at))
            .bind(column(sums, |s| s.realized_on))
            .bind(column(sums, |s| s.realized_days))
            .bind(column(sums, |s| s.claim_days))
            .bind(column(sums, |s| s.initiation_to_funds))
            .bind(column(sums, |s| s.within_business_day))
            .bind(column(sums, |s| s.fee_share_ppm))
            .bind(column(sums, |s| s.month.clone()))
            .execute(&mut *self)
            .await?;
        }
        Ok(Removed {
            observations,
            summaries,
        })
    }

    async fn mark_pending(&mut self, ids: &[Uuid]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("INSERT INTO metrics_pending (repatriation_id) SELECT * FROM UNNEST($1::uuid[]) ON CONFLICT DO NOTHING")
            .bind(ids)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn take_pending(&mut self, limit: u32) -> Result<Vec<Uuid>, StoreError> {
        let rows: Vec<(Uuid,)> = sqlx::query_as("SELECT repatriation_id FROM metrics_pending ORDER BY repatriation_id LIMIT $1 FOR UPDATE SKIP LOCKED")
            .bind(i64::from(limit))
            .fetch_all(&mut *self)
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn clear_pending(&mut self, ids: &[Uuid]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM metrics_pending WHERE repatriation_id = ANY($1)")
            .bind(ids)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn insert_rollup(&mut self, deltas: &RollupDeltas) -> Result<(), StoreError> {
        let d = &deltas.by_month;
        if !d.is_empty() {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO delay_rollup (measure, corridor, month, bucket, n, total)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::int8[], $6::int8[]){}",
                DELAY_BY_MONTH.add_to_keys()
            )))
            .bind(column(d, |d| d.measure.clone()))
            .bind(column(d, |d| d.corridor.clone()))
            .bind(column(d, |d| d.month.clone()))
            .bind(column(d, |d| d.bucket))
            .bind(column(d, |d| d.n))
            .bind(column(d, |d| d.total))
            .execute(&mut *self)
            .await?;
        }
        let d = &deltas.by_corridor;
        if !d.is_empty() {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO delay_rollup_corridor (measure, corridor, bucket, n, total)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::int8[], $5::int8[]){}",
                DELAY_BY_CORRIDOR.add_to_keys()
            )))
            .bind(column(d, |d| d.measure.clone()))
            .bind(column(d, |d| d.corridor.clone()))
            .bind(column(d, |d| d.bucket))
            .bind(column(d, |d| d.n))
            .bind(column(d, |d| d.total))
            .execute(&mut *self)
            .await?;
        }
        let d = &deltas.by_dims;
        if !d.is_empty() {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO delay_rollup_dims (measure, corridor, channel, institution, party_kind, bucket, n, total)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::int8[], $8::int8[]){}",
                DELAY_BY_DIMS.add_to_keys()
            )))
            .bind(column(d, |d| d.measure.clone()))
            .bind(column(d, |d| d.corridor.clone()))
            .bind(column(d, |d| d.channel.clone()))
            .bind(column(d, |d| d.institution.clone().unwrap_or_default()))
            .bind(column(d, |d| d.party_kind.clone()))
            .bind(column(d, |d| d.bucket))
            .bind(column(d, |d| d.n))
            .bind(column(d, |d| d.total))
            .execute(&mut *self)
            .await?;
        }
        let d = &deltas.scorecard;
        if !d.is_empty() {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO scorecard_rollup (corridor, month, completed, within_hour, within_business_day, costed, fee_share_ppm_sum)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[]){}",
                SCORECARD.add_to_keys()
            )))
            .bind(column(d, |d| d.corridor.clone()))
            .bind(column(d, |d| d.month.clone()))
            .bind(column(d, |d| d.completed))
            .bind(column(d, |d| d.within_hour))
            .bind(column(d, |d| d.within_business_day))
            .bind(column(d, |d| d.costed))
            .bind(column(d, |d| d.fee_share_ppm_sum))
            .execute(&mut *self)
            .await?;
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
