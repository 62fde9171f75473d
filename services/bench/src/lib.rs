//! What the benchmarks share: a scratch PostgreSQL database, and repatd in
//! a process of its own (the benchmark binary itself, started with
//! `--serve`), so its memory is measured apart from the client's.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

use anyhow::Context;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

/// PostgreSQL server the benchmarks create their databases on.
pub fn admin_url() -> String {
    std::env::var("REPAT_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// `url` with its database name replaced (keeping any `?host=` etc.).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A fresh PostgreSQL database, dropped by [`ScratchDb::drop_now`].
pub struct ScratchDb {
    pub name: String,
    pub url: String,
    admin: PgConnection,
}

impl ScratchDb {
    pub async fn create() -> anyhow::Result<ScratchDb> {
        let admin_url = admin_url();
        let name = format!("repat_bench_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .context("connecting to REPAT_BENCH_DATABASE_URL")?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        Ok(ScratchDb {
            url: with_database(&admin_url, &name),
            name,
            admin,
        })
    }

    pub async fn drop_now(mut self) -> anyhow::Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut self.admin)
        .await?;
        Ok(())
    }
}

/// The flag that makes a benchmark binary serve instead of measuring.
const SERVE: &str = "--serve";

/// When the binary was started as a benchmark's server (`--serve URL`):
/// serves on an ephemeral port, prints the address, and stops when its
/// standard input closes. Call first thing in `main`.
pub fn serve_if_asked() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some(SERVE) {
        return Ok(());
    }
    let url = args.get(2).context("--serve needs a database url")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let server = repatd::start(&repatd::Settings::ephemeral(url.as_str())).await?;
        println!("{}", server.addr);
        std::io::stdout().flush()?;
        // The benchmark closes our standard input when it is done.
        tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await?;
        server.stop().await
    })?;
    std::process::exit(0)
}

/// repatd in a process of its own.
pub struct ServerProcess {
    pub addr: std::net::SocketAddr,
    child: Child,
    stdin: Option<ChildStdin>,
}

/// A process's resident memory: now, and the most it ever held.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rss {
    pub now_kb: u64,
    pub peak_kb: u64,
}

impl Rss {
    pub fn mb(kb: u64) -> f64 {
        kb as f64 / 1024.0
    }
}

impl ServerProcess {
    /// Starts this binary as a server on `url` and waits for its address.
    pub fn start(url: &str) -> anyhow::Result<ServerProcess> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([SERVE, url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .parse()
            .with_context(|| format!("the server did not print its address: {line:?}"))?;
        let stdin = child.stdin.take();
        Ok(ServerProcess { addr, child, stdin })
    }

    /// `VmRSS` and `VmHWM` from /proc.
    pub fn rss(&self) -> anyhow::Result<Rss> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("no {name} in /proc/PID/status"))?;
            Ok(line
                .split_whitespace()
                .nth(1)
                .context("a number of kB")?
                .parse()?)
        };
        Ok(Rss {
            now_kb: field("VmRSS:")?,
            peak_kb: field("VmHWM:")?,
        })
    }

    /// Stops the server (gracefully) and waits for it.
    pub fn stop(mut self) -> anyhow::Result<()> {
        drop(self.stdin.take());
        let status = self.child.wait()?;
        anyhow::ensure!(status.success(), "the server exited with {status}");
        Ok(())
    }
}

/// Connects a gRPC channel to `addr`.
pub async fn channel(addr: std::net::SocketAddr) -> anyhow::Result<tonic::transport::Channel> {
    Ok(
        tonic::transport::Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await?,
    )
}
