//! Black-box tests: a real repatd, a real database, a real gRPC client.
//! Each test runs on SQLite and on PostgreSQL.

mod batch;
mod discovery;
mod idempotency;
mod journeys;
mod parity;
mod validation;
mod watch;
