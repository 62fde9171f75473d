//! The binary as an operator runs it: `--check-config` and `health-check`
//! exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repatd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_repatd"))
        .args(args)
        // The environment of whoever runs the tests must not configure it.
        .env_clear()
        .output()
        .expect("run repatd")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("repatd-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An Ed25519 private key as `openssl genpkey -algorithm ed25519` writes it.
const ED25519_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIB96ckiDKLtdgH4K9o2H/gQwFhosuWAJWPOStJ+8308/\n-----END PRIVATE KEY-----\n";

#[test]
fn check_config_accepts_a_sound_configuration() {
    let dir = Scratch::new();
    let secret = dir.file(
        "hs256.secret",
        "a-secret-of-at-least-thirty-two-bytes-long\n",
    );
    let checkpoint_key = dir.file("checkpoint.pem", ED25519_KEY);
    let config = dir.file(
        "repatd.toml",
        &format!(
            "listen = \"0.0.0.0:50051\"\ndatabase_url = \"postgres://repat@db:5432/repat\"\njwt_algorithm = \"hs256\"\njwt_verify_key_file = \"{secret}\"\notlp_endpoint = \"http://otel-collector:4317\"\nlog_format = \"json\"\nmigrate_at_start = false\naudit_checkpoint_key_file = \"{checkpoint_key}\"\naudit_checkpoint_file = \"{published}\"\n",
            published = dir.0.join("checkpoints.jsonl").display()
        ),
    );
    let out = repatd(&["--config", &config, "--check-config"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("configuration OK"));
}

#[test]
fn check_config_refuses_what_would_not_start() {
    let dir = Scratch::new();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![], "no way to authenticate callers"),
        (
            vec![
                "--allow-unauthenticated".into(),
                "--listen".into(),
                "0.0.0.0:50051".into(),
            ],
            "without authentication",
        ),
        (
            vec![
                "--jwt-verify-key-file".into(),
                "/nonexistent/verify.pem".into(),
            ],
            "/nonexistent/verify.pem",
        ),
        (
            vec![
                "--allow-unauthenticated".into(),
                "--database-url".into(),
                "mysql://x".into(),
            ],
            "database url",
        ),
        (
            vec![
                "--allow-unauthenticated".into(),
                "--otlp-endpoint".into(),
                "collector:4317".into(),
            ],
            "OTLP endpoint",
        ),
        (
            vec![
                "--allow-unauthenticated".into(),
                "--tls-cert-file".into(),
                dir.file("cert.pem", "not a certificate"),
                "--tls-key-file".into(),
                dir.file("key.pem", "not a key"),
            ],
            "TLS",
        ),
        (
            vec![
                "--config".into(),
                dir.file("typo.toml", "listen_address = \"127.0.0.1:1\"\n"),
            ],
            "unknown setting",
        ),
        (
            vec!["--config".into(), "/nonexistent/repatd.toml".into()],
            "reading the configuration file",
        ),
        (
            vec![
                "--allow-unauthenticated".into(),
                "--audit-checkpoint-key-file".into(),
                dir.file("not-a-key.pem", "not a key"),
            ],
            "audit checkpoint key",
        ),
        (
            vec![
                "--allow-unauthenticated".into(),
                "--jwt-signing-key-file".into(),
                dir.file("tokens.pem", ED25519_KEY),
                "--audit-checkpoint-key-file".into(),
                dir.file("checkpoints.pem", ED25519_KEY),
            ],
            "a key of its own",
        ),
        (
            vec![
                "--allow-unauthenticated".into(),
                "--audit-checkpoint-file".into(),
                dir.0.join("checkpoints.jsonl").display().to_string(),
            ],
            "audit_checkpoint_key_file is not",
        ),
    ];
    for (args, expected) in cases {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.push("--check-config");
        let out = repatd(&all);
        assert!(!out.status.success(), "{all:?} passed the check");
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", text(&out));
        assert!(
            text(&out).contains(expected),
            "{all:?}: expected {expected:?} in {}",
            text(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_exits_zero_only_while_serving() {
    let db = std::env::temp_dir().join(format!("repatd-health-{}.db", uuid::Uuid::new_v4()));
    let server = repatd::start(&repatd::Settings::ephemeral(format!(
        "sqlite:{}",
        db.display()
    )))
    .await
    .expect("server starts");
    let listen = server.addr.to_string();
    let check = |listen: String| {
        tokio::task::spawn_blocking(move || {
            repatd(&["--listen", &listen, "health-check", "--timeout-secs", "2"])
        })
    };
    let out = check(listen.clone()).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    server.stop().await.expect("stops");
    let out = check(listen).await.unwrap();
    assert!(!out.status.success(), "a stopped server is not healthy");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

/// Runs `repatd serve` with `args` on a fresh SQLite file until `running`
/// has passed (or it exits), then stops it with SIGTERM; returns its output.
fn serve_for(args: &[&str], running: std::time::Duration) -> Output {
    let dir = Scratch::new();
    let db = format!("sqlite:{}", dir.0.join("repat.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_repatd"))
        .args([
            "--allow-unauthenticated",
            "--listen",
            "127.0.0.1:0",
            // Ephemeral too: these tests run at once, and the default
            // console port would be taken by whichever started first.
            "--console-listen",
            "127.0.0.1:0",
            "--database-url",
            &db,
        ])
        .args(args)
        .arg("serve")
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start repatd");
    let started = std::time::Instant::now();
    let mut exited = false;
    while started.elapsed() < running && !exited {
        exited = child.try_wait().expect("poll repatd").is_some();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if !exited {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    child.wait_with_output().expect("repatd output")
}

/// With `migrate_at_start = false`, a database nothing has migrated is
/// refused at once, saying what to run, rather than crash-looping on a
/// missing table.
#[test]
fn an_unmigrated_database_is_refused_with_what_to_do() {
    let out = serve_for(
        &["--migrate-at-start", "false"],
        std::time::Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("run `repatd migrate` on this database first"),
        "{}",
        text(&out)
    );
}

/// Telemetry to a collector that is not there: export is announced once
/// with where it goes, and the failures are logged once (rate-limited), not
/// once per export; logs into a pipe carry no colour codes.
#[test]
fn an_unreachable_collector_is_logged_once_and_logs_are_plain_in_a_pipe() {
    // Nothing listens on port 9 (discard) of loopback here.
    let out = serve_for(
        &[
            "--otlp-endpoint",
            "http://127.0.0.1:9",
            "--otlp-metrics-interval-secs",
            "1",
        ],
        std::time::Duration::from_millis(4500),
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stops cleanly on SIGTERM: {log}"
    );
    assert_eq!(
        log.matches("exporting traces and metrics over OTLP")
            .count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("http://127.0.0.1:9") && log.contains("service_name=repatd"),
        "{log}"
    );
    // Three or four metric exports failed (and the flush at the end): one line.
    assert_eq!(
        log.matches("OTLP collector unreachable").count(),
        1,
        "{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "no ANSI escapes when stderr is not a terminal: {log:?}"
    );
}
