//! The two migration trees build the same schema: the same tables, columns
//! (with corresponding types and nullability), keys, indexes and CHECK
//! constraints, read back from each database's catalogue after migrating;
//! and the CHECK constraints refuse the same rows on both.

use std::collections::{BTreeMap, BTreeSet};

use repat_tests::store::{TestStore, fresh_store};
use repat_tests::{Backend, on_both_stores};
use sqlx::{Connection, Row};

on_both_stores!(checks_refuse_what_the_service_never_writes);

/// Where the schemas differ on purpose: SQLite keys these tables by their
/// `seq` (an `INTEGER PRIMARY KEY` is the rowid, which AUTOINCREMENT
/// needs), PostgreSQL by `id`; both hold both unique.
const PRIMARY_KEY_EXCEPTIONS: [&str; 3] = ["parties", "earnings", "repatriations"];

/// A table as the catalogue describes it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    /// Column name → (portable type, nullable).
    columns: BTreeMap<String, (&'static str, bool)>,
    primary_key: Vec<String>,
    /// Column lists of the UNIQUE constraints and the primary key.
    unique: BTreeSet<Vec<String>>,
    /// (columns, referenced table, referenced columns).
    foreign_keys: BTreeSet<(Vec<String>, String, Vec<String>)>,
    /// Index name → (columns, unique), of the indexes created by name.
    indexes: BTreeMap<String, (Vec<String>, bool)>,
    /// CHECK constraint name → the columns it mentions.
    checks: BTreeMap<String, BTreeSet<String>>,
}

type Schema = BTreeMap<String, Table>;

/// The type both backends mean by a column's declared type: money and
/// rates are NUMERIC on PostgreSQL and decimal TEXT on SQLite, instants
/// TIMESTAMPTZ and INTEGER microseconds, dates DATE and TEXT, ids UUID and
/// BLOB.
fn portable(backend: Backend, declared: &str) -> &'static str {
    match (backend, declared.to_ascii_lowercase().as_str()) {
        (Backend::Postgres, "uuid") | (Backend::Sqlite, "blob") => "id",
        (Backend::Postgres, "numeric") => "decimal",
        (Backend::Postgres, "timestamp with time zone") => "instant",
        (Backend::Postgres, "date") | (Backend::Sqlite, "date") => "date",
        (Backend::Postgres, "boolean") => "boolean",
        (Backend::Postgres, "bigint" | "integer") | (Backend::Sqlite, "integer") => "integer",
        (Backend::Postgres, "text") | (Backend::Sqlite, "text") => "text",
        (_, other) => panic!("{backend:?} column type {other:?} has no portable meaning here"),
    }
}

/// Whether SQLite's column (declared `sqlite`) can hold what PostgreSQL's
/// (`pg`) holds, as the store encodes it.
fn corresponds(pg: &str, sqlite: &str) -> bool {
    pg == sqlite
        || matches!(
            (pg, sqlite),
            ("decimal", "text")
                | ("instant", "integer")
                | ("date", "text")
                | ("boolean", "integer")
        )
}

async fn postgres_schema(url: &str) -> Schema {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let mut schema = Schema::new();
    let columns = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'YES' AS nullable
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    for r in columns {
        let t = schema.entry(r.get::<String, _>(0)).or_default();
        t.columns.insert(
            r.get(1),
            (
                portable(Backend::Postgres, &r.get::<String, _>(2)),
                r.get(3),
            ),
        );
    }
    // Constraints with their columns in key order.
    let constraints = sqlx::query(
        "SELECT t.relname::text, con.conname::text, con.contype::text,
                ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
                COALESCE(f.relname::text, ''),
                ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)
         FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid JOIN pg_namespace s ON s.oid = t.relnamespace
         LEFT JOIN pg_class f ON f.oid = con.confrelid
         WHERE s.nspname = 'public' AND t.relname <> '_sqlx_migrations' AND con.contype IN ('p', 'u', 'f', 'c')",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    for r in constraints {
        let t = schema.entry(r.get::<String, _>(0)).or_default();
        let cols: Vec<String> = r.get(3);
        match r.get::<String, _>(2).as_str() {
            "p" => {
                t.primary_key = cols.clone();
                t.unique.insert(cols);
            }
            "u" => {
                t.unique.insert(cols);
            }
            "f" => {
                t.foreign_keys.insert((cols, r.get(4), r.get(5)));
            }
            _ => {
                t.checks.insert(r.get(1), cols.into_iter().collect());
            }
        }
    }
    // Indexes made by CREATE INDEX (not those behind a key).
    let indexes = sqlx::query(
        "SELECT t.relname::text, i.relname::text, x.indisunique,
                ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, o)
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o)
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace s ON s.oid = t.relnamespace
         WHERE s.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid)",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    for r in indexes {
        let t = schema.entry(r.get::<String, _>(0)).or_default();
        t.indexes.insert(r.get(1), (r.get(3), r.get(2)));
    }
    schema
}

/// The CHECK constraints of a CREATE TABLE statement: name → the columns
/// of `columns` its expression mentions. An unnamed CHECK gets a name
/// that cannot match, so the test says where it is.
fn sqlite_checks(
    table: &str,
    sql: &str,
    columns: &BTreeSet<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let upper = sql.to_ascii_uppercase();
    let mut from = 0;
    while let Some(found) = upper[from..].find("CHECK") {
        let start = from + found;
        // The keyword, not a name containing it.
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if word(sql[..start].chars().next_back()) || word(sql[start + 5..].chars().next()) {
            from = start + 5;
            continue;
        }
        let before: Vec<&str> = sql[..start].split_whitespace().rev().take(2).collect();
        let name = match before.as_slice() {
            [name, kw] if kw.eq_ignore_ascii_case("CONSTRAINT") => name.to_string(),
            _ => format!("unnamed CHECK in {table} at byte {start}"),
        };
        // The parenthesised expression after CHECK.
        let open = start + sql[start..].find('(').expect("CHECK (");
        let mut depth = 0;
        let mut end = open;
        for (i, ch) in sql[open..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let mentioned = sql[open..end]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| columns.contains(*w))
            .map(str::to_string)
            .collect();
        out.insert(name, mentioned);
        from = end;
    }
    out
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
    let mut schema = Schema::new();
    let tables = sqlx::query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    for r in tables {
        let (name, sql): (String, String) = (r.get(0), r.get(1));
        let mut t = Table::default();
        let mut key: Vec<(i64, String)> = Vec::new();
        for col in sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{name}')"
        )))
        .fetch_all(&mut c)
        .await
        .unwrap()
        {
            let (col_name, declared, not_null, pk): (String, String, bool, i64) =
                (col.get(0), col.get(1), col.get(2), col.get(3));
            // A primary key column holds no NULL: SQLite says so only of an
            // INTEGER PRIMARY KEY, but the store never writes NULL ids.
            t.columns.insert(
                col_name.clone(),
                (portable(Backend::Sqlite, &declared), !not_null && pk == 0),
            );
            if pk > 0 {
                key.push((pk, col_name));
            }
        }
        key.sort();
        t.primary_key = key.into_iter().map(|(_, c)| c).collect();
        // A table may have no key (the rollups): nothing is unique then.
        if !t.primary_key.is_empty() {
            t.unique.insert(t.primary_key.clone());
        }
        for idx in sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name, \"unique\", origin FROM pragma_index_list('{name}')"
        )))
        .fetch_all(&mut c)
        .await
        .unwrap()
        {
            let (idx_name, unique, origin): (String, bool, String) =
                (idx.get(0), idx.get(1), idx.get(2));
            let cols: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_index_info('{idx_name}') ORDER BY seqno"
            )))
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
            match origin.as_str() {
                "c" => {
                    t.indexes.insert(idx_name, (cols, unique));
                }
                _ => {
                    t.unique.insert(cols);
                }
            }
        }
        for fk in sqlx::query(sqlx::AssertSqlSafe(format!("SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('{name}') ORDER BY id, seq")))
            .fetch_all(&mut c)
            .await
            .unwrap()
            .chunk_by(|a, b| a.get::<i64, _>(0) == b.get::<i64, _>(0))
        {
            let to_table: String = fk[0].get(1);
            t.foreign_keys.insert((fk.iter().map(|r| r.get(2)).collect(), to_table, fk.iter().map(|r| r.get(3)).collect()));
        }
        let columns: BTreeSet<String> = t.columns.keys().cloned().collect();
        t.checks = sqlite_checks(&name, &sql, &columns);
        schema.insert(name, t);
    }
    schema
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parity() {
    let sqlite = fresh_store(Backend::Sqlite)
        .await
        .expect("sqlite is always available");
    let Some(postgres) = fresh_store(Backend::Postgres).await else {
        sqlite.finish().await;
        eprintln!("skipped: REPAT_TEST_DATABASE_URL is not set");
        return;
    };
    let (pg, lite) = (
        postgres_schema(&postgres.url).await,
        sqlite_schema(&sqlite.url).await,
    );
    sqlite.finish().await;
    postgres.finish().await;

    let names = |s: &Schema| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&lite), names(&pg), "the same tables");
    let mut differences = Vec::new();
    for (name, p) in &pg {
        let l = &lite[name];
        let column_names = |t: &Table| t.columns.keys().cloned().collect::<Vec<_>>();
        if column_names(p) != column_names(l) {
            differences.push(format!(
                "{name}: columns {:?} vs {:?}",
                column_names(p),
                column_names(l)
            ));
            continue;
        }
        for (col, (pg_type, pg_null)) in &p.columns {
            let (lite_type, lite_null) = l.columns[col];
            if !corresponds(pg_type, lite_type) {
                differences.push(format!("{name}.{col}: type {pg_type} vs {lite_type}"));
            }
            if *pg_null != lite_null {
                differences.push(format!("{name}.{col}: nullable {pg_null} vs {lite_null}"));
            }
        }
        if p.primary_key != l.primary_key && !PRIMARY_KEY_EXCEPTIONS.contains(&name.as_str()) {
            differences.push(format!(
                "{name}: primary key {:?} vs {:?}",
                p.primary_key, l.primary_key
            ));
        }
        for (what, a, b) in [
            (
                "unique keys",
                format!("{:?}", p.unique),
                format!("{:?}", l.unique),
            ),
            (
                "foreign keys",
                format!("{:?}", p.foreign_keys),
                format!("{:?}", l.foreign_keys),
            ),
            (
                "indexes",
                format!("{:?}", p.indexes),
                format!("{:?}", l.indexes),
            ),
            (
                "checks",
                format!("{:?}", p.checks),
                format!("{:?}", l.checks),
            ),
        ] {
            if a != b {
                differences.push(format!("{name}: {what} {a} vs {b}"));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "PostgreSQL vs SQLite:\n{}",
        differences.join("\n")
    );
    // The test sees what it compares.
    assert_eq!(pg["earnings"].checks.len(), 2);
    assert!(!pg["steps"].indexes.is_empty());
}

/// Rows the service never writes (it refuses them first), written behind
/// its back: both databases refuse them too.
async fn checks_refuse_what_the_service_never_writes(store: &TestStore) {
    use crate::support::{date, earning, party, repatriation};
    let p = party(store, "Checked Ltd").await;
    let e = earning(store, p.id, "INV-K", "100.00", date(2024, 6, 1)).await;
    let r = repatriation(store, p.id, &[e.id]).await;
    let statements = [
        "UPDATE earnings SET amount = '0' WHERE id = $1",
        "UPDATE earnings SET amount = '-5.00' WHERE id = $1",
        "UPDATE earnings SET allocated = '100.01' WHERE id = $1",
        "UPDATE earnings SET allocated = '-0.01' WHERE id = $1",
        "UPDATE allocations SET amount = '0' WHERE repatriation_id = $1",
    ];
    for sql in statements {
        let id = if sql.contains("allocations") {
            r.id
        } else {
            e.id
        };
        let refused = match store.backend {
            Backend::Postgres => {
                // A quoted literal takes the column's type (NUMERIC).
                let mut c = sqlx::PgConnection::connect(&store.url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .execute(&mut c)
                    .await
                    .map(|_| ())
            }
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&store.url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .execute(&mut c)
                    .await
                    .map(|_| ())
            }
        };
        let err = refused.expect_err(sql);
        let db = err
            .as_database_error()
            .unwrap_or_else(|| panic!("{sql}: {err}"));
        assert_eq!(
            db.kind(),
            sqlx::error::ErrorKind::CheckViolation,
            "{sql}: {err}"
        );
    }
    // What the service writes passes: the whole amount allocated.
    assert_eq!(
        store.repo.get_earning(e.id).await.unwrap().allocated,
        e.details.amount
    );
}
