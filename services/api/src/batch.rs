//! Per-item results of the batch (streaming) RPCs.

use std::pin::Pin;

use futures::Stream;
use repat_proto::v1 as pb;
use tonic::Status;
use tonic_types::StatusExt;

use crate::error::ApiError;

/// The result of item `index`: its id on success, else the code, the
/// message and any field violations of the status it would have got alone.
pub fn result(
    index: usize,
    request_id: String,
    outcome: Result<String, ApiError>,
) -> pb::BatchItemResult {
    match outcome {
        Ok(id) => pb::BatchItemResult {
            index: index as i64,
            request_id,
            code: 0,
            message: String::new(),
            field_errors: vec![],
            id,
        },
        Err(e) => {
            let status = Status::from(e);
            let field_errors = status
                .get_details_bad_request()
                .map(|b| {
                    b.field_violations
                        .into_iter()
                        .map(|f| pb::FieldError {
                            field: f.field,
                            description: f.description,
                        })
                        .collect()
                })
                .unwrap_or_default();
            pb::BatchItemResult {
                index: index as i64,
                request_id,
                code: status.code() as i32,
                message: status.message().to_string(),
                field_errors,
                id: String::new(),
            }
        }
    }
}

/// The response stream of a batch RPC.
pub type ResultStream = Pin<Box<dyn Stream<Item = Result<pb::BatchItemResult, Status>> + Send>>;

/// Runs `producer` in a task feeding a bounded channel, and returns the
/// channel as a response stream (back-pressure: the producer waits for the
/// client to read).
pub fn async_stream<F, Fut>(producer: F) -> ResultStream
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<pb::BatchItemResult, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(producer(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
