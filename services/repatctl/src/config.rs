//! Connection settings: flags, `REPATCTL_*` environment variables, a TOML
//! file, defaults (in that order of precedence), as repatd reads its own.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// Where the server is and how to prove who we are.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Connection")]
pub struct Connection {
    /// The server: `http://HOST:PORT`, or `https://HOST:PORT` for TLS.
    #[arg(
        long,
        env = "REPATCTL_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub server: String,
    /// PEM CA certificates to trust for the server's certificate (the
    /// system's roots when unset).
    #[arg(long, env = "REPATCTL_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for mutual TLS.
    #[arg(
        long,
        env = "REPATCTL_CLIENT_CERT_FILE",
        requires = "client_key_file",
        global = true
    )]
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(
        long,
        env = "REPATCTL_CLIENT_KEY_FILE",
        requires = "client_cert_file",
        global = true
    )]
    pub client_key_file: Option<PathBuf>,
    /// Bearer token (JWT) sent with every call.
    #[arg(
        long,
        env = "REPATCTL_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file",
        global = true
    )]
    pub token: Option<String>,
    /// File holding the bearer token.
    #[arg(long, env = "REPATCTL_TOKEN_FILE", global = true)]
    pub token_file: Option<PathBuf>,
    /// Seconds to wait for each call (imports: for the whole stream).
    #[arg(
        long,
        env = "REPATCTL_TIMEOUT_SECS",
        default_value_t = 60,
        global = true
    )]
    pub timeout_secs: u64,
}

impl Connection {
    /// The bearer token, from the flag or its file.
    pub fn bearer_token(&self) -> anyhow::Result<Option<String>> {
        if let Some(t) = &self.token {
            return Ok(Some(t.trim().to_string()));
        }
        match &self.token_file {
            Some(path) => {
                let t = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("reading the token file {}: {e}", path.display())
                })?;
                Ok(Some(t.trim().to_string()))
            }
            None => Ok(None),
        }
    }
}

/// Keys of the configuration file: the connection settings and the output
/// format. Everything else is about one invocation.
const FILE_KEYS: [&str; 8] = [
    "server",
    "ca_file",
    "client_cert_file",
    "client_key_file",
    "token",
    "token_file",
    "timeout_secs",
    "output",
];

/// The command line with the settings layered: flags over environment
/// variables over the `--config` file over defaults.
///
/// clap says where each value came from; a key of the file is applied only
/// to a setting that came from neither flag nor environment, by adding it as
/// a flag and parsing again, so file values are checked exactly as flags.
pub fn load_from<I, T>(args: I) -> Result<Cli, LoadError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let command = Cli::command();
    let matches = command
        .clone()
        .try_get_matches_from(&args)
        .map_err(|e| LoadError::Usage(as_typed(e, &args)))?;
    let Some(path) = matches.get_one::<PathBuf>("config") else {
        return Cli::from_arg_matches(&matches).map_err(LoadError::Usage);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        LoadError::File(format!(
            "reading the configuration file {}: {e}",
            path.display()
        ))
    })?;
    let file: toml::Table =
        toml::from_str(&text).map_err(|e| LoadError::File(format!("{}: {e}", path.display())))?;
    let mut from_file: Vec<OsString> = Vec::new();
    for (key, value) in &file {
        if !FILE_KEYS.contains(&key.as_str()) {
            return Err(LoadError::File(format!(
                "{}: unknown setting {key:?} (known: {})",
                path.display(),
                FILE_KEYS.join(", ")
            )));
        }
        if !matches!(
            matches.value_source(key),
            None | Some(ValueSource::DefaultValue)
        ) {
            continue;
        }
        let value = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            other => {
                return Err(LoadError::File(format!(
                    "{}: {key} must be a string or number, not {}",
                    path.display(),
                    other.type_str()
                )));
            }
        };
        from_file.push(format!("--{}={value}", key.replace('_', "-")).into());
    }
    let mut layered = args[..1].to_vec();
    layered.extend(from_file);
    layered.extend_from_slice(&args[1..]);
    let matches = command
        .try_get_matches_from(&layered)
        .map_err(|e| LoadError::File(format!("{}: {e}", path.display())))?;
    Cli::from_arg_matches(&matches).map_err(LoadError::Usage)
}

/// A usage error as the user typed the command: clap counts settings from
/// the environment (`REPATCTL_SERVER`) as given and shows them in the usage
/// line as if they were required; parsed again without the environment,
/// the same mistake is reported without them.
fn as_typed(e: clap::Error, args: &[OsString]) -> clap::Error {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return e;
    }
    let plain = Cli::command().mut_args(|a| a.env(None::<&str>));
    match plain.try_get_matches_from(args) {
        Err(again) if again.kind() == e.kind() => again,
        _ => e,
    }
}

#[derive(Debug)]
pub enum LoadError {
    /// Bad flags (or --help, --version): clap prints and exits.
    Usage(clap::Error),
    /// A configuration file that cannot be read or used.
    File(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tests set `REPATCTL_*` variables that every other test's loading
    /// reads: they take turns.
    static ENVIRONMENT: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn environment() -> std::sync::MutexGuard<'static, ()> {
        ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn load(args: &[&str]) -> Cli {
        load_from(std::iter::once("repatctl").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    struct TempFile(PathBuf);
    impl TempFile {
        fn with(text: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("repatctl-config-{}.toml", uuid::Uuid::new_v4()));
            std::fs::write(&path, text).unwrap();
            TempFile(path)
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    // Environment variables are process-wide: the environment's place in the
    // order is tested in this one test, with variables no other test reads.
    #[test]
    fn flags_over_environment_over_file_over_defaults() {
        let _environment = environment();
        let f = TempFile::with(
            "server = \"https://repat.example:443\"\ntimeout_secs = 7\noutput = \"json\"\ntoken_file = \"/tmp/t\"\n",
        );
        let path = f.0.to_str().unwrap();

        let c = load(&["audit", "verify"]);
        assert_eq!(
            (c.connection.server.as_str(), c.connection.timeout_secs),
            ("http://127.0.0.1:50051", 60)
        );

        let c = load(&["--config", path, "audit", "verify"]);
        assert_eq!(
            (c.connection.server.as_str(), c.connection.timeout_secs),
            ("https://repat.example:443", 7)
        );
        assert_eq!(c.output, crate::cli::OutputFormat::Json);

        // A flag after the subcommand counts as much as one before it.
        let c = load(&["audit", "verify", "--config", path, "--timeout-secs", "9"]);
        assert_eq!(c.connection.timeout_secs, 9);

        // SAFETY: tests holding `environment()` take turns with it.
        unsafe { std::env::set_var("REPATCTL_SERVER", "http://from-env:1") };
        let from_env = load(&["--config", path, "audit", "verify"]);
        let from_flag = load(&[
            "--config",
            path,
            "--server",
            "http://from-flag:2",
            "audit",
            "verify",
        ]);
        unsafe { std::env::remove_var("REPATCTL_SERVER") };
        assert_eq!(
            from_env.connection.server, "http://from-env:1",
            "the environment over the file"
        );
        assert_eq!(
            from_flag.connection.server, "http://from-flag:2",
            "the flag over the environment"
        );
    }

    #[test]
    fn usage_errors_do_not_list_settings_from_the_environment() {
        let _environment = environment();
        // SAFETY: tests holding `environment()` take turns with it.
        unsafe { std::env::set_var("REPATCTL_TIMEOUT_SECS", "5") };
        let e = load_from(["repatctl", "metrics", "breaches"]);
        unsafe { std::env::remove_var("REPATCTL_TIMEOUT_SECS") };
        let LoadError::Usage(e) = e.unwrap_err() else {
            panic!("a usage error")
        };
        let text = e.render().to_string();
        assert!(
            text.contains("--kind") && !text.contains("--timeout-secs"),
            "{text}"
        );
    }

    #[test]
    fn the_file_is_checked() {
        let _environment = environment();
        let unknown = TempFile::with("sever = \"x\"\n");
        let e = load_from([
            "repatctl",
            "--config",
            unknown.0.to_str().unwrap(),
            "audit",
            "verify",
        ])
        .unwrap_err();
        assert!(matches!(e, LoadError::File(m) if m.contains("unknown setting \"sever\"")));
        let bad = TempFile::with("timeout_secs = \"soon\"\n");
        assert!(matches!(
            load_from([
                "repatctl",
                "--config",
                bad.0.to_str().unwrap(),
                "audit",
                "verify"
            ]),
            Err(LoadError::File(_))
        ));
    }
}
