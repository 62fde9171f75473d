//! Black-box tests: a real repatd, a real database, a real gRPC client.
//! Each test runs on SQLite and on PostgreSQL.

mod audit;
mod authz;
mod batch;
mod discovery;
mod idempotency;
mod incentive;
mod journeys;
mod limits;
mod metrics;
mod outage;
mod parity;
mod reconciliation;
mod statement_files;
mod telemetry;
mod tls;
mod validation;
mod watch;
