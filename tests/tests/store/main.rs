//! The store's conformance suite: every operation of the repository, run
//! through the store's own interface (no server, no gRPC) on SQLite and on
//! PostgreSQL, and the parity of the two schemas. Writes go through the use
//! cases, as every write does: they decide, the store keeps.

mod audit;
mod documents;
mod events;
mod facts;
mod idempotency;
mod incentive;
mod journeys;
mod metrics;
mod reconciliation;
mod revisions;
mod rollups;
mod schema;
mod support;
mod writes;
