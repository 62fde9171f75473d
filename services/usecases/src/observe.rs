//! What the use cases report about the work they do, for metrics. The
//! server decides how it is exported; by default nothing is recorded.

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
