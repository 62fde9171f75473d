//! Panics, should one happen, are incidents: logged with an id that the
//! client receives in its INTERNAL status, so an operator can find the log
//! line a caller reports.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tonic::Status;
use uuid::Uuid;

/// Logs a panic's payload under a new incident id and returns the id.
pub fn incident(payload: &(dyn Any + Send)) -> Uuid {
    let id = Uuid::new_v4();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    tracing::error!(incident = %id, panic = %message, "a request panicked; answered INTERNAL");
    id
}

/// The status a client receives for an incident.
pub fn incident_status(payload: &(dyn Any + Send)) -> Status {
    Status::internal(format!(
        "internal error, incident {}; it has been logged",
        incident(payload)
    ))
}

/// Spawns the task that feeds a response stream: a panic in it ends the
/// stream with INTERNAL naming the incident, never as if it had completed.
pub fn spawn_stream_task<T, Fut>(tx: tokio::sync::mpsc::Sender<Result<T, Status>>, task: Fut)
where
    T: Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(payload) = AssertUnwindSafe(task).catch_unwind().await {
            let _ = tx.send(Err(incident_status(payload.as_ref()))).await;
        }
    });
}
