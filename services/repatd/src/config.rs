//! Settings, from flags or `REPAT_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
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
    /// Manage bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Mint a token with the configured signing key (for local use and tests).
    Issue {
        /// firm, integrator, auditor or admin.
        #[arg(long)]
        role: String,
        /// A party the bearer acts for (repeat for several).
        #[arg(long = "party")]
        parties: Vec<uuid::Uuid>,
        /// The bearer's identity, recorded in the audit trail.
        #[arg(long, default_value = "local-user")]
        subject: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_secs: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JwtAlgorithm {
    Hs256,
    EdDsa,
    Rs256,
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
    /// Incentive rule set (TOML) new assessments are made under; the
    /// shipped Bangladesh rules when unset. Stored under its `version`.
    #[arg(long, env = "REPAT_RULES_FILE")]
    pub rules_file: Option<PathBuf>,
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

    /// Serve without tokens: every caller is the administrator. Refused
    /// unless listening on loopback.
    #[arg(long, env = "REPAT_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
    /// Algorithm of the token key.
    #[arg(long, env = "REPAT_JWT_ALGORITHM", value_enum, default_value_t = JwtAlgorithm::EdDsa)]
    pub jwt_algorithm: JwtAlgorithm,
    /// File with the key that verifies tokens: the PEM public key (EdDSA,
    /// RS256) or the HS256 secret.
    #[arg(long, env = "REPAT_JWT_VERIFY_KEY_FILE")]
    pub jwt_verify_key_file: Option<PathBuf>,
    /// File with the key that signs tokens for `token issue`: the PEM private
    /// key (EdDSA, RS256) or the HS256 secret.
    #[arg(long, env = "REPAT_JWT_SIGNING_KEY_FILE")]
    pub jwt_signing_key_file: Option<PathBuf>,
    /// Required `iss` claim.
    #[arg(long, env = "REPAT_JWT_ISSUER", default_value = "repat")]
    pub jwt_issuer: String,
    /// Required `aud` claim.
    #[arg(long, env = "REPAT_JWT_AUDIENCE", default_value = "repat")]
    pub jwt_audience: String,

    /// PEM certificate chain to serve TLS with.
    #[arg(long, env = "REPAT_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "REPAT_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA certificates of clients: when set, clients must present a
    /// certificate signed by one of them (mutual TLS).
    #[arg(long, env = "REPAT_TLS_CLIENT_CA_FILE", requires = "tls_cert_file")]
    pub tls_client_ca_file: Option<PathBuf>,

    /// Largest request message accepted, in bytes.
    #[arg(long, env = "REPAT_MAX_MESSAGE_BYTES", default_value_t = 4 << 20)]
    pub max_message_bytes: usize,
    /// Deadline of a request that sets none (or a longer one), in seconds.
    #[arg(long, env = "REPAT_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Requests served at once; beyond it, requests are shed with
    /// RESOURCE_EXHAUSTED at once rather than queued.
    #[arg(long, env = "REPAT_MAX_CONCURRENT_REQUESTS", default_value_t = 256)]
    pub max_concurrent_requests: usize,
    /// Requests per second allowed to each caller (0: no limit); beyond it,
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "REPAT_RATE_LIMIT_PER_SECOND", default_value_t = 200)]
    pub rate_limit_per_second: u32,
    /// Burst allowed above the per-caller rate.
    #[arg(long, env = "REPAT_RATE_LIMIT_BURST", default_value_t = 400)]
    pub rate_limit_burst: u32,
}

impl Settings {
    /// Settings for a server on an ephemeral loopback port without tokens
    /// or rate limits (tests, benchmarks).
    pub fn ephemeral(database_url: impl Into<String>) -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            rules_file: None,
            db_max_connections: 16,
            db_acquire_timeout_secs: 5,
            shutdown_grace_secs: 5,
            log_format: LogFormat::Text,
            allow_unauthenticated: true,
            jwt_algorithm: JwtAlgorithm::EdDsa,
            jwt_verify_key_file: None,
            jwt_signing_key_file: None,
            jwt_issuer: "repat".into(),
            jwt_audience: "repat".into(),
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            max_message_bytes: 4 << 20,
            request_timeout_secs: 30,
            max_concurrent_requests: 256,
            rate_limit_per_second: 0,
            rate_limit_burst: 0,
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

impl Settings {
    /// The text of the incentive rule set to load.
    pub fn rules_source(&self) -> anyhow::Result<String> {
        match &self.rules_file {
            Some(path) => std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display())),
            None => Ok(repat_api::SHIPPED_RULES.to_string()),
        }
    }

    fn key_algorithm(&self) -> repat_api::token::KeyAlgorithm {
        use repat_api::token::KeyAlgorithm;
        match self.jwt_algorithm {
            JwtAlgorithm::Hs256 => KeyAlgorithm::Hs256,
            JwtAlgorithm::EdDsa => KeyAlgorithm::EdDsa,
            JwtAlgorithm::Rs256 => KeyAlgorithm::Rs256,
        }
    }

    /// The token verifier, when a verifying key is configured.
    pub fn token_verifier(&self) -> anyhow::Result<Option<repat_api::token::TokenVerifier>> {
        let Some(path) = &self.jwt_verify_key_file else { return Ok(None) };
        let key = read_key(path)?;
        let verifier = repat_api::token::TokenVerifier::new(self.key_algorithm(), &key, &self.jwt_issuer, &self.jwt_audience)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Some(verifier))
    }

    /// The token issuer of `repatd token issue`.
    pub fn token_issuer(&self) -> anyhow::Result<repat_api::token::TokenIssuer> {
        let path = self.jwt_signing_key_file.as_ref().ok_or_else(|| anyhow::anyhow!("--jwt-signing-key-file is required to issue tokens"))?;
        let key = read_key(path)?;
        repat_api::token::TokenIssuer::new(self.key_algorithm(), &key, &self.jwt_issuer, &self.jwt_audience)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

/// Reads a key file; an HS256 secret file may end with a newline, which is
/// not part of the secret.
fn read_key(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let mut key = std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    while key.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        key.pop();
    }
    Ok(key)
}
