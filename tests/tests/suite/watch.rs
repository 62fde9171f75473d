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
