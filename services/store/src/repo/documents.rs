//! The documents firms hold: their particulars, against a party, one of
//! its earnings or one of its repatriations.

use async_trait::async_trait;
use repat_core::Named;
use repat_core::document::{Attachment, Document, NewDocument};
use uuid::Uuid;

use super::{SqlRepository, append_audit, audit_draft, claim, page, page_limit, save_response};
use crate::codec::{self, derive_id, now};
use crate::rows::DocumentRow;
use crate::types::DbTime;
use crate::{DocumentFilter, DocumentRepository, Idempotency, Page, PageRequest, StoreError};

#[async_trait]
impl DocumentRepository for SqlRepository {
    async fn create_document(
        &self,
        idem: &Idempotency,
        new: &NewDocument,
    ) -> Result<Document, StoreError> {
        let mut tx = self.writer.begin_write().await?;
        let at = now();
        if let Some(json) = claim(&mut tx, idem, at).await? {
            return codec::from_json(&json);
        }
        let mut c = tx.conn();
        // The record it is attached to must be the party's: another
        // party's is as good as absent.
        let (kind, id, sql) = match new.attached_to {
            Attachment::Party => (
                "party",
                new.party_id,
                "SELECT id FROM parties WHERE id = $1 AND id = $2",
            ),
            Attachment::Earning(e) => (
                "earning",
                e,
                "SELECT id FROM earnings WHERE id = $1 AND party_id = $2",
            ),
            Attachment::Repatriation(r) => (
                "repatriation",
                r,
                "SELECT id FROM repatriations WHERE id = $1 AND party_id = $2",
            ),
        };
        let found: Option<(Uuid,)> = c
            .query(sql)
            .bind(id)
            .bind(new.party_id)
            .fetch_optional()
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound {
                kind,
                id: id.to_string(),
            });
        }
        let duplicate: Option<(Uuid,)> = c
            .query("SELECT id FROM documents WHERE party_id = $1 AND kind = $2 AND reference = $3")
            .bind(new.party_id)
            .bind(new.kind.name())
            .bind(&new.reference)
            .fetch_optional()
            .await?;
        if let Some((existing,)) = duplicate {
            return Err(StoreError::Duplicate(format!(
                "{} {:?} is already recorded for this party (document {existing})",
                new.kind.name(),
                new.reference
            )));
        }
        let document = Document {
            id: derive_id(idem),
            details: new.clone(),
            recorded_by: idem.principal.clone(),
            record_time: at,
        };
        let (earning_id, repatriation_id) = match new.attached_to {
            Attachment::Party => (None, None),
            Attachment::Earning(e) => (Some(e), None),
            Attachment::Repatriation(r) => (None, Some(r)),
        };
        c.query(
            "INSERT INTO documents (id, party_id, earning_id, repatriation_id, kind, reference, issue_date, issuer,
                                    valid_from, valid_until, content_sha256, recorded_by, record_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(document.id)
        .bind(new.party_id)
        .bind(earning_id)
        .bind(repatriation_id)
        .bind(new.kind.name())
        .bind(&new.reference)
        .bind(new.issue_date)
        .bind(&new.issuer)
        .bind(new.valid_from)
        .bind(new.valid_until)
        .bind(&new.content_sha256)
        .bind(&document.recorded_by)
        .bind(DbTime(at))
        .execute()
        .await?;
        append_audit(
            &mut tx,
            vec![audit_draft(
                idem,
                format!("parties/{}/documents/{}", new.party_id, document.id),
                at,
            )],
        )
        .await?;
        save_response(&mut tx, idem, &document).await?;
        tx.commit().await?;
        Ok(document)
    }

    async fn get_document(&self, id: Uuid) -> Result<Document, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let row: DocumentRow = pooled
            .conn()
            .query("SELECT * FROM documents WHERE id = $1")
            .bind(id)
            .fetch_optional()
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "document",
                id: id.to_string(),
            })?;
        row.try_into()
    }

    async fn list_documents(
        &self,
        filter: &DocumentFilter,
        p: PageRequest,
    ) -> Result<Page<Document>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let mut q = c.sql("SELECT * FROM documents WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", filter.party_id)
            .and_eq("earning_id", filter.earning_id)
            .and_eq("repatriation_id", filter.repatriation_id)
            .and_eq("kind", filter.kind.map(Named::name))
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<DocumentRow> = q.fetch_all().await?;
        page(rows, p.size, |r| r.seq, Document::try_from)
    }

    async fn party_documents(&self, party_id: Uuid) -> Result<Vec<Document>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let rows: Vec<DocumentRow> = pooled
            .conn()
            .query("SELECT * FROM documents WHERE party_id = $1 ORDER BY seq")
            .bind(party_id)
            .fetch_all()
            .await?;
        rows.into_iter().map(Document::try_from).collect()
    }
}
