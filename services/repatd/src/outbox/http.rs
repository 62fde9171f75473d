//! The webhook dispatcher's HTTP client: one POST over HTTP/1.1 (hyper,
//! which the server already has), plain or over TLS with the Web PKI's
//! roots. Redirects are not followed: a delivery goes only to the URL
//! registered. Unless allowed, loopback, private and link-local addresses
//! are refused, so a registered URL cannot make the server call into its
//! own network.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::http::Uri;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Most of a response body read (and kept in the attempt's record).
const MAX_RESPONSE: usize = 4096;

/// How deliveries reach endpoints.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    pub timeout: Duration,
    pub private_addresses: bool,
}

/// Whether an address is one a webhook may not reach unless allowed.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                // Carrier-grade NAT (100.64.0.0/10).
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local (fc00::/7) and link-local (fe80::/10).
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

fn tls() -> TlsConnector {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    });
    TlsConnector::from(config.clone())
}

/// The address to connect to for `host:port`, refusing private ones
/// unless allowed.
async fn resolve(host: &str, port: u16, options: ClientOptions) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("resolving {host}: {e}"))?
        .collect();
    addrs
        .iter()
        .copied()
        .find(|a| options.private_addresses || !is_private(a.ip()))
        .ok_or_else(|| match addrs.first() {
            Some(a) => format!(
                "{host} resolves to {}, a private address (deliveries to the server's own network are not allowed)",
                a.ip()
            ),
            None => format!("{host} resolves to no address"),
        })
}

async fn send<S>(stream: S, request: Request<Full<Bytes>>) -> Result<(u16, String), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut text = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(data) = frame.data_ref() {
            text.extend_from_slice(data);
        }
        if text.len() >= MAX_RESPONSE {
            break;
        }
    }
    text.truncate(MAX_RESPONSE);
    Ok((status, String::from_utf8_lossy(&text).into_owned()))
}

/// POSTs `body` with `headers` to `url`; the response's status and the
/// start of its body.
pub async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: Bytes,
    options: ClientOptions,
) -> Result<(u16, String), String> {
    let uri: Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err("the URL must be http:// or https://".into()),
    };
    let host = uri.host().ok_or("the URL names no host")?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let authority = uri
        .authority()
        .map_or(host.clone(), |a| a.as_str().to_string());
    let mut request = Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "repat-webhooks/1")
        .header(hyper::header::CONTENT_LENGTH, body.len());
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| format!("building the request: {e}"))?;
    let attempt = async {
        let host_name = host.trim_start_matches('[').trim_end_matches(']');
        let addr = resolve(host_name, port, options).await?;
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if https {
            let name = ServerName::try_from(host_name.to_string())
                .map_err(|e| format!("server name {host_name}: {e}"))?;
            let stream = tls()
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host_name}: {e}"))?;
            send(stream, request).await
        } else {
            send(tcp, request).await
        }
    };
    tokio::time::timeout(options.timeout, attempt)
        .await
        .map_err(|_| format!("no answer within {:?}", options.timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
