//! PostgreSQL: set operations as single statements over arrays (UNNEST,
//! ANY), row locks with FOR UPDATE, appends to the audit chain serialized
//! by the lock of its head's row.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use repat_core::Named;
use repat_core::audit::AuditEntry;
use repat_core::journey::Step;
use repat_core::repatriation::Allocation;
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgHasArrayType, PgListener, PgPoolOptions, PgTypeInfo,
};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::codec;
use crate::db::{Pool, Pools, Writes};
use crate::dialect::{Dialect, JourneyUpdate, StepWrites};
use crate::metrics_rows::{
    JOURNEY_DIMS, JourneyDims, MetricsChange, StoredObservation, SummaryRow, by_corridor,
};
use crate::rows::{
    AllocationRow, ChainHead, JourneyDimsRow, KeyRow, LockedJourney, LockedOrKey, StepRow,
    StoredObservationRow, StoredSummaryRow,
};
use crate::types::{DbDecimal, DbTime};
use crate::{ChangeFeed, ConnectOptions, Idempotency, StoreError, migrate};

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
    /// The head's row lock; once granted, the statement reads the row as
    /// the transaction that held it committed it.
    async fn lock_audit(&mut self) -> Result<(i64, String), StoreError> {
        let head: ChainHead = sqlx::query_as(
            "UPDATE audit_head SET sequence = sequence WHERE id = 1 RETURNING sequence, hash",
        )
        .fetch_one(&mut *self)
        .await?;
        Ok((head.sequence, head.hash))
    }

    async fn insert_audit(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let Some(head) = entries.last() else {
            return Ok(());
        };
        sqlx::query(
            "WITH appended AS (
               INSERT INTO audit_log (sequence, time, subject, role, method, resource, request_hash, request_id, previous_hash, hash)
               SELECT * FROM UNNEST($1::int8[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::text[], $10::text[]))
             UPDATE audit_head SET sequence = $11, hash = $12 WHERE id = 1",
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
        .bind(head.record.sequence)
        .bind(&head.hash)
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    async fn claim_keys(
        &mut self,
        keys: &[(Idempotency, Option<String>)],
        at: DateTime<Utc>,
    ) -> Result<HashSet<Uuid>, StoreError> {
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let claimed: Vec<(Uuid,)> = sqlx::query_as(
            "INSERT INTO idempotency (request_id, principal, method, fingerprint, response, create_time)
             SELECT k.id, k.principal, k.method, k.fingerprint, k.response, $6
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(id, principal, method, fingerprint, response)
             ON CONFLICT (request_id) DO NOTHING
             RETURNING request_id",
        )
        .bind(column(keys, |k| k.0.request_id))
        .bind(column(keys, |k| k.0.principal.clone()))
        .bind(column(keys, |k| k.0.method.to_string()))
        .bind(column(keys, |k| k.0.fingerprint.clone()))
        .bind(column(keys, |k| k.1.clone()))
        .bind(DbTime(at))
        .fetch_all(&mut *self)
        .await?;
        Ok(claimed.into_iter().map(|(id,)| id).collect())
    }

    async fn fetch_keys(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, KeyRow>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<KeyRow> =
            sqlx::query_as("SELECT * FROM idempotency WHERE request_id = ANY($1)")
                .bind(ids)
                .fetch_all(&mut *self)
                .await?;
        Ok(rows.into_iter().map(|r| (r.request_id, r)).collect())
    }

    async fn save_responses(&mut self, responses: &[(Uuid, String)]) -> Result<(), StoreError> {
        if responses.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE idempotency SET response = r.response
             FROM UNNEST($1::uuid[], $2::text[]) AS r(id, response) WHERE request_id = r.id",
        )
        .bind(column(responses, |r| r.0))
        .bind(column(responses, |r| r.1.clone()))
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    /// One statement: the journeys locked in id order, then the keys.
    async fn lock_with_keys(
        &mut self,
        ids: &[Uuid],
        keys: &[Uuid],
    ) -> Result<(HashMap<Uuid, LockedJourney>, HashMap<Uuid, KeyRow>), StoreError> {
        if ids.is_empty() && keys.is_empty() {
            return Ok((HashMap::new(), HashMap::new()));
        }
        let rows: Vec<LockedOrKey> = sqlx::query_as(
            "WITH locked AS (SELECT id, step_count, step_summary FROM repatriations WHERE id = ANY($1) ORDER BY id FOR UPDATE)
             SELECT id, step_count, step_summary, NULL::uuid AS request_id, NULL AS principal, NULL AS method, NULL AS fingerprint,
                    NULL AS response
             FROM locked
             UNION ALL
             SELECT NULL, NULL, NULL, request_id, principal, method, fingerprint, response FROM idempotency WHERE request_id = ANY($2)",
        )
        .bind(ids)
        .bind(keys)
        .fetch_all(&mut *self)
        .await?;
        let (mut journeys, mut found) = (HashMap::new(), HashMap::new());
        for r in rows {
            match (r.id, r.request_id) {
                (Some(id), _) => {
                    journeys.insert(
                        id,
                        LockedJourney {
                            id,
                            step_count: r.step_count.unwrap_or_default(),
                            step_summary: r.step_summary,
                        },
                    );
                }
                (None, Some(request_id)) => {
                    found.insert(
                        request_id,
                        KeyRow {
                            request_id,
                            principal: r.principal.unwrap_or_default(),
                            method: r.method.unwrap_or_default(),
                            fingerprint: r.fingerprint.unwrap_or_default(),
                            response: r.response,
                        },
                    );
                }
                (None, None) => {}
            }
        }
        Ok((journeys, found))
    }

    async fn load_steps(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Step>>, StoreError> {
        let mut out: HashMap<Uuid, Vec<Step>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<StepRow> =
            sqlx::query_as("SELECT * FROM steps WHERE repatriation_id = ANY($1)")
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

    async fn fetch_steps(&mut self, ids: &[Uuid]) -> Result<Vec<Step>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<StepRow> = sqlx::query_as("SELECT * FROM steps WHERE id = ANY($1)")
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

    /// One statement: the keys, the steps, the journeys and their
    /// pending metrics.
    async fn write_steps(
        &mut self,
        w: &StepWrites<'_>,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let fees = w
            .steps
            .iter()
            .map(|s| codec::to_json(&s.details.fees))
            .collect::<Result<Vec<_>, _>>()?;
        let (keys, steps, journeys) = (w.keys, w.steps, w.journeys);
        let (claimed,): (i64,) = sqlx::query_as(
            "WITH claimed AS (
               INSERT INTO idempotency (request_id, principal, method, fingerprint, response, create_time)
               SELECT k.id, k.principal, k.method, k.fingerprint, k.response, $6
               FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(id, principal, method, fingerprint, response)
               ON CONFLICT (request_id) DO NOTHING
               RETURNING 1),
             stored AS (
               INSERT INTO steps (id, repatriation_id, kind, occurred_at, recorded_at, institution_bic, amount, currency, fees,
                                  fx_source, fx_target, fx_rate, end_to_end_id, uetr, gpi_status, reason_code, note)
               SELECT * FROM UNNEST($7::uuid[], $8::uuid[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::numeric[],
                                    $14::text[], $15::text[], $16::text[], $17::text[], $18::numeric[], $19::text[], $20::uuid[],
                                    $21::text[], $22::text[], $23::text[])),
             changed AS (
               UPDATE repatriations SET status = u.status, step_count = u.step_count, step_summary = u.summary, update_time = $6
               FROM UNNEST($24::uuid[], $25::text[], $26::int4[], $27::text[]) AS u(id, status, step_count, summary)
               WHERE repatriations.id = u.id),
             pending AS (
               INSERT INTO metrics_pending (repatriation_id) SELECT * FROM UNNEST($24::uuid[]) ON CONFLICT DO NOTHING)
             SELECT COUNT(*) FROM claimed",
        )
        .bind(column(keys, |k| k.0.request_id))
        .bind(column(keys, |k| k.0.principal.clone()))
        .bind(column(keys, |k| k.0.method.to_string()))
        .bind(column(keys, |k| k.0.fingerprint.clone()))
        .bind(column(keys, |k| k.1.clone()))
        .bind(DbTime(at))
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
        .bind(column(journeys, |u| u.id))
        .bind(column(journeys, |u| u.status.to_string()))
        .bind(column(journeys, |u| u.step_count))
        .bind(column(journeys, |u| u.summary.clone()))
        .fetch_one(&mut *self)
        .await?;
        Ok(claimed as usize)
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
            "UPDATE repatriations SET status = u.status, step_count = u.step_count, step_summary = u.summary, update_time = $5
             FROM UNNEST($1::uuid[], $2::text[], $3::int4[], $4::text[]) AS u(id, status, step_count, summary) WHERE repatriations.id = u.id",
        )
        .bind(column(updates, |u| u.id))
        .bind(column(updates, |u| u.status.to_string()))
        .bind(column(updates, |u| u.step_count))
        .bind(column(updates, |u| u.summary.clone()))
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

    async fn load_metrics(
        &mut self,
        ids: &[Uuid],
    ) -> Result<(Vec<StoredObservation>, Vec<SummaryRow>), StoreError> {
        if ids.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let obs: Vec<StoredObservationRow> = sqlx::query_as(
            "SELECT repatriation_id, position, measure, end_at, micros, bucket, institution, corridor, channel, party_kind, month
             FROM delay_observations WHERE repatriation_id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&mut *self)
        .await?;
        let sums: Vec<StoredSummaryRow> =
            sqlx::query_as("SELECT * FROM journey_summaries WHERE repatriation_id = ANY($1)")
                .bind(ids)
                .fetch_all(&mut *self)
                .await?;
        Ok((
            obs.into_iter()
                .map(StoredObservation::try_from)
                .collect::<Result<_, _>>()?,
            sums.into_iter().map(Into::into).collect(),
        ))
    }

    /// One statement. The places removed and written never overlap, so
    /// its parts (run in no set order) never touch the same row.
    async fn write_metrics(
        &mut self,
        change: &MetricsChange,
        sums: &[SummaryRow],
        dims: &HashMap<Uuid, JourneyDims>,
    ) -> Result<(), StoreError> {
        let d = |id: &Uuid| {
            dims.get(id)
                .ok_or_else(|| StoreError::Internal(format!("no dimensions for repatriation {id}")))
        };
        let obs = &change.written;
        let od = obs
            .iter()
            .map(|o| d(&o.repatriation_id))
            .collect::<Result<Vec<_>, _>>()?;
        let sd = sums
            .iter()
            .map(|s| d(&s.repatriation_id))
            .collect::<Result<Vec<_>, _>>()?;
        let narrow = by_corridor(&change.deltas);
        let wide = &change.deltas;
        let t =
            |f: &dyn Fn(&SummaryRow) -> Option<DateTime<Utc>>| column(sums, |s| f(s).map(DbTime));
        sqlx::query(
            "WITH removed AS (
               DELETE FROM delay_observations o USING UNNEST($1::uuid[], $2::int4[]) AS r(id, position)
               WHERE o.repatriation_id = r.id AND o.position = r.position),
             written AS (
               INSERT INTO delay_observations (repatriation_id, position, measure, end_at, micros, bucket, institution, corridor, channel,
                                               party_kind, party_id, month)
               SELECT * FROM UNNEST($3::uuid[], $4::int4[], $5::text[], $6::timestamptz[], $7::int8[], $8::int4[], $9::text[], $10::text[],
                                    $11::text[], $12::text[], $13::uuid[], $14::text[])
               ON CONFLICT (repatriation_id, position) DO UPDATE SET
                 measure = EXCLUDED.measure, end_at = EXCLUDED.end_at, micros = EXCLUDED.micros, bucket = EXCLUDED.bucket,
                 institution = EXCLUDED.institution, corridor = EXCLUDED.corridor, channel = EXCLUDED.channel,
                 party_kind = EXCLUDED.party_kind, party_id = EXCLUDED.party_id, month = EXCLUDED.month),
             summaries AS (
               INSERT INTO journey_summaries (repatriation_id, corridor, channel, party_kind, party_id, invoice_date, initiated_at, funds_at,
                                              claim_filed_at, disbursed_at, ended_at, realized_on, realized_days, claim_days,
                                              initiation_to_funds, within_business_day, fee_share_ppm, month)
               SELECT * FROM UNNEST($15::uuid[], $16::text[], $17::text[], $18::text[], $19::uuid[], $20::date[], $21::timestamptz[],
                                    $22::timestamptz[], $23::timestamptz[], $24::timestamptz[], $25::timestamptz[], $26::date[], $27::int4[],
                                    $28::int4[], $29::int8[], $30::bool[], $31::int8[], $32::text[])
               ON CONFLICT (repatriation_id) DO UPDATE SET
                 corridor = EXCLUDED.corridor, channel = EXCLUDED.channel, party_kind = EXCLUDED.party_kind,
                 party_id = EXCLUDED.party_id, invoice_date = EXCLUDED.invoice_date, initiated_at = EXCLUDED.initiated_at,
                 funds_at = EXCLUDED.funds_at, claim_filed_at = EXCLUDED.claim_filed_at, disbursed_at = EXCLUDED.disbursed_at,
                 ended_at = EXCLUDED.ended_at, realized_on = EXCLUDED.realized_on, realized_days = EXCLUDED.realized_days,
                 claim_days = EXCLUDED.claim_days, initiation_to_funds = EXCLUDED.initiation_to_funds,
                 within_business_day = EXCLUDED.within_business_day, fee_share_ppm = EXCLUDED.fee_share_ppm, month = EXCLUDED.month),
             by_corridor AS (
               INSERT INTO delay_rollup (measure, corridor, month, bucket, n, total)
               SELECT * FROM UNNEST($33::text[], $34::text[], $35::text[], $36::int4[], $37::int8[], $38::int8[]))
             INSERT INTO delay_rollup_dims (measure, corridor, channel, institution, party_kind, month, bucket, n, total)
             SELECT * FROM UNNEST($39::text[], $40::text[], $41::text[], $42::text[], $43::text[], $44::text[], $45::int4[], $46::int8[],
                                  $47::int8[])",
        )
        .bind(column(&change.removed, |r| r.0))
        .bind(column(&change.removed, |r| r.1))
        .bind(column(obs, |o| o.repatriation_id))
        .bind(column(obs, |o| o.position))
        .bind(column(obs, |o| o.measure.to_string()))
        .bind(column(obs, |o| DbTime(o.end_at)))
        .bind(column(obs, |o| o.micros))
        .bind(column(obs, |o| o.bucket))
        .bind(column(obs, |o| o.institution.clone()))
        .bind(column(&od, |d| d.corridor.clone()))
        .bind(column(&od, |d| d.channel.clone()))
        .bind(column(&od, |d| d.party_kind.clone()))
        .bind(column(&od, |d| d.party_id))
        .bind(column(obs, |o| o.month.clone()))
        .bind(column(sums, |s| s.repatriation_id))
        .bind(column(&sd, |d| d.corridor.clone()))
        .bind(column(&sd, |d| d.channel.clone()))
        .bind(column(&sd, |d| d.party_kind.clone()))
        .bind(column(&sd, |d| d.party_id))
        .bind(column(&sd, |d| d.invoice_date))
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
        .bind(column(&narrow, |r| r.measure.clone()))
        .bind(column(&narrow, |r| r.corridor.clone()))
        .bind(column(&narrow, |r| r.month.clone()))
        .bind(column(&narrow, |r| r.bucket))
        .bind(column(&narrow, |r| r.n))
        .bind(column(&narrow, |r| r.total))
        .bind(column(wide, |r| r.measure.clone()))
        .bind(column(wide, |r| r.corridor.clone()))
        .bind(column(wide, |r| r.channel.clone()))
        .bind(column(wide, |r| r.institution.clone()))
        .bind(column(wide, |r| r.party_kind.clone()))
        .bind(column(wide, |r| r.month.clone()))
        .bind(column(wide, |r| r.bucket))
        .bind(column(wide, |r| r.n))
        .bind(column(wide, |r| r.total))
        .execute(&mut *self)
        .await?;
        Ok(())
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

    /// Rows committed while this runs are not in its snapshot and stay as
    /// they are; each row is folded once.
    async fn compact_rollup(&mut self) -> Result<(), StoreError> {
        sqlx::query(
            "WITH gone AS (DELETE FROM delay_rollup RETURNING measure, corridor, month, bucket, n, total)
             INSERT INTO delay_rollup (measure, corridor, month, bucket, n, total)
             SELECT measure, corridor, month, bucket, SUM(n), SUM(total) FROM gone
             GROUP BY measure, corridor, month, bucket HAVING SUM(n) <> 0 OR SUM(total) <> 0",
        )
        .execute(&mut *self)
        .await?;
        sqlx::query(
            "WITH gone AS (DELETE FROM delay_rollup_dims RETURNING measure, corridor, channel, institution, party_kind, month, bucket, n, total)
             INSERT INTO delay_rollup_dims (measure, corridor, channel, institution, party_kind, month, bucket, n, total)
             SELECT measure, corridor, channel, institution, party_kind, month, bucket, SUM(n), SUM(total) FROM gone
             GROUP BY measure, corridor, channel, institution, party_kind, month, bucket HAVING SUM(n) <> 0 OR SUM(total) <> 0",
        )
        .execute(&mut *self)
        .await?;
        Ok(())
    }
}
