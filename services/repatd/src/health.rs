//! `repatd health-check`: asks the server's own gRPC health service whether
//! it is serving, so a container image needs no probe binary of its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::Settings;

/// `Ok` when the server at the listen address reports SERVING.
pub async fn check(settings: &Settings, timeout: Duration) -> anyhow::Result<()> {
    if settings.tls_cert_file.is_some() {
        bail!(
            "the health check speaks plaintext gRPC; with TLS, probe the server with a TLS-capable client"
        );
    }
    let addr = local(settings.listen);
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
