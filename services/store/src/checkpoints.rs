//! The audit chain's signed checkpoints, kept beside the chain.

use async_trait::async_trait;
use repat_core::audit::checkpoint::Checkpoint;

use crate::StoreError;

#[async_trait]
pub trait CheckpointRepository: Send + Sync {
    /// The chain's last entry: (sequence, hash).
    async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError>;
    /// Stores a checkpoint; `false` when one is already stored at its
    /// sequence (another replica signed the same head).
    async fn save_audit_checkpoint(&self, checkpoint: &Checkpoint) -> Result<bool, StoreError>;
    /// Checkpoints after sequence `after` (and at most `upto`, when
    /// given), by sequence, at most `limit`.
    async fn audit_checkpoints(
        &self,
        after: i64,
        upto: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Checkpoint>, StoreError>;
    /// The newest checkpoint.
    async fn last_audit_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;
}
