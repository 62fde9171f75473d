use repat_api::auth::Role;
use repat_core::audit::chain_hash;
use repat_core::audit::checkpoint::Checkpoint;
use repat_proto::v1 as pb;
use repat_proto::v1::audit_service_client::AuditServiceClient;
use repat_proto::v1::earning_service_client::EarningServiceClient;
use repat_proto::v1::party_service_client::PartyServiceClient;
use repat_tests::fixtures::{earning, firm, rid, step};
use repat_tests::security::{Bearer, KeyDir, Minter, ed25519_pair};
use repat_tests::{Backend, TestApp, on_both_backends, spawn_with};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

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
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
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
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!broken.intact);
    assert_eq!(broken.first_broken_sequence, 2, "{broken:?}");
    assert_eq!(broken.entries_checked, 4, "the check goes on past a break");

    // Removing an entry is found too.
    tamper(
        app,
        "UPDATE audit_log SET subject = 'local-admin' WHERE sequence = 2",
    )
    .await;
    assert!(
        audit
            .verify_audit_chain(pb::VerifyAuditChainRequest::default())
            .await
            .unwrap()
            .into_inner()
            .intact
    );
    tamper(app, "DELETE FROM audit_log WHERE sequence = 3").await;
    let gap = audit
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (gap.intact, gap.first_broken_sequence),
        (false, 3),
        "{gap:?}"
    );
}

mod signed_checkpoints_find_truncation_and_recomputation {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::signed_checkpoints_find_truncation_and_recomputation(repat_tests::Backend::Sqlite)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::signed_checkpoints_find_truncation_and_recomputation(repat_tests::Backend::Postgres)
            .await;
    }
}

type Ch = InterceptedService<Channel, Bearer>;

/// Waits until the newest stored checkpoint signs entry `sequence`.
async fn checkpoint_at(audit: &mut AuditServiceClient<Ch>, sequence: i64) {
    for _ in 0..100 {
        let listed = audit
            .list_audit_checkpoints(pb::ListAuditCheckpointsRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if listed.checkpoints.last().map(|c| c.sequence) == Some(sequence) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("no checkpoint at entry {sequence}");
}

/// The checkpoints the server appended to its file, as an operator keeps
/// them.
fn kept(path: &std::path::Path) -> Vec<pb::AuditCheckpoint> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let c: Checkpoint = serde_json::from_str(line).unwrap();
            pb::AuditCheckpoint {
                sequence: c.sequence,
                head_hash: c.head_hash,
                sign_time: repat_tests::fixtures::ts(&c.sign_time.to_rfc3339()),
                key_id: c.key_id,
                signature: c.signature,
            }
        })
        .collect()
}

async fn verify(
    audit: &mut AuditServiceClient<Ch>,
    checkpoints: Vec<pb::AuditCheckpoint>,
) -> pb::VerifyAuditChainResponse {
    audit
        .verify_audit_chain(pb::VerifyAuditChainRequest { checkpoints })
        .await
        .unwrap()
        .into_inner()
}

fn ranges(r: &pb::VerifyAuditChainResponse) -> Vec<(i64, i64, pb::AuditBreach)> {
    r.broken_ranges
        .iter()
        .map(|b| (b.first_sequence, b.last_sequence, b.breach()))
        .collect()
}

/// Rewrites who made entry `sequence` and recomputes every later hash, as
/// an insider with database access can.
async fn rewrite_and_recompute(app: &TestApp, sequence: i64) {
    let mut entries = app.server.repo.audit_chain(0, 1000).await.unwrap();
    let at = entries
        .iter()
        .position(|e| e.record.sequence == sequence)
        .unwrap();
    entries[at].record.subject = "mallory".into();
    for i in at..entries.len() {
        let previous = entries[i - 1].hash.clone();
        let hash = chain_hash(&previous, &entries[i].record);
        let e = &mut entries[i];
        (e.previous_hash, e.hash) = (previous, hash);
        tamper(
            app,
            &format!(
                "UPDATE audit_log SET subject = '{}', previous_hash = '{}', hash = '{}' WHERE sequence = {}",
                e.record.subject, e.previous_hash, e.hash, e.record.sequence
            ),
        )
        .await;
    }
}

/// The server signs the chain's head every second and appends each
/// checkpoint to a file. An insider rewrites an entry and recomputes every
/// later hash, cuts entries from the end, and finally deletes the stored
/// checkpoints: the stored checkpoints find the first two, the kept file
/// finds all three, and every broken range is reported.
async fn signed_checkpoints_find_truncation_and_recomputation(backend: Backend) {
    let keys = KeyDir::new();
    let (private, public) = ed25519_pair();
    let (checkpoint_key, _) = ed25519_pair();
    let verify_key = keys.write("verify.pem", &public);
    let checkpoint_key = keys.write("checkpoint.pem", &checkpoint_key);
    let published = keys.dir.join("checkpoints.jsonl");
    let Some(app) = spawn_with(backend, |s| {
        s.allow_unauthenticated = false;
        s.jwt_verify_key_file = Some(verify_key);
        s.audit_checkpoint_key_file = Some(checkpoint_key);
        s.audit_checkpoint_interval_secs = 1;
        s.audit_checkpoint_file = Some(published.clone());
    })
    .await
    else {
        return;
    };
    let minter = Minter::new(&private);
    let as_ = |token: String| InterceptedService::new(app.channel.clone(), Bearer(Some(token)));
    let admin = as_(minter.token("ops@bank", Role::Admin, &[]));
    let mut audit = AuditServiceClient::new(as_(minter.token("audit@firm", Role::Auditor, &[])));
    let party = PartyServiceClient::new(admin.clone())
        .create_party(pb::CreatePartyRequest {
            request_id: rid(),
            party: Some(firm("Pinned Ltd")),
        })
        .await
        .unwrap()
        .into_inner();
    let mut earnings = EarningServiceClient::new(admin.clone());
    let mut add = async |n: usize| {
        earnings
            .create_earning(pb::CreateEarningRequest {
                request_id: rid(),
                earning: Some(earning(&party.id, &format!("PIN-{n}"), "10.00", "USD")),
            })
            .await
            .unwrap();
    };
    for n in 2..=5 {
        add(n).await;
    }
    checkpoint_at(&mut audit, 5).await;
    for n in 6..=8 {
        add(n).await;
    }
    checkpoint_at(&mut audit, 8).await;
    let sound = verify(&mut audit, vec![]).await;
    assert!(sound.intact, "{sound:?}");
    assert_eq!(sound.head_sequence, 8);
    assert!(sound.checkpoints_checked >= 2, "{sound:?}");
    let kept = kept(&published);
    assert!(
        [5, 8].iter().all(|s| kept.iter().any(|c| c.sequence == *s)),
        "{kept:?}"
    );
    assert!(verify(&mut audit, kept.clone()).await.intact);

    // Entry 3 rewritten, every later hash recomputed: each link holds, but
    // the first checkpoint after it signed another hash.
    rewrite_and_recompute(&app, 3).await;
    let rewritten = verify(&mut audit, vec![]).await;
    let found = ranges(&rewritten);
    assert!(
        matches!(found.as_slice(), [(first, last, pb::AuditBreach::Diverged)] if *first <= 3 && (3..=5).contains(last)),
        "{rewritten:?}"
    );
    assert_eq!(rewritten.first_broken_sequence, found[0].0);

    // Entries 7 and 8 cut from the end: reported beside the rewrite.
    tamper(&app, "DELETE FROM audit_log WHERE sequence > 6").await;
    let cut = verify(&mut audit, vec![]).await;
    let both = ranges(&cut);
    assert_eq!(both.len(), 2, "{cut:?}");
    assert_eq!(both[0], found[0]);
    assert_eq!(both[1], (7, 8, pb::AuditBreach::Truncated));
    assert_eq!(cut.head_sequence, 6);

    // The stored checkpoints deleted too: the database alone now looks
    // intact, the kept checkpoints do not.
    tamper(&app, "DELETE FROM audit_checkpoints").await;
    assert!(verify(&mut audit, vec![]).await.intact);
    let against_kept = verify(&mut audit, kept.clone()).await;
    assert!(!against_kept.intact);
    assert_eq!(ranges(&against_kept), both, "{against_kept:?}");
    assert_eq!(against_kept.checkpoint_problems.len(), kept.len());
    assert!(
        against_kept
            .checkpoint_problems
            .iter()
            .all(|p| p.reason.contains("removed"))
    );
    // Nor does the server sign over the tampered chain.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let listed = audit
        .list_audit_checkpoints(pb::ListAuditCheckpointsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.checkpoints.is_empty(), "{listed:?}");
    assert_eq!(kept.len(), self::kept(&published).len());
    app.finish().await;
}
