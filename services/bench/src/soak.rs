//! Soak benchmark: a sustained ingest into a separate `repatd` process,
//! watching that process's memory, then journeys grown to the step limit,
//! timing each 5,000 steps from their start to their end.
//!
//! ```sh
//! cargo build --release -p repat-bench -p repatd
//! target/release/soak-bench [STEPS] [JOURNEY_STEPS] [LONG_JOURNEYS] [sqlite]
//! ```
//! Defaults: 1,000,000 steps in journeys of 8 (in rounds of 100,000, each
//! seeding its repatriations first; journeys of another length are an
//! initiation and hops, and need fewer repatriations), then 50 journeys of
//! `--max-steps-per-journey` (1,000) steps, on PostgreSQL from
//! `REPAT_BENCH_DATABASE_URL` (a fresh database, dropped after); `sqlite`
//! runs on a temporary SQLite file instead. The server is the `repatd`
//! beside this binary (or `REPAT_BENCH_REPATD`); its resident set is read
//! from `/proc/<pid>/status` every 200 ms: the peak (`VmHWM`), after each
//! round, and after 30 s idle.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use repat_bench::workload::{
    JOURNEY, Scratch, create_party, money, seed_journeys, stream_steps, ts,
};
use repat_proto::v1 as pb;
use repat_proto::v1::repatriation_service_client::RepatriationServiceClient;
use tonic::transport::Channel;
use uuid::Uuid;

use pb::StepKind::*;

/// Steps of a sustained round.
const ROUND: usize = 100_000;
/// Concurrent BatchRecordSteps streams.
const STREAMS: usize = 16;
/// The server's default limit of steps per journey.
const JOURNEY_LIMIT: usize = 1_000;
/// Steps timed together in the long-journey phase.
const WINDOW: usize = 5_000;
/// How long the server is left idle before its memory is read again.
const IDLE: Duration = Duration::from_secs(30);

fn request(rid: &str, kind: pb::StepKind, at: DateTime<Utc>, bic: &str) -> pb::RecordStepRequest {
    let mut s = pb::Step {
        repatriation_id: rid.into(),
        kind: kind as i32,
        occurred_at: ts(at),
        institution_bic: bic.into(),
        ..Default::default()
    };
    if kind == IntermediaryProcessed {
        s.fees = vec![pb::Fee {
            amount: money("12.50", "USD"),
            charged_by: bic.into(),
            kind: "CORRESPONDENT".into(),
        }];
        s.amount = money("987.50", "USD");
    }
    if kind == ConvertedToBdt {
        s.fx_rate = Some(pb::FxRate {
            source_currency: "USD".into(),
            target_currency: "BDT".into(),
            rate: "110.25".into(),
        });
    }
    pb::RecordStepRequest {
        request_id: Uuid::new_v4().to_string(),
        step: Some(s),
    }
}

fn start_of(j: usize) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(j as i64 * 7)
}

/// Journey `j` of repatriation `rid`: the everyday one of 8 steps, or an
/// initiation and `len - 1` hops.
fn sustained(j: usize, rid: &str, len: usize) -> Vec<pb::RecordStepRequest> {
    if len != JOURNEY.len() {
        return (0..len).map(|n| long_step(j, rid, n)).collect();
    }
    JOURNEY
        .iter()
        .map(|(kind, hours, bic)| {
            request(
                rid,
                *kind,
                start_of(j) + chrono::Duration::hours(*hours),
                bic,
            )
        })
        .collect()
}

/// Step `n` of a long journey: its initiation, then hop after hop.
fn long_step(j: usize, rid: &str, n: usize) -> pb::RecordStepRequest {
    let at = start_of(j) + chrono::Duration::minutes(n as i64);
    if n == 0 {
        request(rid, PaymentInitiated, at, "HANDSESS")
    } else {
        request(rid, IntermediaryProcessed, at, "CHASUS33")
    }
}

/// The server's resident set, from its `/proc/<pid>/status`: (now, peak), in kB.
fn rss(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// A `repatd` process on a free loopback port.
struct Server {
    child: std::process::Child,
    pid: u32,
    channel: Channel,
}

impl Drop for Server {
    /// The server never outlives the benchmark, also when it fails.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn spawn_server(database_url: &str) -> anyhow::Result<Server> {
    let exe = match std::env::var_os("REPAT_BENCH_REPATD") {
        Some(p) => p.into(),
        None => std::env::current_exe()?.with_file_name("repatd"),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(&exe)
        .args(["--listen", &listen, "--database-url", database_url])
        .args(["--console-listen", "off", "--allow-unauthenticated"])
        .args([
            "--rate-limit-per-second",
            "0",
            "--alerts-interval-secs",
            "0",
        ])
        .env("REPAT_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let pid = child.id();
    let started = Instant::now();
    let channel = loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("repatd exited: {status}");
        }
        if let Ok(c) = Channel::from_shared(format!("http://{listen}"))?
            .connect()
            .await
        {
            break c;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "repatd did not listen"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    Ok(Server {
        child,
        pid,
        channel,
    })
}

/// Runs both phases against a server on `database_url`.
async fn run(
    database_url: &str,
    steps: usize,
    len: usize,
    long_journeys: usize,
) -> anyhow::Result<()> {
    let server = spawn_server(database_url).await?;
    let pid = server.pid;
    let channel = server.channel.clone();
    let (start_rss, _) = rss(pid)?;
    println!(
        "server pid {pid}, resident at start: {:.0} MB",
        mb(start_rss)
    );

    // The sampler keeps the highest resident set seen (VmHWM says the same
    // from the kernel's side).
    let peak = Arc::new(AtomicU64::new(start_rss));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            while let Ok((now, _)) = rss(pid) {
                peak.fetch_max(now, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let party = create_party(&channel, "Soak Ltd").await?;
    // Rounds of ROUND steps; a smaller run (CI) is one round of its size.
    let round_steps = ROUND.min(steps).max(len);
    let per_round = round_steps / len;
    let rounds = steps.div_ceil(round_steps);
    let ingest_started = Instant::now();
    let mut stored = 0usize;
    for round in 0..rounds {
        let (reps, _) = seed_journeys(&channel, &party, round * per_round, per_round)
            .await
            .context("seeding")?;
        let mut batches: Vec<Vec<pb::RecordStepRequest>> = vec![Vec::new(); STREAMS];
        for (k, rid) in reps.iter().enumerate() {
            batches[k % STREAMS].extend(sustained(round * per_round + k, rid, len));
        }
        let n: usize = batches.iter().map(Vec::len).sum();
        let elapsed = stream_steps(&channel, batches).await?;
        stored += n;
        let (now, hwm) = rss(pid)?;
        println!(
            "round {:>2}: {stored:>9} steps, {:>7.0} steps/s, resident {:>6.0} MB, peak {:>6.0} MB",
            round + 1,
            n as f64 / elapsed.as_secs_f64(),
            mb(now),
            mb(hwm)
        );
    }
    let total = ingest_started.elapsed();
    let (_, hwm) = rss(pid)?;
    println!(
        "sustained: {stored} steps in {:.0} s (seeding included); peak resident {:.0} MB (sampled {:.0} MB)",
        total.as_secs_f64(),
        mb(hwm),
        mb(peak.load(Ordering::Relaxed))
    );
    tokio::time::sleep(IDLE).await;
    let (idle, _) = rss(pid)?;
    println!(
        "after {} s idle: resident {:.0} MB",
        IDLE.as_secs(),
        mb(idle)
    );

    if long_journeys > 0 {
        long_journeys_phase(&channel, &party, rounds * per_round, long_journeys).await?;
    }
    let (now, hwm) = rss(pid)?;
    println!("end: resident {:.0} MB, peak {:.0} MB", mb(now), mb(hwm));
    sampler.abort();
    drop(server);
    Ok(())
}

/// Phase two: `long_journeys` journeys (seeded from repatriation `first`
/// on) grown to the step limit, each 5,000 steps timed.
async fn long_journeys_phase(
    channel: &Channel,
    party: &str,
    first: usize,
    long_journeys: usize,
) -> anyhow::Result<()> {
    // Long journeys: every window takes each journey `WINDOW /
    // long_journeys` steps further, so the first window times steps early
    // in their journeys and the last steps at the limit.
    let (reps, _) = seed_journeys(channel, party, first, long_journeys).await?;
    let per_window = (WINDOW / long_journeys).max(1);
    let mut timings = Vec::new();
    for w in 0..JOURNEY_LIMIT.div_ceil(per_window) {
        let range = w * per_window..((w + 1) * per_window).min(JOURNEY_LIMIT);
        let mut batches: Vec<Vec<pb::RecordStepRequest>> = vec![Vec::new(); STREAMS];
        for (j, rid) in reps.iter().enumerate() {
            for n in range.clone() {
                batches[j % STREAMS].push(long_step(j, rid, n));
            }
        }
        let n: usize = batches.iter().map(Vec::len).sum();
        let elapsed = stream_steps(channel, batches).await?;
        println!(
            "long journeys, steps {:>4}..{:>4} of each of {long_journeys}: {n} steps in {:.2} s",
            range.start + 1,
            range.end,
            elapsed.as_secs_f64()
        );
        timings.push(elapsed);
    }
    if let (Some(first), Some(last)) = (timings.first(), timings.last()) {
        println!(
            "time per {WINDOW} steps: {:.2} s at the start of the journeys, {:.2} s at their end",
            first.as_secs_f64(),
            last.as_secs_f64()
        );
    }
    // One step beyond the limit is refused; a full journey still fits a
    // default client's 4 MB message.
    let mut client = RepatriationServiceClient::new(channel.clone());
    let refused = client
        .record_step(long_step(0, &reps[0], JOURNEY_LIMIT))
        .await
        .map(|_| ())
        .unwrap_err();
    println!(
        "step {} of a journey: {:?}: {}",
        JOURNEY_LIMIT + 1,
        refused.code(),
        refused.message()
    );
    let full = client
        .get_repatriation(pb::GetRepatriationRequest {
            id: reps[0].clone(),
        })
        .await?
        .into_inner();
    println!(
        "GetRepatriation of a {JOURNEY_LIMIT}-step journey: {} bytes",
        prost::Message::encoded_len(&full)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let steps: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let len: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(JOURNEY.len())
        .clamp(1, JOURNEY_LIMIT);
    let long_journeys: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(50);
    let sqlite = args.next().is_some_and(|a| a == "sqlite");
    println!(
        "soak benchmark: {steps} steps in journeys of {len}, {STREAMS} streams; then {long_journeys} journeys of {JOURNEY_LIMIT} steps"
    );
    if sqlite {
        let dir = std::env::temp_dir().join(format!("repat-soak-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        println!("backend: sqlite");
        let result = run(
            &format!("sqlite:{}", dir.join("soak.db").display()),
            steps,
            len,
            long_journeys,
        )
        .await;
        std::fs::remove_dir_all(&dir)?;
        return result;
    }
    let scratch = Scratch::create().await?;
    println!("backend: postgres");
    let result = run(&scratch.url, steps, len, long_journeys).await;
    scratch.drop().await?;
    result
}
