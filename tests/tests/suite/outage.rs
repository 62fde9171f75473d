//! PostgreSQL goes away and comes back: requests fail fast with UNAVAILABLE
//! (safe to retry; nothing of them is stored), readiness turns NOT_SERVING,
//! and the service recovers by itself. The database is taken away by cutting
//! a proxy between repatd and PostgreSQL, so the server other tests use
//! keeps running.

use std::time::{Duration, Instant};

use repat_proto::v1 as pb;
use repat_tests::fixtures::{earning, rid};
use repat_tests::proxy::Proxy;
use repat_tests::{Backend, TestApp, database_address, spawn_with};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The longest a request may take to fail while the database is away.
const FAIL_FAST: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(admin) = repat_tests::postgres_url() else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    let (db_addr, _) = database_address(&admin).expect("a postgres:// url");
    let upstream = tokio::net::lookup_host(&db_addr)
        .await
        .expect("resolve the database host")
        .next()
        .expect("an address");
    let proxy = Proxy::start(upstream).await;
    let app = spawn_with(Backend::Postgres, |s| {
        let url = s.database_url.clone();
        let (_, behind_proxy) = database_address(&url).expect("a postgres:// url");
        s.database_url = behind_proxy(proxy.addr);
        s.db_acquire_timeout_secs = 1;
        s.db_check_interval_secs = 1;
    })
    .await
    .expect("PostgreSQL is configured");
    outage_and_recovery(&app, &proxy).await;
    app.finish().await;
}

async fn outage_and_recovery(app: &TestApp, proxy: &Proxy) {
    let party = app.create_firm("Karnaphuli Systems").await;
    app.create_earning(&party.id, "INV-BEFORE", "100.00", "USD")
        .await;
    assert_eq!(health(app).await, ServingStatus::Serving);

    proxy.cut();

    // Writes and reads fail fast, with the code that says "retry".
    let retried = pb::CreateEarningRequest {
        request_id: rid(),
        earning: Some(earning(&party.id, "INV-DURING", "200.00", "USD")),
    };
    let abandoned = pb::CreateEarningRequest {
        request_id: rid(),
        earning: Some(earning(&party.id, "INV-ABANDONED", "300.00", "USD")),
    };
    for request in [&retried, &abandoned] {
        let started = Instant::now();
        let status = app
            .earnings()
            .create_earning(request.clone())
            .await
            .expect_err("no database, no write");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(
            started.elapsed() < FAIL_FAST,
            "failed after {:?}",
            started.elapsed()
        );
        eprintln!(
            "write during the outage: {} after {:?}",
            status.message(),
            started.elapsed()
        );
    }
    let started = Instant::now();
    let status = app
        .parties()
        .get_party(pb::GetPartyRequest {
            id: party.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("no database, no read");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        started.elapsed() < FAIL_FAST,
        "failed after {:?}",
        started.elapsed()
    );

    // Readiness follows the database.
    let cut = Instant::now();
    wait_for(
        app,
        ServingStatus::NotServing,
        "NOT_SERVING during the outage",
    )
    .await;
    eprintln!("NOT_SERVING {:?} after the cut", cut.elapsed());
    assert_eq!(
        health_of(app, "liveness").await,
        ServingStatus::Serving,
        "an outage makes the server unready, not dead"
    );
    // Once readiness knows, requests fail at once, without a connection
    // attempt (the breaker).
    let status = app
        .parties()
        .get_party(pb::GetPartyRequest {
            id: party.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("the breaker is open");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("readiness"),
        "{}",
        status.message()
    );

    proxy.restore();
    let restored = Instant::now();
    wait_for(
        app,
        ServingStatus::Serving,
        "SERVING once the database is back",
    )
    .await;
    eprintln!(
        "SERVING {:?} after the database came back",
        restored.elapsed()
    );

    // The retry goes in once; a second retry changes nothing.
    let first = app
        .earnings()
        .create_earning(retried.clone())
        .await
        .expect("the retry succeeds")
        .into_inner();
    let again = app
        .earnings()
        .create_earning(retried.clone())
        .await
        .expect("a second retry is answered")
        .into_inner();
    assert_eq!(first, again);
    let listed = app
        .earnings()
        .list_earnings(pb::ListEarningsRequest {
            party_id: party.id.clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list after recovery")
        .into_inner();
    let mut references: Vec<&str> = listed
        .earnings
        .iter()
        .map(|e| e.invoice_reference.as_str())
        .collect();
    references.sort();
    assert_eq!(
        references,
        ["INV-BEFORE", "INV-DURING"],
        "the retried write once, the abandoned one not at all"
    );
}

async fn health(app: &TestApp) -> ServingStatus {
    health_of(app, "").await
}

async fn health_of(app: &TestApp, service: &str) -> ServingStatus {
    let response = HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health answers");
    response.into_inner().status()
}

async fn wait_for(app: &TestApp, want: ServingStatus, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while health(app).await != want {
        assert!(Instant::now() < deadline, "health did not turn {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
