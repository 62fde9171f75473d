//! The ordered migrations of each backend, embedded in the binary.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};

/// (version, description, SQL) of each migration.
type Source = (i64, &'static str, &'static str);

const POSTGRES: &[Source] = &[
    (
        1,
        "spine",
        include_str!("../../../migrations/postgres/0001_spine.sql"),
    ),
    (
        2,
        "audit",
        include_str!("../../../migrations/postgres/0002_audit.sql"),
    ),
    (
        3,
        "incentive",
        include_str!("../../../migrations/postgres/0003_incentive.sql"),
    ),
    (
        4,
        "metrics",
        include_str!("../../../migrations/postgres/0004_metrics.sql"),
    ),
    (
        5,
        "reconciliation",
        include_str!("../../../migrations/postgres/0005_reconciliation.sql"),
    ),
    (
        6,
        "search",
        include_str!("../../../migrations/postgres/0006_search.sql"),
    ),
    (
        7,
        "statement files",
        include_str!("../../../migrations/postgres/0007_statement_files.sql"),
    ),
    (
        9,
        "facts and documents",
        include_str!("../../../migrations/postgres/0009_facts_and_documents.sql"),
    ),
    (
        10,
        "idempotency scope",
        include_str!("../../../migrations/postgres/0010_idempotency_scope.sql"),
    ),
    (
        11,
        "events",
        include_str!("../../../migrations/postgres/0011_events.sql"),
    ),
    (
        12,
        "audit checkpoints",
        include_str!("../../../migrations/postgres/0012_audit_checkpoints.sql"),
    ),
    (
        13,
        "repatriation deadlines",
        include_str!("../../../migrations/postgres/0013_repatriation_deadlines.sql"),
    ),
    (
        14,
        "revisions",
        include_str!("../../../migrations/postgres/0014_revisions.sql"),
    ),
    (
        15,
        "steps by kind",
        include_str!("../../../migrations/postgres/0015_steps_by_kind.sql"),
    ),
    (
        16,
        "metrics rollups",
        include_str!("../../../migrations/postgres/0016_metrics_rollups.sql"),
    ),
    (
        17,
        "rollups by key",
        include_str!("../../../migrations/postgres/0017_rollups_by_key.sql"),
    ),
    (
        18,
        "metrics rows unreferenced",
        include_str!("../../../migrations/postgres/0018_metrics_rows_unreferenced.sql"),
    ),
    (
        19,
        "steps one journey index",
        include_str!("../../../migrations/postgres/0019_steps_one_journey_index.sql"),
    ),
];
const SQLITE: &[Source] = &[
    (
        1,
        "spine",
        include_str!("../../../migrations/sqlite/0001_spine.sql"),
    ),
    (
        2,
        "audit",
        include_str!("../../../migrations/sqlite/0002_audit.sql"),
    ),
    (
        3,
        "incentive",
        include_str!("../../../migrations/sqlite/0003_incentive.sql"),
    ),
    (
        4,
        "metrics",
        include_str!("../../../migrations/sqlite/0004_metrics.sql"),
    ),
    (
        5,
        "reconciliation",
        include_str!("../../../migrations/sqlite/0005_reconciliation.sql"),
    ),
    (
        6,
        "search",
        include_str!("../../../migrations/sqlite/0006_search.sql"),
    ),
    (
        7,
        "statement files",
        include_str!("../../../migrations/sqlite/0007_statement_files.sql"),
    ),
    (
        8,
        "amount checks",
        include_str!("../../../migrations/sqlite/0008_amount_checks.sql"),
    ),
    (
        9,
        "facts and documents",
        include_str!("../../../migrations/sqlite/0009_facts_and_documents.sql"),
    ),
    (
        10,
        "idempotency scope",
        include_str!("../../../migrations/sqlite/0010_idempotency_scope.sql"),
    ),
    (
        11,
        "events",
        include_str!("../../../migrations/sqlite/0011_events.sql"),
    ),
    (
        12,
        "audit checkpoints",
        include_str!("../../../migrations/sqlite/0012_audit_checkpoints.sql"),
    ),
    (
        13,
        "repatriation deadlines",
        include_str!("../../../migrations/sqlite/0013_repatriation_deadlines.sql"),
    ),
    (
        14,
        "revisions",
        include_str!("../../../migrations/sqlite/0014_revisions.sql"),
    ),
    (
        15,
        "steps by kind",
        include_str!("../../../migrations/sqlite/0015_steps_by_kind.sql"),
    ),
    (
        16,
        "metrics rollups",
        include_str!("../../../migrations/sqlite/0016_metrics_rollups.sql"),
    ),
    (
        17,
        "rollups by key",
        include_str!("../../../migrations/sqlite/0017_rollups_by_key.sql"),
    ),
    (
        18,
        "metrics rows unreferenced",
        include_str!("../../../migrations/sqlite/0018_metrics_rows_unreferenced.sql"),
    ),
    (
        19,
        "steps one journey index",
        include_str!("../../../migrations/sqlite/0019_steps_one_journey_index.sql"),
    ),
];

fn migrator(sources: &[Source]) -> Migrator {
    let migrations = sources
        .iter()
        .map(|(version, description, sql)| {
            // A migration that manages its own transaction says so on its first line.
            let no_tx = sql.starts_with("-- no-transaction");
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                AssertSqlSafe(*sql).into_sql_str(),
                no_tx,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

pub fn postgres() -> Migrator {
    migrator(POSTGRES)
}

pub fn sqlite() -> Migrator {
    migrator(SQLITE)
}
