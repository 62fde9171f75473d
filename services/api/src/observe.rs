//! What the services report about the work they do, for metrics. The
//! server decides how it is exported; by default nothing is recorded.

use std::future::Future;
use std::sync::{Arc, OnceLock};

pub use repat_usecases::observe::{Observer, Unobserved};

/// What identifies the RPC being served, noted by the handler as it learns
/// it (the caller's subject, the request id) for the server's telemetry.
#[derive(Debug, Default)]
pub struct CallIds {
    pub request_id: OnceLock<String>,
    pub subject: OnceLock<String>,
}

tokio::task_local! {
    static CALL: Arc<CallIds>;
}

/// Runs `future` as the RPC that `ids` describes.
pub async fn in_call<F: Future>(ids: Arc<CallIds>, future: F) -> F::Output {
    CALL.scope(ids, future).await
}

/// Runs `f` (the synchronous part of starting the RPC) as the RPC that `ids`
/// describes.
pub fn in_call_sync<R>(ids: Arc<CallIds>, f: impl FnOnce() -> R) -> R {
    CALL.sync_scope(ids, f)
}

/// Notes the request id on the current RPC and its log span.
pub fn note_request_id(id: &str) {
    let _ = CALL.try_with(|c| c.request_id.set(id.to_string()));
    tracing::Span::current().record("request_id", id);
}

/// Notes the caller on the current RPC and its log span.
pub fn note_subject(subject: &str) {
    let _ = CALL.try_with(|c| c.subject.set(subject.to_string()));
    tracing::Span::current().record("subject", subject);
}
