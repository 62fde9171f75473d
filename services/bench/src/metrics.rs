//! Delay-metrics benchmark: loads generated repatriations into PostgreSQL,
//! builds their metrics rows with the service's code (timed beside plain
//! SQL computing every wait into a bare table), then times the service's
//! delay statistics grouped by corridor, channel, institution and party
//! kind, and its scorecard, over gRPC, each beside the plain SQL a user
//! would otherwise write over the raw step table (`percentile_cont`
//! grouped the same way), in the same run.
//!
//! ```sh
//! cargo run --release -p repat-bench --bin metrics-bench -- [REPATRIATIONS]
//! ```
//! Default 1,000,000 repatriations of 8 steps. The rows are generated in
//! SQL (loading them through the API is what `ingest-bench` measures); the
//! metrics rows are then built by the service's own code
//! (`rebuild_metrics`), as they would have been as the steps arrived,
//! and built again by the server's catch-up of journeys marked pending
//! (its concurrent drainers, the path ingestion feeds).
//! PostgreSQL comes from `REPAT_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); a fresh database is created
//! and dropped.

use std::time::{Duration, Instant};

use anyhow::Context;
use repat_core::Money;
use repat_core::journey::Fee;
use repat_proto::v1 as pb;
use repat_proto::v1::metrics_service_client::MetricsServiceClient;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

const CORRIDORS: &str = "ARRAY['US','GB','DE','SE','NL','CA','AU','SG','AE','JP','FR','IE']";
/// Times each query is run; the median is printed.
const RUNS: usize = 3;

/// The raw rows: 5,000 parties, and per repatriation one earning, one
/// allocation and eight steps whose waits vary with the repatriation.
async fn generate(conn: &mut PgConnection, n: i64) -> anyhow::Result<()> {
    let fee = serde_json::to_string(&vec![Fee {
        amount: Money::parse("25.00", "USD").map_err(|e| anyhow::anyhow!("{e:?}"))?,
        charged_by: "CHASUS33".into(),
        kind: "CORRESPONDENT".into(),
    }])?;
    let statements = [
        "INSERT INTO parties (id, kind, legal_name, country, zone, memberships, bank_accounts, create_time)
         SELECT md5('p' || i)::uuid, CASE WHEN i % 3 = 0 THEN 'FREELANCER' ELSE 'FIRM' END, 'Exporter ' || i, 'BD', 'NONE', '[]', '[]', now()
         FROM generate_series(1, 5000) i"
            .to_string(),
        format!(
            "INSERT INTO earnings (id, party_id, client_name, client_country, service_category, amount, currency, allocated, invoice_date,
                                   invoice_reference, marketplace, create_time)
             SELECT md5('e' || i)::uuid, md5('p' || (i % 5000 + 1))::uuid, 'Client', ({CORRIDORS})[i % 12 + 1], 'SOFTWARE',
                    1000 + i % 9000, 'USD', 1000 + i % 9000, DATE '2023-01-01' + (i % 700)::int, 'INV-' || i, '', now()
             FROM generate_series(1, $1) i"
        ),
        format!(
            "INSERT INTO repatriations (id, party_id, channel, payer_country, expected_amount, currency, status, step_count, create_time, update_time)
             SELECT md5('r' || i)::uuid, md5('p' || (i % 5000 + 1))::uuid,
                    (ARRAY['BANK','PLATFORM','MOBILE_FINANCIAL_SERVICE'])[i % 3 + 1], ({CORRIDORS})[i % 12 + 1],
                    1000 + i % 9000, 'USD', 'REALIZED', 8, now(), now()
             FROM generate_series(1, $1) i"
        ),
        "INSERT INTO allocations (repatriation_id, position, earning_id, amount, currency)
         SELECT md5('r' || i)::uuid, 0, md5('e' || i)::uuid, 1000 + i % 9000, 'USD' FROM generate_series(1, $1) i"
            .to_string(),
        // Waits in seconds: a to e vary per repatriation; offsets are their
        // running sums from initiation, 10 to 59 days after the invoice.
        "INSERT INTO steps (id, repatriation_id, kind, occurred_at, recorded_at, institution_bic, amount, currency, fees, note)
         SELECT md5('s' || i || '-' || k)::uuid, md5('r' || i)::uuid, kind,
                t0 + off * interval '1 second', t0 + off * interval '1 second', bic,
                CASE WHEN k = 1 THEN 1000 + i % 9000 WHEN k = 5 THEN 975 + i % 9000 END,
                CASE WHEN k IN (1, 5) THEN 'USD' END,
                CASE WHEN k = 2 THEN $2 ELSE '[]' END, ''
         FROM (
           SELECT i, k, kind, bic,
                  (DATE '2023-01-01' + (i % 700)::int)::timestamptz + (10 + i % 50) * interval '1 day' + (i % 86400) * interval '1 second' AS t0,
                  CASE k WHEN 0 THEN -864000
                         WHEN 1 THEN 0
                         WHEN 2 THEN a
                         WHEN 3 THEN a + b
                         WHEN 4 THEN a + b + c
                         WHEN 5 THEN a + b + c + d
                         WHEN 6 THEN a + b + c + d + 600
                         ELSE a + b + c + d + e END AS off
           FROM (SELECT i, (i * 7919) % 7200 + 60 AS a, (i * 104729) % 86400 + 300 AS b, (i * 1299709) % 43200 + 60 AS c,
                        (i * 15485863) % 259200 + 60 AS d, (i * 32452843) % 604800 + 3600 AS e
                 FROM generate_series(1, $1) i) w
           CROSS JOIN (VALUES (0, 'INVOICE_ISSUED', NULL), (1, 'PAYMENT_INITIATED', 'HANDSESS'), (2, 'INTERMEDIARY_PROCESSED', 'CHASUS33'),
                              (3, 'INTERMEDIARY_PROCESSED', 'CITIUS33'), (4, 'NOSTRO_CREDITED', 'BRAKUS33'), (5, 'BENEFICIARY_CREDITED', 'BRAKBDDH'),
                              (6, 'CONVERTED_TO_BDT', 'BRAKBDDH'), (7, 'PRC_ISSUED', 'BRAKBDDH')) AS k(k, kind, bic)
         ) g"
            .to_string(),
    ];
    for sql in statements {
        let with_fee = sql.contains("$2");
        let q = sqlx::query(AssertSqlSafe(sql)).bind(n);
        let q = if with_fee { q.bind(fee.clone()) } else { q };
        q.execute(&mut *conn).await?;
    }
    sqlx::query("ANALYZE").execute(&mut *conn).await?;
    Ok(())
}

/// The grouped delay query a user would write over the raw steps, grouped
/// by the step's kind and `by` (of steps `s`, repatriations `r`, parties
/// `p`).
fn plain_delays(by: &str) -> String {
    format!(
        "WITH w AS (
           SELECT s.kind, {by} AS key,
                  EXTRACT(EPOCH FROM s.occurred_at - LAG(s.occurred_at) OVER (PARTITION BY s.repatriation_id ORDER BY s.occurred_at)) AS secs
           FROM steps s JOIN repatriations r ON r.id = s.repatriation_id JOIN parties p ON p.id = r.party_id)
         SELECT kind, key, COUNT(*), MIN(secs), AVG(secs),
                percentile_cont(ARRAY[0.5, 0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY secs), MAX(secs)
         FROM w WHERE secs IS NOT NULL GROUP BY kind, key"
    )
}

/// What a user would write to compute every wait of every journey and
/// store it (no index): the baseline of the metrics maintenance.
const PLAIN_OBSERVATIONS: &str = "
    CREATE TABLE plain_observations AS
    SELECT s.repatriation_id, s.kind, s.occurred_at, s.institution_bic, r.payer_country, r.channel, p.kind AS party_kind,
           to_char(s.occurred_at AT TIME ZONE 'Asia/Dhaka', 'YYYY-MM') AS month,
           EXTRACT(EPOCH FROM s.occurred_at - LAG(s.occurred_at) OVER (PARTITION BY s.repatriation_id ORDER BY s.occurred_at)) AS secs
    FROM steps s JOIN repatriations r ON r.id = s.repatriation_id JOIN parties p ON p.id = r.party_id";

/// The scorecard a user would write over the raw steps.
const PLAIN_SCORECARD: &str = "
    WITH p AS (
      SELECT r.payer_country,
             MIN(s.occurred_at) FILTER (WHERE s.kind = 'PAYMENT_INITIATED') AS initiated,
             MIN(s.occurred_at) FILTER (WHERE s.kind = 'BENEFICIARY_CREDITED') AS credited
      FROM steps s JOIN repatriations r ON r.id = s.repatriation_id GROUP BY r.id, r.payer_country)
    SELECT payer_country, to_char(initiated AT TIME ZONE 'Asia/Dhaka', 'YYYY-MM') AS month, COUNT(*),
           AVG(CASE WHEN credited - initiated <= interval '1 hour' THEN 1.0 ELSE 0.0 END)
    FROM p WHERE initiated IS NOT NULL AND credited IS NOT NULL GROUP BY 1, 2";

/// The median of `RUNS` timings.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: i64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let admin = std::env::var("REPAT_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("repat_bench_{}", Uuid::new_v4().simple());
    let mut admin_conn = PgConnection::connect(&admin)
        .await
        .context("connecting to REPAT_BENCH_DATABASE_URL")?;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin_conn)
        .await?;
    let url = with_database(&admin, &name);
    let result = run(&url, n).await;
    // REPAT_BENCH_KEEP=1 keeps the database for a closer look (EXPLAIN).
    if std::env::var_os("REPAT_BENCH_KEEP").is_some() {
        println!("kept database {name}");
    } else {
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
            .execute(&mut admin_conn)
            .await?;
    }
    result
}

async fn run(url: &str, n: i64) -> anyhow::Result<()> {
    let server = repatd::start(&repatd::Settings::ephemeral(url)).await?;
    let mut conn = PgConnection::connect(url).await?;
    println!("metrics benchmark: {n} repatriations x 8 steps on PostgreSQL");
    let started = Instant::now();
    generate(&mut conn, n).await?;
    println!(
        "generated raw rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    sqlx::query(PLAIN_OBSERVATIONS).execute(&mut conn).await?;
    let plain_built = started.elapsed();
    sqlx::query("DROP TABLE plain_observations")
        .execute(&mut conn)
        .await?;

    let started = Instant::now();
    let mut after = None;
    while let Some(last) = server.repo.rebuild_metrics(after, 5000).await? {
        after = Some(last);
    }
    server.repo.compact_delay_rollup().await?;
    let built = started.elapsed();

    // The live path: the same journeys marked pending (as steps mark
    // them) on empty metrics tables, caught up by the server's drainers.
    sqlx::query(
        "TRUNCATE delay_observations, journey_summaries, delay_rollup, delay_rollup_dims,
                  delay_rollup_corridor, scorecard_rollup",
    )
    .execute(&mut conn)
    .await?;
    sqlx::query("INSERT INTO metrics_pending SELECT id FROM repatriations")
        .execute(&mut conn)
        .await?;
    let started = Instant::now();
    // The server's background rounds may hold the last journeys when the
    // drainers find nothing left to take.
    while server.repo.pending_metrics().await? > 0 {
        repat_usecases::metrics::settle_all(server.repo.as_ref()).await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained = started.elapsed();
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    let observations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM delay_observations")
        .fetch_one(&mut conn)
        .await?;
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("metrics maintenance ({observations} observations):");
    println!(
        "  service rebuild_metrics + compaction:  {:>9.0} journeys/s ({:.1} s)",
        rate(built),
        built.as_secs_f64()
    );
    println!(
        "  service catch-up of pending journeys:  {:>9.0} journeys/s ({:.1} s)",
        rate(drained),
        drained.as_secs_f64()
    );
    println!(
        "  plain SQL waits into a bare table:     {:>9.0} journeys/s ({:.1} s)",
        rate(plain_built),
        plain_built.as_secs_f64()
    );

    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))?
        .connect()
        .await?;
    let mut client = MetricsServiceClient::new(channel);
    // (figure, what the service groups by (None: the scorecard), the
    // plain SQL over the raw steps).
    let questions = [
        (
            "grouped delays (measure x corridor)",
            Some(pb::Dimension::Corridor),
            plain_delays("r.payer_country"),
        ),
        (
            "grouped delays (measure x channel)",
            Some(pb::Dimension::Channel),
            plain_delays("r.channel"),
        ),
        (
            "grouped delays (measure x institution)",
            Some(pb::Dimension::Institution),
            plain_delays("s.institution_bic"),
        ),
        (
            "grouped delays (measure x party kind)",
            Some(pb::Dimension::PartyKind),
            plain_delays("p.kind"),
        ),
        (
            "scorecard (corridor x month)",
            None,
            PLAIN_SCORECARD.to_string(),
        ),
    ];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for (figure, dimension, plain) in questions {
        let (mut groups, mut service, mut baseline) = (0, Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let started = Instant::now();
            groups = match dimension {
                Some(d) => client
                    .get_delay_statistics(pb::GetDelayStatisticsRequest {
                        group_by: vec![d as i32],
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .groups
                    .len(),
                None => client
                    .get_scorecard(pb::GetScorecardRequest::default())
                    .await?
                    .into_inner()
                    .entries
                    .len(),
            };
            service.push(started.elapsed());
            let started = Instant::now();
            sqlx::query(AssertSqlSafe(plain.clone()))
                .fetch_all(&mut conn)
                .await?;
            baseline.push(started.elapsed());
        }
        let (service, baseline) = (median(service), median(baseline));
        println!("{figure}, {groups} groups, median of {RUNS}:");
        println!("  service over gRPC: {:>9.1} ms", ms(service));
        println!(
            "  plain SQL:         {:>9.1} ms ({:.1}x the service)",
            ms(baseline),
            baseline.as_secs_f64() / service.as_secs_f64()
        );
    }
    drop(client);
    server.stop().await?;
    Ok(())
}
