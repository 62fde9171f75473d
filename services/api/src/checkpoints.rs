//! Signed checkpoints of the audit chain: signing the head now and then
//! (the server's background work), and the trail's verification against
//! them (AuditService).

use repat_core::audit::checkpoint::{Checkpoint, CheckpointKey, CheckpointSigner};
use repat_core::audit::verify::{Breach, Origin, TrailReport, TrailVerifier};
use repat_proto::v1 as pb;
use repat_store::{Repository, StoreError};

use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::validate::Violations;

/// Entries read per round trip while verifying.
const VERIFY_PAGE: u32 = 5000;
/// Checkpoints read per round trip.
const CHECKPOINT_PAGE: u32 = 1000;
/// Most checkpoints a caller may give to VerifyAuditChain.
pub const MAX_KEPT_CHECKPOINTS: usize = 10_000;

/// Why no checkpoint was signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The trail does not lead from the last checkpoint: it was tampered
    /// with, and signing it would vouch for the tampering.
    #[error("refusing to sign the audit chain: {0}")]
    Refused(String),
}

/// Signs the chain's head when it moved since the last checkpoint, after
/// checking that the entries since lead from that checkpoint (from the
/// first entry, before any). `last` is the newest checkpoint this server
/// knows of: one the database no longer holds was removed, and nothing is
/// signed. Returns the checkpoint stored, if this server stored one.
pub async fn sign_checkpoint(
    repo: &dyn Repository,
    signer: &CheckpointSigner,
    last: &mut Option<Checkpoint>,
) -> Result<Option<Checkpoint>, SignError> {
    let stored = repo.last_audit_checkpoint().await?;
    let base = match (stored, last.take()) {
        (Some(s), Some(l)) if s.sequence < l.sequence => {
            let reason = format!(
                "the database lacks checkpoint {} (signed {}): checkpoints were removed",
                l.sequence,
                l.sign_time.to_rfc3339()
            );
            *last = Some(l);
            return Err(SignError::Refused(reason));
        }
        (None, Some(l)) => {
            let reason = format!(
                "the database holds no checkpoint, but this server signed checkpoint {}: checkpoints were removed",
                l.sequence
            );
            *last = Some(l);
            return Err(SignError::Refused(reason));
        }
        (s, _) => s,
    };
    *last = base.clone();
    let Some((sequence, hash)) = repo.audit_head().await? else {
        return match base {
            Some(b) => Err(SignError::Refused(format!(
                "the chain is empty, but checkpoint {} signed it",
                b.sequence
            ))),
            None => Ok(None),
        };
    };
    match &base {
        Some(b) if b.sequence > sequence => {
            return Err(SignError::Refused(format!(
                "the chain ends at entry {sequence}, before checkpoint {}: entries were removed from the end",
                b.sequence
            )));
        }
        Some(b) if b.sequence == sequence && b.head_hash != hash => {
            return Err(SignError::Refused(format!(
                "entry {sequence} is not the one checkpoint {sequence} signed"
            )));
        }
        // Nothing new to sign.
        Some(b) if b.sequence == sequence => return Ok(None),
        _ => {}
    }
    let key = signer.public().clone();
    let mut verifier = TrailVerifier::new(Some(key));
    let mut after = 0;
    if let Some(b) = &base {
        verifier = verifier.from_checkpoint(b).map_err(SignError::Refused)?;
        after = b.sequence;
    }
    while after < sequence {
        let page = repo.audit_chain(after, VERIFY_PAGE).await?;
        let Some(tail) = page.last() else { break };
        after = tail.record.sequence;
        for e in page.iter().filter(|e| e.record.sequence <= sequence) {
            verifier.check(e);
        }
    }
    let report = verifier.finish();
    if let Some(b) = report.broken.first() {
        return Err(SignError::Refused(format!(
            "entries {}..{}: {}",
            b.first, b.last, b.reason
        )));
    }
    if report.head.as_ref() != Some(&(sequence, hash.clone())) {
        return Err(SignError::Refused(format!(
            "the chain does not end at entry {sequence} as it was read"
        )));
    }
    let checkpoint = signer.sign(sequence, &hash, chrono::Utc::now());
    let saved = repo.save_audit_checkpoint(&checkpoint).await?;
    *last = Some(checkpoint.clone());
    Ok(saved.then_some(checkpoint))
}

pub fn to_wire(c: &Checkpoint) -> pb::AuditCheckpoint {
    pb::AuditCheckpoint {
        sequence: c.sequence,
        head_hash: c.head_hash.clone(),
        sign_time: Some(convert::timestamp(c.sign_time)),
        key_id: c.key_id.clone(),
        signature: c.signature.clone(),
    }
}

/// The checkpoints a caller kept, as given (their signatures are judged
/// by the verifier).
fn kept(v: &mut Violations, given: &[pb::AuditCheckpoint]) -> Vec<Checkpoint> {
    if given.len() > MAX_KEPT_CHECKPOINTS {
        v.add(
            "checkpoints",
            format!(
                "{} checkpoints; at most {MAX_KEPT_CHECKPOINTS} (give those missing from the database)",
                given.len()
            ),
        );
        return Vec::new();
    }
    let now = chrono::Utc::now();
    let mut out = Vec::with_capacity(given.len());
    for (i, c) in given.iter().enumerate() {
        let field = |name: &str| format!("checkpoints[{i}].{name}");
        if c.sequence < 1 {
            v.add(field("sequence"), "must be 1 or more");
        }
        let sign_time = v.event_time(&field("sign_time"), c.sign_time.as_ref(), now);
        let head_hash = v.text(&field("head_hash"), &c.head_hash);
        let key_id = v.text(&field("key_id"), &c.key_id);
        let signature = v.text(&field("signature"), &c.signature);
        if let (Some(sign_time), Some(head_hash), Some(key_id), Some(signature)) =
            (sign_time, head_hash, key_id, signature)
        {
            out.push(Checkpoint {
                sequence: c.sequence,
                head_hash,
                sign_time,
                key_id,
                signature,
            });
        }
    }
    out
}

fn breach(b: Breach) -> pb::AuditBreach {
    match b {
        Breach::Missing => pb::AuditBreach::Missing,
        Breach::Relinked => pb::AuditBreach::Relinked,
        Breach::Altered => pb::AuditBreach::Altered,
        Breach::Diverged => pb::AuditBreach::Diverged,
        Breach::Truncated => pb::AuditBreach::Truncated,
    }
}

/// Verifies the whole trail against the stored checkpoints (when the
/// server holds the key that checks them) and those the caller kept.
pub async fn verify(
    repo: &dyn Repository,
    key: Option<&CheckpointKey>,
    req: &pb::VerifyAuditChainRequest,
) -> ApiResult<pb::VerifyAuditChainResponse> {
    let mut v = Violations::default();
    let given = kept(&mut v, &req.checkpoints);
    let given = v.finish(|| Some(given)).map_err(ApiError::Invalid)?;
    let mut verifier = TrailVerifier::new(key.cloned());
    for c in given {
        verifier.add_checkpoint(c, Origin::Kept);
    }
    let mut after = 0;
    loop {
        let page = repo.audit_chain(after, VERIFY_PAGE).await?;
        let Some(tail) = page.last() else { break };
        let upto = tail.record.sequence;
        if key.is_some() {
            add_stored(repo, &mut verifier, after, Some(upto)).await?;
        }
        after = upto;
        for e in &page {
            verifier.check(e);
        }
    }
    // Checkpoints past the last entry: entries cut from the end.
    if key.is_some() {
        add_stored(repo, &mut verifier, after, None).await?;
    }
    Ok(response(verifier.finish()))
}

/// Adds the stored checkpoints after `after` up to `upto`.
async fn add_stored(
    repo: &dyn Repository,
    verifier: &mut TrailVerifier,
    mut after: i64,
    upto: Option<i64>,
) -> Result<(), StoreError> {
    loop {
        let page = repo.audit_checkpoints(after, upto, CHECKPOINT_PAGE).await?;
        let Some(tail) = page.last() else {
            return Ok(());
        };
        after = tail.sequence;
        for c in page {
            verifier.add_checkpoint(c, Origin::Stored);
        }
    }
}

fn response(r: TrailReport) -> pb::VerifyAuditChainResponse {
    let intact = r.intact();
    let (first_broken_sequence, reason) = match (r.broken.first(), r.checkpoint_problems.first()) {
        (Some(b), _) => (
            b.first,
            format!("entries {}..{}: {}", b.first, b.last, b.reason),
        ),
        (None, Some(p)) => (0, format!("checkpoint {}: {}", p.sequence, p.reason)),
        (None, None) => (0, String::new()),
    };
    let (head_sequence, head_hash) = r.head.clone().unwrap_or_default();
    pb::VerifyAuditChainResponse {
        intact,
        entries_checked: r.entries_checked,
        first_broken_sequence,
        reason,
        head_hash: if intact { head_hash } else { String::new() },
        broken_ranges: r
            .broken
            .iter()
            .map(|b| pb::BrokenRange {
                first_sequence: b.first,
                last_sequence: b.last,
                breach: breach(b.breach) as i32,
                reason: b.reason.clone(),
            })
            .collect(),
        checkpoints_checked: r.checkpoints_checked,
        checkpoint_problems: r
            .checkpoint_problems
            .iter()
            .map(|p| pb::CheckpointProblem {
                sequence: p.sequence,
                reason: p.reason.clone(),
            })
            .collect(),
        head_sequence,
    }
}
