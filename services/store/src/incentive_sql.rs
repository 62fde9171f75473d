//! The incentive's SQL (rule sets, assessments, claims), written once and
//! expanded into each backend module after [`crate::sql::shared_sql!`],
//! whose helpers (idempotency claim, audit chain, journey set operations)
//! it uses.

macro_rules! incentive_sql {
    ($Repo:ident) => {
        use repat_core::incentive::claim::{self as claims, Claim, ClaimItem, ClaimStatus, ClaimStep, ClaimStepKind};
        use repat_core::incentive::totals::{LedgerEntry, Measure};
        use repat_core::time::dhaka_date;
        use rust_decimal::Decimal;

        use crate::{AssessmentFilter, ClaimFilter, ClaimRequest, ClaimStepRequest, IncentiveRepository, StoredAssessment, StoredRuleSet};

        fn rule_set_from_row(row: &Row) -> Result<StoredRuleSet, StoreError> {
            Ok(StoredRuleSet {
                version: row.try_get("version")?,
                name: row.try_get("name")?,
                sha256: row.try_get("sha256")?,
                source_toml: row.try_get("source_toml")?,
                load_time: row.try_get::<DbTime, _>("load_time")?.0,
            })
        }

        /// The whole assessment is kept as JSON; the columns beside it are
        /// copies for querying.
        fn assessment_from_row(row: &Row) -> Result<StoredAssessment, StoreError> {
            codec::from_json(row.try_get("detail")?)
        }

        fn bdt(amount: Decimal) -> Result<repat_core::Money, StoreError> {
            codec::money(amount, "BDT")
        }

        async fn fetch_claim(conn: &mut <Db as sqlx::Database>::Connection, id: Uuid) -> Result<Claim, StoreError> {
            let row = sqlx::query("SELECT * FROM claims WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| StoreError::NotFound { kind: "claim", id: id.to_string() })?;
            let items = sqlx::query("SELECT * FROM claim_items WHERE claim_id = $1 ORDER BY position")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| {
                    Ok(ClaimItem {
                        repatriation_id: r.try_get("repatriation_id")?,
                        assessment_id: r.try_get("assessment_id")?,
                        incentive: bdt(r.try_get::<DbDecimal, _>("incentive_bdt")?.0)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let steps = sqlx::query("SELECT * FROM claim_steps WHERE claim_id = $1 ORDER BY position")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| {
                    Ok(ClaimStep {
                        kind: from_name("claim step kind", r.try_get("kind")?)?,
                        occurred_at: r.try_get::<DbTime, _>("occurred_at")?.0,
                        recorded_at: r.try_get::<DbTime, _>("recorded_at")?.0,
                        reason: r.try_get("reason")?,
                        amount: r.try_get::<Option<DbDecimal>, _>("amount")?.map(|a| bdt(a.0)).transpose()?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Claim {
                id,
                party_id: row.try_get("party_id")?,
                programme: row.try_get("programme")?,
                status: from_name("claim status", row.try_get("status")?)?,
                items,
                claimed: bdt(row.try_get::<DbDecimal, _>("claimed")?.0)?,
                disbursed: row.try_get::<Option<DbDecimal>, _>("disbursed")?.map(|a| bdt(a.0)).transpose()?,
                steps,
            })
        }

        async fn insert_claim_step(tx: &mut Tx, claim: Uuid, position: usize, step: &ClaimStep) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO claim_steps (claim_id, position, kind, occurred_at, recorded_at, reason, amount) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(claim)
            .bind(position as i32)
            .bind(step.kind.name())
            .bind(DbTime(step.occurred_at))
            .bind(DbTime(step.recorded_at))
            .bind(&step.reason)
            .bind(step.amount.map(|a| DbDecimal(a.amount())))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Records the journey step a claim step stands for on each claimed
        /// repatriation (inside `tx`, with the same ordering rules as any
        /// step).
        async fn record_journey_steps(tx: &mut Tx, idem: &Idempotency, repatriations: &[Uuid], kind: journey::StepKind, at: DateTime<Utc>, recorded: DateTime<Utc>) -> Result<(), StoreError> {
            let mut ids = repatriations.to_vec();
            ids.sort();
            lock_repatriations(tx, &ids).await?;
            let mut journeys = load_steps(tx, &ids).await?;
            let base = derive_id(idem.request_id);
            let mut stored = Vec::with_capacity(ids.len());
            let mut updates = Vec::with_capacity(ids.len());
            for rid in &ids {
                let steps = journeys.entry(*rid).or_default();
                let new = NewStep::new(*rid, kind, at);
                journey::admit(steps, &new)?;
                let step = Step { id: Uuid::new_v5(&base, rid.as_bytes()), details: new, recorded_at: recorded };
                steps.push(step.clone());
                updates.push((*rid, RepatriationStatus::of(steps).name(), steps.len() as i32));
                stored.push(step);
            }
            insert_steps(tx, &stored).await?;
            update_repatriations(tx, &updates, recorded).await?;
            mark_pending(tx, &ids).await
        }

        #[async_trait]
        impl IncentiveRepository for $Repo {
            async fn register_rule_set(&self, rs: &StoredRuleSet) -> Result<StoredRuleSet, StoreError> {
                // Replicas starting together may race: the first insert wins,
                // and every replica then compares with what is stored.
                sqlx::query(
                    "INSERT INTO rule_sets (version, name, sha256, source_toml, load_time) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (version) DO NOTHING",
                )
                .bind(&rs.version)
                .bind(&rs.name)
                .bind(&rs.sha256)
                .bind(&rs.source_toml)
                .bind(DbTime(rs.load_time))
                .execute(&self.writer)
                .await?;
                let stored = self.get_rule_set(&rs.version).await?;
                if stored.sha256 != rs.sha256 {
                    return Err(StoreError::Precondition(format!(
                        "rule set version {:?} is already stored with other content (sha256 {}, loaded {}); raise `version` when the rules change",
                        rs.version, stored.sha256, stored.load_time
                    )));
                }
                Ok(stored)
            }

            async fn list_rule_sets(&self) -> Result<Vec<StoredRuleSet>, StoreError> {
                let rows = sqlx::query("SELECT * FROM rule_sets ORDER BY load_time DESC, version DESC").fetch_all(&self.pool).await?;
                rows.iter().map(rule_set_from_row).collect()
            }

            async fn get_rule_set(&self, version: &str) -> Result<StoredRuleSet, StoreError> {
                let row = sqlx::query("SELECT * FROM rule_sets WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { kind: "rule set", id: version.to_string() })?;
                rule_set_from_row(&row)
            }

            async fn save_assessment(&self, idem: &Idempotency, a: &StoredAssessment) -> Result<StoredAssessment, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                if let Some(json) = claim(&mut tx, idem, at).await? {
                    return codec::from_json(&json);
                }
                let stored = StoredAssessment { id: derive_id(idem.request_id), assess_time: at, ..a.clone() };
                sqlx::query(
                    "INSERT INTO assessments (id, repatriation_id, party_id, rule_set_version, eligible, programme, incentive_bdt, realized_on, claim_deadline, detail, assess_time)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(stored.id)
                .bind(stored.repatriation_id)
                .bind(stored.party_id)
                .bind(&stored.assessment.rule_set_version)
                .bind(stored.assessment.eligible)
                .bind(&stored.assessment.programme)
                .bind(DbDecimal(stored.assessment.incentive_bdt))
                .bind(stored.case.realized_on)
                .bind(stored.assessment.claim_deadline)
                .bind(codec::to_json(&stored)?)
                .bind(DbTime(at))
                .execute(&mut *tx)
                .await?;
                append_audit(&mut tx, vec![audit_draft(idem, format!("assessments/{}", stored.id), at)]).await?;
                save_response(&mut tx, idem, &stored).await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn get_assessment(&self, id: Uuid) -> Result<StoredAssessment, StoreError> {
                let row = sqlx::query("SELECT detail FROM assessments WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { kind: "assessment", id: id.to_string() })?;
                assessment_from_row(&row)
            }

            async fn list_assessments(&self, filter: &AssessmentFilter, p: PageRequest) -> Result<Page<StoredAssessment>, StoreError> {
                let rows = sqlx::query(
                    "SELECT seq, detail FROM assessments
                     WHERE seq > $1 AND ($2 IS NULL OR party_id = $2) AND ($3 IS NULL OR repatriation_id = $3)
                     ORDER BY seq LIMIT $4",
                )
                .bind(p.after)
                .bind(filter.party_id)
                .bind(filter.repatriation_id)
                .bind(i64::from(p.size) + 1)
                .fetch_all(&self.pool)
                .await?;
                page(rows, p.size, assessment_from_row)
            }

            async fn file_claim(&self, idem: &Idempotency, req: &ClaimRequest) -> Result<Claim, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                if let Some(json) = claim(&mut tx, idem, at).await? {
                    return codec::from_json(&json);
                }
                let mut locked = req.repatriation_ids.clone();
                locked.sort();
                let exists = lock_repatriations(&mut tx, &locked).await?;
                let filed_on = dhaka_date(req.filed_at);
                let mut items = Vec::with_capacity(req.repatriation_ids.len());
                let mut programme: Option<String> = None;
                let mut total = Decimal::ZERO;
                for rid in &req.repatriation_ids {
                    let not_found = || StoreError::NotFound { kind: "repatriation", id: rid.to_string() };
                    if !exists.contains_key(rid) {
                        return Err(not_found());
                    }
                    let party: Uuid = sqlx::query("SELECT party_id FROM repatriations WHERE id = $1").bind(rid).fetch_one(&mut *tx).await?.try_get("party_id")?;
                    if party != req.party_id {
                        return Err(not_found());
                    }
                    if let Some(row) = sqlx::query("SELECT claim_id FROM claim_items WHERE repatriation_id = $1").bind(rid).fetch_optional(&mut *tx).await? {
                        let other: Uuid = row.try_get("claim_id")?;
                        return Err(StoreError::Precondition(format!("repatriation {rid} is already claimed in claim {other}")));
                    }
                    let row = sqlx::query("SELECT detail FROM assessments WHERE repatriation_id = $1 ORDER BY seq DESC LIMIT 1")
                        .bind(rid)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or_else(|| StoreError::Precondition(format!("repatriation {rid} has not been assessed; assess it before claiming")))?;
                    let current = assessment_from_row(&row)?;
                    let a = &current.assessment;
                    if !a.eligible {
                        let reasons: Vec<&str> = a.violations.iter().map(|v| v.reason.name()).collect();
                        return Err(StoreError::Precondition(format!(
                            "the current assessment {} of repatriation {rid} is not eligible ({})",
                            current.id,
                            reasons.join(", ")
                        )));
                    }
                    if let Some(deadline) = a.claim_deadline
                        && filed_on > deadline
                    {
                        return Err(StoreError::Precondition(format!(
                            "filed on {filed_on}, after repatriation {rid}'s claim deadline of {deadline} (CLAIM_WINDOW_EXPIRED)"
                        )));
                    }
                    let this = a.programme.clone().unwrap_or_default();
                    match &programme {
                        Some(p) if *p != this => {
                            return Err(StoreError::Precondition(format!(
                                "a claim is for one programme: repatriation {rid} is under {this}, the ones before it under {p}"
                            )));
                        }
                        _ => programme = Some(this),
                    }
                    total += a.incentive_bdt;
                    items.push(ClaimItem { repatriation_id: *rid, assessment_id: current.id, incentive: bdt(a.incentive_bdt)? });
                }
                record_journey_steps(&mut tx, idem, &req.repatriation_ids, journey::StepKind::IncentiveClaimFiled, req.filed_at, at).await?;

                let filed = ClaimStep { kind: ClaimStepKind::Filed, occurred_at: req.filed_at, recorded_at: at, reason: None, amount: None };
                let claim_row = Claim {
                    id: derive_id(idem.request_id),
                    party_id: req.party_id,
                    programme: programme.unwrap_or_default(),
                    status: ClaimStatus::Filed,
                    items,
                    claimed: bdt(total)?,
                    disbursed: None,
                    steps: vec![filed.clone()],
                };
                sqlx::query(
                    "INSERT INTO claims (id, party_id, programme, status, claimed, disbursed, create_time, update_time) VALUES ($1, $2, $3, $4, $5, NULL, $6, $6)",
                )
                .bind(claim_row.id)
                .bind(claim_row.party_id)
                .bind(&claim_row.programme)
                .bind(claim_row.status.name())
                .bind(DbDecimal(claim_row.claimed.amount()))
                .bind(DbTime(at))
                .execute(&mut *tx)
                .await?;
                for (position, item) in claim_row.items.iter().enumerate() {
                    sqlx::query("INSERT INTO claim_items (repatriation_id, claim_id, position, assessment_id, incentive_bdt) VALUES ($1, $2, $3, $4, $5)")
                        .bind(item.repatriation_id)
                        .bind(claim_row.id)
                        .bind(position as i32)
                        .bind(item.assessment_id)
                        .bind(DbDecimal(item.incentive.amount()))
                        .execute(&mut *tx)
                        .await?;
                }
                insert_claim_step(&mut tx, claim_row.id, 0, &filed).await?;
                append_audit(&mut tx, vec![audit_draft(idem, format!("claims/{}", claim_row.id), at)]).await?;
                save_response(&mut tx, idem, &claim_row).await?;
                tx.commit().await?;
                Ok(claim_row)
            }

            async fn record_claim_step(&self, idem: &Idempotency, req: &ClaimStepRequest) -> Result<Claim, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                if let Some(json) = claim(&mut tx, idem, at).await? {
                    return codec::from_json(&json);
                }
                let lock = format!("SELECT id FROM claims WHERE id = $1{FOR_UPDATE}");
                sqlx::query(AssertSqlSafe(lock))
                    .bind(req.claim_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { kind: "claim", id: req.claim_id.to_string() })?;
                let mut current = fetch_claim(&mut tx, req.claim_id).await?;
                let last = current.steps.last().ok_or_else(|| StoreError::Internal(format!("claim {} has no steps", current.id)))?;
                let status = claims::advance(current.status, last, req.kind, req.occurred_at).map_err(|v| StoreError::Precondition(v.to_string()))?;
                let amount = match req.kind {
                    ClaimStepKind::Disbursed => {
                        let paid = req.amount.unwrap_or(current.claimed);
                        if paid.amount() > current.claimed.amount() {
                            return Err(StoreError::Precondition(format!("disbursed {} BDT exceeds the {} BDT claimed", paid.amount_string(), current.claimed.amount_string())));
                        }
                        Some(paid)
                    }
                    _ => None,
                };
                if let Some(kind) = req.kind.journey_step() {
                    let ids: Vec<Uuid> = current.items.iter().map(|i| i.repatriation_id).collect();
                    record_journey_steps(&mut tx, idem, &ids, kind, req.occurred_at, at).await?;
                }
                let step = ClaimStep { kind: req.kind, occurred_at: req.occurred_at, recorded_at: at, reason: req.reason.clone(), amount };
                insert_claim_step(&mut tx, current.id, current.steps.len(), &step).await?;
                current.steps.push(step);
                current.status = status;
                if amount.is_some() {
                    current.disbursed = amount;
                }
                sqlx::query("UPDATE claims SET status = $2, disbursed = $3, update_time = $4 WHERE id = $1")
                    .bind(current.id)
                    .bind(status.name())
                    .bind(current.disbursed.map(|d| DbDecimal(d.amount())))
                    .bind(DbTime(at))
                    .execute(&mut *tx)
                    .await?;
                append_audit(&mut tx, vec![audit_draft(idem, format!("claims/{}/steps/{}", current.id, current.steps.len() - 1), at)]).await?;
                save_response(&mut tx, idem, &current).await?;
                tx.commit().await?;
                Ok(current)
            }

            async fn get_claim(&self, id: Uuid) -> Result<Claim, StoreError> {
                let mut conn = self.pool.acquire().await?;
                fetch_claim(&mut conn, id).await
            }

            async fn list_claims(&self, filter: &ClaimFilter, p: PageRequest) -> Result<Page<Claim>, StoreError> {
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query(
                    "SELECT seq, id FROM claims WHERE seq > $1 AND ($2 IS NULL OR party_id = $2) AND ($3 IS NULL OR status = $3) ORDER BY seq LIMIT $4",
                )
                .bind(p.after)
                .bind(filter.party_id)
                .bind(filter.status.map(|s| s.name()))
                .bind(i64::from(p.size) + 1)
                .fetch_all(&mut *conn)
                .await?;
                let ids = page(rows, p.size, |row| Ok(row.try_get::<Uuid, _>("id")?))?;
                let mut items = Vec::with_capacity(ids.items.len());
                for id in ids.items {
                    items.push(fetch_claim(&mut conn, id).await?);
                }
                Ok(Page { items, next_after: ids.next_after })
            }

            async fn incentive_ledger(&self, party_id: Option<Uuid>) -> Result<Vec<LedgerEntry>, StoreError> {
                let mut conn = self.pool.acquire().await?;
                let mut entries = Vec::new();
                // The current assessment of a repatriation is its newest.
                let assessed = sqlx::query(
                    "SELECT party_id, programme, incentive_bdt, realized_on FROM assessments a
                     WHERE eligible AND ($1 IS NULL OR party_id = $1)
                       AND seq = (SELECT MAX(seq) FROM assessments b WHERE b.repatriation_id = a.repatriation_id)",
                )
                .bind(party_id)
                .fetch_all(&mut *conn)
                .await?;
                for r in &assessed {
                    let Some(date) = r.try_get::<Option<NaiveDate>, _>("realized_on")? else { continue };
                    entries.push(LedgerEntry {
                        measure: Measure::Assessed,
                        date,
                        programme: r.try_get::<Option<String>, _>("programme")?.unwrap_or_default(),
                        party_id: r.try_get("party_id")?,
                        amount_bdt: r.try_get::<DbDecimal, _>("incentive_bdt")?.0,
                    });
                }
                let claimed = sqlx::query(
                    "SELECT c.party_id, c.programme, i.incentive_bdt AS amount, s.occurred_at
                     FROM claim_items i JOIN claims c ON c.id = i.claim_id JOIN claim_steps s ON s.claim_id = c.id AND s.kind = 'FILED'
                     WHERE ($1 IS NULL OR c.party_id = $1)",
                )
                .bind(party_id)
                .fetch_all(&mut *conn)
                .await?;
                let disbursed = sqlx::query(
                    "SELECT c.party_id, c.programme, s.amount, s.occurred_at
                     FROM claims c JOIN claim_steps s ON s.claim_id = c.id AND s.kind = 'DISBURSED'
                     WHERE ($1 IS NULL OR c.party_id = $1)",
                )
                .bind(party_id)
                .fetch_all(&mut *conn)
                .await?;
                for (measure, rows) in [(Measure::Claimed, &claimed), (Measure::Disbursed, &disbursed)] {
                    for r in rows {
                        entries.push(LedgerEntry {
                            measure,
                            date: dhaka_date(r.try_get::<DbTime, _>("occurred_at")?.0),
                            programme: r.try_get("programme")?,
                            party_id: r.try_get("party_id")?,
                            amount_bdt: r.try_get::<DbDecimal, _>("amount")?.0,
                        });
                    }
                }
                Ok(entries)
            }
        }
    };
}

pub(crate) use incentive_sql;
