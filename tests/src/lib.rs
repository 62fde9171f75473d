//! Test harness: a real repatd on an ephemeral port, over a real database
//! (a fresh SQLite file, or a fresh PostgreSQL database per test), with real
//! gRPC clients.
//!
//! PostgreSQL tests run when `REPAT_TEST_DATABASE_URL` names a server (any
//! database on it; each test creates its own). Without it they are skipped,
//! unless `REPAT_REQUIRE_POSTGRES` is set, which makes a skip a failure.

pub mod fixtures;
pub mod otlp;
pub mod proxy;
pub mod security;
pub mod store;

use std::path::PathBuf;

use repat_proto::v1::earning_service_client::EarningServiceClient;
use repat_proto::v1::incentive_service_client::IncentiveServiceClient;
use repat_proto::v1::party_service_client::PartyServiceClient;
use repat_proto::v1::reconciliation_service_client::ReconciliationServiceClient;
use repat_proto::v1::repatriation_service_client::RepatriationServiceClient;
use repatd::{RunningServer, Settings};
use sqlx::Connection;
use tonic::transport::Channel;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

enum TestDb {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// A running server and clients connected to it.
pub struct TestApp {
    pub backend: Backend,
    pub server: RunningServer,
    /// The database url the server uses (for tests that go behind its back).
    pub database_url: String,
    pub channel: Channel,
    db: TestDb,
}

impl TestApp {
    pub fn documents(
        &self,
    ) -> repat_proto::v1::document_service_client::DocumentServiceClient<Channel> {
        repat_proto::v1::document_service_client::DocumentServiceClient::new(self.channel.clone())
    }
    pub fn parties(&self) -> PartyServiceClient<Channel> {
        PartyServiceClient::new(self.channel.clone())
    }
    pub fn earnings(&self) -> EarningServiceClient<Channel> {
        EarningServiceClient::new(self.channel.clone())
    }
    pub fn repatriations(&self) -> RepatriationServiceClient<Channel> {
        RepatriationServiceClient::new(self.channel.clone())
    }
    pub fn incentives(&self) -> IncentiveServiceClient<Channel> {
        IncentiveServiceClient::new(self.channel.clone())
    }
    pub fn metrics(
        &self,
    ) -> repat_proto::v1::metrics_service_client::MetricsServiceClient<Channel> {
        repat_proto::v1::metrics_service_client::MetricsServiceClient::new(self.channel.clone())
    }
    pub fn reconciliation(&self) -> ReconciliationServiceClient<Channel> {
        ReconciliationServiceClient::new(self.channel.clone())
    }

    /// Stops the server and removes its database.
    pub async fn finish(self) {
        self.server.stop().await.expect("server stops cleanly");
        self.db.remove().await;
    }
}

impl TestDb {
    fn new(backend: Backend, handle: String) -> Self {
        match backend {
            Backend::Sqlite => TestDb::Sqlite(PathBuf::from(handle)),
            Backend::Postgres => TestDb::Postgres {
                admin_url: postgres_url().unwrap_or_default(),
                name: handle,
            },
        }
    }

    /// Removes the database (its files, or the PostgreSQL database).
    async fn remove(self) {
        match self {
            TestDb::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            TestDb::Postgres { admin_url, name } => {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            }
        }
    }
}

/// The PostgreSQL server to test against, if any.
pub fn postgres_url() -> Option<String> {
    match std::env::var("REPAT_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("REPAT_REQUIRE_POSTGRES").is_none(),
                "REPAT_REQUIRE_POSTGRES is set but REPAT_TEST_DATABASE_URL is not"
            );
            None
        }
    }
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(i) => &base[..authority_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The `host:port` of a `postgres://` url, and a function putting another
/// address in its place.
pub fn database_address(
    url: &str,
) -> Option<(String, impl Fn(std::net::SocketAddr) -> String + '_)> {
    let start = url.find("://")? + 3;
    let start = url[start..].find('@').map_or(start, |at| start + at + 1);
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let host_port = url[start..end].to_string();
    let host_port = if host_port.contains(':') {
        host_port
    } else {
        format!("{host_port}:5432")
    };
    Some((host_port, move |addr: std::net::SocketAddr| {
        format!("{}{addr}{}", &url[..start], &url[end..])
    }))
}

/// Creates a fresh database of `backend` and returns its url; `None` when
/// PostgreSQL is not configured.
pub async fn fresh_database(backend: Backend) -> Option<(String, String)> {
    let id = Uuid::new_v4().simple().to_string();
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("repat-test-{id}.db"));
            Some((
                format!("sqlite:{}", path.display()),
                path.display().to_string(),
            ))
        }
        Backend::Postgres => {
            let admin = postgres_url()?;
            let name = format!("repat_t_{id}");
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to REPAT_TEST_DATABASE_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            Some((with_database(&admin, &name), name))
        }
    }
}

/// Starts repatd on a fresh database; `None` when the backend is not
/// available (PostgreSQL without `REPAT_TEST_DATABASE_URL`).
pub async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, |_| {}).await
}

/// Like [`spawn`], with settings adjusted by `configure` (tokens, limits).
/// The channel is plain TCP; TLS tests make their own.
pub async fn spawn_with(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let (url, handle) = fresh_database(backend).await?;
    let mut settings = Settings::ephemeral(url);
    configure(&mut settings);
    let server = repatd::start(&settings).await.expect("server starts");
    let scheme = if settings.tls_cert_file.is_some() {
        "https"
    } else {
        "http"
    };
    let endpoint = Channel::from_shared(format!("{scheme}://{}", server.addr)).expect("uri");
    // A TLS server gets a lazy channel: the test decides how to connect.
    let channel = if scheme == "https" {
        endpoint.connect_lazy()
    } else {
        endpoint.connect().await.expect("connect to server")
    };
    let db = TestDb::new(backend, handle);
    Some(TestApp {
        backend,
        server,
        channel,
        db,
        database_url: settings.database_url,
    })
}

/// Runs `sql` on the database at `url` behind the service's back (as an
/// insider with database access would).
pub async fn tamper(backend: Backend, url: &str, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }
}

/// Runs each named `async fn(TestApp)` once per backend, as
/// `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::spawn($crate::Backend::Sqlite).await.expect("sqlite is always available");
                    super::$name(&app).await;
                    app.finish().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(app) = $crate::spawn($crate::Backend::Postgres).await else {
                        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
                        return;
                    };
                    super::$name(&app).await;
                    app.finish().await;
                }
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            super::with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }

    #[test]
    fn database_address_is_replaced() {
        let (addr, replace) =
            super::database_address("postgres://u:p@db.local:6543/x?sslmode=disable").unwrap();
        assert_eq!(addr, "db.local:6543");
        assert_eq!(
            replace("127.0.0.1:9".parse().unwrap()),
            "postgres://u:p@127.0.0.1:9/x?sslmode=disable"
        );
        assert_eq!(
            super::database_address("postgres://h/x").unwrap().0,
            "h:5432"
        );
    }
}
