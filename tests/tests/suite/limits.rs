use repat_proto::v1 as pb;
use repat_tests::fixtures::{firm, rid};
use repat_tests::{Backend, spawn_with};
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
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    app.finish().await;
}
