//! Telemetry leaves the process: an OTLP receiver inside the test gets the
//! spans and metrics of real RPCs made by a real gRPC client, and the server
//! span continues the caller's W3C trace.
//!
//! Each server exports through providers of its own (nothing global), so
//! this runs beside the other tests in the one test binary.

use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use repat_proto::v1 as pb;
use repat_tests::fixtures::{firm, rid, step};
use repat_tests::otlp::{Receiver, attribute, int_attribute};
use repat_tests::{Backend, spawn_with};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    spans_and_metrics_reach_the_collector(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    spans_and_metrics_reach_the_collector(Backend::Postgres).await;
}

async fn spans_and_metrics_reach_the_collector(backend: Backend) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn_with(backend, |s| {
        s.otlp_endpoint = Some(receiver.endpoint());
        s.otel_service_name = Some("repatd-under-test".into());
        s.otlp_metrics_interval_secs = 1;
    })
    .await
    else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };

    // A call inside the caller's trace.
    let request_id = rid();
    let mut create = tonic::Request::new(pb::CreatePartyRequest {
        request_id: request_id.clone(),
        party: Some(firm("Padma Analytics")),
    });
    create.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01")
            .parse()
            .unwrap(),
    );
    let party = app
        .parties()
        .create_party(create)
        .await
        .expect("create party")
        .into_inner();
    // A call that fails, without a trace of its own.
    let missing = app
        .parties()
        .get_party(pb::GetPartyRequest {
            id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    // Steps a day apart, for the step metrics.
    let earning = app
        .create_earning(&party.id, "INV-OTLP-1", "500.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&earning.id]).await;
    app.record(step(
        &r.id,
        pb::StepKind::PaymentInitiated,
        "2024-03-04T09:00:00Z",
    ))
    .await
    .expect("initiated");
    app.record(step(
        &r.id,
        pb::StepKind::NostroCredited,
        "2024-03-05T09:00:00Z",
    ))
    .await
    .expect("credited");

    // Stopping flushes what is buffered.
    app.finish().await;

    let spans = receiver.spans();
    let created = spans
        .iter()
        .find(|s| s.name == "repat.v1.PartyService/CreateParty")
        .expect("the CreateParty span was exported");
    assert_eq!(
        hex(&created.trace_id),
        TRACE_ID,
        "the server span joins the caller's trace"
    );
    assert_eq!(
        hex(&created.parent_span_id),
        PARENT_SPAN_ID,
        "and is the child of the caller's span"
    );
    assert_eq!(created.kind, SpanKind::Server as i32);
    assert_eq!(
        attribute(&created.attributes, "rpc.system").as_deref(),
        Some("grpc")
    );
    assert_eq!(
        attribute(&created.attributes, "rpc.service").as_deref(),
        Some("repat.v1.PartyService")
    );
    assert_eq!(
        attribute(&created.attributes, "rpc.method").as_deref(),
        Some("CreateParty")
    );
    assert_eq!(
        int_attribute(&created.attributes, "rpc.grpc.status_code"),
        Some(0),
        "the code as an integer"
    );
    assert_eq!(
        attribute(&created.attributes, "repat.request_id").as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(
        attribute(&created.attributes, "enduser.id").as_deref(),
        Some("local-admin")
    );

    let got = spans
        .iter()
        .find(|s| s.name == "repat.v1.PartyService/GetParty")
        .expect("the GetParty span was exported");
    assert_eq!(
        int_attribute(&got.attributes, "rpc.grpc.status_code"),
        Some(5),
        "NOT_FOUND"
    );
    assert_ne!(
        hex(&got.trace_id),
        TRACE_ID,
        "a call without a traceparent starts a trace of its own"
    );
    assert!(got.parent_span_id.is_empty());
    assert!(
        spans.iter().all(|s| !s.name.starts_with("grpc.health")),
        "health probes are not traced"
    );

    let metrics = receiver.metrics();
    let points = |name: &str| -> Vec<(
        Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
        f64,
        u64,
    )> {
        metrics
            .iter()
            .filter(|m| m.name == name)
            .flat_map(|m| match &m.data {
                Some(Data::Histogram(h)) => h
                    .data_points
                    .iter()
                    .map(|p| (p.attributes.clone(), p.sum.unwrap_or_default(), p.count))
                    .collect::<Vec<_>>(),
                Some(Data::Sum(s)) => s
                    .data_points
                    .iter()
                    .map(|p| (p.attributes.clone(), value(&p.value), 0))
                    .collect(),
                Some(Data::Gauge(g)) => g
                    .data_points
                    .iter()
                    .map(|p| (p.attributes.clone(), value(&p.value), 0))
                    .collect(),
                _ => vec![],
            })
            .collect()
    };
    // The same attributes as the spans, spelt the same way.
    let latency = points("rpc.server.duration");
    let has = |method: &str, code: i64| {
        latency.iter().any(|(a, _, count)| {
            attribute(a, "rpc.system").as_deref() == Some("grpc")
                && attribute(a, "rpc.service").as_deref() == Some("repat.v1.PartyService")
                && attribute(a, "rpc.method").as_deref() == Some(method)
                && int_attribute(a, "rpc.grpc.status_code") == Some(code)
                && *count >= 1
        })
    };
    assert!(
        has("CreateParty", 0),
        "latency by method and code: {latency:?}"
    );
    assert!(
        has("GetParty", 5),
        "latency by method and code (NOT_FOUND): {latency:?}"
    );
    assert_eq!(
        receiver.service_names(),
        ["repatd-under-test"],
        "OTEL_SERVICE_NAME names the service"
    );

    let steps = points("repat.steps.recorded");
    let of_kind = |points: &[(Vec<_>, f64, u64)], kind: &str| {
        points
            .iter()
            .filter(|(a, _, _)| attribute(a, "repat.step.kind").as_deref() == Some(kind))
            .map(|(_, v, _)| *v)
            .fold(0.0, f64::max)
    };
    assert_eq!(of_kind(&steps, "PAYMENT_INITIATED"), 1.0);
    assert_eq!(of_kind(&steps, "NOSTRO_CREDITED"), 1.0);
    let waits = points("repat.step.wait");
    assert_eq!(
        of_kind(&waits, "NOSTRO_CREDITED"),
        86_400.0,
        "the wait since the step before, in seconds"
    );
    assert!(
        points("repat.earnings.recorded")
            .iter()
            .any(|(_, v, _)| *v >= 1.0)
    );
    assert!(
        !points("db.client.connection.count").is_empty(),
        "pool use is reported"
    );
    assert!(
        points("db.client.connection.max")
            .iter()
            .any(|(_, v, _)| *v == 16.0)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn value(v: &Option<opentelemetry_proto::tonic::metrics::v1::number_data_point::Value>) -> f64 {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
    match v {
        Some(Value::AsDouble(d)) => *d,
        Some(Value::AsInt(i)) => *i as f64,
        None => 0.0,
    }
}
