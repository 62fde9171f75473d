//! Health for probes: the plaintext health-only listener (`health_listen`),
//! and `repatd health-check`, which asks the server's own gRPC health
//! service whether it is serving, so a container image needs no probe
//! binary of its own.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Endpoint, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};

use crate::Settings;

/// Serves `health` alone, in plaintext, on `listener` until `stop`
/// resolves: the probes' port when the main one speaks TLS. It reports what
/// the main server's reporter says, so draining shows here too.
pub fn serve<H: Health>(
    listener: TcpListener,
    health: HealthServer<H>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<Result<(), tonic::transport::Error>> {
    let serve = Server::builder()
        .add_service(health)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop);
    tokio::spawn(serve)
}

/// `Ok` when the server reports SERVING: asked on the health-only listener
/// when there is one, else on the main one (which must then be plaintext).
pub async fn check(settings: &Settings, timeout: Duration) -> anyhow::Result<()> {
    let addr = match (settings.health_listen, &settings.tls_cert_file) {
        (Some(health), _) => local(health),
        (None, None) => local(settings.listen),
        (None, Some(_)) => bail!(
            "the health check speaks plaintext gRPC and the server serves TLS: set health_listen (e.g. 0.0.0.0:8081) for a plaintext health-only port"
        ),
    };
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .context("grpc.health.v1.Health/Check")?;
    match response.into_inner().status() {
        ServingStatus::Serving => Ok(()),
        status => bail!("{addr} reports {}", status.as_str_name()),
    }
}

/// The address to reach a server listening on `listen` from the same host.
fn local(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port())
        }
        _ => listen,
    }
}
