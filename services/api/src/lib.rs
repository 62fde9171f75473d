//! The repat gRPC services: decode and validate each request, authorize the
//! caller, call the store, and map errors to a status in one place.

mod audit;
pub mod auth;
mod batch;
pub mod checkpoints;
mod convert;
mod document;
mod earning;
pub mod error;
pub mod events;
mod fingerprint;
mod incentive;
mod incident;
mod metrics;
pub mod observe;
mod paging;
mod party;
mod reconciliation;
mod repatriation;
mod search;
pub mod streams;
pub mod token;
mod validate;
pub mod watch;

use std::sync::Arc;

use repat_store::Repository;
use uuid::Uuid;

use crate::auth::{Action, Caller, authorize, authorize_record};
use crate::error::ApiResult;

pub use audit::AuditApi;
pub use document::DocumentApi;
pub use earning::EarningApi;
pub use events::EventApi;
pub use events::webhooks::WebhookApi;
pub use incentive::{ActiveRules, IncentiveApi, SHIPPED_RULES};
pub use incident::{incident, incident_status};
pub use metrics::{MetricsApi, settle as settle_metrics};
pub use party::PartyApi;
pub use reconciliation::{ReconciliationApi, tolerance_value};
pub use repat_core::reconcile::Tolerances;
pub use repatriation::RepatriationApi;
pub use validate::{MAX_DESCRIPTION, MAX_VIOLATIONS};

/// What every service shares.
#[derive(Clone)]
pub struct AppState {
    pub repo: Arc<dyn Repository>,
    pub changes: watch::Changes,
    pub observer: Arc<dyn observe::Observer>,
    pub streams: streams::StreamSlots,
    /// The outbox's last committed sequence, as this replica has seen it.
    pub head: events::Head,
}

impl AppState {
    pub fn new(repo: Arc<dyn Repository>) -> Self {
        AppState {
            repo,
            changes: watch::Changes::new(),
            observer: Arc::new(observe::Unobserved),
            streams: streams::StreamSlots::new(streams::DEFAULT_STREAMS_PER_CALLER),
            head: events::Head::new(),
        }
    }

    /// The same state, holding each caller to `limit` open streams.
    pub fn with_streams_per_caller(self, limit: usize) -> Self {
        AppState {
            streams: streams::StreamSlots::new(limit),
            ..self
        }
    }

    /// Announces committed changes of repatriations: to this replica's
    /// watchers at once, and through the database to the other replicas'.
    pub(crate) async fn announce(&self, mut ids: Vec<Uuid>) {
        ids.sort();
        ids.dedup();
        for id in &ids {
            self.changes.notify(*id);
        }
        if let Err(e) = self.repo.publish_changes(&ids).await {
            // Other replicas' watchers re-read on their interval.
            tracing::warn!(error = %e, "announcing changes to other replicas failed");
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
        authorize_record(caller, Action::Read(party), "repatriation", id)?;
        authorize(caller, action(party))?;
        Ok(party)
    }
}
