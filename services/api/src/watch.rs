//! Change notification for WatchRepatriation, and the server's closing:
//! the use cases' (see `repat_usecases::changes`), and the status streams
//! end with when the server stops.

pub use repat_usecases::changes::{Changes, EVERYTHING, POLL_INTERVAL};

/// The status that ends a stream when the server stops.
pub fn closing_status() -> tonic::Status {
    tonic::Status::unavailable(
        "the server is shutting down; reconnect (another replica will serve)",
    )
}
