//! What every use case works with: the store, reached only by a caller
//! who was authorized, and where committed changes are announced.

use std::sync::Arc;

use futures::future::BoxFuture;
use repat_store::{Repository, StoreError};
use uuid::Uuid;

use crate::auth::{Action, Caller, Permit, authorize, authorize_record};
use crate::changes::Changes;
use crate::error::Result;
use crate::observe::{Observer, Unobserved};

#[derive(Clone)]
pub struct App {
    /// Private to this module: a use case reaches it through
    /// [`App::store`], with a [`Permit`].
    store: Arc<dyn Repository>,
    changes: Changes,
    observer: Arc<dyn Observer>,
    /// Most steps one journey may have.
    max_steps_per_journey: u32,
}

/// Steps a journey may have unless the server is told otherwise: far
/// more than any payment's hops, few enough that a journey stays cheap to
/// read and to extend.
pub const DEFAULT_MAX_STEPS_PER_JOURNEY: u32 = 1_000;

impl App {
    pub fn new(store: Arc<dyn Repository>) -> Self {
        App {
            store,
            changes: Changes::new(),
            observer: Arc::new(Unobserved),
            max_steps_per_journey: DEFAULT_MAX_STEPS_PER_JOURNEY,
        }
    }

    /// The same, allowing each journey at most `limit` steps.
    pub fn with_max_steps_per_journey(self, limit: u32) -> Self {
        App {
            max_steps_per_journey: limit,
            ..self
        }
    }

    pub fn max_steps_per_journey(&self) -> u32 {
        self.max_steps_per_journey
    }

    /// The same, reporting what goes in to `observer`.
    pub fn observed_by(self, observer: Arc<dyn Observer>) -> Self {
        App { observer, ..self }
    }

    /// Where changes are announced to watchers (and the server's closing).
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    pub(crate) fn observer(&self) -> &dyn Observer {
        self.observer.as_ref()
    }

    /// The store, for a caller who was authorized.
    pub(crate) fn store(&self, _: &Permit) -> &dyn Repository {
        self.store.as_ref()
    }

    /// The store for work done on behalf of a caller already authorized,
    /// outliving the request (a stream).
    pub(crate) fn store_handle(&self, _: &Permit) -> Arc<dyn Repository> {
        self.store.clone()
    }

    /// Reads the record `kind` `id`, and hands it over only if the caller
    /// may do `action` on it (which the record itself names, e.g. its
    /// party); one the caller may not see is answered as an absent one.
    pub(crate) async fn read_as<T, L, A>(
        &self,
        caller: &Caller,
        (kind, id): (&'static str, Uuid),
        load: L,
        action: A,
    ) -> Result<T>
    where
        L: for<'a> FnOnce(&'a dyn Repository) -> BoxFuture<'a, Result<T, StoreError>>,
        A: FnOnce(&T) -> Action,
    {
        let record = load(self.store.as_ref()).await?;
        authorize_record(caller, action(&record), kind, id)?;
        Ok(record)
    }

    /// The party an earning is of, to authorize on: the earning itself is
    /// handed out only to a caller who may see it.
    pub(crate) async fn party_of_earning(&self, id: Uuid) -> Result<Uuid> {
        Ok(self.store.get_earning(id).await?.details.party_id)
    }

    /// The party a statement is of, to authorize on.
    pub(crate) async fn statement_party(&self, id: Uuid) -> Result<Uuid> {
        Ok(self.store.get_statement(id).await?.party_id)
    }

    /// The party a repatriation pays, to authorize on.
    pub(crate) async fn party_of_repatriation(&self, id: Uuid) -> Result<Uuid> {
        Ok(self.store.repatriation_party(id).await?)
    }

    /// Authorizes `action` on the party of repatriation `id`: the caller
    /// must see the party, then be allowed the action. Returns the party.
    pub(crate) async fn repatriation_party(
        &self,
        caller: &Caller,
        id: Uuid,
        action: fn(Uuid) -> Action,
    ) -> Result<(Uuid, Permit)> {
        let party = self.store.repatriation_party(id).await?;
        authorize_record(caller, Action::Read(party), "repatriation", id)?;
        Ok((party, authorize(caller, action(party))?))
    }

    /// Authorizes `action` on the party of earning `id`, the same way.
    pub(crate) async fn earning_party(
        &self,
        caller: &Caller,
        id: Uuid,
        action: fn(Uuid) -> Action,
    ) -> Result<(Uuid, Permit)> {
        let party = self.party_of_earning(id).await?;
        authorize_record(caller, Action::Read(party), "earning", id)?;
        Ok((party, authorize(caller, action(party))?))
    }

    /// Authorizes `action` on the party of statement entry `id`, the same
    /// way.
    pub(crate) async fn entry_party(
        &self,
        caller: &Caller,
        id: Uuid,
        action: fn(Uuid) -> Action,
    ) -> Result<(Uuid, Permit)> {
        let party = self.store.entry_party(id).await?;
        authorize_record(caller, Action::Read(party), "statement entry", id)?;
        Ok((party, authorize(caller, action(party))?))
    }

    /// Announces committed changes of repatriations: to this replica's
    /// watchers at once, and through the database to the other replicas'.
    pub(crate) async fn announce(&self, mut ids: Vec<Uuid>) {
        ids.sort();
        ids.dedup();
        for id in &ids {
            self.changes.notify(*id);
        }
        if let Err(e) = self.store.publish_changes(&ids).await {
            // Other replicas' watchers re-read on their interval.
            tracing::warn!(error = %e, "announcing changes to other replicas failed");
        }
    }
}
