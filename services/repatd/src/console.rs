//! The console's own listener: the browser console (`repat-console`) and,
//! for its calls, the same gRPC services as the main port behind a
//! gRPC-Web translation (`tonic-web`), with the same authentication, rate
//! limits and per-RPC telemetry. Served over HTTP/1.1 (browsers speak
//! gRPC-Web over it) and HTTP/2, with TLS when the server has it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use repat_console::Hosts;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::{Server, ServerTlsConfig};
use tower::Layer;

use crate::telemetry::RpcLayer;

/// The console being served.
pub struct Console {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Console {
    /// Binds `addr` and serves the console and `api` there. `tls` is the
    /// main port's. `hosts` limits the names the console answers to.
    pub async fn start(
        addr: SocketAddr,
        api: Routes,
        observe: RpcLayer,
        hosts: Hosts,
        tls: Option<ServerTlsConfig>,
        timeout: Duration,
    ) -> anyhow::Result<Console> {
        if hosts == Hosts::Loopback && !addr.ip().is_loopback() {
            anyhow::bail!(
                "refusing to serve the console on {addr} without authentication: every caller would be an administrator; use a loopback address or tokens"
            );
        }
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the console to {addr}"))?;
        let addr = listener.local_addr()?;
        // gRPC-Web outermost, so the telemetry inside sees plain gRPC (its
        // status in headers and trailers, as on the main port).
        let grpc = tonic_web::GrpcWebLayer::new().layer(observe.layer(api.prepare()));
        let routes = Routes::from(repat_console::router(grpc, hosts));
        let mut builder = Server::builder().accept_http1(true).timeout(timeout);
        if let Some(tls) = tls {
            builder = builder.tls_config(tls)?;
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let serve = builder.add_routes(routes).serve_with_incoming_shutdown(
            TcpListenerStream::new(listener),
            async {
                let _ = stopped.await;
            },
        );
        let task = tokio::spawn(async move { serve.await.context("serving the console") });
        Ok(Console { addr, stop, task })
    }

    /// The address to open in a browser.
    pub fn url(&self, tls: bool) -> String {
        let host = match self.addr.ip() {
            ip if ip.is_unspecified() => "localhost".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        format!(
            "{}://{host}:{}/",
            if tls { "https" } else { "http" },
            self.addr.port()
        )
    }

    /// Stops accepting and waits for open requests.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }
}
