//! The audit chain's signed checkpoints.

use async_trait::async_trait;
use repat_core::audit::checkpoint::Checkpoint;

use super::SqlRepository;
use crate::rows::{ChainHead, CheckpointRow};
use crate::types::DbTime;
use crate::{CheckpointRepository, StoreError};

#[async_trait]
impl CheckpointRepository for SqlRepository {
    async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let head: Option<ChainHead> = c
            .conn()
            .query("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
            .fetch_optional()
            .await?;
        Ok(head.map(|h| (h.sequence, h.hash)))
    }

    async fn save_audit_checkpoint(&self, cp: &Checkpoint) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let stored = tx
            .conn()
            .query(
                "INSERT INTO audit_checkpoints (sequence, head_hash, sign_time, key_id, signature)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sequence) DO NOTHING",
            )
            .bind(cp.sequence)
            .bind(cp.head_hash.clone())
            .bind(DbTime(cp.sign_time))
            .bind(cp.key_id.clone())
            .bind(cp.signature.clone())
            .execute()
            .await?;
        tx.commit().await?;
        Ok(stored == 1)
    }

    async fn audit_checkpoints(
        &self,
        after: i64,
        upto: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let rows: Vec<CheckpointRow> = c
            .conn()
            .query(
                "SELECT * FROM audit_checkpoints WHERE sequence > $1 AND sequence <= $2
                 ORDER BY sequence LIMIT $3",
            )
            .bind(after)
            .bind(upto.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all()
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn last_audit_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let mut c = self.pool.acquire().await?;
        let row: Option<CheckpointRow> = c
            .conn()
            .query("SELECT * FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1")
            .fetch_optional()
            .await?;
        Ok(row.map(Into::into))
    }
}
