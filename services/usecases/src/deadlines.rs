//! The repatriation deadlines stored with each repatriation: those opened
//! before deadlines were stored get theirs, computed by the same function
//! under the rules in force. The server's own work at start, for no caller.

use repat_store::{Repository, StoreError};

use crate::rules::ActiveRules;

/// Repatriations dated per transaction.
const BATCH: u32 = 1000;

/// Stores the deadline of every repatriation that has none and that a
/// programme covers; returns how many were dated.
pub async fn fill_missing(
    store: &dyn Repository,
    rules: &ActiveRules,
) -> Result<usize, StoreError> {
    let mut dated = 0;
    let mut after = None;
    loop {
        let page = store.undated_repatriations(after, BATCH).await?;
        let Some(last) = page.last() else {
            return Ok(dated);
        };
        after = Some(last.id);
        let mut tx = store.begin().await?;
        for r in &page {
            if let Some(deadline) = rules.rules.repatriation_deadline(
                &r.party_kind,
                &r.service_category,
                r.invoice_date,
            ) {
                tx.set_repatriation_deadline(r.id, deadline).await?;
                dated += 1;
            }
        }
        tx.commit().await?;
        if page.len() < BATCH as usize {
            return Ok(dated);
        }
    }
}
