//! Black-box tests: a real repatd, a real database, a real gRPC client.
//! Each test runs on SQLite and on PostgreSQL.

mod audit;
mod authz;
mod batch;
mod console;
mod corrections;
mod discovery;
mod documents;
mod events;
mod events_nats;
mod existence;
mod facts;
mod idempotency;
mod incentive;
mod invariants;
mod journeys;
mod limits;
mod metrics;
mod outage;
mod parity;
mod reconciliation;
mod search;
mod statement_files;
mod telemetry;
mod tenancy;
mod tls;
mod validation;
mod watch;
