//! The SQL both backends share, written once and expanded into each backend
//! module by [`shared_sql!`]. The expanding module supplies:
//! - `type Db` (the sqlx database) and `BACKEND` (its name);
//! - `begin_write(&writer)`: a transaction that may write, on the pool
//!   writes go through (`self.writer`: SQLite's one writer);
//! - `FOR_UPDATE`: the row-lock suffix (empty where the transaction already
//!   holds the write lock);
//! - `lock_audit` (serializes appends to the audit chain) and
//!   `insert_audit`;
//! - the set operations `claim_keys`, `fetch_keys`, `save_responses`,
//!   `lock_repatriations`, `load_steps`,
//!   `load_allocations`, `insert_steps`, `update_repatriations`, which
//!   PostgreSQL does with arrays and SQLite row by row.

macro_rules! shared_sql {
    ($Repo:ident) => {
        use std::collections::{HashMap, HashSet};

        use async_trait::async_trait;
        use chrono::{DateTime, NaiveDate, Utc};
        use repat_core::audit::{self, AuditEntry, AuditRecord};
        use repat_core::earning::{Earning, NewEarning};
        use repat_core::journey::{self, NewStep, Step};
        use repat_core::party::{NewParty, Party};
        use repat_core::Named;
        use repat_core::repatriation::{self as rep, Allocation, NewRepatriation, Repatriation, RepatriationStatus};
        use sqlx::{AssertSqlSafe, Row as _};
        use uuid::Uuid;

        use crate::codec::{self, derive_id, from_name, now};
        use crate::types::{DbDecimal, DbTime};
        use crate::{
            AuditFilter, EarningFilter, Idempotency, Journey, Page, PageRequest, PartyFilter, RepatriationFilter, RepatriationRequest, Repository,
            StepRecorded, StoreError,
        };

        type Row = <Db as sqlx::Database>::Row;
        type Tx = sqlx::Transaction<'static, Db>;

        /// A stored idempotency record: who, what, and the response.
        struct KeyRecord {
            principal: String,
            method: String,
            fingerprint: String,
            response: Option<String>,
        }

        impl KeyRecord {
            /// The stored response if `idem` repeats the recorded request.
            fn replay(self, idem: &Idempotency) -> Result<String, StoreError> {
                if self.principal != idem.principal || self.method != idem.method || self.fingerprint != idem.fingerprint {
                    return Err(StoreError::IdempotencyMismatch(idem.request_id));
                }
                self.response.ok_or_else(|| StoreError::Internal(format!("request {} has no stored response", idem.request_id)))
            }
        }

        fn key_record(row: &Row) -> Result<KeyRecord, StoreError> {
            Ok(KeyRecord {
                principal: row.try_get("principal")?,
                method: row.try_get("method")?,
                fingerprint: row.try_get("fingerprint")?,
                response: row.try_get("response")?,
            })
        }

        /// Claims `idem` inside `tx`: `None` when this request is new, the
        /// stored response when it is a retry.
        async fn claim(tx: &mut Tx, idem: &Idempotency, at: DateTime<Utc>) -> Result<Option<String>, StoreError> {
            let claimed = claim_keys(tx, &[(idem.clone(), None)], at).await?;
            if claimed.contains(&idem.request_id) {
                return Ok(None);
            }
            let mut records = fetch_keys(tx, &[idem.request_id]).await?;
            let record = records.remove(&idem.request_id).ok_or_else(|| StoreError::Aborted("idempotency key vanished".into()))?;
            record.replay(idem).map(Some)
        }

        /// The audit record of the change `idem` made to `resource`.
        fn audit_draft(idem: &Idempotency, resource: String, at: DateTime<Utc>) -> AuditRecord {
            AuditRecord {
                sequence: 0,
                time: at,
                subject: idem.principal.clone(),
                role: idem.role.clone(),
                method: idem.method.to_string(),
                resource,
                request_hash: idem.fingerprint.clone(),
                request_id: idem.request_id,
            }
        }

        /// Appends entries to the chain inside `tx`, after taking the
        /// chain's lock, so entries are linked in commit order.
        async fn append_audit(tx: &mut Tx, drafts: Vec<AuditRecord>) -> Result<(), StoreError> {
            if drafts.is_empty() {
                return Ok(());
            }
            lock_audit(tx).await?;
            let head = sqlx::query("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1").fetch_optional(&mut **tx).await?;
            let (sequence, hash) = match head {
                Some(row) => (row.try_get::<i64, _>("sequence")?, row.try_get::<String, _>("hash")?),
                None => (0, audit::GENESIS.to_string()),
            };
            insert_audit(tx, &audit::extend(sequence, &hash, drafts)).await
        }

        fn audit_from_row(row: &Row) -> Result<AuditEntry, StoreError> {
            Ok(AuditEntry {
                record: AuditRecord {
                    sequence: row.try_get("sequence")?,
                    time: row.try_get::<DbTime, _>("time")?.0,
                    subject: row.try_get("subject")?,
                    role: row.try_get("role")?,
                    method: row.try_get("method")?,
                    resource: row.try_get("resource")?,
                    request_hash: row.try_get("request_hash")?,
                    request_id: row.try_get("request_id")?,
                },
                previous_hash: row.try_get("previous_hash")?,
                hash: row.try_get("hash")?,
            })
        }

        async fn save_response<T: serde::Serialize>(tx: &mut Tx, idem: &Idempotency, value: &T) -> Result<(), StoreError> {
            save_responses(tx, &[(idem.request_id, codec::to_json(value)?)]).await
        }

        fn money(row: &Row, amount: &str, currency: &str) -> Result<repat_core::Money, StoreError> {
            let a: DbDecimal = row.try_get(amount)?;
            let c: String = row.try_get(currency)?;
            codec::money(a.0, &c)
        }

        fn party_from_row(row: &Row) -> Result<Party, StoreError> {
            Ok(Party {
                id: row.try_get("id")?,
                details: NewParty {
                    kind: from_name("party kind", row.try_get("kind")?)?,
                    legal_name: row.try_get("legal_name")?,
                    country: row.try_get("country")?,
                    memberships: codec::from_json(row.try_get("memberships")?)?,
                    zone: from_name("zone", row.try_get("zone")?)?,
                    bank_accounts: codec::from_json(row.try_get("bank_accounts")?)?,
                },
                create_time: row.try_get::<DbTime, _>("create_time")?.0,
            })
        }

        fn earning_from_row(row: &Row) -> Result<Earning, StoreError> {
            Ok(Earning {
                id: row.try_get("id")?,
                details: NewEarning {
                    party_id: row.try_get("party_id")?,
                    client_name: row.try_get("client_name")?,
                    client_country: row.try_get("client_country")?,
                    service_category: from_name("service category", row.try_get("service_category")?)?,
                    amount: money(row, "amount", "currency")?,
                    invoice_date: row.try_get("invoice_date")?,
                    due_date: row.try_get("due_date")?,
                    invoice_reference: row.try_get("invoice_reference")?,
                    marketplace: row.try_get("marketplace")?,
                },
                allocated: money(row, "allocated", "currency")?,
                create_time: row.try_get::<DbTime, _>("create_time")?.0,
            })
        }

        fn repatriation_from_row(row: &Row, allocations: Vec<Allocation>) -> Result<Repatriation, StoreError> {
            Ok(Repatriation {
                id: row.try_get("id")?,
                details: NewRepatriation {
                    party_id: row.try_get("party_id")?,
                    allocations,
                    channel: from_name("channel", row.try_get("channel")?)?,
                    payer_country: row.try_get("payer_country")?,
                },
                expected_amount: money(row, "expected_amount", "currency")?,
                status: from_name("status", row.try_get("status")?)?,
                step_count: row.try_get("step_count")?,
                create_time: row.try_get::<DbTime, _>("create_time")?.0,
                update_time: row.try_get::<DbTime, _>("update_time")?.0,
            })
        }

        fn allocation_from_row(row: &Row) -> Result<(Uuid, Allocation), StoreError> {
            Ok((row.try_get("repatriation_id")?, Allocation { earning_id: row.try_get("earning_id")?, amount: money(row, "amount", "currency")? }))
        }

        fn step_from_row(row: &Row) -> Result<Step, StoreError> {
            let amount: Option<DbDecimal> = row.try_get("amount")?;
            let currency: Option<String> = row.try_get("currency")?;
            let amount = match (amount, currency) {
                (Some(a), Some(c)) => Some(codec::money(a.0, &c)?),
                _ => None,
            };
            let gpi: Option<String> = row.try_get("gpi_status")?;
            Ok(Step {
                id: row.try_get("id")?,
                details: NewStep {
                    repatriation_id: row.try_get("repatriation_id")?,
                    kind: from_name("step kind", row.try_get("kind")?)?,
                    occurred_at: row.try_get::<DbTime, _>("occurred_at")?.0,
                    institution_bic: row.try_get("institution_bic")?,
                    amount,
                    fees: codec::from_json(row.try_get("fees")?)?,
                    fx_rate: codec::fx(row.try_get("fx_source")?, row.try_get("fx_target")?, row.try_get::<Option<DbDecimal>, _>("fx_rate")?.map(|d| d.0))?,
                    end_to_end_id: row.try_get("end_to_end_id")?,
                    uetr: row.try_get("uetr")?,
                    gpi_status: gpi.as_deref().map(|g| from_name("gpi status", g)).transpose()?,
                    reason_code: row.try_get("reason_code")?,
                    note: row.try_get("note")?,
                },
                recorded_at: row.try_get::<DbTime, _>("recorded_at")?.0,
            })
        }

        /// Keyset page over rows carrying `seq`: fetches one extra row to know
        /// whether another page follows.
        fn page<T>(rows: Vec<Row>, size: u32, mut read: impl FnMut(&Row) -> Result<T, StoreError>) -> Result<Page<T>, StoreError> {
            let more = rows.len() > size as usize;
            let mut items = Vec::with_capacity(rows.len().min(size as usize));
            let mut last = 0i64;
            for row in rows.iter().take(size as usize) {
                last = row.try_get("seq")?;
                items.push(read(row)?);
            }
            Ok(Page { items, next_after: more.then_some(last) })
        }

        async fn fetch_repatriation(conn: &mut <Db as sqlx::Database>::Connection, id: Uuid) -> Result<Repatriation, StoreError> {
            let row = sqlx::query("SELECT * FROM repatriations WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| StoreError::NotFound { kind: "repatriation", id: id.to_string() })?;
            let mut allocations = load_allocations(conn, &[id]).await?;
            repatriation_from_row(&row, allocations.remove(&id).unwrap_or_default())
        }

        #[async_trait]
        impl Repository for $Repo {
            fn backend(&self) -> &'static str {
                BACKEND
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.health).await?;
                Ok(())
            }

            async fn publish_changes(&self, ids: &[Uuid]) -> Result<(), StoreError> {
                publish_changes(&self.pool, ids).await
            }

            async fn change_feed(&self) -> Result<Option<Box<dyn crate::ChangeFeed>>, StoreError> {
                change_feed(&self.pool).await
            }

            fn pool_usage(&self) -> crate::PoolUsage {
                let (size, idle) = (self.pool.size(), self.pool.num_idle() as u32);
                crate::PoolUsage { in_use: size.saturating_sub(idle), idle, max: self.pool.options().get_max_connections() }
            }

            async fn create_party(&self, idem: &Idempotency, new: &NewParty) -> Result<Party, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                if let Some(json) = claim(&mut tx, idem, at).await? {
                    return codec::from_json(&json);
                }
                let party = Party { id: derive_id(idem.request_id), details: new.clone(), create_time: at };
                sqlx::query(
                    "INSERT INTO parties (id, kind, legal_name, country, zone, memberships, bank_accounts, create_time)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(party.id)
                .bind(new.kind.name())
                .bind(&new.legal_name)
                .bind(&new.country)
                .bind(new.zone.name())
                .bind(codec::to_json(&new.memberships)?)
                .bind(codec::to_json(&new.bank_accounts)?)
                .bind(DbTime(at))
                .execute(&mut *tx)
                .await?;
                append_audit(&mut tx, vec![audit_draft(idem, format!("parties/{}", party.id), at)]).await?;
                save_response(&mut tx, idem, &party).await?;
                tx.commit().await?;
                Ok(party)
            }

            async fn get_party(&self, id: Uuid) -> Result<Party, StoreError> {
                let row = sqlx::query("SELECT * FROM parties WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { kind: "party", id: id.to_string() })?;
                party_from_row(&row)
            }

            async fn list_parties(&self, filter: &PartyFilter, p: PageRequest) -> Result<Page<Party>, StoreError> {
                let rows = sqlx::query(
                    "SELECT * FROM parties WHERE seq > $1 AND ($2 IS NULL OR kind = $2) ORDER BY seq LIMIT $3",
                )
                .bind(p.after)
                .bind(filter.kind.map(Named::name))
                .bind(i64::from(p.size) + 1)
                .fetch_all(&self.pool)
                .await?;
                page(rows, p.size, party_from_row)
            }

            async fn create_earning(&self, idem: &Idempotency, new: &NewEarning) -> Result<Earning, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                if let Some(json) = claim(&mut tx, idem, at).await? {
                    return codec::from_json(&json);
                }
                let party_exists = sqlx::query("SELECT 1 FROM parties WHERE id = $1").bind(new.party_id).fetch_optional(&mut *tx).await?;
                if party_exists.is_none() {
                    return Err(StoreError::NotFound { kind: "party", id: new.party_id.to_string() });
                }
                let duplicate = sqlx::query("SELECT id FROM earnings WHERE party_id = $1 AND invoice_reference = $2")
                    .bind(new.party_id)
                    .bind(&new.invoice_reference)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = duplicate {
                    let existing: Uuid = row.try_get("id")?;
                    return Err(StoreError::Duplicate(format!(
                        "invoice_reference {:?} is already recorded for this party (earning {existing})",
                        new.invoice_reference
                    )));
                }
                let earning = Earning {
                    id: derive_id(idem.request_id),
                    details: new.clone(),
                    allocated: repat_core::Money::zero(new.amount.currency()),
                    create_time: at,
                };
                sqlx::query(
                    "INSERT INTO earnings (id, party_id, client_name, client_country, service_category, amount, currency, allocated,
                                           invoice_date, due_date, invoice_reference, marketplace, create_time)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(earning.id)
                .bind(new.party_id)
                .bind(&new.client_name)
                .bind(&new.client_country)
                .bind(new.service_category.name())
                .bind(DbDecimal(new.amount.amount()))
                .bind(new.amount.currency().code())
                .bind(DbDecimal(earning.allocated.amount()))
                .bind(new.invoice_date)
                .bind(new.due_date)
                .bind(&new.invoice_reference)
                .bind(&new.marketplace)
                .bind(DbTime(at))
                .execute(&mut *tx)
                .await?;
                append_audit(&mut tx, vec![audit_draft(idem, format!("earnings/{}", earning.id), at)]).await?;
                save_response(&mut tx, idem, &earning).await?;
                tx.commit().await?;
                Ok(earning)
            }

            async fn get_earning(&self, id: Uuid) -> Result<Earning, StoreError> {
                let row = sqlx::query("SELECT * FROM earnings WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { kind: "earning", id: id.to_string() })?;
                earning_from_row(&row)
            }

            async fn list_earnings(&self, filter: &EarningFilter, p: PageRequest) -> Result<Page<Earning>, StoreError> {
                let rows = sqlx::query(
                    "SELECT * FROM earnings
                     WHERE seq > $1 AND ($2 IS NULL OR party_id = $2)
                       AND ($3 IS NULL OR invoice_date >= $3) AND ($4 IS NULL OR invoice_date <= $4)
                     ORDER BY seq LIMIT $5",
                )
                .bind(p.after)
                .bind(filter.party_id)
                .bind(filter.invoice_date_from)
                .bind(filter.invoice_date_to)
                .bind(i64::from(p.size) + 1)
                .fetch_all(&self.pool)
                .await?;
                page(rows, p.size, earning_from_row)
            }

            async fn create_repatriation(&self, idem: &Idempotency, req: &RepatriationRequest) -> Result<Repatriation, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                if let Some(json) = claim(&mut tx, idem, at).await? {
                    return codec::from_json(&json);
                }
                let party_exists = sqlx::query("SELECT 1 FROM parties WHERE id = $1").bind(req.party_id).fetch_optional(&mut *tx).await?;
                if party_exists.is_none() {
                    return Err(StoreError::NotFound { kind: "party", id: req.party_id.to_string() });
                }
                // Lock the earnings in id order (no deadlock between two
                // repatriations sharing earnings), then read them in request order.
                let mut ids: Vec<Uuid> = req.allocations.iter().map(|a| a.earning_id).collect();
                ids.sort();
                ids.dedup();
                let mut earnings = HashMap::new();
                for id in ids {
                    let sql = format!("SELECT * FROM earnings WHERE id = $1{FOR_UPDATE}");
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or_else(|| StoreError::NotFound { kind: "earning", id: id.to_string() })?;
                    earnings.insert(id, earning_from_row(&row)?);
                }
                let ordered: Vec<Earning> = req.allocations.iter().map(|a| earnings[&a.earning_id].clone()).collect();
                let allocations = rep::allocate(req.party_id, &req.allocations, &ordered)?;
                let expected = rep::expected_amount(&allocations)
                    .ok_or_else(|| StoreError::Internal("allocations without a sum".into()))?;
                let repatriation = Repatriation {
                    id: derive_id(idem.request_id),
                    details: NewRepatriation {
                        party_id: req.party_id,
                        allocations: allocations.clone(),
                        channel: req.channel,
                        payer_country: req.payer_country.clone().unwrap_or_else(|| ordered[0].details.client_country.clone()),
                    },
                    expected_amount: expected,
                    status: RepatriationStatus::AwaitingPayment,
                    step_count: 0,
                    create_time: at,
                    update_time: at,
                };
                sqlx::query(
                    "INSERT INTO repatriations (id, party_id, channel, payer_country, expected_amount, currency, status, step_count, create_time, update_time)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
                )
                .bind(repatriation.id)
                .bind(req.party_id)
                .bind(req.channel.name())
                .bind(&repatriation.details.payer_country)
                .bind(DbDecimal(expected.amount()))
                .bind(expected.currency().code())
                .bind(repatriation.status.name())
                .bind(DbTime(at))
                .execute(&mut *tx)
                .await?;
                for (position, a) in allocations.iter().enumerate() {
                    sqlx::query("INSERT INTO allocations (repatriation_id, position, earning_id, amount, currency) VALUES ($1, $2, $3, $4, $5)")
                        .bind(repatriation.id)
                        .bind(position as i32)
                        .bind(a.earning_id)
                        .bind(DbDecimal(a.amount.amount()))
                        .bind(a.amount.currency().code())
                        .execute(&mut *tx)
                        .await?;
                    let allocated = earnings[&a.earning_id].allocated.checked_add(a.amount).ok_or_else(|| StoreError::Internal("allocation overflow".into()))?;
                    sqlx::query("UPDATE earnings SET allocated = $2 WHERE id = $1")
                        .bind(a.earning_id)
                        .bind(DbDecimal(allocated.amount()))
                        .execute(&mut *tx)
                        .await?;
                }
                // Its summary exists from the start, so an unpaid invoice can be seen to be late.
                refresh_metrics(&mut tx, &[repatriation.id], &HashMap::new()).await?;
                append_audit(&mut tx, vec![audit_draft(idem, format!("repatriations/{}", repatriation.id), at)]).await?;
                save_response(&mut tx, idem, &repatriation).await?;
                tx.commit().await?;
                Ok(repatriation)
            }

            async fn get_journey(&self, id: Uuid) -> Result<Journey, StoreError> {
                let mut conn = self.pool.acquire().await?;
                let repatriation = fetch_repatriation(&mut conn, id).await?;
                let steps = load_steps(&mut conn, &[id]).await?.remove(&id).unwrap_or_default();
                let mut invoice_dates: Vec<NaiveDate> = Vec::new();
                for a in &repatriation.details.allocations {
                    let row = sqlx::query("SELECT invoice_date FROM earnings WHERE id = $1").bind(a.earning_id).fetch_one(&mut *conn).await?;
                    invoice_dates.push(row.try_get("invoice_date")?);
                }
                Ok(Journey { repatriation, steps, invoice_dates })
            }

            async fn repatriation_party(&self, id: Uuid) -> Result<Uuid, StoreError> {
                let row = sqlx::query("SELECT party_id FROM repatriations WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { kind: "repatriation", id: id.to_string() })?;
                Ok(row.try_get("party_id")?)
            }

            async fn list_repatriations(&self, filter: &RepatriationFilter, p: PageRequest) -> Result<Page<Repatriation>, StoreError> {
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query(
                    "SELECT * FROM repatriations
                     WHERE seq > $1 AND ($2 IS NULL OR party_id = $2) AND ($3 IS NULL OR status = $3)
                       AND ($4 IS NULL OR id IN (SELECT repatriation_id FROM allocations WHERE earning_id = $4))
                     ORDER BY seq LIMIT $5",
                )
                .bind(p.after)
                .bind(filter.party_id)
                .bind(filter.status.map(|s| s.name()))
                .bind(filter.earning_id)
                .bind(i64::from(p.size) + 1)
                .fetch_all(&mut *conn)
                .await?;
                let ids: Vec<Uuid> = rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
                let mut allocations = load_allocations(&mut conn, &ids).await?;
                page(rows, p.size, |row| {
                    let id: Uuid = row.try_get("id")?;
                    repatriation_from_row(row, allocations.remove(&id).unwrap_or_default())
                })
            }

            async fn list_audit(&self, filter: &AuditFilter, p: PageRequest) -> Result<Page<AuditEntry>, StoreError> {
                let rows = sqlx::query(
                    "SELECT *, sequence AS seq FROM audit_log
                     WHERE sequence > $1 AND ($2 IS NULL OR subject = $2) AND ($3 IS NULL OR method = $3)
                       AND ($4 IS NULL OR time >= $4) AND ($5 IS NULL OR time < $5)
                     ORDER BY sequence LIMIT $6",
                )
                .bind(p.after)
                .bind(&filter.subject)
                .bind(&filter.method)
                .bind(filter.start.map(DbTime))
                .bind(filter.end.map(DbTime))
                .bind(i64::from(p.size) + 1)
                .fetch_all(&self.pool)
                .await?;
                page(rows, p.size, audit_from_row)
            }

            async fn audit_chain(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
                let rows = sqlx::query("SELECT * FROM audit_log WHERE sequence > $1 ORDER BY sequence LIMIT $2")
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(audit_from_row).collect()
            }

            async fn record_steps(&self, items: &[(Idempotency, NewStep)]) -> Result<Vec<Result<StepRecorded, StoreError>>, StoreError> {
                // A concurrent request with one of these ids may commit between
                // our read of the keys and our insert of them; then the insert
                // finds it, and the whole batch is redone, which sees it as a retry.
                for _ in 0..3 {
                    if let Some(results) = self.try_record_steps(items).await? {
                        return Ok(results);
                    }
                }
                Err(StoreError::Aborted("request ids kept colliding with concurrent requests".into()))
            }
        }

        /// The time from the step before `id` on the timeline of `steps` to it.
        fn wait_before(steps: &[Step], id: Uuid) -> Option<std::time::Duration> {
            let timeline = journey::timeline(steps);
            let at = timeline.iter().position(|s| s.id == id)?;
            let (before, step) = (timeline.get(at.checked_sub(1)?)?, timeline[at]);
            (step.occurred_at() - before.occurred_at()).to_std().ok()
        }

        /// What the idempotency record of a step keeps: steps never change,
        /// so the step is read back on a retry; the status is the one right
        /// after the step.
        #[derive(serde::Serialize, serde::Deserialize)]
        struct StepReceipt {
            step: Uuid,
            status: RepatriationStatus,
        }

        impl $Repo {
            /// One attempt at [`Repository::record_steps`]; `None` when a
            /// concurrent request claimed one of the ids first (nothing stored).
            async fn try_record_steps(&self, items: &[(Idempotency, NewStep)]) -> Result<Option<Vec<Result<StepRecorded, StoreError>>>, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                let mut results: Vec<Option<Result<StepRecorded, StoreError>>> = (0..items.len()).map(|_| None).collect();

                // A request id repeated inside the batch is a retry of its first use.
                let mut first_use: HashMap<Uuid, usize> = HashMap::new();
                let mut unique: Vec<usize> = Vec::new();
                for (i, (idem, _)) in items.iter().enumerate() {
                    if let std::collections::hash_map::Entry::Vacant(e) = first_use.entry(idem.request_id) {
                        e.insert(i);
                        unique.push(i);
                    }
                }

                // Lock the journeys touched (in id order), then read the keys:
                // a retry of a committed step of these journeys is seen for sure.
                let mut rep_ids: Vec<Uuid> = unique.iter().map(|&i| items[i].1.repatriation_id).collect();
                rep_ids.sort();
                rep_ids.dedup();
                let step_counts = lock_repatriations(&mut tx, &rep_ids).await?;
                let mut journeys = load_steps(&mut tx, &rep_ids).await?;
                let ids: Vec<Uuid> = unique.iter().map(|&i| items[i].0.request_id).collect();
                let mut records = fetch_keys(&mut tx, &ids).await?;

                let mut stored: Vec<Step> = Vec::new();
                let mut drafts: Vec<AuditRecord> = Vec::new();
                let mut keys: Vec<(Idempotency, Option<String>)> = Vec::new();
                let mut touched: HashSet<Uuid> = HashSet::new();
                for &i in &unique {
                    let (idem, new) = &items[i];
                    let rid = new.repatriation_id;
                    if let Some(record) = records.remove(&idem.request_id) {
                        results[i] = Some(record.replay(idem).and_then(|json| {
                            let receipt: StepReceipt = codec::from_json(&json)?;
                            let step = journeys.get(&rid).and_then(|steps| steps.iter().find(|s| s.id == receipt.step)).cloned();
                            let step = step.ok_or_else(|| StoreError::Internal(format!("step {} of a stored response is missing", receipt.step)))?;
                            Ok(StepRecorded { step, status: receipt.status, replayed: true, wait: None })
                        }));
                        continue;
                    }
                    if !step_counts.contains_key(&rid) {
                        results[i] = Some(Err(StoreError::NotFound { kind: "repatriation", id: rid.to_string() }));
                        continue;
                    }
                    let steps = journeys.entry(rid).or_default();
                    if let Err(v) = journey::admit(steps, new) {
                        results[i] = Some(Err(v.into()));
                        continue;
                    }
                    let step = Step { id: derive_id(idem.request_id), details: new.clone(), recorded_at: at };
                    steps.push(step.clone());
                    let status = RepatriationStatus::of(steps);
                    let wait = wait_before(steps, step.id);
                    keys.push((idem.clone(), Some(codec::to_json(&StepReceipt { step: step.id, status })?)));
                    results[i] = Some(Ok(StepRecorded { step: step.clone(), status, replayed: false, wait }));
                    drafts.push(audit_draft(idem, format!("repatriations/{rid}/steps/{}", step.id), at));
                    stored.push(step);
                    touched.insert(rid);
                }

                // Keys first: if any was taken meanwhile, store nothing and redo.
                let claimed = claim_keys(&mut tx, &keys, at).await?;
                if claimed.len() != keys.len() {
                    tx.rollback().await?;
                    return Ok(None);
                }
                insert_steps(&mut tx, &stored).await?;
                let mut updates: Vec<(Uuid, &'static str, i32)> = touched
                    .iter()
                    .map(|rid| {
                        let steps = &journeys[rid];
                        (*rid, RepatriationStatus::of(steps).name(), steps.len() as i32)
                    })
                    .collect();
                updates.sort_by_key(|u| u.0);
                update_repatriations(&mut tx, &updates, at).await?;
                let changed: Vec<Uuid> = updates.iter().map(|u| u.0).collect();
                mark_pending(&mut tx, &changed).await?;
                append_audit(&mut tx, drafts).await?;
                tx.commit().await?;

                // Repeats inside the batch share their first use's outcome.
                for (i, (idem, _)) in items.iter().enumerate() {
                    if results[i].is_none() {
                        let first = first_use[&idem.request_id];
                        let outcome = match &results[first] {
                            Some(Ok(r)) if items[first].0 == *idem => Ok(r.clone()),
                            Some(Ok(_)) => Err(StoreError::IdempotencyMismatch(idem.request_id)),
                            Some(Err(e)) => Err(StoreError::Aborted(format!("the first use of this request_id in the batch failed: {e}"))),
                            None => Err(StoreError::Internal("batch item without an outcome".into())),
                        };
                        results[i] = Some(outcome);
                    }
                }
                Ok(Some(results.into_iter().map(|r| r.unwrap_or_else(|| Err(StoreError::Internal("batch item without an outcome".into())))).collect()))
            }
        }
    };
}

pub(crate) use shared_sql;
