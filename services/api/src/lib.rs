//! The repat gRPC services, thin adapters: decode and validate each
//! request, call its use case (`repat-usecases`, which authorizes the
//! caller, calls the core and commits through the store), encode the
//! answer, and map errors to a status in one place (`error.rs`).

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
use repat_usecases::App;

pub use audit::AuditApi;
pub use document::DocumentApi;
pub use earning::EarningApi;
pub use events::EventApi;
pub use events::webhooks::WebhookApi;
pub use incentive::IncentiveApi;
pub use incident::{incident, incident_status};
pub use metrics::MetricsApi;
pub use party::PartyApi;
pub use reconciliation::{ReconciliationApi, tolerance_value};
pub use repat_core::reconcile::Tolerances;
pub use repat_usecases::DEFAULT_MAX_STEPS_PER_JOURNEY;
pub use repat_usecases::metrics::settle_all as settle_metrics;
pub use repat_usecases::rules::{ActiveRules, SHIPPED_RULES};
pub use repatriation::RepatriationApi;
pub use validate::{MAX_DESCRIPTION, MAX_VIOLATIONS};

/// Batch chunks committed at once by default: enough to keep the database
/// busy while others wait their turn at the audit chain's lock.
pub const DEFAULT_BATCH_COMMITS: usize = 4;

/// What every service shares: the use cases' context, and the transport's
/// own limits.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    /// Where changes are announced (the same as the use cases'), and the
    /// server's closing.
    pub changes: watch::Changes,
    pub streams: streams::StreamSlots,
    /// Batch chunks committing at once, over every stream: what the
    /// server holds in memory for ingestion is bounded by this, not by
    /// the number of streams open.
    pub batch_commits: Arc<tokio::sync::Semaphore>,
    /// The outbox's last committed sequence, as this replica has seen it.
    pub head: events::Head,
}

impl AppState {
    pub fn new(repo: Arc<dyn Repository>) -> Self {
        let app = App::new(repo);
        AppState {
            changes: app.changes().clone(),
            app,
            streams: streams::StreamSlots::new(streams::DEFAULT_STREAMS_PER_CALLER),
            batch_commits: Arc::new(tokio::sync::Semaphore::new(DEFAULT_BATCH_COMMITS)),
            head: events::Head::new(),
        }
    }

    /// The same state, committing at most `limit` batch chunks at once.
    pub fn with_batch_commits(self, limit: usize) -> Self {
        AppState {
            batch_commits: Arc::new(tokio::sync::Semaphore::new(limit)),
            ..self
        }
    }

    /// The same state, holding each caller to `limit` open streams.
    pub fn with_streams_per_caller(self, limit: usize) -> Self {
        AppState {
            streams: streams::StreamSlots::new(limit),
            ..self
        }
    }

    /// The same state, allowing each journey at most `limit` steps.
    pub fn with_max_steps_per_journey(self, limit: u32) -> Self {
        AppState {
            app: self.app.with_max_steps_per_journey(limit),
            ..self
        }
    }

    /// The same state, reporting what goes in to `observer`.
    pub fn observed_by(self, observer: Arc<dyn observe::Observer>) -> Self {
        AppState {
            app: self.app.observed_by(observer),
            ..self
        }
    }
}
