use futures::StreamExt;
use repat_proto::v1 as pb;
use repat_tests::fixtures::step;
use repat_tests::{TestApp, on_both_backends};

on_both_backends!(watchers_see_each_change_until_the_end);

async fn next(events: &mut tonic::Streaming<pb::RepatriationEvent>) -> pb::RepatriationEvent {
    tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("event")
}

async fn watchers_see_each_change_until_the_end(app: &TestApp) {
    let party = app.create_firm("Atrai Analytics").await;
    let e = app
        .create_earning(&party.id, "INV-1", "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let mut events = app
        .repatriations()
        .watch_repatriation(pb::WatchRepatriationRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let first = next(&mut events).await.repatriation.unwrap();
    assert_eq!(first.status, pb::RepatriationStatus::AwaitingPayment as i32);
    app.record(step(
        &r.id,
        pb::StepKind::PaymentInitiated,
        "2024-03-01T09:00:00Z",
    ))
    .await
    .unwrap();
    let second = next(&mut events).await.repatriation.unwrap();
    assert_eq!(
        (second.status, second.step_count),
        (pb::RepatriationStatus::InTransit as i32, 1)
    );
    app.record(step(&r.id, pb::StepKind::Rejected, "2024-03-01T10:00:00Z"))
        .await
        .unwrap();
    let last = next(&mut events).await.repatriation.unwrap();
    assert_eq!(last.status, pb::RepatriationStatus::Rejected as i32);
    assert_eq!(last.timeline.len(), 2);
    let end = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
        .await
        .expect("stream ends");
    assert!(end.is_none(), "the stream ends after a terminal status");
}

/// A stopping server ends its open streams with UNAVAILABLE at once, so
/// clients reconnect elsewhere; the streams do not hold the stop for the
/// grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_streams_with_unavailable() {
    let app = repat_tests::spawn_with(repat_tests::Backend::Sqlite, |s| {
        s.shutdown_grace_secs = 120
    })
    .await
    .unwrap();
    let party = app.create_firm("Closing Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-1", "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let mut events = app
        .repatriations()
        .watch_repatriation(pb::WatchRepatriationRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner();
    next(&mut events).await;
    let TestApp { server, .. } = app;
    let stopped = tokio::spawn(server.stop());
    let end = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
        .await
        .expect("the stream ends")
        .expect("with a status");
    assert_eq!(end.unwrap_err().code(), tonic::Code::Unavailable);
    tokio::time::timeout(std::time::Duration::from_secs(30), stopped)
        .await
        .expect("stops well within the grace period")
        .unwrap()
        .unwrap();
}

/// Each caller holds at most its limit of open streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_per_caller_are_capped() {
    let app = repat_tests::spawn_with(repat_tests::Backend::Sqlite, |s| {
        s.max_streams_per_caller = 2
    })
    .await
    .unwrap();
    let party = app.create_firm("Streams Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-1", "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let watch = || {
        let mut c = app.repatriations();
        let id = r.id.clone();
        async move {
            c.watch_repatriation(pb::WatchRepatriationRequest { id })
                .await
                .map(|s| s.into_inner())
        }
    };
    let first = watch().await.unwrap();
    let _second = watch().await.unwrap();
    let err = watch().await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(
        err.message().contains("2 open streams"),
        "{}",
        err.message()
    );
    // Closing one frees its slot.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(s) = watch().await {
            reopened = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "a closed stream's slot is freed");
    app.finish().await;
}

/// Two replicas on one PostgreSQL database: a step recorded through one
/// reaches a watcher on the other at once, carried by the database's
/// notifications (the re-read interval is far longer than the wait here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_replica_reaches_a_watcher_on_another() {
    let Some(app) = repat_tests::spawn(repat_tests::Backend::Postgres).await else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    assert!(repat_api::watch::POLL_INTERVAL >= std::time::Duration::from_secs(10));
    let other = repatd::start(&repatd::Settings::ephemeral(app.database_url.clone()))
        .await
        .unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", other.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let party = app.create_firm("Replicas Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-1", "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let mut events = pb::repatriation_service_client::RepatriationServiceClient::new(channel)
        .watch_repatriation(pb::WatchRepatriationRequest { id: r.id.clone() })
        .await
        .unwrap()
        .into_inner();
    next(&mut events).await;
    for (i, kind) in [
        pb::StepKind::PaymentInitiated,
        pb::StepKind::IntermediaryProcessed,
        pb::StepKind::NostroCredited,
    ]
    .into_iter()
    .enumerate()
    {
        app.record(step(&r.id, kind, &format!("2024-03-01T0{i}:00:00Z")))
            .await
            .unwrap();
        let event = tokio::time::timeout(std::time::Duration::from_secs(1), events.next())
            .await
            .expect("the other replica's watcher hears of the step within a second")
            .unwrap()
            .unwrap();
        assert_eq!(event.repatriation.unwrap().step_count, i as i32 + 1);
    }
    drop(events);
    other.stop().await.unwrap();
    app.finish().await;
}
