//! Builds the gRPC server from settings and runs it until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use repat_api::auth::{AuthMode, Gate};
use repat_api::{
    ActiveRules, AppState, AuditApi, DocumentApi, EarningApi, EventApi, IncentiveApi, MetricsApi,
    PartyApi, ReconciliationApi, RepatriationApi, WebhookApi,
};
use repat_console::Hosts;
use repat_proto::v1::audit_service_server::AuditServiceServer;
use repat_proto::v1::document_service_server::DocumentServiceServer;
use repat_proto::v1::earning_service_server::EarningServiceServer;
use repat_proto::v1::event_service_server::EventServiceServer;
use repat_proto::v1::incentive_service_server::IncentiveServiceServer;
use repat_proto::v1::metrics_service_server::MetricsServiceServer;
use repat_proto::v1::party_service_server::PartyServiceServer;
use repat_proto::v1::reconciliation_service_server::ReconciliationServiceServer;
use repat_proto::v1::repatriation_service_server::RepatriationServiceServer;
use repat_proto::v1::webhook_service_server::WebhookServiceServer;
use repat_store::Repository;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::Settings;
use crate::console::Console;
use crate::guard;
use crate::outbox::{self, Lease};
use crate::telemetry::Telemetry;

/// The services whose health is reported, `""` being the server as a whole.
const SERVICES: [&str; 11] = [
    "",
    "repat.v1.PartyService",
    "repat.v1.DocumentService",
    "repat.v1.EarningService",
    "repat.v1.RepatriationService",
    "repat.v1.IncentiveService",
    "repat.v1.MetricsService",
    "repat.v1.ReconciliationService",
    "repat.v1.AuditService",
    "repat.v1.EventService",
    "repat.v1.WebhookService",
];
/// A health service name that is SERVING for as long as the process serves
/// at all: the liveness probe's, so a database outage (which a restart would
/// not cure) makes replicas unready, never restarted.
pub const LIVENESS: &str = "liveness";

/// Longest a readiness ping may take before the database counts as down.
const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause before listening again after the change feed failed.
const CHANGE_FEED_RETRY: Duration = Duration::from_secs(1);
/// How often delay metrics are brought up to date in the background.
const METRICS_INTERVAL: Duration = Duration::from_secs(1);
/// Every this many intervals, the rollups' keys left at zero are cleared.
const ROLLUP_COMPACTION_ROUNDS: u64 = 60;

const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 4 << 20;

/// A server running in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where the browser console is served, if it is.
    pub console_addr: Option<SocketAddr>,
    /// The plaintext health-only listener's address, when configured.
    pub health_addr: Option<SocketAddr>,
    pub repo: Arc<dyn Repository>,
    /// This replica's name in the outbox's leases.
    pub replica: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await?
    }

    /// Waits until the server ends (after a stop signal).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await?
    }

    /// A handle that asks the server to stop.
    pub fn stopper(&mut self) -> Option<oneshot::Sender<()>> {
        self.stop.take()
    }
}

/// Opens the database (migrating it), binds, and starts serving.
pub async fn start(settings: &Settings) -> anyhow::Result<RunningServer> {
    let auth = auth_mode(settings)?;
    let repo = repat_store::connect(&settings.database_url, &settings.store_options())
        .await
        .with_context(|| format!("opening {}", repat_store::redact(&settings.database_url)))?;
    let checkpoint_signer = settings.checkpoint_signer()?.map(Arc::new);
    let rules_source = settings.rules_source()?;
    let rules = Arc::new(ActiveRules::load(repo.as_ref(), &rules_source).await.map_err(|e| match settings.migrate_at_start {
        true => anyhow::anyhow!("incentive rule set: {e}"),
        // The first table read at start: on an empty database, say why.
        false => anyhow::anyhow!("incentive rule set: {e} (migrate_at_start is false: run `repatd migrate` on this database first)"),
    })?);
    tracing::info!(version = %rules.stored.version, sha256 = %rules.stored.sha256, "incentive rules in force");
    // Repatriations opened before deadlines were stored get theirs.
    let dated = repat_usecases::deadlines::fill_missing(repo.as_ref(), &rules)
        .await
        .context("storing the deadlines of repatriations opened before they were stored")?;
    if dated > 0 {
        tracing::info!(dated, "repatriation deadlines stored");
    }
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let health_listener = match settings.health_listen {
        Some(at) => Some(
            TcpListener::bind(at)
                .await
                .with_context(|| format!("binding the health listener {at}"))?,
        ),
        None => None,
    };
    let health_addr = health_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    if matches!(auth, AuthMode::LocalAdmin) {
        tracing::warn!(%addr, "serving WITHOUT AUTHENTICATION: every caller is the administrator (loopback only; --allow-unauthenticated)");
    }

    let telemetry = Telemetry::new(&settings.export_options(), repo.clone())?;
    let state = AppState::new(repo.clone())
        .observed_by(telemetry.observer())
        .with_streams_per_caller(settings.max_streams_per_caller)
        .with_batch_commits(settings.batch_commits)
        .with_max_steps_per_journey(settings.max_steps_per_journey);
    let (health, health_service) = tonic_health::server::health_reporter();
    // Not serving until the database has answered.
    set_health(&health, ServingStatus::NotServing).await;
    health
        .set_service_status(LIVENESS, ServingStatus::Serving)
        .await;
    let (probes_stop, probes_stopped) = oneshot::channel::<()>();
    let probes = health_listener.map(|l| {
        crate::health::serve(l, health_service.clone(), async {
            let _ = probes_stopped.await;
        })
    });
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(repat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(repat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // The breaker: requests that need the database fail at once while the
    // readiness check finds it down.
    let database_up = Arc::new(AtomicBool::new(false));
    let api = api_routes(
        &state,
        &rules,
        checkpoint_signer.as_ref().map(|s| s.public().clone()),
        settings,
        Gate::new(
            auth.clone(),
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
        ),
    );
    let console = match settings.console_listen.0 {
        Some(at) => {
            let hosts = if matches!(auth, AuthMode::LocalAdmin) {
                Hosts::Loopback
            } else {
                Hosts::Any
            };
            let timeout = Duration::from_secs(settings.request_timeout_secs);
            let console = Console::start(
                at,
                api.clone(),
                telemetry.layer(),
                hosts,
                tls_config(settings)?,
                timeout,
            )
            .await?;
            tracing::info!(url = %console.url(settings.tls_cert_file.is_some()), "console serving: open it in a browser");
            Some(console)
        }
        None => None,
    };
    let console_addr = console.as_ref().map(|c| c.addr);
    let mut builder = Server::builder();
    if let Some(tls) = tls_config(settings)? {
        builder = builder.tls_config(tls)?;
    }
    let router = builder
        // Larger HTTP/2 windows keep streaming ingestion from stalling on
        // flow control.
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        // Outermost, so calls refused by the layers below are observed too.
        .layer(telemetry.layer())
        // Beyond the limit, requests are refused at once with
        // RESOURCE_EXHAUSTED, never queued without bound; probes always pass.
        .layer(guard::AdmissionLayer::new(
            settings.max_concurrent_requests,
            Duration::from_secs(settings.request_timeout_secs),
            database_up.clone(),
        ))
        // A panic is one request's INTERNAL with a logged incident id.
        .layer(guard::panic_guard())
        .layer(guard::fault_injection())
        .add_routes(api.clone())
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    // Health is known before the first request is accepted.
    report_database(repo.as_ref(), &health, &database_up, None).await;
    let watchdog = tokio::spawn(watch_database(
        repo.clone(),
        health.clone(),
        database_up,
        Duration::from_secs(settings.db_check_interval_secs.max(1)),
    ));
    let metrics = tokio::spawn(keep_metrics_current(repo.clone()));
    let feed = tokio::spawn(relay_changes(repo.clone(), state.changes.clone()));
    let replica = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let workers = start_outbox(settings, repo.clone(), &state, &rules, &replica);
    let signing = checkpoint_signer.map(|signer| {
        tokio::spawn(crate::checkpoints::keep_signing(
            repo.clone(),
            signer,
            Duration::from_secs(settings.audit_checkpoint_interval_secs.max(1)),
            settings.audit_checkpoint_file.clone(),
        ))
    });
    let changes = state.changes.clone();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let grace = Duration::from_secs(settings.shutdown_grace_secs);
    let task = tokio::spawn(async move {
        let (drained_tx, drained_rx) = oneshot::channel::<()>();
        let shutdown = {
            let (health, watchdog, changes) =
                (health.clone(), watchdog.abort_handle(), changes.clone());
            async move {
                let _ = stop_rx.await;
                tracing::info!("stopping: draining in-flight requests, ending open streams");
                watchdog.abort();
                changes.close();
                set_health(&health, ServingStatus::NotServing).await;
                let _ = drained_tx.send(());
            }
        };
        let serve = router.serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown);
        tokio::pin!(serve);
        // Serve until stopped; then give in-flight requests `grace` to finish.
        let result = tokio::select! {
            r = &mut serve => r,
            _ = async { let _ = drained_rx.await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "in-flight requests outlived the grace period; stopping anyway");
                Ok(())
            }
        };
        watchdog.abort();
        metrics.abort();
        feed.abort();
        workers.stop().await;
        if let Some(signing) = signing {
            signing.abort();
        }
        if let Some(console) = console {
            console.stop().await?;
        }
        // Probes see NOT_SERVING until the main server has stopped.
        let _ = probes_stop.send(());
        if let Some(probes) = probes {
            let _ = probes.await;
        }
        // What the last requests produced leaves before the process does.
        telemetry.shutdown().await;
        result.context("serving gRPC")
    });
    Ok(RunningServer {
        addr,
        console_addr,
        health_addr,
        repo,
        replica,
        stop: Some(stop_tx),
        task,
    })
}

/// The API's services, each behind the gate (caller identity, rate limit):
/// served on the main port and, over gRPC-Web, on the console's.
fn api_routes(
    state: &AppState,
    rules: &Arc<ActiveRules>,
    checkpoint_key: Option<repat_core::audit::checkpoint::CheckpointKey>,
    settings: &Settings,
    gate: Gate,
) -> Routes {
    let admit = move |req| gate.admit(req);
    let max = settings.max_message_bytes;
    Routes::new(InterceptedService::new(
        PartyServiceServer::new(PartyApi::new(state.clone())).max_decoding_message_size(max),
        admit.clone(),
    ))
    .add_service(InterceptedService::new(
        DocumentServiceServer::new(DocumentApi::new(state.clone())).max_decoding_message_size(max),
        admit.clone(),
    ))
    .add_service(InterceptedService::new(
        EarningServiceServer::new(EarningApi::new(state.clone())).max_decoding_message_size(max),
        admit.clone(),
    ))
    .add_service(InterceptedService::new(
        RepatriationServiceServer::new(RepatriationApi::new(state.clone(), rules.clone()))
            .max_decoding_message_size(max),
        admit.clone(),
    ))
    .add_service(InterceptedService::new(
        IncentiveServiceServer::new(IncentiveApi::new(state.clone(), rules.clone()))
            .max_decoding_message_size(max),
        admit.clone(),
    ))
    .add_service(InterceptedService::new(
        MetricsServiceServer::new(MetricsApi::new(state.clone(), rules.clone()))
            .max_decoding_message_size(max),
        admit.clone(),
    ))
    .add_service(InterceptedService::new(
        ReconciliationServiceServer::new(ReconciliationApi::new(
            state.clone(),
            settings.tolerances(),
        ))
        .max_decoding_message_size(max),
        admit.clone(),
    ))
    .add_service(InterceptedService::new(
        AuditServiceServer::new(AuditApi::new(state.clone()).with_checkpoint_key(checkpoint_key))
            .max_decoding_message_size(max),
        admit.clone(),
    ))
    .add_service(InterceptedService::new(
        EventServiceServer::new(EventApi::new(state.clone())).max_decoding_message_size(max),
        admit.clone(),
    ))
    .add_service(InterceptedService::new(
        WebhookServiceServer::new(WebhookApi::new(state.clone())).max_decoding_message_size(max),
        admit,
    ))
}

/// The outbox's background work of this replica.
struct OutboxWorkers {
    repo: Arc<dyn Repository>,
    tasks: Vec<JoinHandle<()>>,
    leases: Vec<Lease>,
}

impl OutboxWorkers {
    /// Stops the work and gives its leases up, so another replica takes
    /// over at once rather than when they lapse.
    async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        for lease in &self.leases {
            lease.release(self.repo.as_ref()).await;
        }
    }
}

/// Starts following the outbox's head (which wakes event streams), the
/// NATS publisher when a NATS url is configured, the webhook dispatcher,
/// and the look for deadline alerts.
fn start_outbox(
    settings: &Settings,
    repo: Arc<dyn Repository>,
    state: &AppState,
    rules: &Arc<ActiveRules>,
    replica: &str,
) -> OutboxWorkers {
    let ttl = Duration::from_secs(settings.outbox_lease_secs.max(1));
    let mut tasks = vec![tokio::spawn(repat_api::events::follow_head(
        repo.clone(),
        state.changes.clone(),
        state.head.clone(),
    ))];
    let mut leases = vec![Lease::new(outbox::webhooks::NAME, replica, ttl)];
    if let Some(url) = settings.nats_url.clone().filter(|u| !u.is_empty()) {
        let target = outbox::nats::Target {
            url,
            stream: settings.nats_stream.clone(),
            subject_prefix: settings.nats_subject_prefix.clone(),
            format: settings.nats_format,
        };
        leases.push(Lease::new(outbox::nats::NAME, replica, ttl));
        tasks.push(tokio::spawn(outbox::nats::run(
            repo.clone(),
            state.head.clone(),
            target,
            Lease::new(outbox::nats::NAME, replica, ttl),
        )));
    }
    let policy = outbox::webhooks::Policy {
        max_attempts: settings.webhook_max_attempts.max(1),
        retry_base: Duration::from_millis(settings.webhook_retry_base_ms),
        client: outbox::http::ClientOptions {
            timeout: Duration::from_secs(settings.webhook_timeout_secs.max(1)),
            private_addresses: settings.webhook_private_addresses,
        },
    };
    tasks.push(tokio::spawn(outbox::webhooks::run(
        repo.clone(),
        state.head.clone(),
        policy,
        Lease::new(outbox::webhooks::NAME, replica, ttl),
    )));
    if settings.alerts_interval_secs > 0 {
        tasks.push(tokio::spawn(outbox::raise_alerts(
            repo.clone(),
            rules.clone(),
            Duration::from_secs(settings.alerts_interval_secs),
            Duration::from_secs(settings.alert_in_flight_hours.max(1) * 3600),
        )));
    }
    OutboxWorkers {
        repo,
        tasks,
        leases,
    }
}

/// Brings journeys' delay metrics up to date in the background, so reads
/// (which settle what is left) stay quick while steps stream in.
async fn keep_metrics_current(repo: Arc<dyn Repository>) {
    let mut round: u64 = 0;
    loop {
        tokio::time::sleep(METRICS_INTERVAL).await;
        if let Err(e) = repat_api::settle_metrics(repo.as_ref()).await {
            tracing::warn!(error = ?e, "bringing delay metrics up to date failed; retrying");
        }
        round += 1;
        if round.is_multiple_of(ROLLUP_COMPACTION_ROUNDS)
            && let Err(e) = repo.compact_delay_rollup().await
        {
            tracing::warn!(error = ?e, "clearing the rollups' zero keys failed; retrying");
        }
    }
}

/// Relays the changes other replicas announce to this replica's watchers;
/// when the feed reconnects (announcements may have been lost) every
/// watcher re-reads. Without a feed (SQLite), there is nothing to relay.
async fn relay_changes(repo: Arc<dyn Repository>, changes: repat_api::watch::Changes) {
    let mut feed = None;
    loop {
        if feed.is_none() {
            match repo.change_feed().await {
                Ok(None) => return,
                Ok(Some(f)) => {
                    feed = Some(f);
                    changes.notify(repat_api::watch::EVERYTHING);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for other replicas' changes failed; retrying");
                    tokio::time::sleep(CHANGE_FEED_RETRY).await;
                    continue;
                }
            }
        }
        let Some(f) = feed.as_mut() else { continue };
        match f.next().await {
            Ok(Some(ids)) => ids.into_iter().for_each(|id| changes.notify(id)),
            Ok(None) => changes.notify(repat_api::watch::EVERYTHING),
            Err(e) => {
                tracing::warn!(error = %e, "the feed of other replicas' changes failed; reconnecting");
                feed = None;
                tokio::time::sleep(CHANGE_FEED_RETRY).await;
            }
        }
    }
}

/// Tokens when a verifying key is configured; the local administrator only
/// when asked for explicitly, and only on loopback.
fn auth_mode(settings: &Settings) -> anyhow::Result<AuthMode> {
    match (settings.token_verifier()?, settings.allow_unauthenticated) {
        (Some(_), true) => {
            bail!("--jwt-verify-key-file and --allow-unauthenticated exclude each other")
        }
        (Some(verifier), false) => Ok(AuthMode::Tokens(Arc::new(verifier))),
        (None, true) if settings.listen.ip().is_loopback() => Ok(AuthMode::LocalAdmin),
        (None, true) => bail!(
            "refusing to listen on {} without authentication: every caller would be an administrator; listen on loopback or configure --jwt-verify-key-file",
            settings.listen
        ),
        (None, false) => bail!(
            "no way to authenticate callers: configure --jwt-verify-key-file, or pass --allow-unauthenticated for local use on loopback"
        ),
    }
}

/// TLS from the configured files; mutual TLS when a client CA is given.
fn tls_config(settings: &Settings) -> anyhow::Result<Option<ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&settings.tls_cert_file, &settings.tls_key_file) else {
        return Ok(None);
    };
    let read = |p: &std::path::PathBuf| {
        std::fs::read(p).with_context(|| format!("reading {}", p.display()))
    };
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
    if let Some(ca) = &settings.tls_client_ca_file {
        tls = tls
            .client_ca_root(Certificate::from_pem(read(ca)?))
            .client_auth_optional(false);
    }
    Ok(Some(tls))
}

/// Keeps the health status (and the breaker) in step with the database,
/// checking at a fixed rate however long a check takes.
async fn watch_database(
    repo: Arc<dyn Repository>,
    health: HealthReporter,
    up: Arc<AtomicBool>,
    interval: Duration,
) {
    let mut serving = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        serving = Some(report_database(repo.as_ref(), &health, &up, serving).await);
    }
}

/// Pings the database and, when the answer changed from `before`, reports
/// every service SERVING or NOT_SERVING. Returns whether it answered.
async fn report_database(
    repo: &dyn Repository,
    health: &HealthReporter,
    up: &AtomicBool,
    before: Option<bool>,
) -> bool {
    // A database that does not answer within the ping timeout is down, as
    // one that refuses is.
    let ok = matches!(
        tokio::time::timeout(PING_TIMEOUT, repo.ping()).await,
        Ok(Ok(()))
    );
    up.store(ok, Ordering::Relaxed);
    if before != Some(ok) {
        let status = if ok {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if !ok {
            tracing::error!("database unreachable: reporting NOT_SERVING");
        } else if before.is_some() {
            tracing::info!("database reachable again: reporting SERVING");
        }
        set_health(health, status).await;
    }
    ok
}

async fn set_health(health: &HealthReporter, status: ServingStatus) {
    for name in SERVICES {
        health.set_service_status(name, status).await;
    }
}

/// Checks the settings as [`start`] would use them, without opening the
/// database or binding: keys and certificates are read and parsed, and
/// settings that exclude each other are refused.
pub fn check(settings: &Settings) -> anyhow::Result<()> {
    auth_mode(settings)?;
    if let Some(tls) = tls_config(settings)? {
        Server::builder()
            .tls_config(tls)
            .context("the TLS certificate and key")?;
    }
    if let Some(path) = &settings.jwt_signing_key_file {
        settings
            .token_issuer()
            .with_context(|| format!("the signing key {}", path.display()))?;
    }
    settings
        .checkpoint_signer()
        .context("the audit checkpoint key")?;
    if let Some(file) = &settings.audit_checkpoint_file {
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() {
            bail!(
                "the audit checkpoint file {}: its directory does not exist",
                file.display()
            );
        }
        if settings.audit_checkpoint_key_file.is_none() {
            bail!(
                "audit_checkpoint_file is set but audit_checkpoint_key_file is not: nothing would be signed"
            );
        }
    }
    repat_store::check_url(&settings.database_url)?;
    if let Some(url) = settings.nats_url.as_deref().filter(|u| !u.is_empty()) {
        url.parse::<async_nats::ServerAddr>()
            .map_err(|e| anyhow::anyhow!("the NATS url {url:?}: {e}"))?;
    }
    ActiveRules::check(&settings.rules_source()?)
        .map_err(|e| anyhow::anyhow!("the incentive rule set: {e}"))?;
    if let Some(endpoint) = settings.export_options().endpoint {
        let uri: tonic::codegen::http::Uri = endpoint
            .parse()
            .with_context(|| format!("the OTLP endpoint {endpoint:?}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            bail!("the OTLP endpoint {endpoint:?} must be http://HOST:PORT or https://HOST:PORT");
        }
    }
    for (name, value) in [
        ("db_max_connections", settings.db_max_connections as u64),
        ("db_acquire_timeout_secs", settings.db_acquire_timeout_secs),
        ("sqlite_write_group", settings.sqlite_write_group as u64),
        ("request_timeout_secs", settings.request_timeout_secs),
        (
            "max_concurrent_requests",
            settings.max_concurrent_requests as u64,
        ),
        ("max_message_bytes", settings.max_message_bytes as u64),
        (
            "audit_checkpoint_interval_secs",
            settings.audit_checkpoint_interval_secs,
        ),
        (
            "max_streams_per_caller",
            settings.max_streams_per_caller as u64,
        ),
        ("batch_commits", settings.batch_commits as u64),
        ("outbox_lease_secs", settings.outbox_lease_secs),
        (
            "webhook_max_attempts",
            u64::from(settings.webhook_max_attempts),
        ),
        ("webhook_timeout_secs", settings.webhook_timeout_secs),
        ("alert_in_flight_hours", settings.alert_in_flight_hours),
    ] {
        if value == 0 {
            bail!("{name} must be at least 1");
        }
    }
    Ok(())
}
