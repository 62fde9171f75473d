//! Finding records by what people have at hand (an invoice number, a
//! UETR, an end-to-end id, an entry id), for the console.

use async_trait::async_trait;
use repat_core::reconcile::Entry;
use repat_core::repatriation::Repatriation;
use uuid::Uuid;

use crate::{Page, PageRequest, StoreError};

/// What a repatriation must carry; every reference given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepatriationSearch {
    pub party_id: Option<Uuid>,
    /// The invoice reference of an earning it pays.
    pub invoice_reference: Option<String>,
    /// The UETR of one of its steps.
    pub uetr: Option<Uuid>,
    /// The end-to-end id of one of its steps.
    pub end_to_end_id: Option<String>,
}

#[async_trait]
pub trait SearchRepository: Send + Sync {
    /// Repatriations carrying the references, oldest first.
    async fn search_repatriations(
        &self,
        search: &RepatriationSearch,
        page: PageRequest,
    ) -> Result<Page<Repatriation>, StoreError>;
    /// Statement entries by id, as their statements have them (to show
    /// the credit an exception is about); unknown ids are left out.
    async fn statement_entries(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Entry)>, StoreError>;
}
