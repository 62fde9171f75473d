//! Reconciliation's SQL (statements, matches, exceptions), written once and
//! expanded into each backend module after [`crate::sql::shared_sql!`] and
//! [`crate::incentive_sql::incentive_sql!`], whose helpers (idempotency
//! claim, audit chain, journey set operations) it uses. Matching itself is
//! `repat_core::reconcile`; this loads what it needs and keeps what it
//! decides, in one transaction per run.

macro_rules! reconciliation_sql {
    ($Repo:ident) => {
        use repat_core::reconcile::matcher::CreditState;
        use repat_core::reconcile::{self as recon, BookingStatus, EntryKind, Exception, Subject};

        use crate::{
            EarningRealization, EntryStatus, ManualMatchRequest, MatchFilter, MatchingRun, ReconciliationRepository, StatementImport, StoredEntry,
            StoredMatch, StoredStatement,
        };

        const OPEN: &str = "OPEN";
        const SETTLED: &str = "SETTLED";
        const HELD: &str = "HELD";

        fn credit_state(state: &str) -> CreditState {
            match state {
                SETTLED => CreditState::Settled,
                HELD => CreditState::Held,
                _ => CreditState::Open,
            }
        }

        async fn fetch_statement(conn: &mut <Db as sqlx::Database>::Connection, id: Uuid) -> Result<StoredStatement, StoreError> {
            let row = sqlx::query("SELECT * FROM statements WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| StoreError::NotFound { kind: "statement", id: id.to_string() })?;
            let rows = sqlx::query(
                "SELECT e.id, e.kind, e.state, e.detail,
                        EXISTS (SELECT 1 FROM recon_exceptions x WHERE x.credit_id = e.id) AS excepted
                 FROM statement_entries e WHERE e.statement_id = $1 ORDER BY e.position",
            )
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            let mut entries = Vec::with_capacity(rows.len());
            for r in &rows {
                let entry: recon::Entry = codec::from_json(r.try_get("detail")?)?;
                let state: String = r.try_get("state")?;
                let status = if entry.kind != EntryKind::Credit || entry.amount.amount().is_zero() {
                    EntryStatus::NotACredit
                } else if entry.status != BookingStatus::Booked {
                    EntryStatus::Pending
                } else if state == SETTLED {
                    EntryStatus::Matched
                } else if state == HELD || r.try_get::<bool, _>("excepted")? {
                    EntryStatus::Exception
                } else {
                    EntryStatus::Open
                };
                entries.push(StoredEntry { id: r.try_get("id")?, entry, status });
            }
            Ok(StoredStatement {
                id,
                part: row.try_get::<i32, _>("part")? as u32,
                party_id: row.try_get("party_id")?,
                format: from_name("statement format", row.try_get("format")?)?,
                sha256: row.try_get("sha256")?,
                message_id: row.try_get("message_id")?,
                account: row.try_get("account")?,
                entries,
                import_time: row.try_get::<DbTime, _>("import_time")?.0,
            })
        }

        fn match_from_row(row: &Row) -> Result<StoredMatch, StoreError> {
            codec::from_json(row.try_get("detail")?)
        }

        /// Locks the party's reconciliation (its row), so runs and manual
        /// decisions of one party follow one another.
        async fn lock_party(tx: &mut Tx, party: Uuid) -> Result<(), StoreError> {
            let sql = format!("SELECT id FROM parties WHERE id = $1{FOR_UPDATE}");
            sqlx::query(AssertSqlSafe(sql))
                .bind(party)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| StoreError::NotFound { kind: "party", id: party.to_string() })?;
            Ok(())
        }

        /// The party's earnings as the matcher sees them: with what settled
        /// matches cover, the references of their journeys (end-to-end ids,
        /// UETRs) and the journeys' conversion rates.
        async fn load_invoices(tx: &mut Tx, party: Uuid) -> Result<Vec<recon::Invoice>, StoreError> {
            let rows = sqlx::query("SELECT * FROM earnings WHERE party_id = $1 ORDER BY seq").bind(party).fetch_all(&mut **tx).await?;
            let mut invoices = Vec::with_capacity(rows.len());
            let mut at: HashMap<Uuid, usize> = HashMap::new();
            for r in &rows {
                let e = earning_from_row(r)?;
                at.insert(e.id, invoices.len());
                invoices.push(recon::Invoice {
                    id: e.id,
                    party,
                    amount: e.details.amount,
                    invoice_date: e.details.invoice_date,
                    references: vec![e.details.invoice_reference.clone()],
                    realized: Decimal::ZERO,
                    journey_rates: vec![],
                    payer: e.details.client_name.clone(),
                });
            }
            let covered = sqlx::query("SELECT earning_id, covered FROM recon_matches WHERE party_id = $1").bind(party).fetch_all(&mut **tx).await?;
            for r in &covered {
                if let Some(&i) = at.get(&r.try_get::<Uuid, _>("earning_id")?) {
                    invoices[i].realized += r.try_get::<DbDecimal, _>("covered")?.0;
                }
            }
            let steps = sqlx::query(
                "SELECT a.earning_id, s.kind, s.end_to_end_id, s.uetr, s.fx_source, s.fx_target, s.fx_rate
                 FROM allocations a JOIN earnings e ON e.id = a.earning_id JOIN steps s ON s.repatriation_id = a.repatriation_id
                 WHERE e.party_id = $1 AND (s.end_to_end_id IS NOT NULL OR s.uetr IS NOT NULL OR s.fx_rate IS NOT NULL)",
            )
            .bind(party)
            .fetch_all(&mut **tx)
            .await?;
            for r in &steps {
                let Some(&i) = at.get(&r.try_get::<Uuid, _>("earning_id")?) else { continue };
                let inv = &mut invoices[i];
                inv.references.extend(r.try_get::<Option<String>, _>("end_to_end_id")?);
                inv.references.extend(r.try_get::<Option<Uuid>, _>("uetr")?.map(|u| u.to_string()));
                if r.try_get::<String, _>("kind")? == journey::StepKind::ConvertedToBdt.name() {
                    let rate = codec::fx(r.try_get("fx_source")?, r.try_get("fx_target")?, r.try_get::<Option<DbDecimal>, _>("fx_rate")?.map(|d| d.0))?;
                    inv.journey_rates.extend(rate);
                }
            }
            Ok(invoices)
        }

        async fn load_credits(tx: &mut Tx, party: Uuid) -> Result<Vec<recon::Credit>, StoreError> {
            let rows = sqlx::query("SELECT id, state, detail FROM statement_entries WHERE party_id = $1 ORDER BY seq").bind(party).fetch_all(&mut **tx).await?;
            rows.iter()
                .map(|r| {
                    Ok(recon::Credit {
                        id: r.try_get("id")?,
                        party,
                        entry: codec::from_json(r.try_get("detail")?)?,
                        state: credit_state(&r.try_get::<String, _>("state")?),
                    })
                })
                .collect()
        }

        /// When the credit's money became available, for the journey: the
        /// bank's booking instant if it gives one, else noon in Dhaka on
        /// the value (or booking) date.
        fn credited_at(e: &recon::Entry) -> Option<DateTime<Utc>> {
            e.booked_at.or_else(|| {
                let noon = e.date()?.and_hms_opt(12, 0, 0)?;
                noon.and_local_timezone(repat_core::time::DHAKA).single().map(|t| t.with_timezone(&Utc))
            })
        }

        /// Stores matches, links each to its earning's repatriation and,
        /// where that journey has no BENEFICIARY_CREDITED yet, records it
        /// from the credit (same transaction, same ordering rules as any
        /// step). `credits` gives each credit's entry.
        async fn store_matches(
            tx: &mut Tx,
            idem: &Idempotency,
            matches: Vec<recon::Match>,
            credits: &HashMap<Uuid, recon::Entry>,
            at: DateTime<Utc>,
        ) -> Result<Vec<StoredMatch>, StoreError> {
            let base = derive_id(idem.request_id);
            let mut journeys: HashMap<Uuid, Vec<Step>> = HashMap::new();
            let mut new_steps: Vec<Step> = Vec::new();
            let mut stored = Vec::with_capacity(matches.len());
            for m in matches {
                let entry = credits.get(&m.credit).ok_or_else(|| StoreError::Internal(format!("credit {} of a match is not loaded", m.credit)))?;
                let mut pair = [0u8; 32];
                pair[..16].copy_from_slice(m.credit.as_bytes());
                pair[16..].copy_from_slice(m.invoice.as_bytes());
                let mut sm = StoredMatch { id: Uuid::new_v5(&base, &pair), detail: m, repatriation_id: None, step_id: None, journey_note: None, create_time: at };
                let reps = sqlx::query(
                    "SELECT r.id, r.status FROM allocations a JOIN repatriations r ON r.id = a.repatriation_id WHERE a.earning_id = $1 ORDER BY r.seq",
                )
                .bind(sm.detail.invoice)
                .fetch_all(&mut **tx)
                .await?;
                let mut open = None;
                for r in &reps {
                    let status: RepatriationStatus = from_name("status", r.try_get("status")?)?;
                    if !status.is_terminal() {
                        open = Some(r.try_get::<Uuid, _>("id")?);
                        break;
                    }
                }
                if let Some(rid) = open {
                    sm.repatriation_id = Some(rid);
                    if !journeys.contains_key(&rid) {
                        lock_repatriations(tx, &[rid]).await?;
                        let steps = load_steps(tx, &[rid]).await?.remove(&rid).unwrap_or_default();
                        journeys.insert(rid, steps);
                    }
                    let steps = journeys.entry(rid).or_default();
                    if let Some(s) = steps.iter().find(|s| s.kind() == journey::StepKind::BeneficiaryCredited) {
                        sm.step_id = Some(s.id);
                    } else if let Some(when) = credited_at(entry) {
                        let mut new = NewStep::new(rid, journey::StepKind::BeneficiaryCredited, when);
                        new.amount = Some(entry.amount);
                        new.end_to_end_id = entry.end_to_end_id.clone();
                        new.uetr = entry.uetr;
                        new.note = format!("reconciled from statement entry {}", sm.detail.credit);
                        match journey::admit(steps, &new) {
                            Ok(()) => {
                                let step = Step { id: Uuid::new_v5(&base, rid.as_bytes()), details: new, recorded_at: at };
                                sm.step_id = Some(step.id);
                                steps.push(step.clone());
                                new_steps.push(step);
                            }
                            Err(v) => sm.journey_note = Some(format!("BENEFICIARY_CREDITED not recorded: {v}")),
                        }
                    }
                }
                sqlx::query(
                    "INSERT INTO recon_matches (id, credit_id, earning_id, party_id, method, covered, currency, detail, create_time)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(sm.id)
                .bind(sm.detail.credit)
                .bind(sm.detail.invoice)
                .bind(sm.detail.party)
                .bind(sm.detail.method.name())
                .bind(DbDecimal(sm.detail.covered.amount()))
                .bind(sm.detail.covered.currency().code())
                .bind(codec::to_json(&sm)?)
                .bind(DbTime(at))
                .execute(&mut **tx)
                .await?;
                stored.push(sm);
            }
            let mut settled: Vec<Uuid> = stored.iter().map(|m| m.detail.credit).collect();
            settled.sort();
            settled.dedup();
            for credit in settled {
                sqlx::query("UPDATE statement_entries SET state = $2 WHERE id = $1").bind(credit).bind(SETTLED).execute(&mut **tx).await?;
                sqlx::query("DELETE FROM recon_exceptions WHERE credit_id = $1").bind(credit).execute(&mut **tx).await?;
            }
            if !new_steps.is_empty() {
                insert_steps(tx, &new_steps).await?;
                let mut extended: Vec<Uuid> = new_steps.iter().map(|s| s.details.repatriation_id).collect();
                extended.sort();
                extended.dedup();
                let updates: Vec<(Uuid, &'static str, i32)> =
                    extended.iter().map(|rid| (*rid, RepatriationStatus::of(&journeys[rid]).name(), journeys[rid].len() as i32)).collect();
                update_repatriations(tx, &updates, at).await?;
                mark_pending(tx, &extended).await?;
            }
            Ok(stored)
        }

        #[async_trait]
        impl ReconciliationRepository for $Repo {
            async fn import_statement(&self, idem: &Idempotency, s: &StatementImport) -> Result<Vec<StoredStatement>, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                if let Some(json) = claim(&mut tx, idem, at).await? {
                    // Responses saved before files of several statements hold one id.
                    let ids: Vec<Uuid> = codec::from_json(&json).or_else(|_| codec::from_json(&json).map(|id: Uuid| vec![id]))?;
                    let mut stored = Vec::with_capacity(ids.len());
                    for id in ids {
                        stored.push(fetch_statement(&mut tx, id).await?);
                    }
                    return Ok(stored);
                }
                lock_party(&mut tx, s.party_id).await?;
                let same = sqlx::query("SELECT id FROM statements WHERE party_id = $1 AND sha256 = $2 ORDER BY part")
                    .bind(s.party_id)
                    .bind(&s.sha256)
                    .fetch_all(&mut *tx)
                    .await?;
                if !same.is_empty() {
                    // The same file again: nothing new is stored.
                    let ids = same.iter().map(|r| r.try_get::<Uuid, _>("id")).collect::<Result<Vec<_>, _>>()?;
                    save_response(&mut tx, idem, &ids).await?;
                    let mut stored = Vec::with_capacity(ids.len());
                    for id in ids {
                        stored.push(fetch_statement(&mut tx, id).await?);
                    }
                    tx.commit().await?;
                    return Ok(stored);
                }
                let first = derive_id(idem.request_id);
                let mut ids = Vec::with_capacity(s.statements.len());
                for (part, st) in s.statements.iter().enumerate() {
                    let id = if part == 0 { first } else { Uuid::new_v5(&first, format!("part {part}").as_bytes()) };
                    sqlx::query(
                        "INSERT INTO statements (id, party_id, format, sha256, part, message_id, account, import_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(id)
                    .bind(s.party_id)
                    .bind(s.format.name())
                    .bind(&s.sha256)
                    .bind(part as i32)
                    .bind(&st.message_id)
                    .bind(&st.account)
                    .bind(DbTime(at))
                    .execute(&mut *tx)
                    .await?;
                    for e in &st.entries {
                        sqlx::query(
                            "INSERT INTO statement_entries (id, statement_id, party_id, position, kind, amount, currency, state, detail)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(Uuid::new_v5(&id, &e.index.to_be_bytes()))
                        .bind(id)
                        .bind(s.party_id)
                        .bind(e.index as i32)
                        .bind(e.kind.name())
                        .bind(DbDecimal(e.amount.amount()))
                        .bind(e.amount.currency().code())
                        .bind(OPEN)
                        .bind(codec::to_json(e)?)
                        .execute(&mut *tx)
                        .await?;
                    }
                    ids.push(id);
                }
                let drafts = ids.iter().map(|id| audit_draft(idem, format!("statements/{id}"), at)).collect();
                append_audit(&mut tx, drafts).await?;
                save_response(&mut tx, idem, &ids).await?;
                let mut stored = Vec::with_capacity(ids.len());
                for id in ids {
                    stored.push(fetch_statement(&mut tx, id).await?);
                }
                tx.commit().await?;
                Ok(stored)
            }

            async fn get_statement(&self, id: Uuid) -> Result<StoredStatement, StoreError> {
                let mut conn = self.pool.acquire().await?;
                fetch_statement(&mut conn, id).await
            }

            async fn entry_party(&self, id: Uuid) -> Result<Uuid, StoreError> {
                let row = sqlx::query("SELECT party_id FROM statement_entries WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { kind: "statement entry", id: id.to_string() })?;
                Ok(row.try_get("party_id")?)
            }

            async fn run_matching(&self, idem: &Idempotency, party: Uuid, tolerances: &recon::Tolerances) -> Result<MatchingRun, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                if let Some(json) = claim(&mut tx, idem, at).await? {
                    return codec::from_json(&json);
                }
                lock_party(&mut tx, party).await?;
                let invoices = load_invoices(&mut tx, party).await?;
                let credits = load_credits(&mut tx, party).await?;
                let outcome = recon::reconcile(&invoices, &credits, tolerances);
                let entries: HashMap<Uuid, recon::Entry> = credits.into_iter().map(|c| (c.id, c.entry)).collect();
                let matches = store_matches(&mut tx, idem, outcome.matches, &entries, at).await?;
                sqlx::query("DELETE FROM recon_exceptions WHERE party_id = $1").bind(party).execute(&mut *tx).await?;
                for x in &outcome.exceptions {
                    let (credit, earning) = match x.subject {
                        Subject::Credit(c) => (Some(c), None),
                        Subject::Invoice(e) => (None, Some(e)),
                    };
                    sqlx::query("INSERT INTO recon_exceptions (party_id, credit_id, earning_id, reason, detail) VALUES ($1, $2, $3, $4, $5)")
                        .bind(party)
                        .bind(credit)
                        .bind(earning)
                        .bind(x.reason.name())
                        .bind(codec::to_json(x)?)
                        .execute(&mut *tx)
                        .await?;
                }
                let run = MatchingRun { party_id: party, matches, exception_count: outcome.exceptions.len(), run_time: at };
                append_audit(&mut tx, vec![audit_draft(idem, format!("parties/{party}/reconciliation"), at)]).await?;
                save_response(&mut tx, idem, &run).await?;
                tx.commit().await?;
                Ok(run)
            }

            async fn list_matches(&self, filter: &MatchFilter, p: PageRequest) -> Result<Page<StoredMatch>, StoreError> {
                let rows = sqlx::query(
                    "SELECT seq, detail FROM recon_matches
                     WHERE seq > $1 AND ($2 IS NULL OR party_id = $2) AND ($3 IS NULL OR earning_id = $3)
                     ORDER BY seq LIMIT $4",
                )
                .bind(p.after)
                .bind(filter.party_id)
                .bind(filter.earning_id)
                .bind(i64::from(p.size) + 1)
                .fetch_all(&self.pool)
                .await?;
                page(rows, p.size, match_from_row)
            }

            async fn list_exceptions(&self, party: Option<Uuid>, p: PageRequest) -> Result<Page<Exception>, StoreError> {
                let rows = sqlx::query("SELECT seq, detail FROM recon_exceptions WHERE seq > $1 AND ($2 IS NULL OR party_id = $2) ORDER BY seq LIMIT $3")
                    .bind(p.after)
                    .bind(party)
                    .bind(i64::from(p.size) + 1)
                    .fetch_all(&self.pool)
                    .await?;
                page(rows, p.size, |r| codec::from_json(r.try_get("detail")?))
            }

            async fn list_realizations(&self, party: Option<Uuid>, p: PageRequest) -> Result<Page<EarningRealization>, StoreError> {
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query("SELECT * FROM earnings WHERE seq > $1 AND ($2 IS NULL OR party_id = $2) ORDER BY seq LIMIT $3")
                    .bind(p.after)
                    .bind(party)
                    .bind(i64::from(p.size) + 1)
                    .fetch_all(&mut *conn)
                    .await?;
                let earnings = page(rows, p.size, earning_from_row)?;
                let mut items = Vec::with_capacity(earnings.items.len());
                for earning in earnings.items {
                    let covered = sqlx::query("SELECT covered, currency FROM recon_matches WHERE earning_id = $1")
                        .bind(earning.id)
                        .fetch_all(&mut *conn)
                        .await?
                        .iter()
                        .map(|r| money(r, "covered", "currency"))
                        .collect::<Result<Vec<_>, _>>()?;
                    let realization = recon::realization(earning.details.amount, covered);
                    items.push(EarningRealization { earning, realization });
                }
                Ok(Page { items, next_after: earnings.next_after })
            }

            async fn manual_match(&self, idem: &Idempotency, req: &ManualMatchRequest) -> Result<Vec<StoredMatch>, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                if let Some(json) = claim(&mut tx, idem, at).await? {
                    return codec::from_json(&json);
                }
                let party: Uuid = sqlx::query("SELECT party_id FROM statement_entries WHERE id = $1")
                    .bind(req.credit_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { kind: "statement entry", id: req.credit_id.to_string() })?
                    .try_get("party_id")?;
                lock_party(&mut tx, party).await?;
                let credits = load_credits(&mut tx, party).await?;
                let credit = credits.iter().find(|c| c.id == req.credit_id).ok_or_else(|| StoreError::Internal("credit vanished".into()))?;
                if let Some(why) = credit.entry.not_payable() {
                    return Err(StoreError::Precondition(format!("entry {} {why}; only a booked credit of more than zero pays an earning", credit.id)));
                }
                if credit.state == CreditState::Settled {
                    return Err(StoreError::Precondition(format!("credit {} is already matched; unmatch it first", credit.id)));
                }
                let invoices = load_invoices(&mut tx, party).await?;
                let mut matches = Vec::new();
                for (n, (earning, amount)) in req.allocations.iter().enumerate() {
                    let inv = invoices.iter().find(|i| i.id == *earning).ok_or_else(|| StoreError::NotFound { kind: "earning", id: earning.to_string() })?;
                    let m = recon::matcher::manual(credit, inv, *amount, &req.tolerances).map_err(|e| StoreError::Precondition(format!("allocations[{n}]: {e}")))?;
                    matches.push(m);
                }
                let entries: HashMap<Uuid, recon::Entry> = [(credit.id, credit.entry.clone())].into_iter().collect();
                let stored = store_matches(&mut tx, idem, matches, &entries, at).await?;
                let drafts = stored.iter().map(|m| audit_draft(idem, format!("reconciliation/matches/{}", m.id), at)).collect();
                append_audit(&mut tx, drafts).await?;
                save_response(&mut tx, idem, &stored).await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn unmatch(&self, idem: &Idempotency, credit: Uuid) -> Result<Vec<StoredMatch>, StoreError> {
                let mut tx = begin_write(&self.writer).await?;
                let at = now();
                if let Some(json) = claim(&mut tx, idem, at).await? {
                    return codec::from_json(&json);
                }
                let party: Uuid = sqlx::query("SELECT party_id FROM statement_entries WHERE id = $1")
                    .bind(credit)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { kind: "statement entry", id: credit.to_string() })?
                    .try_get("party_id")?;
                lock_party(&mut tx, party).await?;
                let rows = sqlx::query("SELECT seq, detail FROM recon_matches WHERE credit_id = $1 ORDER BY seq").bind(credit).fetch_all(&mut *tx).await?;
                let removed = rows.iter().map(match_from_row).collect::<Result<Vec<_>, _>>()?;
                if removed.is_empty() {
                    return Err(StoreError::Precondition(format!("credit {credit} has no match to remove")));
                }
                // The journey keeps its BENEFICIARY_CREDITED: the money did
                // arrive; only which invoice it paid is in question.
                sqlx::query("DELETE FROM recon_matches WHERE credit_id = $1").bind(credit).execute(&mut *tx).await?;
                sqlx::query("UPDATE statement_entries SET state = $2 WHERE id = $1").bind(credit).bind(HELD).execute(&mut *tx).await?;
                append_audit(&mut tx, vec![audit_draft(idem, format!("reconciliation/credits/{credit}"), at)]).await?;
                save_response(&mut tx, idem, &removed).await?;
                tx.commit().await?;
                Ok(removed)
            }
        }
    };
}

pub(crate) use reconciliation_sql;
