//! The store's conformance suite: every operation of the repository, run
//! through the store's own interface (no server, no gRPC) on SQLite and on
//! PostgreSQL, and the parity of the two schemas.

mod audit;
mod documents;
mod events;
mod facts;
mod idempotency;
mod incentive;
mod journeys;
mod metrics;
mod reconciliation;
mod schema;
mod support;
