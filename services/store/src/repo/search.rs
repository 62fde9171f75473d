//! Finding records by the references people have at hand: an invoice
//! reference, a step's UETR or end-to-end id, a statement entry's id.

use async_trait::async_trait;
use repat_core::reconcile::Entry;
use repat_core::repatriation::Repatriation;
use uuid::Uuid;

use super::{SqlRepository, page, page_limit};
use crate::codec;
use crate::rows::RepatriationRow;
use crate::{Page, PageRequest, RepatriationSearch, SearchRepository, StoreError};

#[async_trait]
impl SearchRepository for SqlRepository {
    async fn search_repatriations(
        &self,
        search: &RepatriationSearch,
        p: PageRequest,
    ) -> Result<Page<Repatriation>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT * FROM repatriations WHERE seq > ");
        q.bind(p.after).and_eq("party_id", search.party_id);
        if let Some(reference) = &search.invoice_reference {
            q.push(
                " AND id IN (SELECT a.repatriation_id FROM allocations a JOIN earnings e ON e.id = a.earning_id
                             WHERE e.invoice_reference = ",
            )
            .bind(reference)
            .push(")");
        }
        if let Some(uetr) = search.uetr {
            q.push(
                " AND id IN (SELECT repatriation_id FROM steps WHERE void_time IS NULL AND uetr = ",
            )
            .bind(uetr)
            .push(")");
        }
        if let Some(e2e) = &search.end_to_end_id {
            q.push(" AND id IN (SELECT repatriation_id FROM steps WHERE void_time IS NULL AND end_to_end_id = ")
                .bind(e2e)
                .push(")");
        }
        q.push(" ORDER BY seq LIMIT ").bind(page_limit(p.size));
        let rows: Vec<RepatriationRow> = q.fetch_all().await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut allocations = c.dialect().load_allocations(&ids).await?;
        page(
            rows,
            p.size,
            |r| r.seq,
            |r| {
                let id = r.id;
                r.into_repatriation(allocations.remove(&id).unwrap_or_default())
            },
        )
    }

    async fn statement_entries(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Entry)>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<(String,)> = c
                .query("SELECT detail FROM statement_entries WHERE id = $1")
                .bind(id)
                .fetch_optional()
                .await?;
            if let Some((detail,)) = row {
                out.push((*id, codec::from_json(&detail)?));
            }
        }
        Ok(out)
    }
}
