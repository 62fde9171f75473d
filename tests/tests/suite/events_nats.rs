//! Events on the real NATS JetStream server: each event once, under its
//! type's and party's subject, with its id as the message id; a publisher
//! that dies between publishing and moving its cursor leaves no duplicate
//! once JetStream has deduplicated; with two replicas one publishes at a
//! time, and when its lease lapses the other takes over.

use std::time::Duration;

use prost::Message;
use repat_proto::v1 as pb;
use repat_tests::events::list_all;
use repat_tests::fixtures::step;
use repat_tests::nats::TestStream;
use repat_tests::{Backend, TestApp, spawn};

async fn all_events(app: &TestApp) -> Vec<pb::Event> {
    list_all(&mut app.events(), pb::ListEventsRequest::default())
        .await
        .unwrap()
}

/// Some changes: a party, an earning, a repatriation and two steps.
async fn changes(app: &TestApp, reference: &str) {
    let party = app.create_firm(&format!("Firm {reference}")).await;
    let e = app
        .create_earning(&party.id, reference, "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    app.record(step(
        &r.id,
        pb::StepKind::PaymentInitiated,
        "2024-03-02T09:00:00Z",
    ))
    .await
    .unwrap();
    app.record(step(
        &r.id,
        pb::StepKind::NostroCredited,
        "2024-03-03T09:00:00Z",
    ))
    .await
    .unwrap();
}

/// The stream holds exactly the outbox, in order, each event once.
async fn assert_stream_is_outbox(nats: &TestStream, app: &TestApp) {
    let events = all_events(app).await;
    assert_eq!(
        nats.wait_for(events.len() as u64).await,
        events.len() as u64
    );
    // Nothing more arrives (no duplicate slipped through).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = nats.messages().await;
    assert_eq!(stored.len(), events.len(), "one message per event");
    for (m, e) in stored.iter().zip(&events) {
        assert_eq!(
            m.msg_id, e.id,
            "the message id is the event id, in commit order"
        );
        let kind = e.r#type.trim_start_matches("repat.");
        assert_eq!(m.subject, format!("{}.{kind}.{}", nats.prefix, e.party_id));
        assert_eq!(m.headers.get("ce-type"), Some(&e.r#type));
        assert_eq!(
            m.headers.get("ce-specversion").map(String::as_str),
            Some("1.0")
        );
        let decoded = pb::Event::decode(m.payload.clone()).expect("a repat.v1.Event");
        assert_eq!(decoded, *e);
    }
}

async fn a_crash_before_the_cursor_moves_leaves_no_duplicate(backend: Backend) {
    let Some(nats) = TestStream::new().await else {
        return;
    };
    let Some(app) = spawn(backend).await else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    changes(&app, "N-1").await;
    let (first, _) = app.replica(|s| nats.configure(s)).await;
    let published = all_events(&app).await.len() as u64;
    assert_eq!(nats.wait_for(published).await, published);
    let cursor = async || app.server.repo.event_cursor("nats").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while cursor().await < published as i64 {
        assert!(tokio::time::Instant::now() < deadline, "the cursor moves");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.stop().await.unwrap();
    // What a publisher that died after publishing, before its cursor moved,
    // leaves behind: everything published, the cursor at the start.
    app.execute_sql("UPDATE event_cursors SET sequence = 0 WHERE name = 'nats'")
        .await;
    changes(&app, "N-2").await;
    let (second, _) = app.replica(|s| nats.configure(s)).await;
    assert_stream_is_outbox(&nats, &app).await;
    second.stop().await.unwrap();
    app.finish().await;
    nats.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_cursor_moves_leaves_no_duplicate_sqlite() {
    a_crash_before_the_cursor_moves_leaves_no_duplicate(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_cursor_moves_leaves_no_duplicate_postgres() {
    a_crash_before_the_cursor_moves_leaves_no_duplicate(Backend::Postgres).await;
}

/// Two replicas on one PostgreSQL database: one publishes; when it dies
/// (its lease left to lapse), the other takes over, and nothing is lost or
/// seen twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_publishes_and_another_takes_over() {
    let Some(nats) = TestStream::new().await else {
        return;
    };
    let Some(app) = spawn(Backend::Postgres).await else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    let configure = |s: &mut repatd::Settings| {
        nats.configure(s);
        s.outbox_lease_secs = 2;
    };
    let (a, _) = app.replica(configure).await;
    let (b, _) = app.replica(configure).await;
    changes(&app, "T-1").await;
    let n = all_events(&app).await.len() as u64;
    assert_eq!(nats.wait_for(n).await, n);
    let (holder, _) = app
        .server
        .repo
        .lease("nats")
        .await
        .unwrap()
        .expect("a lease");
    assert!(holder == a.replica || holder == b.replica, "{holder}");

    // The holder dies without a word: its lease stays until it lapses, and
    // nothing is published meanwhile.
    app.execute_sql(
        "UPDATE leases SET holder = 'crashed-replica', expires_at = now() + interval '6 seconds' WHERE name = 'nats'",
    )
    .await;
    // The live replica finds the lease gone at its next renewal.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    changes(&app, "T-2").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(nats.count().await, n, "no publishing while a lease runs");
    let total = all_events(&app).await.len() as u64;
    assert_eq!(
        nats.wait_for(total).await,
        total,
        "taken over once it lapsed"
    );
    let (holder, _) = app
        .server
        .repo
        .lease("nats")
        .await
        .unwrap()
        .expect("a lease");
    assert_ne!(holder, "crashed-replica");
    assert_stream_is_outbox(&nats, &app).await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    app.finish().await;
    nats.delete().await;
}
