//! Change notification: what watchers of repatriations hear, and the
//! server's closing.
//!
//! A replica announces the repatriations it changed to its own watchers at
//! once and, on PostgreSQL, to every other replica through the database
//! (`NOTIFY`, delivered on commit to each replica's listener). Watchers also
//! re-read on a long interval, in case an announcement was lost while a
//! listener reconnected. Nothing a replica needs lives only in another's
//! memory: every event sent is read back from the database.

use std::time::Duration;

use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// How often a watcher re-reads when no change was announced: a safety net
/// only, announcements carry every change.
pub const POLL_INTERVAL: Duration = Duration::from_secs(15);

/// Announced in place of an id when announcements may have been missed:
/// every watcher re-reads.
pub const EVERYTHING: Uuid = Uuid::nil();

#[derive(Clone)]
pub struct Changes {
    tx: broadcast::Sender<Uuid>,
    closing: watch::Sender<bool>,
}

impl Changes {
    pub fn new() -> Self {
        Changes {
            tx: broadcast::channel(4096).0,
            closing: watch::channel(false).0,
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

    /// The server is stopping: open streams end with UNAVAILABLE so their
    /// clients reconnect to another replica at once.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once the server is stopping.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }
}

impl Default for Changes {
    fn default() -> Self {
        Self::new()
    }
}
