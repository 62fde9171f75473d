//! Settings, from flags or `REPAT_*` environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Clone, Parser)]
#[command(name = "repatd", version, about = "repat: follow export earnings home, step by step")]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve gRPC (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address to listen on. Without tokens, only loopback is allowed.
    #[arg(long, env = "REPAT_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// `sqlite:FILE` (created on first run) or `postgres://...`.
    #[arg(long, env = "REPAT_DATABASE_URL", default_value = "sqlite:repat.db", hide_env_values = true)]
    pub database_url: String,
    /// Most database connections.
    #[arg(long, env = "REPAT_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// Seconds a request waits for a database connection before it fails
    /// with UNAVAILABLE.
    #[arg(long, env = "REPAT_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub db_acquire_timeout_secs: u64,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "REPAT_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    /// Log format.
    #[arg(long, env = "REPAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl Settings {
    /// Settings for a server on an ephemeral loopback port (tests, benchmarks).
    pub fn ephemeral(database_url: impl Into<String>) -> Self {
        Settings {
            listen: "127.0.0.1:0".parse().expect("literal address"),
            database_url: database_url.into(),
            db_max_connections: 16,
            db_acquire_timeout_secs: 5,
            shutdown_grace_secs: 5,
            log_format: LogFormat::Text,
        }
    }

    pub fn store_options(&self) -> repat_store::ConnectOptions {
        repat_store::ConnectOptions {
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout_secs),
            migrate: true,
        }
    }
}
