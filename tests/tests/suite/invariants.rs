//! What the server holds to under races, panics, load and absurd numbers:
//! a client's conflict is a clear code, never INTERNAL; a panic is one
//! request's INTERNAL; probes answer whatever the load; SQLite's one writer
//! never answers "database is locked".

use std::time::Duration;

use repat_proto::v1 as pb;
use repat_tests::fixtures::{date, earning, firm, money, rid, step};
use repat_tests::{Backend, TestApp, on_both_backends, spawn_with};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

on_both_backends!(
    racing_the_same_invoice_reference_is_already_exists,
    sixty_four_writers_are_all_served,
    absurd_figures_are_refused_by_field
);

/// Twenty clients record the same invoice at once with different request
/// ids: one earning is stored, every other client hears ALREADY_EXISTS
/// naming the invoice reference.
async fn racing_the_same_invoice_reference_is_already_exists(app: &TestApp) {
    let party = app.create_firm("Race Ltd").await;
    let calls = (0..20).map(|_| {
        let mut c = app.earnings();
        let e = earning(&party.id, "INV-RACE-1", "100.00", "USD");
        async move {
            c.create_earning(pb::CreateEarningRequest {
                request_id: rid(),
                earning: Some(e),
            })
            .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.code(), Code::AlreadyExists, "{r:?}");
        assert!(r.message().contains("invoice_reference"), "{}", r.message());
    }
    let listed = app
        .earnings()
        .list_earnings(pb::ListEarningsRequest {
            party_id: party.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.earnings.len(), 1);
}

/// Sixty-four clients write at once, each its own earnings, their
/// journeys and a step of each: every write is served, none UNAVAILABLE
/// (SQLite queues them for its one writer, which commits them in groups,
/// rather than answering "database is locked").
async fn sixty_four_writers_are_all_served(app: &TestApp) {
    let party = app.create_firm("Busy Ltd").await;
    let writers = (0..64).map(|w| {
        let (mut earnings, mut journeys) = (app.earnings(), app.repatriations());
        let party_id = party.id.clone();
        async move {
            let mut codes = Vec::new();
            for i in 0..5 {
                let e = earning(&party_id, &format!("INV-{w}-{i}"), "250.00", "USD");
                let stored = earnings
                    .create_earning(pb::CreateEarningRequest {
                        request_id: rid(),
                        earning: Some(e),
                    })
                    .await;
                let stored = match stored {
                    Ok(r) => r.into_inner(),
                    Err(e) => {
                        codes.push((e.code(), e.message().to_string()));
                        continue;
                    }
                };
                let opened = journeys
                    .create_repatriation(pb::CreateRepatriationRequest {
                        request_id: rid(),
                        party_id: party_id.clone(),
                        allocations: vec![pb::Allocation {
                            earning_id: stored.id,
                            amount: None,
                        }],
                        channel: pb::Channel::Bank as i32,
                        ..Default::default()
                    })
                    .await;
                let opened = match opened {
                    Ok(r) => r.into_inner(),
                    Err(e) => {
                        codes.push((e.code(), e.message().to_string()));
                        continue;
                    }
                };
                let recorded = journeys
                    .record_step(pb::RecordStepRequest {
                        request_id: rid(),
                        step: Some(step(
                            &opened.id,
                            pb::StepKind::PaymentInitiated,
                            "2024-03-02T09:00:00Z",
                        )),
                    })
                    .await;
                codes.push(
                    recorded
                        .map(|_| (Code::Ok, String::new()))
                        .unwrap_or_else(|s| (s.code(), s.message().to_string())),
                );
            }
            codes
        }
    });
    let codes: Vec<(Code, String)> = futures::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(codes.len(), 64 * 5);
    let unavailable = codes
        .iter()
        .filter(|(c, _)| *c == Code::Unavailable)
        .count();
    assert_eq!(
        unavailable,
        0,
        "UNAVAILABLE: {:?}",
        codes.iter().find(|(c, _)| *c == Code::Unavailable)
    );
    let failed: Vec<_> = codes.iter().filter(|(c, _)| *c != Code::Ok).collect();
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        failed.first()
    );
}

/// Amounts and rates at the validation limits never reach a panic: a rate
/// beyond any real exchange rate, and a product too large to hold exactly,
/// are INVALID_ARGUMENT naming the field.
async fn absurd_figures_are_refused_by_field(app: &TestApp) {
    let inputs = |amount: &str, rate: &str| pb::SimulateAssessmentRequest {
        inputs: Some(pb::AssessmentInputs {
            party_kind: pb::PartyKind::Firm as i32,
            zone: pb::Zone::None as i32,
            service_category: pb::ServiceCategory::Software as i32,
            formal_channel: true,
            invoice_date: date(2024, 7, 1),
            realized_on: date(2024, 8, 1),
            net_credited: money(amount, "KWD"),
            fx_rate: rate.into(),
            as_of: date(2024, 8, 2),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = app
        .incentives()
        .simulate_assessment(inputs("999999999999999.999", "999999999999999"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("inputs.fx_rate") && err.message().contains("at most 1000000"),
        "{}",
        err.message()
    );

    let err = app
        .incentives()
        .simulate_assessment(inputs("999999999999999.999", "999999.9999999999"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("inputs.net_credited") && err.message().contains("too large"),
        "{}",
        err.message()
    );

    // The largest amount at a realistic rate is computed exactly.
    let ok = app
        .incentives()
        .simulate_assessment(inputs("999999999999999.999", "385.12"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.base.unwrap().amount, "385119999999999999.61");

    // A step's exchange rate is held to the same bound.
    let party = app.create_firm("Rates Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-FX-1", "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let mut s =
        repat_tests::fixtures::step(&r.id, pb::StepKind::ConvertedToBdt, "2024-03-10T04:00:00Z");
    s.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "5000000".into(),
    });
    let err = app
        .repatriations()
        .record_step(pb::RecordStepRequest {
            request_id: rid(),
            step: Some(s),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("step.fx_rate.rate"),
        "{}",
        err.message()
    );
}

/// A panic while handling a request is that request's INTERNAL, naming an
/// incident id; the server goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_one_requests_internal() {
    let app = spawn_with(Backend::Sqlite, |_| {}).await.unwrap();
    let mut request = tonic::Request::new(pb::ListPartiesRequest::default());
    request
        .metadata_mut()
        .insert("x-repat-fault", "panic".parse().unwrap());
    let err = app.parties().list_parties(request).await.unwrap_err();
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    assert!(err.message().contains("incident "), "{}", err.message());
    // The connection and the server are fine.
    app.parties()
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(firm("After Ltd")),
        })
        .await
        .expect("served after the panic");
    let status = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    app.finish().await;
}

/// With the server full, other calls are shed but health and liveness
/// probes answer SERVING, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_when_calls_are_shed() {
    let app = spawn_with(Backend::Sqlite, |s| s.max_concurrent_requests = 2)
        .await
        .unwrap();
    let slow = (0..6).map(|_| {
        let mut c = app.parties();
        async move {
            let mut request = tonic::Request::new(pb::ListPartiesRequest::default());
            request
                .metadata_mut()
                .insert("x-repat-fault", "stall".parse().unwrap());
            c.list_parties(request)
                .await
                .map(|_| Code::Ok)
                .unwrap_or_else(|s| s.code())
        }
    });
    let slow = tokio::spawn(futures::future::join_all(slow));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shed = app
        .parties()
        .list_parties(pb::ListPartiesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(shed.code(), Code::ResourceExhausted, "{shed:?}");
    for service in ["", "liveness", "repat.v1.PartyService"]
        .iter()
        .cycle()
        .take(30)
    {
        let status = HealthClient::new(app.channel.clone())
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await;
        assert_eq!(
            status.expect("a probe is never shed").into_inner().status,
            ServingStatus::Serving as i32
        );
    }
    let codes = slow.await.unwrap();
    assert_eq!(
        codes.iter().filter(|c| **c == Code::Ok).count(),
        2,
        "{codes:?}"
    );
    assert_eq!(
        codes
            .iter()
            .filter(|c| **c == Code::ResourceExhausted)
            .count(),
        4,
        "{codes:?}"
    );
    app.finish().await;
}

/// A handler that outlives the server's deadline is DEADLINE_EXCEEDED (not
/// CANCELLED), and the server goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_the_servers_deadline_is_deadline_exceeded() {
    let app = spawn_with(Backend::Sqlite, |s| s.request_timeout_secs = 1)
        .await
        .unwrap();
    let mut request = tonic::Request::new(pb::ListPartiesRequest::default());
    request
        .metadata_mut()
        .insert("x-repat-fault", "stall-long".parse().unwrap());
    let err = app.parties().list_parties(request).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    app.parties()
        .list_parties(pb::ListPartiesRequest::default())
        .await
        .expect("served after");
    app.finish().await;
}
