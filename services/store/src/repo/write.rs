//! A write transaction: what a use case commits through. The use case
//! decides (with the pure core) what changes; the transaction's methods,
//! here and beside the SQL of each area (`journeys`, `incentive`,
//! `reconciliation`), only read and write rows.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{append_audit, audit_draft, claim, find_keys, save_response};
use crate::codec::{self, now};
use crate::db::{Conn, Tx, Writes};
use crate::rows::KeyRow;
use crate::{Idempotency, KeyId, StoreError};

/// An open write transaction. Nothing it writes is seen by others, or
/// kept, before [`Write::commit`]; dropped without a commit, it rolls
/// back. On SQLite it holds the one writer, inside a group of requests
/// committed together: keep it short, and compute before opening it where
/// the inputs allow.
pub struct Write {
    tx: Tx,
    at: DateTime<Utc>,
    /// Whether changes append their events to the outbox.
    record_events: bool,
}

/// The record of a request id already used, as a batch reads it.
pub struct StoredKey(KeyRow);

impl StoredKey {
    /// The stored response if `idem` repeats the recorded request; refused
    /// when the id was used for another request.
    pub fn replay<T: DeserializeOwned>(self, idem: &Idempotency) -> Result<T, StoreError> {
        codec::from_json(&self.0.replay(idem)?)
    }
}

impl Write {
    pub(crate) async fn begin(writes: &Writes, record_events: bool) -> Result<Write, StoreError> {
        Ok(Write {
            tx: writes.begin().await?,
            at: now(),
            record_events,
        })
    }

    /// Whether changes append their events to the outbox (off only for a
    /// benchmark's baseline).
    pub fn records_events(&self) -> bool {
        self.record_events
    }

    /// The time this transaction records its changes at (creation and
    /// recording times, the audit trail).
    pub fn time(&self) -> DateTime<Utc> {
        self.at
    }

    pub(crate) fn conn(&mut self) -> Conn<'_> {
        self.tx.conn()
    }

    /// Takes the request id of `idem`: `None` when the request is new, the
    /// response stored for it when it is a retry. The same id with another
    /// request is refused. A stored response is returned once it is
    /// durable (on SQLite, once this request's group has committed), and
    /// ends the transaction: answer with it.
    pub async fn replay<T: DeserializeOwned>(
        &mut self,
        idem: &Idempotency,
    ) -> Result<Option<T>, StoreError> {
        match claim(&mut self.tx, idem, self.at).await? {
            Some(json) => Ok(Some(codec::from_json(&json)?)),
            None => Ok(None),
        }
    }

    /// Keeps the response to `idem` for its retries.
    pub async fn respond<T: Serialize>(
        &mut self,
        idem: &Idempotency,
        response: &T,
    ) -> Result<(), StoreError> {
        save_response(&mut self.tx, idem, response).await
    }

    /// The records of the keys among `keys` already used (a batch's
    /// retries).
    pub async fn stored_keys(
        &mut self,
        keys: &[KeyId],
    ) -> Result<HashMap<KeyId, StoredKey>, StoreError> {
        let rows = find_keys(&mut self.conn(), keys).await?;
        Ok(rows.into_iter().map(|(k, r)| (k, StoredKey(r))).collect())
    }

    /// Takes the keys of a batch with their responses; returns those taken.
    /// A key missing from the answer was taken meanwhile by a concurrent
    /// request.
    pub async fn claim_keys<T: Serialize>(
        &mut self,
        keys: &[(Idempotency, T)],
    ) -> Result<HashSet<KeyId>, StoreError> {
        let keys = keys
            .iter()
            .map(|(idem, response)| Ok((idem.clone(), Some(codec::to_json(response)?))))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let at = self.at;
        self.conn().dialect().claim_keys(&keys, at).await
    }

    /// Appends to the audit trail what each request changed (its resource
    /// name), linked in commit order.
    pub async fn audit(&mut self, changes: &[(&Idempotency, String)]) -> Result<(), StoreError> {
        let drafts = changes
            .iter()
            .map(|(idem, resource)| audit_draft(idem, resource.clone(), self.at))
            .collect();
        append_audit(&mut self.tx, drafts).await
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await
    }

    /// Ends the transaction, keeping nothing.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await
    }
}
