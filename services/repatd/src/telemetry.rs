//! Telemetry: a `tracing` span and a log line for every RPC, and
//! OpenTelemetry traces and metrics exported over OTLP (gRPC) when an
//! endpoint is configured.
//!
//! Each server holds its own tracer and meter providers, and the RPC layer
//! starts spans with the tracer it holds; nothing is installed globally (no
//! global provider, no `tracing` subscriber bridged to OpenTelemetry). The
//! test suite runs many servers in one process, each with its own settings,
//! and global providers would mix their telemetry up (a global subscriber can
//! be installed once only). What that costs: the exported trace has the RPC's
//! server span only, not spans nested inside handlers; the `tracing` span
//! carries the trace id, so log lines still join their trace.
//!
//! Attributes follow the OpenTelemetry semantic conventions for RPC, the
//! same in spans and metrics: `rpc.system` = `grpc`, `rpc.service` (e.g.
//! `repat.v1.PartyService`), `rpc.method` (e.g. `CreateParty`) and
//! `rpc.grpc.status_code` as the integer code.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{
    Span as _, SpanKind, Status as SpanStatus, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Key, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::resource::EnvResourceDetector;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use repat_api::observe::{self, CallIds};
use repat_store::Repository;
use tonic::Code;
use tonic::codegen::http::{HeaderMap, Request, Response};
use tonic::codegen::{Body as HttpBody, Bytes, Service};
use tracing::Instrument;

/// Where and how often telemetry is exported.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// OTLP/gRPC endpoint, e.g. `http://collector:4317`; nothing is exported
    /// without one.
    pub endpoint: Option<String>,
    /// `service.name`; see [`service_name`].
    pub service_name: Option<String>,
    /// How often metrics are pushed.
    pub metrics_interval: Duration,
}

/// The service's name: the configured one (`OTEL_SERVICE_NAME`), else a
/// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else `repatd`, the order
/// the OpenTelemetry specification gives.
pub fn service_name(configured: Option<&str>) -> String {
    if let Some(name) = configured {
        return name.to_string();
    }
    let from_attributes = Resource::builder_empty()
        .with_detector(Box::new(EnvResourceDetector::new()))
        .build();
    from_attributes
        .get(&Key::from_static_str("service.name"))
        .map(|v| v.to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "repatd".to_string())
}

/// One server's telemetry: providers (kept to flush them at shutdown) and
/// the instruments the RPC layer and the services record into.
#[derive(Clone)]
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    tracer: Arc<SdkTracer>,
    instruments: Arc<Instruments>,
}

struct Instruments {
    rpc_duration: Histogram<f64>,
    earnings: Counter<u64>,
    steps: Counter<u64>,
    step_wait: Histogram<f64>,
}

impl Telemetry {
    /// Builds the providers; with an endpoint, spans are batched and metrics
    /// pushed to it. Must be called inside the Tokio runtime (the exporter's
    /// gRPC channel runs on it).
    pub fn new(options: &ExportOptions, repo: Arc<dyn Repository>) -> anyhow::Result<Telemetry> {
        let name = service_name(options.service_name.as_deref());
        let resource = Resource::builder().with_service_name(name.clone()).build();
        let mut traces = SdkTracerProvider::builder().with_resource(resource.clone());
        let mut metrics = SdkMeterProvider::builder().with_resource(resource);
        if let Some(endpoint) = &options.endpoint {
            let collector = Arc::new(Collector::new(endpoint));
            let spans = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()?;
            traces = traces.with_batch_exporter(Watched {
                inner: spans,
                collector: collector.clone(),
                signal: "traces",
            });
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()?;
            let exporter = Watched {
                inner: exporter,
                collector,
                signal: "metrics",
            };
            metrics = metrics.with_reader(
                PeriodicReader::builder(exporter)
                    .with_interval(options.metrics_interval)
                    .build(),
            );
            tracing::info!(%endpoint, service_name = %name, metrics_interval_secs = options.metrics_interval.as_secs(), "exporting traces and metrics over OTLP");
        }
        let tracer_provider = traces.build();
        let meter_provider = metrics.build();
        let meter = meter_provider.meter("repatd");
        let instruments = Instruments::new(&meter, repo);
        Ok(Telemetry {
            tracer: Arc::new(tracer_provider.tracer("repatd")),
            tracer_provider,
            meter_provider,
            instruments: Arc::new(instruments),
        })
    }

    /// The tower layer that observes every RPC.
    pub fn layer(&self) -> RpcLayer {
        RpcLayer {
            telemetry: self.clone(),
        }
    }

    /// The observer the services report ingestion to.
    pub fn observer(&self) -> Arc<dyn repat_api::observe::Observer> {
        Arc::new(self.clone())
    }

    /// Exports what is still buffered and stops the exporters. Blocks (the
    /// SDK's exporters run on threads of their own), so it runs off the
    /// async workers.
    pub async fn shutdown(self) {
        let done = tokio::task::spawn_blocking(move || {
            if let Err(e) = self.tracer_provider.shutdown() {
                tracing::warn!(error = %e, "flushing traces");
            }
            if let Err(e) = self.meter_provider.shutdown() {
                tracing::warn!(error = %e, "flushing metrics");
            }
        });
        let _ = done.await;
    }
}

/// While the collector keeps failing, how often that is logged again.
const UNREACHABLE_LOG_EVERY: Duration = Duration::from_secs(60);

/// Whether exports reach the collector. The SDK drops a failed export
/// silently; this logs the first failure at once, then at most once every
/// [`UNREACHABLE_LOG_EVERY`] while failures last, and the recovery.
#[derive(Debug)]
struct Collector {
    endpoint: String,
    state: Mutex<ExportState>,
}

/// What the exports have done lately.
#[derive(Debug, Default, PartialEq)]
struct ExportState {
    /// Failures since the last success (or the last log line).
    failures: u64,
    /// When the failures were last logged; `None` while exports succeed.
    logged_at: Option<Instant>,
}

/// What to log after an export.
#[derive(Debug, PartialEq)]
enum ExportEvent {
    /// The collector is unreachable: `failures` exports dropped since the
    /// last line.
    Unreachable { failures: u64 },
    /// Exports succeed again.
    Recovered,
}

impl ExportState {
    fn after(&mut self, ok: bool, now: Instant) -> Option<ExportEvent> {
        if ok {
            self.failures = 0;
            return self.logged_at.take().map(|_| ExportEvent::Recovered);
        }
        self.failures += 1;
        match self.logged_at {
            Some(at) if now.duration_since(at) < UNREACHABLE_LOG_EVERY => None,
            _ => {
                self.logged_at = Some(now);
                Some(ExportEvent::Unreachable {
                    failures: std::mem::take(&mut self.failures),
                })
            }
        }
    }
}

impl Collector {
    fn new(endpoint: &str) -> Collector {
        Collector {
            endpoint: endpoint.to_string(),
            state: Mutex::default(),
        }
    }

    fn record(&self, signal: &'static str, result: &OTelSdkResult) {
        let event = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .after(result.is_ok(), Instant::now());
        match (event, result) {
            (Some(ExportEvent::Unreachable { failures }), Err(e)) => {
                tracing::warn!(endpoint = %self.endpoint, signal, failed_exports = failures, error = %e, "OTLP collector unreachable: telemetry is dropped until it answers")
            }
            (Some(ExportEvent::Recovered), _) => {
                tracing::info!(endpoint = %self.endpoint, signal, "OTLP collector reachable again")
            }
            _ => {}
        }
    }
}

/// An exporter whose every result is reported to the [`Collector`].
#[derive(Debug)]
struct Watched<E> {
    inner: E,
    collector: Arc<Collector>,
    signal: &'static str,
}

impl<E: SpanExporter> SpanExporter for Watched<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.collector.record(self.signal, &result);
        result
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Watched<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.collector.record(self.signal, &result);
        result
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// Latency buckets in seconds, from a cached read to a slow batch.
const RPC_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Step waits in seconds: a minute to a quarter (payments take days; the
/// incentive steps months).
const WAIT_BUCKETS: [f64; 12] = [
    60.0,
    600.0,
    3600.0,
    6.0 * 3600.0,
    86_400.0,
    2.0 * 86_400.0,
    3.0 * 86_400.0,
    7.0 * 86_400.0,
    14.0 * 86_400.0,
    30.0 * 86_400.0,
    60.0 * 86_400.0,
    120.0 * 86_400.0,
];

impl Instruments {
    fn new(meter: &Meter, repo: Arc<dyn Repository>) -> Instruments {
        // Pool saturation: connections in use and idle against the most the
        // pool opens; in_use at max means requests queue for a connection.
        let pool = repo.clone();
        meter
            .u64_observable_gauge("db.client.connection.count")
            .with_description("Database connections by state")
            .with_unit("{connection}")
            .with_callback(move |o| {
                let u = pool.pool_usage();
                o.observe(
                    u64::from(u.in_use),
                    &[KeyValue::new("db.client.connection.state", "used")],
                );
                o.observe(
                    u64::from(u.idle),
                    &[KeyValue::new("db.client.connection.state", "idle")],
                );
            })
            .build();
        meter
            .u64_observable_gauge("db.client.connection.max")
            .with_description("Most database connections the pool opens")
            .with_unit("{connection}")
            .with_callback(move |o| o.observe(u64::from(repo.pool_usage().max), &[]))
            .build();
        Instruments {
            rpc_duration: meter
                .f64_histogram("rpc.server.duration")
                .with_description("Time to answer an RPC, by method and status code")
                .with_unit("s")
                .with_boundaries(RPC_BUCKETS.to_vec())
                .build(),
            earnings: meter
                .u64_counter("repat.earnings.recorded")
                .with_description("Earnings acknowledged")
                .with_unit("{earning}")
                .build(),
            steps: meter
                .u64_counter("repat.steps.recorded")
                .with_description("New journey steps stored, by kind")
                .with_unit("{step}")
                .build(),
            step_wait: meter
                .f64_histogram("repat.step.wait")
                .with_description(
                    "Time from the previous step of the journey to this one, by step kind",
                )
                .with_unit("s")
                .with_boundaries(WAIT_BUCKETS.to_vec())
                .build(),
        }
    }
}

impl repat_api::observe::Observer for Telemetry {
    fn earning_recorded(&self) {
        self.instruments.earnings.add(1, &[]);
    }

    fn step_recorded(&self, kind: &'static str, wait: Option<Duration>) {
        let kind = [KeyValue::new("repat.step.kind", kind)];
        self.instruments.steps.add(1, &kind);
        if let Some(wait) = wait {
            self.instruments.step_wait.record(wait.as_secs_f64(), &kind);
        }
    }
}

/// Wraps the server's services with [`RpcService`].
#[derive(Clone)]
pub struct RpcLayer {
    telemetry: Telemetry,
}

impl<S> tower::Layer<S> for RpcLayer {
    type Service = RpcService<S>;
    fn layer(&self, inner: S) -> RpcService<S> {
        RpcService {
            inner,
            telemetry: self.telemetry.clone(),
        }
    }
}

/// For each RPC: an OpenTelemetry server span (a child of the caller's
/// `traceparent`, if any), a `tracing` span around the handler with the
/// method, request id, caller, status code and latency, a log line at the
/// end, and the latency histogram. The call ends when the response body
/// does (its trailers carry the status of a streamed response), or when it
/// is dropped unfinished (deadline, client gone).
#[derive(Clone)]
pub struct RpcService<S> {
    inner: S,
    telemetry: Telemetry,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> Service<Request<B>> for RpcService<S>
where
    S: Service<Request<B>, Response = Response<tonic::body::Body>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send,
{
    type Response = Response<ObservedBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = request.uri().path().trim_start_matches('/').to_string();
        // Probes every few seconds would drown everything else.
        if method.starts_with("grpc.health.v1.") {
            let future = self.inner.call(request);
            return Box::pin(async move {
                future.await.map(|r| {
                    r.map(|body| ObservedBody {
                        inner: body,
                        call: None,
                    })
                })
            });
        }
        let call = Call::start(&self.telemetry, method, request.headers());
        let span = call.log_span.clone();
        let ids = call.ids.clone();
        let future =
            span.in_scope(|| observe::in_call_sync(ids.clone(), || self.inner.call(request)));
        let future = observe::in_call(ids, future);
        Box::pin(
            async move {
                // Refusals by the layers inside (load shedding) come as
                // errors: answer them here with their status, so the call
                // is observed with its code.
                let response = match future.await {
                    Ok(r) => r,
                    Err(e) => tonic::Status::from_error(e.into()).into_http(),
                };
                let mut call = call;
                if let Some(code) = header_code(response.headers()) {
                    call.code = Some(code);
                }
                Ok(response.map(|body| ObservedBody {
                    inner: body,
                    call: Some(call),
                }))
            }
            .instrument(span),
        )
    }
}

/// One RPC being observed; finished exactly once, when dropped.
pub struct Call {
    telemetry: Telemetry,
    /// `rpc.service` and `rpc.method` of the semantic conventions.
    service: String,
    name: String,
    started: Instant,
    otel_span: opentelemetry_sdk::trace::Span,
    log_span: tracing::Span,
    ids: Arc<CallIds>,
    code: Option<Code>,
}

impl Call {
    fn start(telemetry: &Telemetry, method: String, headers: &HeaderMap) -> Call {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        let (service, name) = method.split_once('/').unwrap_or((method.as_str(), ""));
        let (service, name) = (service.to_string(), name.to_string());
        let otel_span = telemetry
            .tracer
            .span_builder(method.clone())
            .with_kind(SpanKind::Server)
            .with_attributes(rpc_attributes(&service, &name))
            .start_with_context(telemetry.tracer.as_ref(), &parent);
        let trace_id = otel_span.span_context().trace_id().to_string();
        let log_span = tracing::info_span!(
            "rpc",
            method = %method,
            trace_id = %trace_id,
            request_id = tracing::field::Empty,
            subject = tracing::field::Empty,
            code = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        Call {
            telemetry: telemetry.clone(),
            service,
            name,
            started: Instant::now(),
            otel_span,
            log_span,
            ids: Arc::default(),
            code: None,
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // No status at all: the call was cut short before it ended.
        let code = self.code.unwrap_or(Code::Cancelled);
        let elapsed = self.started.elapsed();
        let code_name = code_name(code);
        self.otel_span.set_attribute(status_code(code));
        if let Some(request_id) = self.ids.request_id.get() {
            self.otel_span
                .set_attribute(KeyValue::new("repat.request_id", request_id.clone()));
        }
        if let Some(subject) = self.ids.subject.get() {
            self.otel_span
                .set_attribute(KeyValue::new("enduser.id", subject.clone()));
        }
        if is_server_error(code) {
            self.otel_span.set_status(SpanStatus::error(code_name));
        }
        self.otel_span.end();
        let mut attributes = rpc_attributes(&self.service, &self.name).to_vec();
        attributes.push(status_code(code));
        self.telemetry
            .instruments
            .rpc_duration
            .record(elapsed.as_secs_f64(), &attributes);
        let latency_ms = elapsed.as_micros() as f64 / 1000.0;
        self.log_span
            .record("code", code_name)
            .record("latency_ms", latency_ms);
        let _in = self.log_span.enter();
        if is_server_error(code) {
            tracing::warn!("rpc failed");
        } else {
            tracing::info!("rpc");
        }
    }
}

/// What identifies an RPC, in spans and metrics alike.
fn rpc_attributes(service: &str, method: &str) -> [KeyValue; 3] {
    [
        KeyValue::new("rpc.system", "grpc"),
        KeyValue::new("rpc.service", service.to_string()),
        KeyValue::new("rpc.method", method.to_string()),
    ]
}

/// `rpc.grpc.status_code`: the integer code, as the conventions say.
fn status_code(code: Code) -> KeyValue {
    KeyValue::new("rpc.grpc.status_code", code as i64)
}

/// Codes that say the server, not the request, is at fault.
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
            | Code::DeadlineExceeded
            | Code::Unimplemented
    )
}

/// The status in the response headers (a response that is only a status).
fn header_code(headers: &HeaderMap) -> Option<Code> {
    let value = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(Code::from_i32(value))
}

/// The gRPC name of a code, e.g. `UNAVAILABLE`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The response body, watched for its trailers' status; the call ends with
/// it.
pub struct ObservedBody {
    inner: tonic::body::Body,
    call: Option<Call>,
}

impl HttpBody for ObservedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(trailers), Some(call)) = (frame.trailers_ref(), this.call.as_mut())
                    && let Some(code) = header_code(trailers)
                {
                    call.code = Some(code);
                }
            }
            Poll::Ready(None) => {
                if let Some(call) = this.call.as_mut() {
                    call.code.get_or_insert(Code::Ok);
                }
                this.call = None;
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(call) = this.call.as_mut() {
                    call.code.get_or_insert(Code::Internal);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_collector_is_logged_once_a_minute_and_its_return_once() {
        let mut s = ExportState::default();
        let t0 = Instant::now();
        assert_eq!(
            s.after(true, t0),
            None,
            "nothing to say while exports succeed"
        );
        assert_eq!(
            s.after(false, t0),
            Some(ExportEvent::Unreachable { failures: 1 })
        );
        assert_eq!(s.after(false, t0 + Duration::from_secs(10)), None);
        assert_eq!(s.after(false, t0 + Duration::from_secs(59)), None);
        assert_eq!(
            s.after(false, t0 + Duration::from_secs(61)),
            Some(ExportEvent::Unreachable { failures: 3 }),
            "the failures since the last line"
        );
        assert_eq!(
            s.after(true, t0 + Duration::from_secs(62)),
            Some(ExportEvent::Recovered)
        );
        assert_eq!(s.after(true, t0 + Duration::from_secs(63)), None);
        assert_eq!(
            s.after(false, t0 + Duration::from_secs(64)),
            Some(ExportEvent::Unreachable { failures: 1 }),
            "a new outage is logged at once"
        );
    }

    #[test]
    fn the_configured_service_name_wins() {
        assert_eq!(service_name(Some("repatd-eu")), "repatd-eu");
    }
}
