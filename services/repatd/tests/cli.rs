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

#[test]
fn check_config_accepts_a_sound_configuration() {
    let dir = Scratch::new();
    let secret = dir.file(
        "hs256.secret",
        "a-secret-of-at-least-thirty-two-bytes-long\n",
    );
    let config = dir.file(
        "repatd.toml",
        &format!(
            "listen = \"0.0.0.0:50051\"\ndatabase_url = \"postgres://repat@db:5432/repat\"\njwt_algorithm = \"hs256\"\njwt_verify_key_file = \"{secret}\"\notlp_endpoint = \"http://otel-collector:4317\"\nlog_format = \"json\"\nmigrate_at_start = false\n"
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
