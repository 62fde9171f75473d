//! The repat gRPC services: decode and validate each request, authorize the
//! caller, call the store, and map errors to a status in one place.

mod audit;
pub mod auth;
mod batch;
mod convert;
mod earning;
pub mod error;
mod fingerprint;
mod incentive;
mod metrics;
pub mod observe;
mod paging;
mod party;
mod reconciliation;
mod repatriation;
pub mod token;
mod validate;
pub mod watch;

use std::sync::Arc;

use repat_store::Repository;
use uuid::Uuid;

use crate::auth::{Action, Caller, authorize};
use crate::error::ApiResult;

pub use audit::AuditApi;
pub use earning::EarningApi;
pub use incentive::{ActiveRules, IncentiveApi, SHIPPED_RULES};
pub use metrics::{MetricsApi, settle as settle_metrics};
pub use party::PartyApi;
pub use reconciliation::{ReconciliationApi, tolerance_value};
pub use repat_core::reconcile::Tolerances;
pub use repatriation::RepatriationApi;

/// What every service shares.
#[derive(Clone)]
pub struct AppState {
    pub repo: Arc<dyn Repository>,
    pub changes: watch::Changes,
    pub observer: Arc<dyn observe::Observer>,
}

impl AppState {
    pub fn new(repo: Arc<dyn Repository>) -> Self {
        AppState {
            repo,
            changes: watch::Changes::new(),
            observer: Arc::new(observe::Unobserved),
        }
    }

    /// The same state, reporting what goes in to `observer`.
    pub fn observed_by(self, observer: Arc<dyn observe::Observer>) -> Self {
        AppState { observer, ..self }
    }

    /// Authorizes `action` on the party of repatriation `id`: the caller
    /// must see the party, then be allowed the action. Returns the party.
    pub(crate) async fn authorize_repatriation(
        &self,
        caller: &Caller,
        id: Uuid,
        action: fn(Uuid) -> Action,
    ) -> ApiResult<Uuid> {
        let party = self.repo.repatriation_party(id).await?;
        authorize(caller, Action::Read(party))?;
        authorize(caller, action(party))?;
        Ok(party)
    }
}
