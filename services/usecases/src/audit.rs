//! ListAuditEntries, VerifyAuditChain: the trail of every change, and the
//! check of its chain, for auditors.

use repat_core::audit::{AuditEntry, ChainVerifier};
use repat_store::{AuditFilter, Page, PageRequest};

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::Result;

/// Entries read per round trip while verifying.
const VERIFY_PAGE: u32 = 5000;

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

/// What checking the chain found.
pub struct ChainCheck {
    pub entries_checked: i64,
    /// The first entry that does not link, and why; `None` when intact.
    pub broken: Option<(i64, String)>,
    /// The newest entry's hash, when intact.
    pub head_hash: String,
}

pub async fn verify_audit_chain(app: &App, caller: &Caller) -> Result<ChainCheck> {
    let permit = permit(caller)?;
    let store = app.store(&permit);
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_chain(after, VERIFY_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.record.sequence;
        for e in &page {
            if let Err(broken) = verifier.check(e) {
                return Ok(ChainCheck {
                    entries_checked: verifier.checked(),
                    broken: Some((broken.sequence, broken.reason)),
                    head_hash: String::new(),
                });
            }
        }
    }
    Ok(ChainCheck {
        entries_checked: verifier.checked(),
        broken: None,
        head_hash: verifier.head().to_string(),
    })
}
