//! Change notification for WatchRepatriation.
//!
//! A replica announces the repatriations it changed to its own watchers at
//! once; watchers also re-read on a short interval, so changes made by other
//! replicas reach them too. Nothing a replica needs lives only in another's
//! memory: every event sent is read back from the database.

use std::time::Duration;

use tokio::sync::broadcast;
use uuid::Uuid;

/// How often a watcher re-reads when no local change was announced.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Changes {
    tx: broadcast::Sender<Uuid>,
}

impl Changes {
    pub fn new() -> Self {
        Changes {
            tx: broadcast::channel(4096).0,
        }
    }

    /// Announces that `id` changed (after the change committed).
    pub fn notify(&self, id: Uuid) {
        // No receiver is fine: nobody is watching.
        let _ = self.tx.send(id);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.tx.subscribe()
    }
}

impl Default for Changes {
    fn default() -> Self {
        Self::new()
    }
}
