//! ListAuditEntries, ListAuditCheckpoints, VerifyAuditChain: the trail of
//! every change, its signed checkpoints, and the check of both, for auditors.

use std::sync::Arc;

use repat_core::audit::AuditEntry;
use repat_core::audit::checkpoint::Checkpoint;
use repat_store::{AuditFilter, Page, PageRequest, Repository};

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::Result;

/// Only auditors and administrators read the trail, whatever is asked:
/// asked before the request is read.
pub fn permit(caller: &Caller) -> Result<crate::auth::Permit> {
    authorize(caller, Action::Audit)
}

pub async fn list_audit_entries(
    app: &App,
    caller: &Caller,
    filter: &AuditFilter,
    page: PageRequest,
) -> Result<Page<AuditEntry>> {
    let permit = permit(caller)?;
    Ok(app.store(&permit).list_audit(filter, page).await?)
}

/// The signed checkpoints of the chain, oldest first, a page at a time.
pub async fn list_audit_checkpoints(
    app: &App,
    caller: &Caller,
    page: PageRequest,
) -> Result<Page<Checkpoint>> {
    let permit = permit(caller)?;
    let mut items = app
        .store(&permit)
        .audit_checkpoints(page.after, None, page.size + 1)
        .await?;
    let more = items.len() > page.size as usize;
    items.truncate(page.size as usize);
    let next_after = more.then(|| items.last().map(|c| c.sequence)).flatten();
    Ok(Page { items, next_after })
}

/// The trail and its checkpoints, for an auditor's verification, which
/// reads them page by page (`repat_api::checkpoints::verify`).
pub fn trail(app: &App, caller: &Caller) -> Result<Arc<dyn Repository>> {
    let permit = permit(caller)?;
    Ok(app.store_handle(&permit))
}
