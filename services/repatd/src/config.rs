//! Settings: flags, `REPAT_*` environment variables, a TOML file, defaults
//! (in that order of precedence); and the check of `--check-config`.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use rust_decimal::Decimal;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "repatd",
    version,
    about = "repat: follow export earnings home, step by step"
)]
pub struct Cli {
    /// TOML file of settings (keys as the flags, with `_` for `-`); flags
    /// and environment variables take precedence over it.
    #[arg(long, env = "REPAT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Check the configuration (files readable, keys and certificates
    /// usable, settings consistent) and exit: 0 when it is sound.
    #[arg(long)]
    pub check_config: bool,
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
    /// Ask the server at the listen address whether it is serving
    /// (grpc.health.v1); exit 0 when it is. For container health checks.
    HealthCheck {
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3)]
        timeout_secs: u64,
    },
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
    /// Address of the browser console (its pages, and the API over
    /// gRPC-Web for them); `off` for none. Without tokens, only loopback.
    #[arg(long, env = "REPAT_CONSOLE_LISTEN", default_value = "127.0.0.1:50052", value_parser = console_listen)]
    pub console_listen: ConsoleListen,
    /// A second address serving only `grpc.health.v1`, in plaintext even
    /// when `listen` serves TLS: for probes that cannot speak TLS
    /// (Kubernetes' gRPC probes, `repatd health-check`). Off when unset.
    #[arg(long, env = "REPAT_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,
    /// `sqlite:FILE` (created on first run) or `postgres://...`.
    #[arg(
        long,
        env = "REPAT_DATABASE_URL",
        default_value = "sqlite:repat.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// Incentive rule set (TOML) new assessments are made under; the
    /// shipped Bangladesh rules when unset. Stored under its `version`.
    #[arg(long, env = "REPAT_RULES_FILE")]
    pub rules_file: Option<PathBuf>,
    /// Reconciliation: fees deducted abroad a credit may fall short by and
    /// still pay an invoice in full, in units of the invoice's currency.
    #[arg(long, env = "REPAT_RECON_FEE_TOLERANCE", default_value = "50", value_parser = repat_api::tolerance_value)]
    pub recon_fee_tolerance: Decimal,
    /// Reconciliation: the same as a percentage of the amount outstanding
    /// (the larger allowance applies).
    #[arg(long, env = "REPAT_RECON_FEE_TOLERANCE_PERCENT", default_value = "2", value_parser = repat_api::tolerance_value)]
    pub recon_fee_tolerance_percent: Decimal,
    /// Reconciliation: further allowance, either way, in percent, for a
    /// credit converted from another currency.
    #[arg(long, env = "REPAT_RECON_FX_TOLERANCE_PERCENT", default_value = "1", value_parser = repat_api::tolerance_value)]
    pub recon_fx_tolerance_percent: Decimal,
    /// Reconciliation: days after the invoice date within which a credit
    /// without a reference may match by amount.
    #[arg(long, env = "REPAT_RECON_DATE_WINDOW_DAYS", default_value_t = 180)]
    pub recon_date_window_days: u32,
    /// Most database connections.
    #[arg(long, env = "REPAT_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// Seconds a request waits for a database connection before it fails
    /// with UNAVAILABLE (kept short so an outage fails fast).
    #[arg(long, env = "REPAT_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 3)]
    pub db_acquire_timeout_secs: u64,
    /// SQLite: most write requests committed together by the one writer,
    /// one fsync for the group (1: one commit per request).
    #[arg(long, env = "REPAT_SQLITE_WRITE_GROUP", default_value_t = repat_store::DEFAULT_WRITE_GROUP)]
    pub sqlite_write_group: usize,
    /// Seconds between the readiness checks of the database.
    #[arg(long, env = "REPAT_DB_CHECK_INTERVAL_SECS", default_value_t = 5)]
    pub db_check_interval_secs: u64,
    /// Apply the migrations when serving starts (`false` when a separate
    /// `repatd migrate` job does it).
    #[arg(long, env = "REPAT_MIGRATE_AT_START", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate_at_start: bool,
    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "REPAT_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    /// Log format.
    #[arg(long, env = "REPAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// OTLP/gRPC endpoint to export traces and metrics to (e.g.
    /// `http://otel-collector:4317`); nothing is exported without it.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported traces and metrics; when unset, the
    /// one `OTEL_RESOURCE_ATTRIBUTES` gives, else `repatd`.
    #[arg(long, env = "OTEL_SERVICE_NAME")]
    pub otel_service_name: Option<String>,
    /// Seconds between metric exports.
    #[arg(long, env = "REPAT_OTLP_METRICS_INTERVAL_SECS", default_value_t = 60)]
    pub otlp_metrics_interval_secs: u64,

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

    /// PEM Ed25519 private key the server signs audit checkpoints with (a
    /// key of its own, never the token key): `openssl genpkey -algorithm
    /// ed25519`. No checkpoints without it.
    #[arg(long, env = "REPAT_AUDIT_CHECKPOINT_KEY_FILE")]
    pub audit_checkpoint_key_file: Option<PathBuf>,
    /// Seconds between audit checkpoints (one is signed only when the
    /// chain grew).
    #[arg(
        long,
        env = "REPAT_AUDIT_CHECKPOINT_INTERVAL_SECS",
        default_value_t = 300
    )]
    pub audit_checkpoint_interval_secs: u64,
    /// File each checkpoint this server signs is appended to, as a line
    /// of JSON: keep it (or ship it) where the database's users cannot
    /// write, and give it to `repatctl audit verify --checkpoints`.
    #[arg(long, env = "REPAT_AUDIT_CHECKPOINT_FILE")]
    pub audit_checkpoint_file: Option<PathBuf>,

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
    /// Streams (watches, batches, exports) each caller may hold open;
    /// beyond it, RESOURCE_EXHAUSTED.
    #[arg(long, env = "REPAT_MAX_STREAMS_PER_CALLER", default_value_t = repat_api::streams::DEFAULT_STREAMS_PER_CALLER)]
    pub max_streams_per_caller: usize,
    /// Chunks of `BatchRecordSteps` (up to 1,000 steps each) committed at
    /// once across every stream; the other streams wait their turn. Bounds the
    /// memory ingestion takes, whatever the number of streams.
    #[arg(long, env = "REPAT_BATCH_COMMITS", default_value_t = repat_api::DEFAULT_BATCH_COMMITS)]
    pub batch_commits: usize,
    /// Steps one journey may have; a step beyond it is refused with
    /// FAILED_PRECONDITION naming the limit.
    #[arg(long, env = "REPAT_MAX_STEPS_PER_JOURNEY", default_value_t = repat_api::DEFAULT_MAX_STEPS_PER_JOURNEY, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_steps_per_journey: u32,
    /// Requests per second allowed to each caller (0: no limit); beyond it,
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "REPAT_RATE_LIMIT_PER_SECOND", default_value_t = 200)]
    pub rate_limit_per_second: u32,
    /// Burst allowed above the per-caller rate.
    #[arg(long, env = "REPAT_RATE_LIMIT_BURST", default_value_t = 400)]
    pub rate_limit_burst: u32,

    /// NATS server to publish events to (JetStream), e.g.
    /// `nats://127.0.0.1:4222`; nothing is published without it.
    #[arg(long, env = "REPAT_NATS_URL")]
    pub nats_url: Option<String>,
    /// The JetStream stream events go to (created when missing).
    #[arg(long, env = "REPAT_NATS_STREAM", default_value = "REPAT_EVENTS")]
    pub nats_stream: String,
    /// Subjects are `<prefix>.<type>.<party id>`, e.g.
    /// `repat.events.step.recorded.<party id>`.
    #[arg(
        long,
        env = "REPAT_NATS_SUBJECT_PREFIX",
        default_value = "repat.events"
    )]
    pub nats_subject_prefix: String,
    /// Message bodies: the protobuf `repat.v1.Event`, or CloudEvents JSON.
    #[arg(long, env = "REPAT_NATS_FORMAT", value_enum, default_value_t = NatsFormat::Protobuf)]
    pub nats_format: NatsFormat,
    /// Seconds a replica's lease on publishing (NATS, webhooks) lasts
    /// without renewal: how soon another replica takes over from one that
    /// died.
    #[arg(long, env = "REPAT_OUTBOX_LEASE_SECS", default_value_t = 15)]
    pub outbox_lease_secs: u64,
    /// Attempts at a webhook delivery before it goes to the dead-letter
    /// list.
    #[arg(long, env = "REPAT_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    pub webhook_max_attempts: u32,
    /// The first retry's delay, in milliseconds; each next one doubles (at
    /// most an hour), with jitter.
    #[arg(long, env = "REPAT_WEBHOOK_RETRY_BASE_MS", default_value_t = 2000)]
    pub webhook_retry_base_ms: u64,
    /// Seconds a webhook endpoint has to answer.
    #[arg(long, env = "REPAT_WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    pub webhook_timeout_secs: u64,
    /// Deliver webhooks to loopback, private and link-local addresses too
    /// (off: an endpoint cannot make the server call into its own network).
    #[arg(long, env = "REPAT_WEBHOOK_PRIVATE_ADDRESSES", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_private_addresses: bool,
    /// Seconds between looks for deadline alerts due (0: none are raised).
    #[arg(long, env = "REPAT_ALERTS_INTERVAL_SECS", default_value_t = 300)]
    pub alerts_interval_secs: u64,
    /// Hours a payment may be in flight (initiated, not credited) before an
    /// alert.
    #[arg(long, env = "REPAT_ALERT_IN_FLIGHT_HOURS", default_value_t = 48)]
    pub alert_in_flight_hours: u64,
    /// Append every change's events to the outbox. Not a setting: only a
    /// benchmark's baseline turns it off.
    #[arg(skip = true)]
    pub record_events: bool,
}

/// How events are encoded on NATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NatsFormat {
    Protobuf,
    Json,
}

impl Settings {
    /// Settings for a server on an ephemeral loopback port without tokens,
    /// rate limits or deadline alerts (tests, benchmarks).
    pub fn ephemeral(database_url: impl Into<String>) -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            console_listen: ConsoleListen(None),
            health_listen: None,
            database_url: database_url.into(),
            rules_file: None,
            recon_fee_tolerance: Decimal::new(50, 0),
            recon_fee_tolerance_percent: Decimal::new(2, 0),
            recon_fx_tolerance_percent: Decimal::new(1, 0),
            recon_date_window_days: 180,
            db_max_connections: 16,
            db_acquire_timeout_secs: 3,
            sqlite_write_group: repat_store::DEFAULT_WRITE_GROUP,
            db_check_interval_secs: 5,
            migrate_at_start: true,
            shutdown_grace_secs: 5,
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            otel_service_name: None,
            otlp_metrics_interval_secs: 60,
            allow_unauthenticated: true,
            jwt_algorithm: JwtAlgorithm::EdDsa,
            jwt_verify_key_file: None,
            jwt_signing_key_file: None,
            jwt_issuer: "repat".into(),
            jwt_audience: "repat".into(),
            audit_checkpoint_key_file: None,
            audit_checkpoint_interval_secs: 300,
            audit_checkpoint_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            max_message_bytes: 4 << 20,
            request_timeout_secs: 30,
            max_concurrent_requests: 256,
            max_streams_per_caller: repat_api::streams::DEFAULT_STREAMS_PER_CALLER,
            batch_commits: repat_api::DEFAULT_BATCH_COMMITS,
            max_steps_per_journey: repat_api::DEFAULT_MAX_STEPS_PER_JOURNEY,
            rate_limit_per_second: 0,
            rate_limit_burst: 0,
            nats_url: None,
            nats_stream: "REPAT_EVENTS".into(),
            nats_subject_prefix: "repat.events".into(),
            nats_format: NatsFormat::Protobuf,
            outbox_lease_secs: 15,
            webhook_max_attempts: 8,
            webhook_retry_base_ms: 2000,
            webhook_timeout_secs: 10,
            webhook_private_addresses: false,
            // Alerts only where a test asks for them: they would add
            // events to what a test counts.
            alerts_interval_secs: 0,
            alert_in_flight_hours: 48,
            record_events: true,
        }
    }

    pub fn store_options(&self) -> repat_store::ConnectOptions {
        repat_store::ConnectOptions {
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout_secs),
            migrate: self.migrate_at_start,
            record_events: self.record_events,
            // A little past the request deadline, so the request's own
            // DEADLINE_EXCEEDED is what the client hears.
            statement_timeout: Duration::from_secs(self.request_timeout_secs + 5),
            write_group: self.sqlite_write_group,
        }
    }

    pub fn export_options(&self) -> crate::telemetry::ExportOptions {
        crate::telemetry::ExportOptions {
            endpoint: self.otlp_endpoint.clone().filter(|e| !e.is_empty()),
            service_name: self.otel_service_name.clone().filter(|n| !n.is_empty()),
            metrics_interval: Duration::from_secs(self.otlp_metrics_interval_secs.max(1)),
        }
    }
}

impl Settings {
    /// The reconciliation tolerances.
    pub fn tolerances(&self) -> repat_api::Tolerances {
        repat_api::Tolerances {
            fee_absolute: self.recon_fee_tolerance,
            fee_percent: self.recon_fee_tolerance_percent,
            fx_percent: self.recon_fx_tolerance_percent,
            date_window_days: i64::from(self.recon_date_window_days),
        }
    }

    /// The text of the incentive rule set to load.
    pub fn rules_source(&self) -> anyhow::Result<String> {
        match &self.rules_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display())),
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
        let Some(path) = &self.jwt_verify_key_file else {
            return Ok(None);
        };
        let key = read_key(path)?;
        let verifier = repat_api::token::TokenVerifier::new(
            self.key_algorithm(),
            &key,
            &self.jwt_issuer,
            &self.jwt_audience,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Some(verifier))
    }

    /// The token issuer of `repatd token issue`.
    pub fn token_issuer(&self) -> anyhow::Result<repat_api::token::TokenIssuer> {
        let path = self
            .jwt_signing_key_file
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("--jwt-signing-key-file is required to issue tokens"))?;
        let key = read_key(path)?;
        repat_api::token::TokenIssuer::new(
            self.key_algorithm(),
            &key,
            &self.jwt_issuer,
            &self.jwt_audience,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

impl Settings {
    /// The audit checkpoint signer, when a key is configured. The key must
    /// be its own: not the token signing key, nor its public half the
    /// token verifying key.
    pub fn checkpoint_signer(
        &self,
    ) -> anyhow::Result<Option<repat_core::audit::checkpoint::CheckpointSigner>> {
        let Some(path) = &self.audit_checkpoint_key_file else {
            return Ok(None);
        };
        let pem = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let signer = repat_core::audit::checkpoint::CheckpointSigner::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let token_keys = [&self.jwt_signing_key_file, &self.jwt_verify_key_file];
        for token_key in token_keys.into_iter().flatten() {
            let text = std::fs::read_to_string(token_key).unwrap_or_default();
            let same_public = repat_core::audit::checkpoint::CheckpointKey::from_pem(&text)
                .is_ok_and(|k| k.id() == signer.public().id());
            if token_key == path || text.trim() == pem.trim() || same_public {
                anyhow::bail!(
                    "{}: the audit checkpoint key must be a key of its own, not the token key {}",
                    path.display(),
                    token_key.display()
                );
            }
        }
        Ok(Some(signer))
    }
}

/// Where the console listens, if anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleListen(pub Option<SocketAddr>);

fn console_listen(value: &str) -> Result<ConsoleListen, String> {
    match value {
        "off" => Ok(ConsoleListen(None)),
        _ => value
            .parse()
            .map(|a| ConsoleListen(Some(a)))
            .map_err(|e| format!("{e}: give HOST:PORT, or off")),
    }
}

/// Reads a key file; an HS256 secret file may end with a newline, which is
/// not part of the secret.
fn read_key(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let mut key =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    while key.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        key.pop();
    }
    Ok(key)
}

/// The command line, with the settings layered: flags over environment
/// variables over the `--config` file over defaults.
///
/// clap reads flags and environment variables and says where each value
/// came from; a key of the file is applied only to a setting that came from
/// neither, by adding it as a flag and parsing again, so file values are
/// parsed and checked exactly as flags are.
pub fn load_from<I, T>(args: I) -> anyhow::Result<Cli>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let command = Cli::command();
    let matches = command.clone().try_get_matches_from(&args)?;
    let Some(path) = matches.get_one::<PathBuf>("config") else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading the configuration file {}: {e}", path.display()))?;
    let file: toml::Table =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut from_file: Vec<OsString> = Vec::new();
    for (key, value) in &file {
        let arg = command
            .get_arguments()
            .find(|a| {
                a.get_id().as_str() == key
                    && a.get_long().is_some()
                    && !NOT_IN_FILE.contains(&key.as_str())
            })
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: unknown setting {key:?} (see the README for the keys)",
                    path.display()
                )
            })?;
        if !matches!(
            matches.value_source(key),
            None | Some(ValueSource::DefaultValue)
        ) {
            continue;
        }
        let flag = format!("--{}", arg.get_long().unwrap_or(key));
        let value = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => anyhow::bail!(
                "{}: {key} must be a string, number or boolean, not {}",
                path.display(),
                other.type_str()
            ),
        };
        if matches!(arg.get_action(), clap::ArgAction::SetTrue) {
            // A switch: present or absent.
            if value == "true" {
                from_file.push(flag.into());
            } else if value != "false" {
                anyhow::bail!("{}: {key} must be true or false", path.display());
            }
        } else {
            from_file.push(format!("{flag}={value}").into());
        }
    }
    // Settings precede any subcommand, so they go right after the program name.
    let mut layered = args[..1].to_vec();
    layered.extend(from_file);
    layered.extend_from_slice(&args[1..]);
    let matches = command
        .try_get_matches_from(&layered)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Cli::from_arg_matches(&matches)?)
}

/// Flags that are about the invocation, not settings of the server.
const NOT_IN_FILE: [&str; 2] = ["config", "check_config"];

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile_path::TempFile {
        tempfile_path::TempFile::with(text)
    }

    /// A file removed when dropped.
    mod tempfile_path {
        pub struct TempFile(pub std::path::PathBuf);
        impl TempFile {
            pub fn with(text: &str) -> Self {
                let path = std::env::temp_dir()
                    .join(format!("repatd-config-{}.toml", uuid::Uuid::new_v4()));
                std::fs::write(&path, text).unwrap();
                TempFile(path)
            }
        }
        impl Drop for TempFile {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn load(args: &[&str]) -> anyhow::Result<Settings> {
        load_from(std::iter::once("repatd").chain(args.iter().copied())).map(|c| c.settings)
    }

    // Environment variables are process-wide, so the precedence of the
    // environment is tested in one test, with variables no other test reads.
    #[test]
    fn flags_over_environment_over_file_over_defaults() {
        let f = file(
            "db_max_connections = 7\nrequest_timeout_secs = 9\nrate_limit_per_second = 11\nlog_format = \"json\"\nallow_unauthenticated = true\n",
        );
        let path = f.0.to_str().unwrap();

        let s = load(&[]).unwrap();
        assert_eq!(
            (s.db_max_connections, s.request_timeout_secs, s.log_format),
            (16, 30, LogFormat::Text),
            "defaults"
        );

        let s = load(&["--config", path]).unwrap();
        assert_eq!(
            (
                s.db_max_connections,
                s.request_timeout_secs,
                s.rate_limit_per_second
            ),
            (7, 9, 11),
            "the file over defaults"
        );
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(s.allow_unauthenticated);

        // SAFETY: no other test reads or writes these variables.
        unsafe {
            std::env::set_var("REPAT_REQUEST_TIMEOUT_SECS", "21");
            std::env::set_var("REPAT_RATE_LIMIT_PER_SECOND", "22");
        }
        let s = load(&["--config", path, "--rate-limit-per-second", "33"]);
        unsafe {
            std::env::remove_var("REPAT_REQUEST_TIMEOUT_SECS");
            std::env::remove_var("REPAT_RATE_LIMIT_PER_SECOND");
        }
        let s = s.unwrap();
        assert_eq!(
            s.db_max_connections, 7,
            "the file, where nothing else sets it"
        );
        assert_eq!(s.request_timeout_secs, 21, "the environment over the file");
        assert_eq!(
            s.rate_limit_per_second, 33,
            "the flag over the environment and the file"
        );
    }

    #[test]
    fn reconciliation_tolerances_are_exact_decimals() {
        let s = load(&[]).unwrap().tolerances();
        assert_eq!(
            (
                s.fee_absolute.to_string(),
                s.fee_percent.to_string(),
                s.fx_percent.to_string(),
                s.date_window_days
            ),
            ("50".into(), "2".into(), "1".into(), 180)
        );
        let f = file(
            "recon_fee_tolerance = \"25.50\"\nrecon_fee_tolerance_percent = \"1.5\"\nrecon_date_window_days = 120\n",
        );
        let s = load(&["--config", f.0.to_str().unwrap()])
            .unwrap()
            .tolerances();
        assert_eq!(
            (
                s.fee_absolute.to_string(),
                s.fee_percent.to_string(),
                s.date_window_days
            ),
            ("25.50".into(), "1.5".into(), 120)
        );
        assert!(
            load(&["--recon-fee-tolerance=-1"])
                .unwrap_err()
                .to_string()
                .contains("zero or more")
        );
        assert!(load(&["--recon-fx-tolerance-percent", "1e2"]).is_err());
        let float = file("recon_fee_tolerance_percent = 1.5\n");
        assert!(
            load(&["--config", float.0.to_str().unwrap()]).is_err(),
            "a TOML float is refused: decimals are strings"
        );
    }

    #[test]
    fn the_file_is_checked_like_flags() {
        let unknown = file("db_max_conections = 7\n");
        let e = load(&["--config", unknown.0.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown setting \"db_max_conections\""), "{e}");

        let bad = file("listen = \"not an address\"\n");
        let e = load(&["--config", bad.0.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen"), "{e}");

        let broken = file("listen = \n");
        assert!(load(&["--config", broken.0.to_str().unwrap()]).is_err());

        assert!(
            load(&["--config", "/nonexistent/repatd.toml"])
                .unwrap_err()
                .to_string()
                .contains("reading the configuration file")
        );
    }

    #[test]
    fn a_file_may_set_what_a_subcommand_needs() {
        let f = file("migrate_at_start = false\nlisten = \"127.0.0.1:7000\"\n");
        let cli = load_from(["repatd", "--config", f.0.to_str().unwrap(), "migrate"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Migrate)));
        assert!(!cli.settings.migrate_at_start);
        assert_eq!(cli.settings.listen.port(), 7000);
    }
}
