//! Builds the gRPC server from settings and runs it until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use repat_api::auth::{AuthMode, authenticate};
use repat_api::{AppState, EarningApi, PartyApi, RepatriationApi};
use repat_proto::v1::earning_service_server::EarningServiceServer;
use repat_proto::v1::party_service_server::PartyServiceServer;
use repat_proto::v1::repatriation_service_server::RepatriationServiceServer;
use repat_store::Repository;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::Settings;

/// How often readiness re-checks the database.
const DB_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// A server running in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub repo: Arc<dyn Repository>,
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
    let auth = AuthMode::LocalAdmin;
    if matches!(auth, AuthMode::LocalAdmin) && !settings.listen.ip().is_loopback() {
        bail!("refusing to listen on {} without authentication: every caller would be an administrator; listen on loopback", settings.listen);
    }
    let repo = repat_store::connect(&settings.database_url, &settings.store_options())
        .await
        .with_context(|| format!("opening {}", repat_store::redact(&settings.database_url)))?;
    let listener = TcpListener::bind(settings.listen).await.with_context(|| format!("binding {}", settings.listen))?;
    let addr = listener.local_addr()?;
    tracing::warn!(%addr, "serving without authentication: every caller is the local administrator (loopback only)");

    let state = AppState::new(repo.clone());
    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(repat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(repat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let intercept = move |req| authenticate(&auth, req);
    let router = Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(PartyServiceServer::with_interceptor(PartyApi::new(state.clone()), intercept.clone()))
        .add_service(EarningServiceServer::with_interceptor(EarningApi::new(state.clone()), intercept.clone()))
        .add_service(RepatriationServiceServer::with_interceptor(RepatriationApi::new(state.clone()), intercept));

    let watchdog = tokio::spawn(watch_database(repo.clone(), health.clone()));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let grace = Duration::from_secs(settings.shutdown_grace_secs);
    let task = tokio::spawn(async move {
        let (drained_tx, drained_rx) = oneshot::channel::<()>();
        let shutdown = {
            let health = health.clone();
            async move {
                let _ = stop_rx.await;
                tracing::info!("stopping: draining in-flight requests");
                health.set_service_status("", ServingStatus::NotServing).await;
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
        result.context("serving gRPC")
    });
    Ok(RunningServer { addr, repo, stop: Some(stop_tx), task })
}

/// Keeps the overall health status in step with the database.
async fn watch_database(repo: Arc<dyn Repository>, health: HealthReporter) {
    let mut serving = None;
    loop {
        let ok = repo.ping().await.is_ok();
        if serving != Some(ok) {
            let status = if ok { ServingStatus::Serving } else { ServingStatus::NotServing };
            if !ok {
                tracing::error!("database unreachable: reporting NOT_SERVING");
            }
            for name in ["", "repat.v1.PartyService", "repat.v1.EarningService", "repat.v1.RepatriationService"] {
                health.set_service_status(name, status).await;
            }
            serving = Some(ok);
        }
        tokio::time::sleep(DB_CHECK_INTERVAL).await;
    }
}
