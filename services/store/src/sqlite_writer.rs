//! SQLite's one writer, committing requests in groups.
//!
//! One task owns the only connection that writes. A request that writes
//! queues for its turn, then borrows the connection (a [`Lease`]) inside
//! the group's transaction, under a savepoint of its own. The task lends
//! the connection to each queued request, one after the other, until the
//! queue is empty or the group is full, then commits the whole group with
//! one `COMMIT`, that is one fsync at `synchronous = FULL`, and only then
//! answers each request's commit. A request alone in the queue is
//! committed at once: a group never waits for newcomers, it takes in those
//! that queued while earlier members ran.
//!
//! Invariants:
//! - one lease at a time: the task holds the connection or has lent it to
//!   exactly one request, and only this connection writes, so no request
//!   ever waits on SQLite's lock or sees "database is locked";
//! - acknowledged means on disk: [`Lease::commit`] returns `Ok` only after
//!   its group's `COMMIT` returned `Ok`; if the group cannot commit, every
//!   member gets the error and nothing of the group is kept;
//! - a member's failure (an error, a lease dropped by an early return, a
//!   cancelled request or a panic) rolls back its own savepoint only; the
//!   other members of the group are unaffected.

use std::time::{Duration, Instant};

use sqlx::Executor;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;

/// How long a group takes in newcomers: its first member waits for its
/// commit about this much longer at most, beyond its own work.
const MAX_GROUP_TIME: Duration = Duration::from_millis(50);
/// Requests queued for the writer at most; more wait to queue.
const QUEUE: usize = 4096;

/// The way to the writer.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Turn>,
    /// How long a request waits for its turn before the database is
    /// reported unavailable.
    wait: Duration,
}

/// A request waiting for the connection.
struct Turn {
    lend: oneshot::Sender<Result<Lease, StoreError>>,
}

/// What a request says as it gives the connection back.
enum Outcome {
    /// Keep what it did, and answer `done` once the group has committed.
    Keep(oneshot::Sender<Result<(), StoreError>>),
    /// Undo what it did; when `witness` is given, answer it once the
    /// group has committed (the request answers its caller with what
    /// earlier members of the group wrote).
    Undo(Option<oneshot::Sender<Result<(), StoreError>>>),
}

type Returned = (Box<SqliteConnection>, Outcome);

/// The writer's connection, lent to one request inside its group's
/// transaction: [`Lease::commit`] keeps what the request did; dropping
/// the lease undoes it.
pub struct Lease {
    conn: Option<Box<SqliteConnection>>,
    back: Option<oneshot::Sender<Returned>>,
}

impl Lease {
    pub fn conn(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a lease is not used once it has settled")
    }

    /// Keeps what the request did; returns once its group has committed.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.give_back(Outcome::Keep(done));
        committed.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Undoes what the request did.
    pub fn rollback(mut self) {
        self.give_back(Outcome::Undo(None));
    }

    /// Undoes what the request did, and returns once what it read is
    /// durable: its group has committed. For a request that answers with
    /// what it found (a retry's stored response), which an earlier member
    /// of the same group may have written. The lease is spent.
    pub async fn settle(&mut self) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.give_back(Outcome::Undo(Some(done)));
        committed.await.unwrap_or_else(|_| Err(stopped()))
    }

    fn give_back(&mut self, outcome: Outcome) {
        if let (Some(conn), Some(back)) = (self.conn.take(), self.back.take()) {
            // The writer waits for its connection; it has stopped waiting
            // only when the runtime is going away.
            let _ = back.send((conn, outcome));
        }
    }
}

impl Drop for Lease {
    /// A request that ends without committing (an error returned early,
    /// a cancelled future, a panic) undoes what it did.
    fn drop(&mut self) {
        self.give_back(Outcome::Undo(None));
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer has stopped".into())
}

impl Writer {
    /// Starts the writer on `conn`, committing up to `group` requests
    /// together (1: one commit per request).
    pub fn start(conn: SqliteConnection, group: usize, wait: Duration) -> Writer {
        let (queue, turns) = mpsc::channel(QUEUE);
        tokio::spawn(run(Box::new(conn), turns, group.max(1)));
        Writer { queue, wait }
    }

    /// Waits for the connection, inside a group's transaction.
    pub async fn begin(&self) -> Result<Lease, StoreError> {
        let (lend, lent) = oneshot::channel();
        let turn = async {
            self.queue
                .send(Turn { lend })
                .await
                .map_err(|_| stopped())?;
            lent.await.map_err(|_| stopped())?
        };
        // A lease lent just as the wait ends is dropped with `lent`, which
        // gives the connection back.
        tokio::time::timeout(self.wait, turn).await.map_err(|_| {
            StoreError::Unavailable(format!(
                "the SQLite writer did not take the request within {} s",
                self.wait.as_secs()
            ))
        })?
    }
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), StoreError> {
    conn.execute(sql).await?;
    Ok(())
}

/// The writer: one group after another, for as long as requests come.
async fn run(mut conn: Box<SqliteConnection>, mut turns: mpsc::Receiver<Turn>, group: usize) {
    while let Some(first) = turns.recv().await {
        if let Err(e) = exec(&mut conn, "BEGIN IMMEDIATE").await {
            let _ = first.lend.send(Err(e));
            continue;
        }
        let opened = Instant::now();
        let mut lent = 0usize;
        let mut members: Vec<oneshot::Sender<Result<(), StoreError>>> = Vec::new();
        let mut broken: Option<String> = None;
        let mut next = Some(first);
        while let Some(turn) = next.take() {
            if let Err(e) = exec(&mut conn, "SAVEPOINT request").await {
                broken = Some(e.to_string());
                let _ = turn.lend.send(Err(e));
                break;
            }
            let (back, returned) = oneshot::channel();
            let lease = Lease {
                conn: Some(conn),
                back: Some(back),
            };
            // Sent to a request that stopped waiting, the lease is dropped
            // at once, which gives the connection back.
            drop(turn.lend.send(Ok(lease)));
            lent += 1;
            let outcome;
            (conn, outcome) = match returned.await {
                Ok(returned) => returned,
                Err(_) => {
                    // Only a lease leaked without being dropped keeps the
                    // connection; nothing does that.
                    tracing::error!("the SQLite writer's connection was never given back");
                    return;
                }
            };
            let kept = match outcome {
                Outcome::Keep(done) => match exec(&mut conn, "RELEASE request").await {
                    Ok(()) => {
                        members.push(done);
                        true
                    }
                    Err(e) => {
                        let _ = done.send(Err(e));
                        false
                    }
                },
                Outcome::Undo(witness) => {
                    members.extend(witness);
                    false
                }
            };
            if !kept && let Err(e) = undo(&mut conn).await {
                // SQLite rolls the whole transaction back on some errors
                // (a full disk, an I/O error): then the group is lost, and
                // its members are told so.
                broken = Some(e.to_string());
                break;
            }
            if lent >= group || opened.elapsed() >= MAX_GROUP_TIME {
                break;
            }
            next = turns.try_recv().ok();
        }
        let committed = match broken {
            None => exec(&mut conn, "COMMIT").await.map_err(|e| e.to_string()),
            Some(reason) => Err(reason),
        };
        if committed.is_err() {
            // Start the next group from a clean connection, whatever is left.
            let _ = exec(&mut conn, "ROLLBACK").await;
        }
        for done in members {
            let _ = done.send(committed.clone().map_err(|reason| {
                StoreError::Unavailable(format!(
                    "the writes committed together with this request were rolled back: {reason}"
                ))
            }));
        }
    }
}

/// Undoes the last request's savepoint.
async fn undo(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    exec(conn, "ROLLBACK TO request").await?;
    exec(conn, "RELEASE request").await
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;

    /// A writer on a fresh in-memory database with a parent table and a
    /// child whose foreign key is checked only at COMMIT.
    async fn writer(group: usize) -> Writer {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        for sql in [
            "PRAGMA foreign_keys = ON",
            "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
        ] {
            conn.execute(sql).await.unwrap();
        }
        Writer::start(conn, group, Duration::from_secs(5))
    }

    async fn insert(lease: &mut Lease, sql: &'static str) -> Result<(), StoreError> {
        exec(lease.conn(), sql).await
    }

    async fn parents(w: &Writer) -> Vec<i64> {
        let mut l = w.begin().await.unwrap();
        let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM parent ORDER BY id")
            .fetch_all(l.conn())
            .await
            .unwrap();
        l.rollback();
        ids.into_iter().map(|(id,)| id).collect()
    }

    /// Members queued behind one another share a group; the one that
    /// fails, the one dropped and the one that panics leave only their own
    /// writes out.
    #[tokio::test]
    async fn a_failing_member_rolls_back_only_itself() {
        let w = writer(64).await;
        let mut first = w.begin().await.unwrap();
        insert(&mut first, "INSERT INTO parent VALUES (1)")
            .await
            .unwrap();
        let queue = |sql: &'static str, fate: u8| {
            let w = w.clone();
            tokio::spawn(async move {
                let mut l = w.begin().await.unwrap();
                let r = insert(&mut l, sql).await;
                match fate {
                    0 => {
                        r?;
                        l.commit().await
                    }
                    1 => Err(StoreError::Internal("given up".into())),
                    _ => panic!("a member that panics holding the lease"),
                }
            })
        };
        let kept = queue("INSERT INTO parent VALUES (2)", 0);
        let duplicate = queue("INSERT INTO parent VALUES (1)", 0);
        let dropped = queue("INSERT INTO parent VALUES (3)", 1);
        let panicked = queue("INSERT INTO parent VALUES (4)", 2);
        let last = queue("INSERT INTO parent VALUES (5)", 0);
        // Everyone queued behind the first before it gives the lease back
        // (well within the time a group takes in newcomers).
        tokio::time::sleep(Duration::from_millis(10)).await;
        first.commit().await.unwrap();
        assert!(kept.await.unwrap().is_ok());
        assert!(matches!(
            duplicate.await.unwrap(),
            Err(StoreError::Duplicate(_))
        ));
        assert!(dropped.await.unwrap().is_err());
        assert!(panicked.await.unwrap_err().is_panic());
        assert!(last.await.unwrap().is_ok());
        assert_eq!(parents(&w).await, vec![1, 2, 5]);
    }

    /// A group whose COMMIT fails keeps nothing, and every member hears so.
    #[tokio::test]
    async fn a_failing_commit_fails_every_member() {
        let w = writer(64).await;
        let mut first = w.begin().await.unwrap();
        insert(&mut first, "INSERT INTO parent VALUES (1)")
            .await
            .unwrap();
        let orphan = {
            let w = w.clone();
            tokio::spawn(async move {
                let mut l = w.begin().await.unwrap();
                insert(&mut l, "INSERT INTO child VALUES (1, 99)").await?;
                l.commit().await
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let first = first.commit().await;
        assert!(
            matches!(first, Err(StoreError::Unavailable(_))),
            "{first:?}"
        );
        assert!(orphan.await.unwrap().is_err());
        assert!(parents(&w).await.is_empty());
        // The writer goes on with the next group.
        let mut next = w.begin().await.unwrap();
        insert(&mut next, "INSERT INTO parent VALUES (7)")
            .await
            .unwrap();
        next.commit().await.unwrap();
        assert_eq!(parents(&w).await, vec![7]);
    }

    /// A request answering with what an earlier member wrote hears back
    /// only once that is durable, and hears the group's failure.
    #[tokio::test]
    async fn a_settled_reader_hears_its_groups_outcome() {
        let w = writer(64).await;
        let mut first = w.begin().await.unwrap();
        insert(&mut first, "INSERT INTO parent VALUES (1)")
            .await
            .unwrap();
        insert(&mut first, "INSERT INTO child VALUES (1, 99)")
            .await
            .unwrap();
        let reader = {
            let w = w.clone();
            tokio::spawn(async move {
                let mut l = w.begin().await.unwrap();
                let seen: Vec<(i64,)> = sqlx::query_as("SELECT id FROM parent")
                    .fetch_all(l.conn())
                    .await
                    .unwrap();
                assert_eq!(seen, vec![(1,)], "the earlier member's write");
                l.settle().await
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(first.commit().await.is_err());
        assert!(matches!(
            reader.await.unwrap(),
            Err(StoreError::Unavailable(_))
        ));
    }

    /// A request that stops waiting for its turn never holds the writer.
    #[tokio::test]
    async fn a_cancelled_wait_gives_the_connection_back() {
        let w = writer(64).await;
        let held = w.begin().await.unwrap();
        let waiting = {
            let w = w.clone();
            tokio::spawn(async move { w.begin().await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        waiting.abort();
        held.commit().await.unwrap();
        let mut l = w.begin().await.unwrap();
        insert(&mut l, "INSERT INTO parent VALUES (8)")
            .await
            .unwrap();
        l.commit().await.unwrap();
        assert_eq!(parents(&w).await, vec![8]);
    }
}
