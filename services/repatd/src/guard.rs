//! The layers that keep the server standing: admission (a bound on requests
//! in flight that probes never count against) and the panic guard (a panic
//! in a handler is one request's INTERNAL, never the server's end).

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::codegen::http;
use tower::{Layer, Service};

/// Paths that answer whatever the load: Kubernetes restarts a replica whose
/// liveness probe fails, so shedding a probe would turn a spike into an
/// outage. Health checks are cheap (no database access) and unauthenticated.
const PROBE_PREFIX: &str = "/grpc.health.v1.Health/";
/// Server reflection needs no database either.
const REFLECTION_PREFIX: &str = "/grpc.reflection.";

/// Admits requests: refuses those beyond `limit` in flight with
/// RESOURCE_EXHAUSTED at once (never queued without bound), those that
/// need the database while it is known down with UNAVAILABLE at once (the
/// breaker, fed by the readiness check), and answers DEADLINE_EXCEEDED for
/// a handler that outlives `deadline`. Health probes always pass.
#[derive(Clone)]
pub struct AdmissionLayer {
    permits: Arc<Semaphore>,
    limit: usize,
    deadline: Duration,
    database_up: Arc<AtomicBool>,
}

impl AdmissionLayer {
    pub fn new(limit: usize, deadline: Duration, database_up: Arc<AtomicBool>) -> Self {
        AdmissionLayer {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            deadline,
            database_up,
        }
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admission<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admission {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Admission<S> {
    inner: S,
    layer: AdmissionLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// An answer given without calling the handler.
fn refuse<E: Send + 'static>(
    status: tonic::Status,
) -> BoxFuture<http::Response<tonic::body::Body>, E> {
    Box::pin(async move { Ok(status.into_http()) })
}

impl<S, B, RB> Service<http::Request<B>> for Admission<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: http_body::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    RB::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let permit: Option<OwnedSemaphorePermit> = if path.starts_with(PROBE_PREFIX) {
            None
        } else {
            if !path.starts_with(REFLECTION_PREFIX)
                && !self.layer.database_up.load(Ordering::Relaxed)
            {
                return refuse(tonic::Status::unavailable(
                    "the database is unreachable (readiness is NOT_SERVING); retry with backoff",
                ));
            }
            match self.layer.permits.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    return refuse(tonic::Status::resource_exhausted(format!(
                        "the server has {} requests in flight, its limit; retry with backoff",
                        self.layer.limit
                    )));
                }
            }
        };
        let deadline = self.layer.deadline;
        let call = self.inner.call(request);
        Box::pin(async move {
            // The permit is held until the handler answered; a stream's
            // body is then bounded by the per-caller stream limits.
            let response = tokio::time::timeout(deadline, call).await;
            drop(permit);
            match response {
                Ok(response) => {
                    response.map(|r| oversize_is_exhausted(r.map(tonic::body::Body::new)))
                }
                // Said as the deadline it is, so clients neither retry a
                // cancelled call blindly nor mistake it for their own.
                Err(_) => Ok(tonic::Status::deadline_exceeded(format!(
                    "the request outlived the server's deadline of {} s",
                    deadline.as_secs()
                ))
                .into_http()),
            }
        })
    }
}

/// A request larger than the server takes is a resource the client asked
/// too much of (RESOURCE_EXHAUSTED, as gRPC clients report their own
/// limits), not OUT_OF_RANGE as tonic answers.
fn oversize_is_exhausted(
    mut response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    let headers = response.headers_mut();
    let oversize = headers.get("grpc-status").is_some_and(|s| s == "11")
        && headers
            .get("grpc-message")
            .and_then(|m| m.to_str().ok())
            .is_some_and(|m| {
                m.contains("message%20length%20too%20large")
                    || m.contains("message length too large")
            });
    if oversize {
        headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}

/// How a panic is answered.
type PanicAnswer = fn(Box<dyn Any + Send + 'static>) -> http::Response<tonic::body::Body>;

/// The panic guard: a panic while a request is handled is logged with an
/// incident id and answered INTERNAL naming that id; the server goes on.
pub fn panic_guard() -> tower_http::catch_panic::CatchPanicLayer<PanicAnswer> {
    tower_http::catch_panic::CatchPanicLayer::custom(
        on_panic as fn(Box<dyn Any + Send + 'static>) -> http::Response<tonic::body::Body>,
    )
}

fn on_panic(payload: Box<dyn Any + Send + 'static>) -> http::Response<tonic::body::Body> {
    let incident = repat_api::incident(payload.as_ref());
    tonic::Status::internal(format!(
        "internal error, incident {incident}; it has been logged"
    ))
    .into_http()
}

/// Test builds: a request carrying `x-repat-fault: panic` panics in its
/// handler; one carrying `x-repat-fault: stall` is held for a second before
/// its handler runs (a slow request, to fill the server), `stall-long` for
/// five. See the
/// `fault-injection` feature.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Default)]
pub struct FaultLayer;

#[cfg(feature = "fault-injection")]
pub fn fault_injection() -> FaultLayer {
    FaultLayer
}

#[cfg(feature = "fault-injection")]
impl<S> Layer<S> for FaultLayer {
    type Service = Fault<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Fault { inner }
    }
}

#[cfg(feature = "fault-injection")]
#[derive(Clone)]
pub struct Fault<S> {
    inner: S,
}

#[cfg(feature = "fault-injection")]
impl<S, B> Service<http::Request<B>> for Fault<S>
where
    S: Service<http::Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let fault = request
            .headers()
            .get("x-repat-fault")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut inner = self.inner.clone();
        std::mem::swap(&mut inner, &mut self.inner);
        Box::pin(async move {
            match fault.as_str() {
                "panic" => panic!("fault injected by the request's x-repat-fault metadata"),
                "stall" => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
                "stall-long" => tokio::time::sleep(std::time::Duration::from_secs(5)).await,
                _ => {}
            }
            inner.call(request).await
        })
    }
}

/// Without the `fault-injection` feature: nothing.
#[cfg(not(feature = "fault-injection"))]
pub fn fault_injection() -> tower::layer::util::Identity {
    tower::layer::util::Identity::new()
}
