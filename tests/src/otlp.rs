//! An OTLP receiver: a gRPC server implementing the collector's TraceService
//! and MetricsService (from the published `opentelemetry-proto`
//! definitions) that keeps whatever it is sent, for tests to inspect.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};

#[derive(Default)]
struct Received {
    spans: Mutex<Vec<Span>>,
    metrics: Mutex<Vec<Metric>>,
    /// The `service.name` of every resource sent, each once.
    service_names: Mutex<Vec<String>>,
}

impl Received {
    fn resource(&self, resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>) {
        if let Some(name) = resource.and_then(|r| attribute(&r.attributes, "service.name")) {
            let mut names = self.service_names.lock().unwrap();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
}

/// A receiver listening on an ephemeral loopback port.
pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Received>,
    task: JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let received = Arc::new(Received::default());
        let service = Collector(received.clone());
        let task = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(service.clone()))
                .add_service(MetricsServiceServer::new(service))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await;
        });
        Receiver {
            addr,
            received,
            task,
        }
    }

    /// The endpoint to give the exporter.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn spans(&self) -> Vec<Span> {
        self.received.spans.lock().unwrap().clone()
    }

    pub fn metrics(&self) -> Vec<Metric> {
        self.received.metrics.lock().unwrap().clone()
    }

    /// The `service.name` of the resources spans and metrics came from.
    pub fn service_names(&self) -> Vec<String> {
        self.received.service_names.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Collector(Arc<Received>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let resources = request.into_inner().resource_spans;
        resources
            .iter()
            .for_each(|r| self.0.resource(r.resource.as_ref()));
        let spans = resources
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        self.0.spans.lock().unwrap().extend(spans);
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let resources = request.into_inner().resource_metrics;
        resources
            .iter()
            .for_each(|r| self.0.resource(r.resource.as_ref()));
        let metrics = resources
            .into_iter()
            .flat_map(|r| r.scope_metrics)
            .flat_map(|s| s.metrics);
        self.0.metrics.lock().unwrap().extend(metrics);
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// The value of attribute `key` when it is an integer.
pub fn int_attribute(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attributes.iter().find(|a| a.key == key)?.value.as_ref()? {
        AnyValue {
            value: Some(any_value::Value::IntValue(i)),
        } => Some(*i),
        _ => None,
    }
}

/// The value of attribute `key`, as text.
pub fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|a| a.key == key)?.value.as_ref()?;
    match value {
        AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        } => Some(s.clone()),
        AnyValue {
            value: Some(any_value::Value::IntValue(i)),
        } => Some(i.to_string()),
        AnyValue {
            value: Some(any_value::Value::BoolValue(b)),
        } => Some(b.to_string()),
        AnyValue {
            value: Some(any_value::Value::DoubleValue(d)),
        } => Some(d.to_string()),
        _ => None,
    }
}
