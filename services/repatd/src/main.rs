use std::io::IsTerminal;
use std::process::ExitCode;

use repatd::config::{Cli, Command, LogFormat, TokenCommand};
use tracing_subscriber::EnvFilter;

/// glibc's allocator gives each thread that contends for memory an arena
/// of its own and returns freed memory to the system only from the top of
/// each: under sustained ingestion a server's resident set grows with the
/// arenas and stays after the work is done. Two arenas, and handing free
/// pages back now and then, keep it flat.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod allocator {
    pub fn limit_arenas() {
        // SAFETY: mallopt only tunes the allocator; called before any
        // other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }

    pub async fn keep_returning_free_memory() {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tick.tick().await;
            // SAFETY: malloc_trim only releases free pages.
            unsafe {
                libc::malloc_trim(0);
            }
        }
    }
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    allocator::limit_arenas();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(serve()),
        Err(e) => {
            eprintln!("repatd: starting the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::spawn(allocator::keep_returning_free_memory());
    let cli = match repatd::config::load_from(std::env::args_os()) {
        Ok(cli) => cli,
        // --help and --version, or a usage error, as clap words them.
        Err(e) => match e.downcast::<clap::Error>() {
            Ok(e) => e.exit(),
            Err(e) => {
                eprintln!("repatd: configuration: {e:#}");
                return ExitCode::from(2);
            }
        },
    };
    let filter = EnvFilter::try_from_env("REPAT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal, never into files or
    // collectors (and never when NO_COLOR asks for none).
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    match cli.settings.log_format {
        // Logs go to stderr; stdout carries what a command prints (a token).
        LogFormat::Text => tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(colour)
            .with_env_filter(filter)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .init(),
    }
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = cli.settings;
    if cli.check_config {
        return Ok(match repatd::startup::check(&settings) {
            Ok(()) => {
                println!("configuration OK");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("configuration invalid: {e:#}");
                ExitCode::from(2)
            }
        });
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Token {
            command:
                TokenCommand::Issue {
                    role,
                    parties,
                    subject,
                    ttl_secs,
                },
        } => {
            let role = repat_api::token::role_from_name(&role).ok_or_else(|| {
                anyhow::anyhow!("--role must be firm, integrator, auditor or admin")
            })?;
            let token = settings
                .token_issuer()?
                .issue(
                    &subject,
                    role,
                    &parties,
                    std::time::Duration::from_secs(ttl_secs),
                )
                .map_err(anyhow::Error::msg)?;
            println!("{token}");
        }
        Command::Migrate => {
            let options = repat_store::ConnectOptions {
                migrate: true,
                ..settings.store_options()
            };
            let repo = repat_store::connect(&settings.database_url, &options).await?;
            tracing::info!(backend = repo.backend(), "migrations applied");
        }
        Command::HealthCheck { timeout_secs } => {
            let serving =
                repatd::health::check(&settings, std::time::Duration::from_secs(timeout_secs))
                    .await;
            return Ok(match serving {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("not healthy: {e:#}");
                    ExitCode::FAILURE
                }
            });
        }
        Command::Serve => {
            let mut server = repatd::start(&settings).await?;
            match server.health_addr {
                Some(health) => {
                    tracing::info!(addr = %server.addr, %health, backend = server.repo.backend(), "repatd serving (health also on the plaintext health listener)")
                }
                None => {
                    tracing::info!(addr = %server.addr, backend = server.repo.backend(), "repatd serving")
                }
            }
            let stop = server.stopper();
            tokio::spawn(async move {
                shutdown_signal().await;
                if let Some(stop) = stop {
                    let _ = stop.send(());
                }
            });
            server.wait().await?;
            tracing::info!("repatd stopped");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (from an orchestrator) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            },
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
