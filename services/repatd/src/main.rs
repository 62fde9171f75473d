use std::io::IsTerminal;
use std::process::ExitCode;

use repatd::config::{Cli, Command, LogFormat, TokenCommand};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
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
