//! Corrections: the revisions appended when a record is amended or voided,
//! and the writes that change an earning's current row with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use repat_core::Named;
use repat_core::earning::{Earning, References};
use uuid::Uuid;

use super::{SqlRepository, Write};
use crate::types::{DbDecimal, DbTime};
use crate::{Idempotency, StoreError};

/// One correction of a record: who made it, when, why, and the record
/// before and after (its JSON, as the API's history shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The record's name, e.g. `earnings/<id>`.
    pub resource: String,
    /// The record's revision this correction made (2 for the first).
    pub revision: u32,
    pub party_id: Uuid,
    /// `amended`, `voided` or `corrected`.
    pub action: String,
    pub reason: String,
    pub subject: String,
    pub role: String,
    pub request_id: Uuid,
    pub time: DateTime<Utc>,
    pub before: String,
    pub after: String,
    /// The fields it changed, by their API names.
    pub fields: Vec<String>,
}

impl Revision {
    /// The revision `idem` made to `resource` of `party`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        idem: &Idempotency,
        resource: String,
        party_id: Uuid,
        revision: u32,
        action: &str,
        reason: &str,
        time: DateTime<Utc>,
        (before, after): (String, String),
        fields: Vec<String>,
    ) -> Revision {
        Revision {
            resource,
            revision,
            party_id,
            action: action.to_string(),
            reason: reason.to_string(),
            subject: idem.principal.clone(),
            role: idem.role.clone(),
            request_id: idem.request_id,
            time,
            before,
            after,
            fields,
        }
    }
}

#[derive(sqlx::FromRow)]
struct RevisionRow {
    resource: String,
    revision: i32,
    party_id: Uuid,
    action: String,
    reason: String,
    subject: String,
    role: String,
    request_id: Uuid,
    time: DbTime,
    before_json: String,
    after_json: String,
    fields: String,
}

impl TryFrom<RevisionRow> for Revision {
    type Error = StoreError;
    fn try_from(r: RevisionRow) -> Result<Self, StoreError> {
        Ok(Revision {
            revision: u32::try_from(r.revision)
                .map_err(|_| StoreError::Internal(format!("{} revision", r.resource)))?,
            resource: r.resource,
            party_id: r.party_id,
            action: r.action,
            reason: r.reason,
            subject: r.subject,
            role: r.role,
            request_id: r.request_id,
            time: r.time.0,
            before: r.before_json,
            after: r.after_json,
            fields: r
                .fields
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

/// The most revisions a history lists (the oldest): a record corrected
/// more often than this is read in the audit trail.
pub const MAX_REVISIONS: i64 = 1000;

/// The history of corrections of each record.
#[async_trait]
pub trait RevisionRepository: Send + Sync {
    /// The revisions of `resource`, oldest first (at most
    /// [`MAX_REVISIONS`]).
    async fn list_revisions(&self, resource: &str) -> Result<Vec<Revision>, StoreError>;
}

#[async_trait]
impl RevisionRepository for SqlRepository {
    async fn list_revisions(&self, resource: &str) -> Result<Vec<Revision>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let rows: Vec<RevisionRow> = c
            .conn()
            .query("SELECT * FROM revisions WHERE resource = $1 ORDER BY revision LIMIT $2")
            .bind(resource.to_string())
            .bind(MAX_REVISIONS)
            .fetch_all()
            .await?;
        rows.into_iter().map(Revision::try_from).collect()
    }
}

impl Write {
    /// Appends a revision.
    pub async fn insert_revision(&mut self, r: &Revision) -> Result<(), StoreError> {
        self.conn()
            .query(
                "INSERT INTO revisions (resource, revision, party_id, action, reason, subject, role,
                                        request_id, time, before_json, after_json, fields)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(r.resource.clone())
            .bind(i32::try_from(r.revision).map_err(|_| StoreError::Internal("revision".into()))?)
            .bind(r.party_id)
            .bind(r.action.clone())
            .bind(r.reason.clone())
            .bind(r.subject.clone())
            .bind(r.role.clone())
            .bind(r.request_id)
            .bind(DbTime(r.time))
            .bind(r.before.clone())
            .bind(r.after.clone())
            .bind(r.fields.join(","))
            .execute()
            .await?;
        Ok(())
    }

    /// How many revisions `resource` has: its current revision is one more.
    pub async fn revision_count(&mut self, resource: &str) -> Result<u32, StoreError> {
        let (n,): (i64,) = self
            .conn()
            .query("SELECT COUNT(*) FROM revisions WHERE resource = $1")
            .bind(resource.to_string())
            .fetch_one()
            .await?;
        u32::try_from(n).map_err(|_| StoreError::Internal(format!("{resource} revisions")))
    }

    /// Stores a party's corrected legal name and country.
    pub async fn update_party_details(
        &mut self,
        id: Uuid,
        legal_name: &str,
        country: &str,
    ) -> Result<(), StoreError> {
        self.conn()
            .query("UPDATE parties SET legal_name = $2, country = $3 WHERE id = $1")
            .bind(id)
            .bind(legal_name.to_string())
            .bind(country.to_string())
            .execute()
            .await?;
        Ok(())
    }

    /// Sets a step aside: kept, with when and why, but no longer read as
    /// part of its journey.
    pub async fn void_step(
        &mut self,
        id: Uuid,
        time: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.conn()
            .query("UPDATE steps SET void_time = $2, void_reason = $3 WHERE id = $1")
            .bind(id)
            .bind(DbTime(time))
            .bind(reason.to_string())
            .execute()
            .await?;
        Ok(())
    }

    /// What refers to the earning: the repatriations allocating it and the
    /// matches settled against it, each in id order.
    pub async fn earning_references(&mut self, id: Uuid) -> Result<References, StoreError> {
        let mut c = self.conn();
        let repatriations: Vec<(Uuid,)> = c
            .query("SELECT repatriation_id FROM allocations WHERE earning_id = $1 ORDER BY repatriation_id")
            .bind(id)
            .fetch_all()
            .await?;
        let matches: Vec<(Uuid,)> = c
            .query("SELECT id FROM recon_matches WHERE earning_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all()
            .await?;
        Ok(References {
            repatriations: repatriations.into_iter().map(|(r,)| r).collect(),
            matches: matches.into_iter().map(|(m,)| m).collect(),
        })
    }

    /// Stores the earning's corrected current row (its revision, details
    /// and void); the revision that explains it is appended beside it.
    pub async fn update_earning(&mut self, e: &Earning) -> Result<(), StoreError> {
        let d = &e.details;
        let revision =
            i32::try_from(e.revision).map_err(|_| StoreError::Internal("revision".into()))?;
        self.conn()
            .query(
                "UPDATE earnings SET client_name = $2, client_country = $3, service_category = $4,
                        amount = $5, currency = $6, allocated = $7, invoice_date = $8, due_date = $9,
                        invoice_reference = $10, marketplace = $11, revision = $12,
                        void_time = $13, void_reason = $14
                  WHERE id = $1",
            )
            .bind(e.id)
            .bind(d.client_name.clone())
            .bind(d.client_country.clone())
            .bind(d.service_category.name())
            .bind(DbDecimal(d.amount.amount()))
            .bind(d.amount.currency().code())
            .bind(DbDecimal(e.allocated.amount()))
            .bind(d.invoice_date)
            .bind(d.due_date)
            .bind(d.invoice_reference.clone())
            .bind(d.marketplace.clone())
            .bind(revision)
            .bind(e.void.as_ref().map(|v| DbTime(v.time)))
            .bind(e.void.as_ref().map(|v| v.reason.clone()))
            .execute()
            .await?;
        Ok(())
    }
}
