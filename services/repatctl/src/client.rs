//! The connection to repat: the channel (plain or TLS, optionally mutual),
//! the bearer token on every call, and one typed client per service.

use std::time::Duration;

use anyhow::Context;
use repat_proto::v1::audit_service_client::AuditServiceClient;
use repat_proto::v1::document_service_client::DocumentServiceClient;
use repat_proto::v1::earning_service_client::EarningServiceClient;
use repat_proto::v1::event_service_client::EventServiceClient;
use repat_proto::v1::incentive_service_client::IncentiveServiceClient;
use repat_proto::v1::metrics_service_client::MetricsServiceClient;
use repat_proto::v1::party_service_client::PartyServiceClient;
use repat_proto::v1::reconciliation_service_client::ReconciliationServiceClient;
use repat_proto::v1::repatriation_service_client::RepatriationServiceClient;
use repat_proto::v1::webhook_service_client::WebhookServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};

use crate::config::Connection;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

type Svc = InterceptedService<Channel, Bearer>;

/// Clients of every service over one channel.
#[derive(Clone)]
pub struct Repat {
    channel: Channel,
    bearer: Bearer,
}

impl Repat {
    /// Connects to the configured server; fails at once when it cannot.
    pub async fn connect(conn: &Connection) -> anyhow::Result<Self> {
        let bearer = match conn.bearer_token()? {
            Some(token) => Some(
                format!("Bearer {token}")
                    .parse()
                    .context("the token holds characters a header cannot")?,
            ),
            None => None,
        };
        let mut endpoint = Endpoint::from_shared(conn.server.clone())
            .with_context(|| {
                format!(
                    "{:?} is not a server address (e.g. http://127.0.0.1:50051)",
                    conn.server
                )
            })?
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(conn.timeout_secs.max(1)));
        let tls_asked = conn.server.starts_with("https://")
            || conn.ca_file.is_some()
            || conn.client_cert_file.is_some();
        if tls_asked {
            let mut tls = ClientTlsConfig::new();
            match &conn.ca_file {
                Some(ca) => tls = tls.ca_certificate(Certificate::from_pem(read(ca)?)),
                None => tls = tls.with_native_roots(),
            }
            if let (Some(cert), Some(key)) = (&conn.client_cert_file, &conn.client_key_file) {
                tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            endpoint = endpoint.tls_config(tls).context("TLS settings")?;
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {}", conn.server, error_chain(&e)))?;
        Ok(Repat {
            channel,
            bearer: Bearer(bearer),
        })
    }

    pub fn parties(&self) -> PartyServiceClient<Svc> {
        PartyServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn documents(&self) -> DocumentServiceClient<Svc> {
        DocumentServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn earnings(&self) -> EarningServiceClient<Svc> {
        EarningServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn repatriations(&self) -> RepatriationServiceClient<Svc> {
        RepatriationServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn incentives(&self) -> IncentiveServiceClient<Svc> {
        IncentiveServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn metrics(&self) -> MetricsServiceClient<Svc> {
        MetricsServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn reconciliation(&self) -> ReconciliationServiceClient<Svc> {
        ReconciliationServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn events(&self) -> EventServiceClient<Svc> {
        EventServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn webhooks(&self) -> WebhookServiceClient<Svc> {
        WebhookServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn audit(&self) -> AuditServiceClient<Svc> {
        AuditServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
}

fn read(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// An error and its causes on one line (transport errors hide the useful
/// part, "connection refused", a few sources down).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// A failed call as a person reads it: the code and the server's reason.
pub fn describe(status: &Status) -> String {
    let hint = match status.code() {
        Code::Unauthenticated => " (send a token with --token or REPATCTL_TOKEN)",
        Code::PermissionDenied => " (the token's role does not allow it)",
        Code::Unavailable => " (the server or its database is unreachable; safe to retry)",
        _ => "",
    };
    format!("{:?}: {}{hint}", status.code(), status.message())
}

/// A refusal with the API's field paths put as the flags the user typed:
/// each `(api path prefix, flag)` of `flags` (the first that fits) names a
/// field the way the command line does; a prefix ending in `.` with flag
/// `--` turns the rest of the path into a flag (`inputs.as_of` reads
/// `--as-of`).
pub fn in_flag_terms(status: Status, flags: &[(&str, &str)]) -> Status {
    let rename = |field: &str| -> Option<String> {
        let (prefix, flag) = flags.iter().find(|(p, _)| field.starts_with(p))?;
        Some(if *flag == "--" {
            format!(
                "--{}",
                field[prefix.len()..]
                    .split(['.', '['])
                    .next()
                    .unwrap_or_default()
                    .replace('_', "-")
            )
        } else {
            flag.to_string()
        })
    };
    let message = status
        .message()
        .split("; ")
        .map(|part| match part.split_once(": ") {
            Some((field, reason)) => match rename(field) {
                Some(flag) => format!("{flag}: {reason}"),
                None => part.to_string(),
            },
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    Status::new(status.code(), message)
}

/// Whether a call may be retried as it is: the request id makes it safe.
pub fn retryable(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::ResourceExhausted)
}

/// Runs `call` until it succeeds, fails for good, or five tries are spent,
/// backing off between tries. Only for calls carrying a request id (or
/// reads).
pub async fn with_retry<T, F, Fut>(mut call: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
{
    let mut delay = Duration::from_millis(100);
    for _ in 0..4 {
        match call().await {
            Err(s) if retryable(&s) => {
                tokio::time::sleep(delay).await;
                delay *= 3;
            }
            other => return other,
        }
    }
    call().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_fields_read_as_the_flags_typed() {
        let s = Status::invalid_argument(
            "start_month: \"2024-13\" is not a month; inputs.net_credited.amount: has 3 decimal places but USD has 2",
        );
        let s = in_flag_terms(
            s,
            &[
                ("start_month", "--from"),
                ("inputs.net_credited", "--net-credited"),
                ("inputs.", "--"),
            ],
        );
        assert_eq!(
            s.message(),
            "--from: \"2024-13\" is not a month; --net-credited: has 3 decimal places but USD has 2"
        );
        assert_eq!(
            in_flag_terms(
                Status::invalid_argument("inputs.as_of: bad"),
                &[("inputs.", "--")]
            )
            .message(),
            "--as-of: bad"
        );
    }
}
