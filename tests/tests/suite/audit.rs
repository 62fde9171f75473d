use repat_proto::v1 as pb;
use repat_proto::v1::audit_service_client::AuditServiceClient;
use repat_tests::fixtures::step;
use repat_tests::{TestApp, on_both_backends};

on_both_backends!(every_change_is_chained_and_tampering_is_found);

/// Runs `sql` against the server's database, behind its back.
async fn tamper(app: &TestApp, sql: &str) {
    repat_tests::tamper(app.backend, &app.database_url, sql).await;
}

async fn every_change_is_chained_and_tampering_is_found(app: &TestApp) {
    let party = app.create_firm("Audit Me Ltd").await;
    let e = app
        .create_earning(&party.id, "INV-1", "100.00", "USD")
        .await;
    let r = app.open_repatriation(&party.id, &[&e.id]).await;
    app.record(step(
        &r.id,
        pb::StepKind::PaymentInitiated,
        "2024-03-01T09:00:00Z",
    ))
    .await
    .unwrap();
    // A refused step and a retry leave no entry.
    app.record(step(
        &r.id,
        pb::StepKind::NostroCredited,
        "2024-02-01T09:00:00Z",
    ))
    .await
    .unwrap_err();
    let mut audit = AuditServiceClient::new(app.channel.clone());
    let entries = audit
        .list_audit_entries(pb::ListAuditEntriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    let methods: Vec<&str> = entries
        .iter()
        .map(|e| e.method.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "CreateParty",
            "CreateEarning",
            "CreateRepatriation",
            "RecordStep"
        ]
    );
    assert_eq!(entries[0].resource, format!("parties/{}", party.id));
    assert!(
        entries[3]
            .resource
            .starts_with(&format!("repatriations/{}/steps/", r.id))
    );
    assert!(
        entries
            .iter()
            .all(|e| e.subject == "local-admin" && e.role == "admin" && e.request_hash.len() == 64)
    );
    for pair in entries.windows(2) {
        assert_eq!(pair[1].previous_hash, pair[0].hash);
    }
    let ok = audit
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(ok.intact, "{ok:?}");
    assert_eq!(
        (ok.entries_checked, ok.head_hash.as_str()),
        (4, entries[3].hash.as_str())
    );

    // Someone with database access rewrites who made the second change.
    tamper(
        app,
        "UPDATE audit_log SET subject = 'mallory' WHERE sequence = 2",
    )
    .await;
    let broken = audit
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!broken.intact);
    assert_eq!(broken.first_broken_sequence, 2, "{broken:?}");
    assert_eq!(broken.entries_checked, 1);

    // Removing an entry is found too.
    tamper(
        app,
        "UPDATE audit_log SET subject = 'local-admin' WHERE sequence = 2",
    )
    .await;
    assert!(
        audit
            .verify_audit_chain(pb::VerifyAuditChainRequest {})
            .await
            .unwrap()
            .into_inner()
            .intact
    );
    tamper(app, "DELETE FROM audit_log WHERE sequence = 3").await;
    let gap = audit
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (gap.intact, gap.first_broken_sequence),
        (false, 3),
        "{gap:?}"
    );
}
