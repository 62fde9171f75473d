//! The search's SQL, written once and expanded into each backend module
//! after [`crate::sql::shared_sql!`], whose row readers it uses.

macro_rules! search_sql {
    ($Repo:ident) => {
        use crate::{RepatriationSearch, SearchRepository};

        #[async_trait]
        impl SearchRepository for $Repo {
            async fn search_repatriations(&self, search: &RepatriationSearch, p: PageRequest) -> Result<Page<Repatriation>, StoreError> {
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query(
                    "SELECT * FROM repatriations
                     WHERE seq > $1 AND ($2 IS NULL OR party_id = $2)
                       AND ($3 IS NULL OR id IN (SELECT a.repatriation_id FROM allocations a JOIN earnings e ON e.id = a.earning_id
                                                 WHERE e.invoice_reference = $3))
                       AND ($4 IS NULL OR id IN (SELECT repatriation_id FROM steps WHERE void_time IS NULL AND uetr = $4))
                       AND ($5 IS NULL OR id IN (SELECT repatriation_id FROM steps WHERE void_time IS NULL AND end_to_end_id = $5))
                     ORDER BY seq LIMIT $6",
                )
                .bind(p.after)
                .bind(search.party_id)
                .bind(&search.invoice_reference)
                .bind(search.uetr)
                .bind(&search.end_to_end_id)
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

            async fn statement_entries(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, repat_core::reconcile::Entry)>, StoreError> {
                let mut conn = self.pool.acquire().await?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(row) = sqlx::query("SELECT detail FROM statement_entries WHERE id = $1").bind(id).fetch_optional(&mut *conn).await? {
                        out.push((*id, codec::from_json(row.try_get("detail")?)?));
                    }
                }
                Ok(out)
            }
        }
    };
}

pub(crate) use search_sql;
