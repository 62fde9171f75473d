//! Signs the audit chain's head now and then, and publishes each
//! checkpoint outside the database: a line of JSON appended to the
//! configured file, and a log line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use repat_api::checkpoints::{SignError, sign_checkpoint};
use repat_core::audit::checkpoint::{Checkpoint, CheckpointSigner};
use repat_store::Repository;

/// Signs a checkpoint every `interval` when the chain grew.
pub async fn keep_signing(
    repo: Arc<dyn Repository>,
    signer: Arc<CheckpointSigner>,
    interval: Duration,
    file: Option<PathBuf>,
) {
    let mut last: Option<Checkpoint> = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match sign_checkpoint(repo.as_ref(), &signer, &mut last).await {
            Ok(Some(c)) => {
                tracing::info!(
                    sequence = c.sequence,
                    head_hash = %c.head_hash,
                    sign_time = %c.sign_time.to_rfc3339(),
                    key_id = %c.key_id,
                    signature = %c.signature,
                    "audit checkpoint signed"
                );
                if let Some(path) = &file
                    && let Err(e) = publish(path, &c)
                {
                    tracing::error!(error = %e, path = %path.display(), sequence = c.sequence, "appending the audit checkpoint to its file failed");
                }
            }
            Ok(None) => {}
            Err(SignError::Refused(reason)) => {
                tracing::error!(%reason, "audit chain tampered with: no checkpoint signed");
            }
            Err(SignError::Store(e)) => {
                tracing::warn!(error = %e, "signing an audit checkpoint failed; retrying");
            }
        }
    }
}

/// Appends `c` to `path` as a line of JSON, on disk before returning.
fn publish(path: &Path, c: &Checkpoint) -> std::io::Result<()> {
    let mut line = serde_json::to_string(c)?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(line.as_bytes())?;
    f.sync_data()
}
