//! One pool, transaction, connection and statement type over both
//! databases, so the store's SQL is written once and checked by the
//! compiler: a value bound must be a [`Param`] of both backends, a row read
//! must be a [`Record`] of both (a `#[derive(sqlx::FromRow)]` struct of
//! `rows`) or be read by position through [`Columns`]. Statements use `$n`
//! placeholders, which both accept; filters that depend on the request are
//! built with [`Sql`] (sqlx's `QueryBuilder`), never written as
//! `($n IS NULL OR col = $n)`.
//!
//! What the backends do differently is the [`Dialect`] of a connection:
//! set operations (arrays on PostgreSQL, row by row on SQLite), the audit
//! chain's lock, row locks.

use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteRow};
use sqlx::{Encode, FromRow, PgPool, Postgres, QueryBuilder, Sqlite, SqlitePool, Type};

use uuid::Uuid;

use crate::dialect::Dialect;
use crate::sqlite_writer::{Lease, Writer};
use crate::{ChangeFeed, StoreError};
use crate::{postgres, sqlite};

/// A value both backends bind.
pub trait Param:
    for<'q> Encode<'q, Postgres> + Type<Postgres> + for<'q> Encode<'q, Sqlite> + Type<Sqlite> + Send
{
}
impl<T> Param for T where
    T: for<'q> Encode<'q, Postgres>
        + Type<Postgres>
        + for<'q> Encode<'q, Sqlite>
        + Type<Sqlite>
        + Send
{
}

/// A row both backends read.
pub trait Record:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

/// The pools of a store: for reads, for writes (SQLite's one writer), and
/// the readiness ping's own.
pub struct Pools {
    pub reads: Pool,
    pub writes: Writes,
    pub health: Pool,
}

/// Where write transactions come from: PostgreSQL's pool (many writers),
/// or SQLite's one writer, which commits requests in groups.
#[derive(Clone)]
pub enum Writes {
    Postgres(PgPool),
    Sqlite(Writer),
}

impl Writes {
    /// A transaction that may write.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Writes::Postgres(p) => Tx::Postgres(postgres::begin_write(p).await?),
            Writes::Sqlite(w) => Tx::Sqlite(w.begin().await?),
        })
    }
}

/// A connection pool.
#[derive(Clone)]
pub enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Pool {
    /// "postgres" or "sqlite".
    pub fn backend(&self) -> &'static str {
        match self {
            Pool::Postgres(_) => "postgres",
            Pool::Sqlite(_) => "sqlite",
        }
    }

    /// A connection for reads outside a transaction.
    pub async fn acquire(&self) -> Result<Pooled, StoreError> {
        Ok(match self {
            Pool::Postgres(p) => Pooled::Postgres(p.acquire().await?),
            Pool::Sqlite(p) => Pooled::Sqlite(p.acquire().await?),
        })
    }

    /// Tells every replica on this database that these repatriations
    /// changed (SQLite has one process: its watchers hear directly).
    pub async fn publish_changes(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        match self {
            Pool::Postgres(p) => postgres::publish_changes(p, ids).await,
            Pool::Sqlite(_) => Ok(()),
        }
    }

    /// The changes other replicas announce, where the database carries
    /// them.
    pub async fn change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        match self {
            Pool::Postgres(p) => Ok(Some(postgres::change_feed(p).await?)),
            Pool::Sqlite(_) => Ok(None),
        }
    }

    /// (size, idle, max) of the pool.
    pub fn usage(&self) -> (u32, u32, u32) {
        match self {
            Pool::Postgres(p) => (
                p.size(),
                p.num_idle() as u32,
                p.options().get_max_connections(),
            ),
            Pool::Sqlite(p) => (
                p.size(),
                p.num_idle() as u32,
                p.options().get_max_connections(),
            ),
        }
    }
}

/// A connection taken from the pool.
pub enum Pooled {
    Postgres(sqlx::pool::PoolConnection<Postgres>),
    Sqlite(sqlx::pool::PoolConnection<Sqlite>),
}

impl Pooled {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Postgres(c) => Conn::Postgres(c),
            Pooled::Sqlite(c) => Conn::Sqlite(c),
        }
    }
}

/// An open transaction: nothing it wrote is seen by others, or kept,
/// before [`Tx::commit`] returns; dropped, it is rolled back. On SQLite it
/// is one request's part of the writer's group (see `sqlite_writer`).
pub enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(Lease),
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Postgres(t) => Conn::Postgres(t),
            Tx::Sqlite(l) => Conn::Sqlite(l.conn()),
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Postgres(t) => t.commit().await?,
            Tx::Sqlite(l) => l.commit().await?,
        }
        Ok(())
    }

    /// Ends the transaction, keeping nothing, once what it read is as
    /// durable as what it would have written: on SQLite, once its group
    /// has committed (an earlier member may have written it); PostgreSQL
    /// reads only what is committed. Nothing is done with it afterwards.
    pub async fn settle(&mut self) -> Result<(), StoreError> {
        match self {
            Tx::Postgres(_) => Ok(()),
            Tx::Sqlite(l) => l.settle().await,
        }
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Postgres(t) => t.rollback().await?,
            Tx::Sqlite(l) => l.rollback(),
        }
        Ok(())
    }
}

/// A connection (pooled or in a transaction), lent for statements.
pub enum Conn<'c> {
    Postgres(&'c mut PgConnection),
    Sqlite(&'c mut SqliteConnection),
}

impl Conn<'_> {
    /// A statement with `$n` placeholders, bound with [`Statement::bind`].
    pub fn query(&mut self, sql: &'static str) -> Statement<'_> {
        match self {
            Conn::Postgres(c) => Statement::Postgres(c, sqlx::query(sql)),
            Conn::Sqlite(c) => Statement::Sqlite(c, sqlx::query(sql)),
        }
    }

    /// A statement built piece by piece, starting with `sql`.
    pub fn sql(&mut self, sql: &str) -> Sql<'_> {
        match self {
            Conn::Postgres(c) => Sql::Postgres(c, QueryBuilder::new(sql)),
            Conn::Sqlite(c) => Sql::Sqlite(c, QueryBuilder::new(sql)),
        }
    }

    /// What this backend does its own way.
    pub fn dialect(&mut self) -> &mut dyn Dialect {
        match self {
            Conn::Postgres(c) => &mut **c,
            Conn::Sqlite(c) => &mut **c,
        }
    }
}

/// A statement with its text fixed and its parameters bound in order.
pub enum Statement<'c> {
    Postgres(&'c mut PgConnection, Query<'static, Postgres, PgArguments>),
    Sqlite(
        &'c mut SqliteConnection,
        Query<'static, Sqlite, SqliteArguments>,
    ),
}

impl Statement<'_> {
    pub fn bind<T: Param>(self, value: T) -> Self {
        match self {
            Statement::Postgres(c, q) => Statement::Postgres(c, q.bind(value)),
            Statement::Sqlite(c, q) => Statement::Sqlite(c, q.bind(value)),
        }
    }

    /// Runs it; returns the number of rows it changed.
    pub async fn execute(self) -> Result<u64, StoreError> {
        Ok(match self {
            Statement::Postgres(c, q) => q.execute(c).await?.rows_affected(),
            Statement::Sqlite(c, q) => q.execute(c).await?.rows_affected(),
        })
    }

    pub async fn fetch_all<R: Record>(self) -> Result<Vec<R>, StoreError> {
        match self {
            Statement::Postgres(c, q) => decode_all(q.fetch_all(c).await?),
            Statement::Sqlite(c, q) => decode_all(q.fetch_all(c).await?),
        }
    }

    pub async fn fetch_optional<R: Record>(self) -> Result<Option<R>, StoreError> {
        match self {
            Statement::Postgres(c, q) => decode_optional(q.fetch_optional(c).await?),
            Statement::Sqlite(c, q) => decode_optional(q.fetch_optional(c).await?),
        }
    }

    pub async fn fetch_one<R: Record>(self) -> Result<R, StoreError> {
        match self {
            Statement::Postgres(c, q) => Ok(R::from_row(&q.fetch_one(c).await?)?),
            Statement::Sqlite(c, q) => Ok(R::from_row(&q.fetch_one(c).await?)?),
        }
    }
}

/// A statement whose text depends on the request: pieces of SQL and bound
/// values, in order (sqlx's `QueryBuilder` writes each placeholder).
pub enum Sql<'c> {
    Postgres(&'c mut PgConnection, QueryBuilder<Postgres>),
    Sqlite(&'c mut SqliteConnection, QueryBuilder<Sqlite>),
}

impl Sql<'_> {
    /// Appends SQL text (never a value: bind those).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        match self {
            Sql::Postgres(_, b) => {
                b.push(sql);
            }
            Sql::Sqlite(_, b) => {
                b.push(sql);
            }
        }
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind<T: Param>(&mut self, value: T) -> &mut Self {
        match self {
            Sql::Postgres(_, b) => {
                b.push_bind(value);
            }
            Sql::Sqlite(_, b) => {
                b.push_bind(value);
            }
        }
        self
    }

    /// Appends `AND column op value` when there is a value.
    pub fn and<T: Param>(&mut self, column: &str, op: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.push(" AND ")
                .push(column)
                .push(" ")
                .push(op)
                .push(" ")
                .bind(v);
        }
        self
    }

    /// Appends `AND column = value` when there is a value.
    pub fn and_eq<T: Param>(&mut self, column: &str, value: Option<T>) -> &mut Self {
        self.and(column, "=", value)
    }

    /// Locks the rows read until the transaction ends, where the backend
    /// needs it (SQLite's write transaction holds the database already).
    pub fn for_update(&mut self) -> &mut Self {
        let lock = match self {
            Sql::Postgres(..) => postgres::FOR_UPDATE,
            Sql::Sqlite(..) => sqlite::FOR_UPDATE,
        };
        self.push(lock)
    }

    pub async fn fetch_all<R: Record>(self) -> Result<Vec<R>, StoreError> {
        match self {
            Sql::Postgres(c, mut b) => decode_all(b.build().fetch_all(c).await?),
            Sql::Sqlite(c, mut b) => decode_all(b.build().fetch_all(c).await?),
        }
    }

    pub async fn fetch_optional<R: Record>(self) -> Result<Option<R>, StoreError> {
        match self {
            Sql::Postgres(c, mut b) => decode_optional(b.build().fetch_optional(c).await?),
            Sql::Sqlite(c, mut b) => decode_optional(b.build().fetch_optional(c).await?),
        }
    }

    /// Runs it and hands each row to `visit` as it arrives, its text read
    /// in place: for reads of many rows whose values are folded, not kept.
    pub async fn for_each_row(
        self,
        mut visit: impl FnMut(&dyn Columns) -> Result<(), StoreError> + Send,
    ) -> Result<(), StoreError> {
        use futures::TryStreamExt;
        match self {
            Sql::Postgres(c, mut b) => {
                let mut rows = b.build().fetch(c);
                while let Some(row) = rows.try_next().await? {
                    visit(&row)?;
                }
            }
            Sql::Sqlite(c, mut b) => {
                let mut rows = b.build().fetch(c);
                while let Some(row) = rows.try_next().await? {
                    visit(&row)?;
                }
            }
        }
        Ok(())
    }
}

/// A row's columns by position, read without copying text.
pub trait Columns {
    fn text(&self, i: usize) -> Result<Option<&str>, StoreError>;
    fn int(&self, i: usize) -> Result<i32, StoreError>;
    fn bigint(&self, i: usize) -> Result<i64, StoreError>;
}

macro_rules! columns {
    ($row:ty) => {
        impl Columns for $row {
            fn text(&self, i: usize) -> Result<Option<&str>, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn int(&self, i: usize) -> Result<i32, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn bigint(&self, i: usize) -> Result<i64, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
        }
    };
}
columns!(PgRow);
columns!(SqliteRow);

fn decode_all<Row: sqlx::Row, R: for<'r> FromRow<'r, Row>>(
    rows: Vec<Row>,
) -> Result<Vec<R>, StoreError> {
    rows.iter()
        .map(|r| R::from_row(r).map_err(StoreError::from))
        .collect()
}

fn decode_optional<Row: sqlx::Row, R: for<'r> FromRow<'r, Row>>(
    row: Option<Row>,
) -> Result<Option<R>, StoreError> {
    row.as_ref()
        .map(|r| R::from_row(r).map_err(StoreError::from))
        .transpose()
}
