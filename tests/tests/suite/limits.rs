use futures::StreamExt;
use repat_proto::v1 as pb;
use repat_tests::fixtures::{firm, rid, step};
use repat_tests::{Backend, TestApp, spawn_with};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Far more requests than the server takes at once: the excess is shed at
/// once with RESOURCE_EXHAUSTED, nothing hangs, and the server stays healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_shed_and_the_server_stays_healthy() {
    let app = spawn_with(Backend::Sqlite, |s| s.max_concurrent_requests = 2)
        .await
        .unwrap();
    let calls = (0..200).map(|_| {
        let mut c = app.parties();
        async move {
            c.create_party(pb::CreatePartyRequest {
                request_id: rid(),
                party: Some(firm("Flood Ltd")),
            })
            .await
        }
    });
    let results = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        futures::future::join_all(calls),
    )
    .await
    .expect("no call hangs");
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let shed = results
        .iter()
        .filter(|r| matches!(r, Err(s) if s.code() == Code::ResourceExhausted))
        .count();
    assert_eq!(
        ok + shed,
        200,
        "every call either served or shed: {:?}",
        results
            .iter()
            .find(|r| matches!(r, Err(s) if s.code() != Code::ResourceExhausted))
    );
    assert!(shed > 0 && ok > 0, "ok {ok}, shed {shed}");
    let status = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    app.parties()
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(firm("After Ltd")),
        })
        .await
        .expect("served after the flood");
    app.finish().await;
}

/// One caller beyond its rate gets RESOURCE_EXHAUSTED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_beyond_its_rate_is_refused() {
    let app = spawn_with(Backend::Sqlite, |s| {
        s.rate_limit_per_second = 5;
        s.rate_limit_burst = 5;
    })
    .await
    .unwrap();
    let mut codes = Vec::new();
    for _ in 0..20 {
        codes.push(
            app.parties()
                .list_parties(pb::ListPartiesRequest::default())
                .await
                .map(|_| Code::Ok)
                .unwrap_or_else(|s| s.code()),
        );
    }
    assert!(codes.iter().filter(|c| **c == Code::Ok).count() >= 5);
    assert!(codes.contains(&Code::ResourceExhausted), "{codes:?}");
    app.finish().await;
}

/// A message larger than the limit is refused, not buffered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_refused() {
    let app = spawn_with(Backend::Sqlite, |s| s.max_message_bytes = 16 * 1024)
        .await
        .unwrap();
    let mut big = firm("Big Ltd");
    big.legal_name = "x".repeat(64 * 1024);
    let err = app
        .parties()
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(big),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("too large"), "{}", err.message());
    app.finish().await;
}

/// A journey takes at most `--max-steps-per-journey` steps: one more is
/// FAILED_PRECONDITION naming the limit, in a batch that item alone; a
/// retry of a stored step still answers as before. The ordering rules
/// still see every recorded step, read as each kind's extremes.
async fn a_journey_takes_at_most_its_limit_of_steps(backend: Backend) {
    let Some(app) = spawn_with(backend, |s| s.max_steps_per_journey = 5).await else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    let party = app.create_firm("Bounded Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-LIMIT-1", "1000.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    use pb::StepKind::*;
    let first = pb::RecordStepRequest {
        request_id: rid(),
        step: Some(step(&r.id, PaymentInitiated, "2024-03-01T09:00:00Z")),
    };
    app.repatriations()
        .record_step(first.clone())
        .await
        .expect("first step");
    // Hops out of order: the latest one recorded first.
    for at in [
        "2024-03-01T15:00:00Z",
        "2024-03-01T10:00:00Z",
        "2024-03-01T12:00:00Z",
    ] {
        app.record(step(&r.id, IntermediaryProcessed, at))
            .await
            .expect("hop");
    }
    // Before the latest hop, though after the others: refused.
    let early = app
        .record(step(&r.id, NostroCredited, "2024-03-01T14:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");
    assert!(
        early.message().contains("2024-03-01T15:00:00Z"),
        "{}",
        early.message()
    );
    // A repeat of the initiation: refused.
    let again = app
        .record(step(&r.id, PaymentInitiated, "2024-03-01T09:30:00Z"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    // The fifth step fills the journey; in a batch the sixth fails alone.
    let batch = vec![
        pb::RecordStepRequest {
            request_id: rid(),
            step: Some(step(&r.id, NostroCredited, "2024-03-01T16:00:00Z")),
        },
        pb::RecordStepRequest {
            request_id: rid(),
            step: Some(step(&r.id, BeneficiaryCredited, "2024-03-01T17:00:00Z")),
        },
    ];
    let results: Vec<pb::BatchItemResult> = app
        .repatriations()
        .batch_record_steps(futures::stream::iter(batch))
        .await
        .unwrap()
        .into_inner()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(results[0].code, Code::Ok as i32, "{results:?}");
    assert_eq!(
        results[1].code,
        Code::FailedPrecondition as i32,
        "{results:?}"
    );
    assert!(
        results[1].message.contains("max_steps_per_journey is 5")
            && results[1].message.contains("already has 5 steps"),
        "{}",
        results[1].message
    );
    let full = app
        .record(step(&r.id, IntermediaryProcessed, "2024-03-01T15:30:00Z"))
        .await
        .unwrap_err();
    assert_eq!(full.code(), Code::FailedPrecondition, "{full:?}");
    // A retry of a step stored before the journey filled is answered as then.
    let retried = app
        .repatriations()
        .record_step(first)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried.step.unwrap().kind, PaymentInitiated as i32);

    let got = app
        .repatriations()
        .get_repatriation(pb::GetRepatriationRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((got.step_count, got.timeline.len()), (5, 5));
    assert_eq!(got.status, pb::RepatriationStatus::InTransit as i32);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_takes_at_most_its_limit_of_steps_sqlite() {
    a_journey_takes_at_most_its_limit_of_steps(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_takes_at_most_its_limit_of_steps_postgres() {
    a_journey_takes_at_most_its_limit_of_steps(Backend::Postgres).await;
}

repat_tests::on_both_backends!(every_list_in_a_request_is_capped);

/// A list beyond its cap is INVALID_ARGUMENT naming the field and the cap.
async fn every_list_in_a_request_is_capped(app: &TestApp) {
    let party = app.create_firm("Listed Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-LIST-1", "1000.00", "USD")
        .await;
    let err = app
        .repatriations()
        .create_repatriation(pb::CreateRepatriationRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            allocations: vec![
                pb::Allocation {
                    earning_id: e.id.clone(),
                    amount: None,
                };
                101
            ],
            channel: pb::Channel::Bank as i32,
            payer_country: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("allocations") && err.message().contains("at most 100"),
        "{}",
        err.message()
    );
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let mut s = step(
        &r.id,
        pb::StepKind::IntermediaryProcessed,
        "2024-03-01T10:00:00Z",
    );
    s.fees = vec![
        pb::Fee {
            amount: repat_tests::fixtures::money("1.00", "USD"),
            charged_by: "CHASUS33".into(),
            kind: "CORRESPONDENT".into(),
        };
        21
    ];
    let err = app.record(s).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("step.fees") && err.message().contains("at most 20"),
        "{}",
        err.message()
    );
    let err = app
        .events()
        .list_events(pb::ListEventsRequest {
            types: vec!["step.recorded".into(); 65],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("at most 64"), "{}", err.message());
}
