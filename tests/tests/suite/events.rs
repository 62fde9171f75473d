//! Events: every change emits its events once it commits, and none when it
//! fails; a stream resumed from its cursor misses nothing; a firm sees only
//! its parties' events; webhooks retry until delivered, signed, and
//! dead-letter; deadline alerts fire once per threshold with two replicas.
//! (NATS JetStream: `events_nats`.)

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{Days, Utc};
use futures::StreamExt;
use repat_api::auth::Role;
use repat_proto::v1 as pb;
use repat_proto::v1::event::Data;
use repat_proto::v1::event_service_client::EventServiceClient;
use repat_tests::events::{Receiver, list_all, types};
use repat_tests::fixtures::{earning, money, rid, step, ts};
use repat_tests::security::{Bearer, KeyDir, Minter, ed25519_pair};
use repat_tests::{Backend, TestApp, on_both_backends, spawn_with};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;

on_both_backends!(
    every_change_emits_its_events_once,
    reconciliation_emits_matches_and_new_exceptions,
    a_resumed_stream_misses_nothing
);

async fn all_events(app: &TestApp, party: &str) -> Vec<pb::Event> {
    list_all(
        &mut app.events(),
        pb::ListEventsRequest {
            party_id: party.into(),
            ..Default::default()
        },
    )
    .await
    .expect("list events")
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn every_change_emits_its_events_once(app: &TestApp) {
    let party = app.create_firm("Meghna Events Ltd").await;
    let e = app
        .create_earning(&party.id, "EV-1", "1000.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    app.record(step(
        &r.id,
        pb::StepKind::PaymentInitiated,
        "2024-03-02T09:00:00Z",
    ))
    .await
    .unwrap();
    let mut credit = step(
        &r.id,
        pb::StepKind::BeneficiaryCredited,
        "2024-03-05T19:00:00Z",
    );
    credit.amount = money("1000.00", "USD");
    app.record(credit).await.unwrap();
    let mut convert = step(&r.id, pb::StepKind::ConvertedToBdt, "2024-03-06T05:00:00Z");
    convert.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "110".into(),
    });
    let retried = pb::RecordStepRequest {
        request_id: rid(),
        step: Some(convert),
    };
    for _ in 0..2 {
        // The second is a retry: it stores nothing, and emits nothing.
        app.repatriations()
            .record_step(retried.clone())
            .await
            .unwrap();
    }
    // Changes that fail emit nothing: a step contradicting the journey, an
    // invoice reference already recorded.
    let late = app
        .record(step(
            &r.id,
            pb::StepKind::NostroCredited,
            "2024-03-07T00:00:00Z",
        ))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    let again = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(earning(&party.id, "EV-1", "5.00", "USD")),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let assess = || pb::AssessRepatriationRequest {
        request_id: rid(),
        repatriation_id: r.id.clone(),
        as_of: repat_tests::fixtures::date(2024, 3, 10),
        documents: [
            "CONTRACT_OR_WORK_ORDER",
            "INVOICE",
            "PROCEEDS_REALIZATION_CERTIFICATE",
        ]
        .map(String::from)
        .to_vec(),
        ..Default::default()
    };
    let first = app
        .incentives()
        .assess_repatriation(assess())
        .await
        .unwrap()
        .into_inner();
    let second = app
        .incentives()
        .assess_repatriation(assess())
        .await
        .unwrap()
        .into_inner();
    let claim = app
        .incentives()
        .file_claim(pb::FileClaimRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            repatriation_ids: vec![r.id.clone()],
            file_time: ts("2024-03-12T04:00:00Z"),
        })
        .await
        .unwrap()
        .into_inner();
    app.incentives()
        .record_claim_step(pb::RecordClaimStepRequest {
            request_id: rid(),
            claim_id: claim.id.clone(),
            kind: pb::ClaimStepKind::Audited as i32,
            occur_time: ts("2024-03-20T04:00:00Z"),
            ..Default::default()
        })
        .await
        .unwrap();
    let other = app.create_earning(&party.id, "EV-3", "200.00", "USD").await;
    let returned = app.open_repatriation(&party.id, &[&other.id]).await;
    app.record(step(
        &returned.id,
        pb::StepKind::PaymentInitiated,
        "2024-03-03T09:00:00Z",
    ))
    .await
    .unwrap();
    app.record(step(
        &returned.id,
        pb::StepKind::Returned,
        "2024-03-04T09:00:00Z",
    ))
    .await
    .unwrap();

    let events = all_events(app, &party.id).await;
    assert_eq!(
        types(&events),
        strs(&[
            "party.created",
            "earning.created",
            "repatriation.created",
            "step.recorded",
            "journey.status_changed",
            "step.recorded",
            "journey.status_changed",
            "journey.realized",
            "step.recorded",
            "journey.status_changed",
            "assessment.made",
            "assessment.made",
            "assessment.superseded",
            "claim.filed",
            "step.recorded",
            "journey.status_changed",
            "claim.audited",
            "step.recorded",
            "earning.created",
            "repatriation.created",
            "step.recorded",
            "journey.status_changed",
            "step.recorded",
            "journey.status_changed",
            "journey.returned",
        ])
    );
    // In commit order, numbered without repeats; ids unique; CloudEvents
    // attributes set; each payload is the record it tells of.
    assert!(events.windows(2).all(|w| w[0].sequence < w[1].sequence));
    let ids: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len());
    for e in &events {
        assert_eq!(
            (e.source.as_str(), e.spec_version.as_str()),
            ("/repat", "1.0")
        );
        assert_eq!(e.party_id, party.id);
        assert!(e.time.is_some() && !e.subject.is_empty());
    }
    match &events[0].data {
        Some(Data::Party(p)) => assert_eq!(p.id, party.id),
        other => panic!("party.created carries the party, got {other:?}"),
    }
    match &events[7].data {
        Some(Data::JourneyChange(c)) => {
            assert_eq!(c.repatriation_id, r.id);
            assert_eq!(c.status, pb::RepatriationStatus::FundsAvailable as i32);
            assert_eq!(c.previous_status, pb::RepatriationStatus::InTransit as i32);
            // 19:00 UTC on 5 March is 6 March in Dhaka.
            assert_eq!(c.realized_on, repat_tests::fixtures::date(2024, 3, 6));
        }
        other => panic!("journey.realized carries the change, got {other:?}"),
    }
    match &events[12].data {
        Some(Data::AssessmentSuperseded(s)) => {
            assert_eq!(
                (&s.assessment_id, &s.superseded_by),
                (&first.id, &second.id)
            );
        }
        other => panic!("assessment.superseded names both, got {other:?}"),
    }
    match &events[16].data {
        Some(Data::Claim(c)) => {
            assert_eq!(c.id, claim.id);
            assert_eq!(c.status, pb::ClaimStatus::Audited as i32);
        }
        other => panic!("claim.audited carries the claim, got {other:?}"),
    }
    // Filters by type, by the short name or the CloudEvents type.
    let realized = list_all(
        &mut app.events(),
        pb::ListEventsRequest {
            types: strs(&["journey.realized", "repat.journey.returned"]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        types(&realized),
        strs(&["journey.realized", "journey.returned"])
    );
    let bad = app
        .events()
        .list_events(pb::ListEventsRequest {
            types: strs(&["step.recorded", "step.teleported"]),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("types[1]"), "{}", bad.message());
}

async fn reconciliation_emits_matches_and_new_exceptions(app: &TestApp) {
    let party = app.create_firm("Karnaphuli Soft Ltd").await;
    let e = app.create_earning(&party.id, "EV-2", "500.00", "USD").await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    app.record(step(
        &r.id,
        pb::StepKind::PaymentInitiated,
        "2024-03-02T09:00:00Z",
    ))
    .await
    .unwrap();
    let statement = app
        .reconciliation()
        .import_statement(pb::ImportStatementRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            format: pb::StatementFormat::Csv as i32,
            content: "booking_date,direction,amount,currency,remittance\n\
                      2024-03-20,CREDIT,500.00,USD,payment EV-2\n\
                      2024-03-21,CREDIT,777.77,USD,unknown payer\n"
                .into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let run = || pb::RunMatchingRequest {
        request_id: rid(),
        party_id: party.id.clone(),
    };
    app.reconciliation().run_matching(run()).await.unwrap();
    let after_first = all_events(app, &party.id).await;
    // A second run finds nothing new, and raises no exception again.
    app.reconciliation().run_matching(run()).await.unwrap();
    assert_eq!(all_events(app, &party.id).await.len(), after_first.len());
    app.reconciliation()
        .unmatch(pb::UnmatchRequest {
            request_id: rid(),
            credit_id: statement.entries[0].id.clone(),
            note: "wrong invoice".into(),
        })
        .await
        .unwrap();
    let events = all_events(app, &party.id).await;
    let t = types(&events);
    assert_eq!(
        t[5..],
        strs(&[
            "statement.imported",
            "credit.matched",
            "step.recorded",
            "journey.status_changed",
            "journey.realized",
            "exception.raised",
            "credit.unmatched",
        ])[..]
    );
    match &events[5].data {
        Some(Data::StatementImported(s)) => {
            assert_eq!((s.entry_count, s.credit_count), (2, 2));
            assert_eq!(s.statement.as_ref().unwrap().id, statement.id);
        }
        other => panic!("statement.imported carries the statement, got {other:?}"),
    }
    match &events[10].data {
        Some(Data::Exception(x)) => assert_eq!(x.credit_id, statement.entries[1].id),
        other => panic!("exception.raised carries the exception, got {other:?}"),
    }
    match &events[11].data {
        Some(Data::CreditUnmatched(u)) => {
            assert_eq!(u.credit_id, statement.entries[0].id);
            assert_eq!(u.removed.len(), 1);
        }
        other => panic!("credit.unmatched carries what was removed, got {other:?}"),
    }
}

/// Reads `n` events from a stream.
async fn take(stream: &mut tonic::Streaming<pb::Event>, n: usize) -> Vec<pb::Event> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let e = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .unwrap_or_else(|_| panic!("{} of {n} events within 20 s", out.len()))
            .expect("the stream stays open")
            .expect("an event");
        out.push(e);
    }
    out
}

async fn a_resumed_stream_misses_nothing(app: &TestApp) {
    let a = app.create_firm("Padma Ltd").await;
    let b = app.create_firm("Jamuna Ltd").await;
    let mut stream = app
        .events()
        .stream_events(pb::StreamEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    // Four writers at once, on two parties, while the stream reads.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let earnings = app.earnings();
            let party = if w % 2 == 0 {
                a.id.clone()
            } else {
                b.id.clone()
            };
            tokio::spawn(async move {
                let mut earnings = earnings;
                for i in 0..15 {
                    earnings
                        .create_earning(pb::CreateEarningRequest {
                            request_id: rid(),
                            earning: Some(earning(&party, &format!("W{w}-{i}"), "10.00", "USD")),
                        })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let first = take(&mut stream, 20).await;
    // The client goes away mid-flight, and comes back with its cursor.
    drop(stream);
    for w in writers {
        w.await.unwrap();
    }
    let all = list_all(&mut app.events(), pb::ListEventsRequest::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 62, "2 parties and 60 earnings");
    let cursor = first.last().unwrap().sequence;
    let mut resumed = app
        .events()
        .stream_events(pb::StreamEventsRequest {
            after_sequence: cursor,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rest = take(&mut resumed, all.len() - first.len()).await;
    let seen: Vec<&str> = first.iter().chain(&rest).map(|e| e.id.as_str()).collect();
    let expected: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        seen, expected,
        "nothing missed, nothing repeated, in commit order"
    );
    // Each party's events in the order they committed.
    let mut per_party: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for e in first.iter().chain(&rest) {
        per_party.entry(&e.party_id).or_default().push(e.sequence);
    }
    assert!(
        per_party
            .values()
            .all(|s| s.windows(2).all(|w| w[0] < w[1]))
    );

    // Live: what commits next arrives, and only what the filter asks for.
    let mut live = app
        .events()
        .stream_events(pb::StreamEventsRequest {
            from_now: true,
            party_id: b.id.clone(),
            types: strs(&["earning.created"]),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    app.create_earning(&a.id, "LIVE-A", "1.00", "USD").await;
    let wanted = app.create_earning(&b.id, "LIVE-B", "1.00", "USD").await;
    let got = take(&mut live, 1).await;
    match &got[0].data {
        Some(Data::Earning(e)) => assert_eq!(e.id, wanted.id),
        other => panic!("the stream sent {other:?}"),
    }
}

/// Tokens of a firm of A, a firm of B, and an integrator acting for both.
struct Tenants {
    app: TestApp,
    minter: Minter,
    admin: InterceptedService<tonic::transport::Channel, Bearer>,
    _keys: KeyDir,
}

impl Tenants {
    async fn new(backend: Backend) -> Option<Self> {
        let keys = KeyDir::new();
        let (private, public) = ed25519_pair();
        let verify = keys.write("verify.pem", &public);
        let app = spawn_with(backend, |s| {
            s.allow_unauthenticated = false;
            s.jwt_verify_key_file = Some(verify);
        })
        .await?;
        let minter = Minter::new(&private);
        let admin = InterceptedService::new(
            app.channel.clone(),
            Bearer(Some(minter.token("ops@bank", Role::Admin, &[]))),
        );
        Some(Tenants {
            app,
            minter,
            admin,
            _keys: keys,
        })
    }

    fn as_(
        &self,
        role: Role,
        parties: &[uuid::Uuid],
    ) -> EventServiceClient<InterceptedService<tonic::transport::Channel, Bearer>> {
        EventServiceClient::new(InterceptedService::new(
            self.app.channel.clone(),
            Bearer(Some(self.minter.token("someone@x", role, parties))),
        ))
    }
}

async fn firms_see_only_their_parties_events(backend: Backend) {
    let Some(t) = Tenants::new(backend).await else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    let parties = repat_proto::v1::party_service_client::PartyServiceClient::new(t.admin.clone());
    let mut ids = Vec::new();
    for name in ["A Ltd", "B Ltd"] {
        let p = parties
            .clone()
            .create_party(pb::CreatePartyRequest {
                request_id: rid(),
                party: Some(repat_tests::fixtures::firm(name)),
            })
            .await
            .unwrap()
            .into_inner();
        ids.push(p.id);
    }
    let (a, b): (uuid::Uuid, uuid::Uuid) = (ids[0].parse().unwrap(), ids[1].parse().unwrap());
    let mut firm_a = t.as_(Role::Firm, &[a]);
    let mut stream = firm_a
        .stream_events(pb::StreamEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let earnings =
        repat_proto::v1::earning_service_client::EarningServiceClient::new(t.admin.clone());
    for i in 0..6 {
        let party = if i % 2 == 0 { &ids[1] } else { &ids[0] };
        earnings
            .clone()
            .create_earning(pb::CreateEarningRequest {
                request_id: rid(),
                earning: Some(earning(party, &format!("T-{i}"), "10.00", "USD")),
            })
            .await
            .unwrap();
    }
    // A's party and its 3 earnings; none of B's.
    let got = take(&mut stream, 4).await;
    assert!(got.iter().all(|e| e.party_id == ids[0]), "{got:?}");
    let listed = list_all(&mut firm_a, pb::ListEventsRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|e| e.party_id == ids[0]));
    // B's events do not exist for A.
    let asked = firm_a
        .list_events(pb::ListEventsRequest {
            party_id: ids[1].clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(asked.code(), Code::NotFound);
    let asked = firm_a
        .stream_events(pb::StreamEventsRequest {
            party_id: ids[1].clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(asked.code(), Code::NotFound);
    // The bank acting for both sees both; an auditor everything.
    let both = list_all(
        &mut t.as_(Role::Integrator, &[a, b]),
        pb::ListEventsRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!(both.len(), 8);
    let audited = list_all(
        &mut t.as_(Role::Auditor, &[]),
        pb::ListEventsRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!(audited.len(), 8);
    t.app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firms_see_only_their_parties_events_sqlite() {
    firms_see_only_their_parties_events(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firms_see_only_their_parties_events_postgres() {
    firms_see_only_their_parties_events(Backend::Postgres).await;
}

/// Waits until `f` holds, for at most 30 s.
async fn eventually<F: AsyncFn() -> bool>(what: &str, f: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(tokio::time::Instant::now() < deadline, "{what} within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliveries(app: &TestApp, party: &str) -> Vec<pb::WebhookDelivery> {
    app.webhooks()
        .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest {
            party_id: party.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries
}

async fn webhooks_retry_until_delivered_signed(backend: Backend) {
    let receiver = Receiver::start(vec![500, 500, 500, 200]).await;
    let Some(app) = spawn_with(backend, |s| {
        s.webhook_private_addresses = true;
        s.webhook_retry_base_ms = 50;
        s.webhook_max_attempts = 5;
    })
    .await
    else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    let party = app.create_firm("Webhook Ltd").await;
    let other = app.create_firm("Elsewhere Ltd").await;
    let endpoint = app
        .webhooks()
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            url: receiver.url(),
            types: strs(&["earning.created"]),
            description: "ledger sync".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(endpoint.secret.starts_with("whsec_"));
    let shown = app
        .webhooks()
        .get_webhook_endpoint(pb::GetWebhookEndpointRequest {
            id: endpoint.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(shown.secret.is_empty(), "the secret is shown once");
    // Only this party's events of the types asked for go to it.
    app.create_earning(&other.id, "ELSE-1", "1.00", "USD").await;
    let e = app
        .create_earning(&party.id, "HOOK-1", "250.00", "USD")
        .await;
    app.open_repatriation(&party.id, &[&e.id]).await;

    eventually("four attempts", async || receiver.requests().len() >= 4).await;
    eventually("the delivery recorded as delivered", async || {
        deliveries(&app, &party.id)
            .await
            .first()
            .is_some_and(|d| d.status == pb::WebhookDeliveryStatus::Delivered as i32)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.requests();
    assert_eq!(got.len(), 4, "three failures, then the one success");
    let now = Utc::now().timestamp();
    for r in &got {
        assert_eq!(
            r.header("content-type"),
            Some("application/cloudevents+json")
        );
        let signature = r.header("repat-signature").expect("signed");
        assert!(
            repat_api::events::webhooks::verify(&endpoint.secret, signature, &r.body, now, 300),
            "a valid signature: {signature}"
        );
        assert!(!repat_api::events::webhooks::verify(
            "whsec_wrong",
            signature,
            &r.body,
            now,
            300
        ));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["type"], "repat.earning.created");
        assert_eq!(body["specversion"], "1.0");
        assert_eq!(body["data"]["id"], e.id);
        assert_eq!(body["data"]["amount"]["amount"], "250.00");
        assert_eq!(r.header("repat-event-id"), body["id"].as_str());
    }
    let ids: HashSet<&str> = got
        .iter()
        .filter_map(|r| r.header("repat-event-id"))
        .collect();
    assert_eq!(ids.len(), 1, "every attempt is the same event");
    let d = deliveries(&app, &party.id).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].event_type, "repat.earning.created");
    assert_eq!(d[0].attempts, 4);
    let codes: Vec<i32> = d[0].history.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, vec![500, 500, 500, 200]);
    assert!(d[0].history[0].error.contains("HTTP 500"));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_retry_until_delivered_signed_sqlite() {
    webhooks_retry_until_delivered_signed(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_retry_until_delivered_signed_postgres() {
    webhooks_retry_until_delivered_signed(Backend::Postgres).await;
}

async fn dead_deliveries_are_listed_and_replayed(backend: Backend) {
    let receiver = Receiver::start(vec![503, 503, 204]).await;
    let Some(app) = spawn_with(backend, |s| {
        s.webhook_private_addresses = true;
        s.webhook_retry_base_ms = 20;
        s.webhook_max_attempts = 2;
    })
    .await
    else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    let party = app.create_firm("Dead Letters Ltd").await;
    app.webhooks()
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            url: receiver.url(),
            ..Default::default()
        })
        .await
        .unwrap();
    app.create_earning(&party.id, "DL-1", "9.00", "USD").await;
    let dead = async || {
        app.webhooks()
            .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest {
                party_id: party.id.clone(),
                status: pb::WebhookDeliveryStatus::Dead as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .deliveries
    };
    eventually("the delivery on the dead-letter list", async || {
        dead().await.len() == 1
    })
    .await;
    let d = dead().await.remove(0);
    assert_eq!((d.attempts, d.history.len()), (2, 2));
    let replay = pb::ReplayWebhookDeliveryRequest {
        request_id: rid(),
        id: d.id.clone(),
    };
    let replayed = app
        .webhooks()
        .replay_webhook_delivery(replay.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed.status, pb::WebhookDeliveryStatus::Pending as i32);
    // A retried replay is the same replay.
    app.webhooks()
        .replay_webhook_delivery(replay)
        .await
        .unwrap();
    eventually("the replay delivered", async || {
        app.webhooks()
            .get_webhook_delivery(pb::GetWebhookDeliveryRequest { id: d.id.clone() })
            .await
            .unwrap()
            .into_inner()
            .status
            == pb::WebhookDeliveryStatus::Delivered as i32
    })
    .await;
    let done = app
        .webhooks()
        .get_webhook_delivery(pb::GetWebhookDeliveryRequest { id: d.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<i32> = done.history.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, vec![503, 503, 204]);
    assert_eq!(receiver.requests().len(), 3);
    assert!(dead().await.is_empty());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_deliveries_are_listed_and_replayed_sqlite() {
    dead_deliveries_are_listed_and_replayed(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_deliveries_are_listed_and_replayed_postgres() {
    dead_deliveries_are_listed_and_replayed(Backend::Postgres).await;
}

/// Deliveries go to registered endpoints only, never into the server's
/// own network unless allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_by_default() {
    let receiver = Receiver::start(vec![200]).await;
    let app = spawn_with(Backend::Sqlite, |s| {
        s.webhook_retry_base_ms = 20;
        s.webhook_max_attempts = 1;
    })
    .await
    .unwrap();
    let party = app.create_firm("Nosy Ltd").await;
    app.webhooks()
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            url: receiver.url(),
            ..Default::default()
        })
        .await
        .unwrap();
    app.create_earning(&party.id, "N-1", "1.00", "USD").await;
    eventually("the attempt refused", async || {
        deliveries(&app, &party.id)
            .await
            .first()
            .is_some_and(|d| d.status == pb::WebhookDeliveryStatus::Dead as i32)
    })
    .await;
    let d = deliveries(&app, &party.id).await.remove(0);
    assert!(
        d.history[0].error.contains("private address"),
        "{:?}",
        d.history
    );
    assert!(receiver.requests().is_empty());
    let bad = app
        .webhooks()
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            url: "ftp://example.com/x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    app.finish().await;
}

/// An earning invoiced `days` ago (Dhaka), of `party`.
async fn invoiced(app: &TestApp, party: &str, reference: &str, days: u64) -> pb::Earning {
    let today = repat_core::time::dhaka_date(Utc::now());
    let d = today.checked_sub_days(Days::new(days)).unwrap();
    let mut e = earning(party, reference, "100.00", "USD");
    e.invoice_date = repat_tests::fixtures::date(
        chrono::Datelike::year(&d),
        chrono::Datelike::month(&d) as i32,
        chrono::Datelike::day(&d) as i32,
    );
    e.due_date = None;
    app.earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(e),
        })
        .await
        .unwrap()
        .into_inner()
}

fn days_ago(days: i64) -> String {
    (Utc::now() - chrono::Duration::days(days)).to_rfc3339()
}

async fn alerts_fire_once_per_threshold_with_two_replicas(backend: Backend) {
    let Some(app) = spawn_with(backend, |s| {
        s.alerts_interval_secs = 1;
    })
    .await
    else {
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    let (second, _) = app.replica(|s| s.alerts_interval_secs = 1).await;
    let party = app.create_firm("Deadline Ltd").await;
    // 120 days from the invoice: 20, 5, 0, 40 days left, and 10 days late.
    let in_30 = invoiced(&app, &party.id, "D-30", 100).await;
    let in_7 = invoiced(&app, &party.id, "D-7", 115).await;
    let in_1 = invoiced(&app, &party.id, "D-1", 120).await;
    invoiced(&app, &party.id, "D-FAR", 80).await;
    invoiced(&app, &party.id, "D-LATE", 130).await;
    // Realized 170 days ago, never claimed: 10 days of the 180 left.
    let claimable = invoiced(&app, &party.id, "D-CLAIM", 200).await;
    let r = app.open_repatriation(&party.id, &[&claimable.id]).await;
    let mut credit = step(&r.id, pb::StepKind::BeneficiaryCredited, &days_ago(170));
    credit.amount = money("100.00", "USD");
    app.record(credit).await.unwrap();
    // Initiated three days ago, still in flight (the threshold is 48 h).
    let flying = invoiced(&app, &party.id, "D-FLY", 10).await;
    let f = app.open_repatriation(&party.id, &[&flying.id]).await;
    app.record(step(&f.id, pb::StepKind::PaymentInitiated, &days_ago(3)))
        .await
        .unwrap();

    let alerts = async || {
        list_all(
            &mut app.events(),
            pb::ListEventsRequest {
                party_id: party.id.clone(),
                types: strs(&[
                    "alert.repatriation_deadline",
                    "alert.claim_window",
                    "alert.in_flight",
                ]),
                ..Default::default()
            },
        )
        .await
        .unwrap()
    };
    eventually("five alerts", async || alerts().await.len() >= 5).await;
    // Both replicas look every second: give them several more rounds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = alerts().await;
    let mut seen: Vec<(String, String, i32)> = got
        .iter()
        .map(|e| {
            let threshold = match &e.data {
                Some(Data::DeadlineAlert(a)) => a.threshold_days,
                Some(Data::InFlightAlert(_)) => 0,
                other => panic!("an alert carries its details, got {other:?}"),
            };
            (e.r#type.clone(), e.subject.clone(), threshold)
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        (
            "repat.alert.repatriation_deadline".to_string(),
            format!("earnings/{}", in_30.id),
            30,
        ),
        (
            "repat.alert.repatriation_deadline".to_string(),
            format!("earnings/{}", in_7.id),
            7,
        ),
        (
            "repat.alert.repatriation_deadline".to_string(),
            format!("earnings/{}", in_1.id),
            1,
        ),
        (
            "repat.alert.claim_window".to_string(),
            format!("repatriations/{}", r.id),
            30,
        ),
        (
            "repat.alert.in_flight".to_string(),
            format!("repatriations/{}", f.id),
            0,
        ),
    ];
    expected.sort();
    assert_eq!(
        seen, expected,
        "each alert once, however many replicas look"
    );
    match got
        .iter()
        .find(|e| e.subject == format!("earnings/{}", in_7.id))
        .and_then(|e| e.data.clone())
    {
        Some(Data::DeadlineAlert(a)) => {
            assert_eq!(a.days_left, 5);
            assert!(a.rule.contains("120 calendar days"), "{}", a.rule);
        }
        other => panic!("{other:?}"),
    }
    second.stop().await.unwrap();
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_once_per_threshold_with_two_replicas_sqlite() {
    alerts_fire_once_per_threshold_with_two_replicas(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_once_per_threshold_with_two_replicas_postgres() {
    alerts_fire_once_per_threshold_with_two_replicas(Backend::Postgres).await;
}
