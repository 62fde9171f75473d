//! Facts that change over time through gRPC: a firm moves into a Hi-Tech
//! Park from a day on; repatriations realized either side of that day are
//! assessed each under the facts of its own day, and re-assessing the
//! older one still gives the answer of its time.

use chrono::{DateTime, Utc};
use repat_proto::google::r#type::Date;
use repat_proto::v1 as pb;
use repat_tests::fixtures::{date, earning, firm, money, rid, step};
use repat_tests::{TestApp, on_both_backends};
use tonic::Code;

on_both_backends!(a_zone_changed_from_a_day_splits_the_assessments);

fn zone_change(party: &str, from: Option<Date>, zone: pb::Zone) -> pb::CreatePartyFactRequest {
    pb::CreatePartyFactRequest {
        request_id: rid(),
        party_id: party.into(),
        effective_from: from,
        value: Some(pb::PartyFactValue {
            kind: pb::PartyFactKind::Zone as i32,
            zone: zone as i32,
            ..Default::default()
        }),
        reason: "moved into the Kaliakoir Hi-Tech Park".into(),
    }
}

/// A firm's export invoiced 2024-02-01, credited USD 1,000.00 at
/// `credited_at`, converted at 110.00, with the papers a claim needs.
async fn realized(app: &TestApp, party: &pb::Party, credited_at: &str) -> pb::Repatriation {
    let mut e = earning(&party.id, &format!("INV-{}", rid()), "1000.00", "USD");
    e.invoice_date = date(2024, 2, 1);
    e.due_date = None;
    let e = app
        .earnings()
        .create_earning(pb::CreateEarningRequest {
            request_id: rid(),
            earning: Some(e),
        })
        .await
        .unwrap()
        .into_inner();
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    let mut credit = step(&r.id, pb::StepKind::BeneficiaryCredited, credited_at);
    credit.amount = money("1000.00", "USD");
    app.record(credit).await.unwrap();
    let at: DateTime<Utc> = credited_at.parse().unwrap();
    let mut convert = step(
        &r.id,
        pb::StepKind::ConvertedToBdt,
        &(at + chrono::Duration::hours(1)).to_rfc3339(),
    );
    convert.fx_rate = Some(pb::FxRate {
        source_currency: "USD".into(),
        target_currency: "BDT".into(),
        rate: "110.00".into(),
    });
    app.record(convert).await.unwrap();
    app.add_claim_papers(&r).await;
    r
}

async fn assess(app: &TestApp, r: &pb::Repatriation) -> pb::Assessment {
    app.incentives()
        .assess_repatriation(pb::AssessRepatriationRequest {
            request_id: rid(),
            repatriation_id: r.id.clone(),
            as_of: date(2024, 3, 20),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

fn codes(a: &pb::Assessment) -> Vec<&str> {
    a.violations.iter().map(|v| v.code.as_str()).collect()
}

async fn a_zone_changed_from_a_day_splits_the_assessments(app: &TestApp) {
    let party = app.create_firm("Kaliakoir Soft Ltd").await;
    // Realized on 2024-02-29 and on 2024-03-01 in Dhaka (the second at
    // 18:30 UTC on 2024-02-29).
    let before = realized(app, &party, "2024-02-29T10:00:00Z").await;
    let after = realized(app, &party, "2024-02-29T18:30:00Z").await;
    let a = assess(app, &before).await;
    assert!(a.eligible, "{:?}", a.violations);

    let request = zone_change(&party.id, date(2024, 3, 1), pb::Zone::HiTechPark);
    let fact = app
        .parties()
        .create_party_fact(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        fact.previous.as_ref().unwrap().zone,
        pb::Zone::None as i32,
        "the change keeps what it replaced"
    );
    assert_eq!(fact.recorded_by, "local-admin");
    // A retry returns the same change; the id reused for another is refused.
    let again = app
        .parties()
        .create_party_fact(request.clone())
        .await
        .unwrap();
    assert_eq!(again.into_inner(), fact);
    let mut other = request.clone();
    other.reason = "another reason".into();
    let err = app.parties().create_party_fact(other).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    // Each repatriation is assessed under the facts of its own day.
    let b = assess(app, &after).await;
    assert_eq!(codes(&b), ["EXCLUDED_ZONE"]);
    assert_eq!(b.inputs.unwrap().zone, pb::Zone::HiTechPark as i32);
    let a_again = assess(app, &before).await;
    assert!(a_again.eligible, "{:?}", a_again.violations);
    assert_eq!(a_again.incentive, a.incentive);
    assert_eq!(a_again.inputs.unwrap().zone, pb::Zone::None as i32);

    // The party as it is today, and as it was.
    let get = |as_of: Option<Date>| pb::GetPartyRequest {
        id: party.id.clone(),
        as_of,
    };
    let today = app
        .parties()
        .get_party(get(None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(today.zone, pb::Zone::HiTechPark as i32);
    let then = app
        .parties()
        .get_party(get(date(2024, 2, 29)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(then.zone, pb::Zone::None as i32);

    // Memberships lapse from a day: the whole set from then on.
    let lapse = app
        .parties()
        .create_party_fact(pb::CreatePartyFactRequest {
            request_id: rid(),
            party_id: party.id.clone(),
            effective_from: date(2024, 6, 1),
            value: Some(pb::PartyFactValue {
                kind: pb::PartyFactKind::Memberships as i32,
                ..Default::default()
            }),
            reason: "BASIS membership not renewed".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lapse.previous.unwrap().memberships, firm("x").memberships);

    let history = app
        .parties()
        .list_party_facts(pb::ListPartyFactsRequest {
            party_id: party.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        history
            .facts
            .iter()
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>(),
        [fact.id.as_str(), lapse.id.as_str()]
    );
    let zones = app
        .parties()
        .list_party_facts(pb::ListPartyFactsRequest {
            party_id: party.id.clone(),
            kind: pb::PartyFactKind::Zone as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(zones.facts, vec![fact.clone()]);

    // In the audit trail, naming the change.
    let audit = repat_proto::v1::audit_service_client::AuditServiceClient::new(app.channel.clone())
        .list_audit_entries(pb::ListAuditEntriesRequest {
            method: "repat.v1.PartyService/CreatePartyFact".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        audit
            .entries
            .iter()
            .map(|e| e.resource.as_str())
            .collect::<Vec<_>>(),
        [
            format!("parties/{}/facts/{}", party.id, fact.id),
            format!("parties/{}/facts/{}", party.id, lapse.id)
        ]
    );

    // Bad input is named field by field.
    let mut bad = zone_change(&party.id, None, pb::Zone::Epz);
    bad.reason.clear();
    bad.value.as_mut().unwrap().memberships = firm("x").memberships;
    let err = app.parties().create_party_fact(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    for field in ["effective_from", "reason", "value.memberships"] {
        assert!(err.message().contains(field), "{field}: {}", err.message());
    }
    let unknown = zone_change(&rid(), date(2024, 1, 1), pb::Zone::Epz);
    let err = app.parties().create_party_fact(unknown).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}
