//! The repat gRPC services: decode and validate each request, authorize the
//! caller, call the store, and map errors to a status in one place.

mod audit;
pub mod auth;
mod batch;
mod convert;
mod earning;
pub mod error;
mod fingerprint;
pub mod observe;
mod paging;
mod party;
mod repatriation;
pub mod token;
mod validate;
pub mod watch;

use std::sync::Arc;

use repat_store::Repository;

pub use audit::AuditApi;
pub use earning::EarningApi;
pub use party::PartyApi;
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
        AppState { repo, changes: watch::Changes::new(), observer: Arc::new(observe::Unobserved) }
    }

    /// The same state, reporting what goes in to `observer`.
    pub fn observed_by(self, observer: Arc<dyn observe::Observer>) -> Self {
        AppState { observer, ..self }
    }
}
