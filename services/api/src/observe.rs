//! What the services report about the work they do, for metrics. The
//! server decides how it is exported; by default nothing is recorded.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Told of each record that went in (retries of a `request_id` excepted
/// where the store can tell them apart).
pub trait Observer: Send + Sync + 'static {
    /// An earning was acknowledged.
    fn earning_recorded(&self) {}
    /// A new step of `kind` was stored; `wait` is the time since the step
    /// before it on the journey's timeline (none for the first).
    fn step_recorded(&self, kind: &'static str, wait: Option<Duration>) {
        let _ = (kind, wait);
    }
}

/// Records nothing.
pub struct Unobserved;

impl Observer for Unobserved {}

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
