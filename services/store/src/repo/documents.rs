//! The documents firms hold: their particulars, against a party, one of
//! its earnings or one of its repatriations.

use async_trait::async_trait;
use repat_core::Named;
use repat_core::document::{Attachment, Document, DocumentKind};
use uuid::Uuid;

use super::{SqlRepository, Write, page, page_limit};
use crate::rows::DocumentRow;
use crate::types::DbTime;
use crate::{DocumentFilter, DocumentRepository, Page, PageRequest, StoreError};

#[async_trait]
impl DocumentRepository for SqlRepository {
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

/// What the use case recording a document writes.
impl Write {
    /// Refuses a record a document is attached to that is not the party's:
    /// another party's is as good as absent.
    pub async fn require_attachment(
        &mut self,
        party: Uuid,
        attached_to: Attachment,
    ) -> Result<(), StoreError> {
        let (kind, id, sql) = match attached_to {
            Attachment::Party => (
                "party",
                party,
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
        let found: Option<(Uuid,)> = self
            .conn()
            .query(sql)
            .bind(id)
            .bind(party)
            .fetch_optional()
            .await?;
        found.map(|_| ()).ok_or_else(|| StoreError::NotFound {
            kind,
            id: id.to_string(),
        })
    }

    /// The party's document of this kind under this reference, if any.
    pub async fn document_with_reference(
        &mut self,
        party: Uuid,
        kind: DocumentKind,
        reference: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        let found: Option<(Uuid,)> = self
            .conn()
            .query("SELECT id FROM documents WHERE party_id = $1 AND kind = $2 AND reference = $3")
            .bind(party)
            .bind(kind.name())
            .bind(reference)
            .fetch_optional()
            .await?;
        Ok(found.map(|(id,)| id))
    }

    pub async fn insert_document(&mut self, document: &Document) -> Result<(), StoreError> {
        let new = &document.details;
        let (earning_id, repatriation_id) = match new.attached_to {
            Attachment::Party => (None, None),
            Attachment::Earning(e) => (Some(e), None),
            Attachment::Repatriation(r) => (None, Some(r)),
        };
        self.conn()
            .query(
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
            .bind(DbTime(document.record_time))
            .execute()
            .await?;
        Ok(())
    }
}
