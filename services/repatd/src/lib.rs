//! The repat server: configuration, start and graceful stop. `main.rs` is a
//! few lines over [`startup::start`], which tests and benchmarks call too.

mod checkpoints;
pub mod config;
pub mod console;
mod guard;
pub mod health;
pub mod outbox;
pub mod startup;
pub mod telemetry;

pub use config::Settings;
pub use startup::{RunningServer, start};
